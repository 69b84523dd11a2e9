# native_bench.ko: the native C baseline of `kwasm bench` (the bench filters
# of guests/bench/c/filters.h as plain kernel C). Its verdicts and counters
# must agree with the kwasm programs on every packet, so that the bench
# compares the same work: each of the four filters runs a set of packets
# under `kwasm bench` (kwasm) and `kwasm bench --native`, and the verdicts
# and then the maps are compared, with the expected verdicts written out
# too. Then the module's refusals of hostile ioctls, and a filter attached
# as a real netfilter hook. No timing assertions.

N=/tmp/native
mkdir -p $N
check "native: insmod kwasm.ko" insmod /lib/kwasm.ko
check "native: insmod native_bench.ko" insmod /lib/native_bench.ko
check "native: /dev/kwasm-native is a root-only character device" \
	sh -c 'test -c /dev/kwasm-native && ls -l /dev/kwasm-native | grep -q "^crw-------"'

# The packets (from the IP header on), written by kwasm-tools packet.
pkt() {
	_f=$1
	shift
	kwasm-tools packet -o $N/$_f.pkt "$@" > /dev/null || echo "packet $_f: failed"
}
pkt udp9999 --dport 9999 --zeros 36
pkt udp53 --dport 53 --zeros 36
pkt v6ext9999 --v6 --hop-by-hop --dport 9999 --zeros 4
pkt tcp9999 --tcp --dport 9999
pkt frag9999 --dport 9999 --frag-offset 8 --zeros 8
pkt trunc9999 --dport 9999 --zeros 100 --truncate 22
pkt blocked --dport 53 --dns-query x.blocked.test
pkt blockedcase --dport 53 --dns-query Www.BLOCKED.Test
pkt v6blocked --v6 --hop-by-hop --dport 53 --dns-query blocked.test
pkt example --dport 53 --dns-query example.com
pkt notblocked --dport 53 --dns-query notblocked.test
pkt pointer --dport 53 --dns-pointer
pkt dnstrunc --dport 53 --dns-query x.blocked.test --truncate 45
pkt response --dport 53 --dns-query x.blocked.test --dns-response
PACKETS="udp9999 udp53 v6ext9999 tcp9999 frag9999 trunc9999 blocked blockedcase v6blocked example notblocked pointer dnstrunc response"

# verdicts ARGS...: `kwasm bench ARGS --packet P --repeat 1` for every
# packet P, the verdicts as one line of a/d (accept/drop), or ? on an error.
verdicts() {
	_v=
	for _p in $PACKETS; do
		_r=$(kwasm bench "$@" --packet $N/$_p.pkt --repeat 1 2>&1 | awk '$1 == "verdict:" { print substr($2, 1, 1) }')
		_v="$_v${_r:-?}"
	done
	echo "$_v"
}

# The verdicts each filter must give, packet by packet (PACKETS above).
want_accept=aaaaaaaaaaaaaa
want_port_filter=dadaaaaaaaaaaa
want_packet_counter=aaaaaaaaaaaaaa
want_dns=aaaaaadddaadaa

# The kwasm program of each filter: NAME.kw, but dns_filter.kw for dns.
for f in accept port_filter packet_counter dns; do
	_kw=$f
	[ $f = dns ] && _kw=dns_filter
	check "native: load $_kw.kw as b_$f" kwasm load $KW/$_kw.kw --name b_$f
	eval _want=\$want_$f
	expect_eq "native: $f: kwasm verdicts" "$_want" "$(verdicts b_$f)"
	expect_eq "native: $f: native verdicts" "$_want" "$(verdicts $f --native)"
done

# The same calls updated the same counters: each bench made a warm-up call
# and one counted call per packet, on both sides.
same_map() {
	_k=$(kwasm map dump b_$1 $2)
	_n=$(kwasm-tools native-map $1 $2)
	if [ -n "$_k" ] && [ "$_k" = "$_n" ]; then
		pass "native: $1 map $2 equals kwasm's"
	else
		fail "native: $1 map $2 equals kwasm's"
		echo "    kwasm:  $(echo "$_k" | grep -v ': 0$' | tr '\n' ' ')"
		echo "    native: $(echo "$_n" | grep -v ': 0$' | tr '\n' ' ')"
	fi
}
same_map port_filter 0
same_map packet_counter 0
same_map packet_counter 1
same_map packet_counter 2
same_map dns 0
same_map dns 1
# 14 packets, two calls each: port_filter dropped 2 packets; dns counted
# [queries 5, blocked 3 + pointer 1, malformed 4, other 5] packets, all
# queries of type A.
expect_eq "native: port_filter counters [accepted, dropped]" "0: 24
1: 4" "$(kwasm-tools native-map port_filter 0)"
expect_eq "native: dns counters [queries, blocked, malformed, other]" "0: 10
1: 8
2: 8
3: 10" "$(kwasm-tools native-map dns 0)"
expect_eq "native: dns queries of type A" "1: 10" "$(kwasm-tools native-map dns 1 | grep '^1:')"
expect_eq "native: packet_counter families [ipv4, ipv6, other]" "0: 24
1: 4
2: 0" "$(kwasm-tools native-map packet_counter 2)"

