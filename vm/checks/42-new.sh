# `kwasm new demo --lang L && make`, for Rust, C, Zig and AssemblyScript
# (built on the host by the payload, exactly as a user would), loaded here
# as a .wasm and checked on real traffic: UDP to 7777 is dropped and
# logged, everything else passes, and map 0 counts [accepted, dropped].

for lang in rust c zig as; do
	p=new_$lang
	check "new $lang: kwasm load $p.wasm --attach ipv4:input" \
		kwasm load $KW/$p.wasm --attach ipv4:input
	expect_out "new $lang: 10 datagrams to 7777: none arrive" "sent 10, failed 0, received 0" \
		kwasm-tools udp-check --port 7777 --count 10
	expect_out "new $lang: 15 datagrams to 7778: all arrive" "sent 15, failed 0, received 15" \
		kwasm-tools udp-check --port 7778 --count 15
	expect_out "new $lang: map 0 = [accepted, dropped] = [15, 10]" "0: 15
1: 10" kwasm map dump $p 0
	expect_out "new $lang: each drop logged" 10 \
		sh -c "kwasm log $p --json | grep -c '\"data\":\"$p: dropped a datagram to port 7777'"
	check "new $lang: unload" kwasm unload $p
done
unload_all