# Timed runs go through the same summary as kwasm's (no timing asserted).
expect_eq "native: bench --native: runner, verdict, runs, drops" "native drop 1000 1000" \
	"$(kwasm bench port_filter --native --udp 9999 --repeat 1000 | bench_fields runner verdict runs drops)"
expect_eq "native: a 65535-byte packet" "drop 65535" \
	"$(kwasm bench port_filter --native --udp 9999 --len 65535 --repeat 10 | bench_fields verdict packet_bytes)"
check "native: --json" sh -c 'kwasm bench dns --native --packet '$N'/blocked.pkt --repeat 100 --json | grep -q "\"runner\":\"native\""'
head -c 19 $N/udp9999.pkt > $N/short.pkt
expect_fail "native: CLI refuses a 19-byte packet" "20..=65535" \
	kwasm bench accept --native --packet $N/short.pkt
expect_fail "native: CLI refuses an unknown filter" "no native filter" \
	kwasm bench dns_parser --native --udp 53

# The module's own checks, with the CLI's bypassed (kwasm-tools native-*).
expect_out "native: raw RUN" "verdict: drop" sh -c \
	"kwasm-tools native-run port_filter --packet $N/udp9999.pkt --count 3 | sed -n 1p"
expect_fail "native: bad filter id (EINVAL)" "Invalid argument" kwasm-tools native-run 4 --zeros 28
expect_fail "native: huge filter id (EINVAL)" "Invalid argument" kwasm-tools native-run 4294967295 --zeros 28
expect_fail "native: len 0 (EINVAL)" "Invalid argument" kwasm-tools native-run accept --zeros 0
expect_fail "native: len 19 (EINVAL)" "Invalid argument" kwasm-tools native-run accept --zeros 19
expect_fail "native: len 65536 (E2BIG)" "Argument list too long" kwasm-tools native-run accept --zeros 65536
expect_fail "native: count 0 (EINVAL)" "Invalid argument" kwasm-tools native-run accept --zeros 28 --count 0
expect_fail "native: count 65537 (E2BIG)" "Argument list too long" \
	kwasm-tools native-run accept --zeros 28 --count 65537
expect_out "native: count 65536 is the cap" "accepts: 65536" sh -c \
	"kwasm-tools native-run accept --zeros 28 --count 65536 | grep accepts"
expect_fail "native: non-root RUN (EPERM)" "Operation not permitted" \
	kwasm-tools --as-uid 65534 native-run accept --zeros 28
expect_fail "native: hook number 5 (EINVAL)" "Invalid argument" \
	kwasm-tools native-attach accept --family 2 --hooknum 5
expect_fail "native: hook number 4294967295 (EINVAL)" "Invalid argument" \
	kwasm-tools native-attach accept --family 2 --hooknum 4294967295
expect_fail "native: family 7 (EINVAL)" "Invalid argument" \
	kwasm-tools native-attach accept --family 7 --hooknum 1
expect_fail "native: attach filter 9 (EINVAL)" "Invalid argument" \
	kwasm-tools native-attach 9 ipv4:input
expect_fail "native: map 3 of dns (EINVAL)" "Invalid argument" kwasm-tools native-map dns 3
expect_fail "native: maps of accept (EINVAL)" "Invalid argument" kwasm-tools native-map accept 0
expect_fail "native: detach what is not attached (ENOENT)" "not attached" \
	kwasm-tools native-attach port_filter ipv4:input --detach

# A filter as a real netfilter hook.
native_drops() {
	kwasm-tools native-map port_filter 0 | awk '$1 == "1:" { print $2 }'
}
_d0=$(native_drops)
check "native: attach port_filter to ipv4:input" kwasm-tools native-attach port_filter ipv4:input
expect_fail "native: attach it twice (EEXIST)" "already attached" \
	kwasm-tools native-attach port_filter ipv4:input
check "native: attach accept (the empty hook) to ipv4:input, priority -5" \
	kwasm-tools native-attach accept ipv4:input --priority -5
expect_out "native: hooked: datagrams to 9999 do not arrive" "sent 20, failed 0, received 0" \
	kwasm-tools udp-check --port 9999 --count 20
expect_out "native: hooked: datagrams to 9998 arrive" "sent 10, failed 0, received 10" \
	kwasm-tools udp-check --port 9998 --count 10
expect_eq "native: hooked: the hook counted 20 drops" "20" "$(($(native_drops) - _d0))"
check "native: detach port_filter" kwasm-tools native-attach port_filter ipv4:input --detach
expect_out "native: detached: datagrams to 9999 arrive" "sent 5, failed 0, received 5" \
	kwasm-tools udp-check --port 9999 --count 5
check "native: attach port_filter again (left attached for rmmod)" \
	kwasm-tools native-attach port_filter ipv4:input
unload_all
check "native: rmmod native_bench detaches its hooks" rmmod native_bench
expect_out "native: unloaded: datagrams to 9999 arrive" "sent 5, failed 0, received 5" \
	kwasm-tools udp-check --port 9999 --count 5
check "native: rmmod kwasm" rmmod kwasm
