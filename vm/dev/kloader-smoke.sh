# kwasm.ko smoke test (kernel runtime): program modules, INVOKE, netfilter,
# stats, maps, traps of every kind from the hook, unload, rmmod.
#
# Not in vm/checks/ (the CLI engineer owns those); run it with
#   vm/dev/kloader-smoke   (builds kdev + guests, then cargo xtask vm-test --add ...)
# Sourced by /init like a check script; needs /opt/kwasm/bin/kdev and the
# compiled guests in /opt/kwasm/kw/.

KW=/opt/kwasm/kw

# expect_out NAME EXPECTED CMD...: PASS if CMD succeeds and prints EXPECTED.
expect_out() {
	_n=$1 _e=$2
	shift 2
	_o=$("$@" 2>&1)
	if [ $? -eq 0 ] && [ "$_o" = "$_e" ]; then
		pass "$_n"
	else
		fail "$_n"
		echo "    expected: $_e"
		printf '%s\n' "$_o" | sed 's/^/    got: /'
	fi
}

stat_field() { # PROG FIELD
	kdev stats "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

check "smoke: insmod kwasm.ko" insmod /lib/kwasm.ko
check "smoke: /dev/kwasm is 0666" sh -c 'ls -l /dev/kwasm | grep -q "^crw-rw-rw-"'

# compute: INVOKE in the kernel, expected values from guests/wat/compute.wat.
check "smoke: load compute" kdev load $KW/compute.kw compute
check "smoke: program module listed" grep -q '^kwasm_compute ' /proc/modules
expect_out "smoke: fib 50" 12586269025 kdev invoke compute fib 50
expect_out "smoke: fib_rec 20" 6765 kdev invoke compute fib_rec 20
expect_out "smoke: mem_sum 16" 1360 kdev invoke compute mem_sum 16
expect_out "smoke: dispatch 2 12" 144 kdev invoke compute dispatch 2 12
expect_out "smoke: sext 0x80" 18446744073709551488 kdev invoke compute sext 128
expect_out "smoke: divmod 17 5" "3 2" kdev invoke compute divmod 17 5
expect_out "smoke: bulk 7" 2042 kdev invoke compute bulk 7
expect_out "smoke: checksum 256 64" 45050 kdev invoke compute checksum 256 64
expect_out "smoke: collatz 27" 111 kdev invoke compute collatz 27
expect_out "smoke: counter" 1 kdev invoke compute counter
expect_out "smoke: i64ops" 59373729030405 kdev invoke compute i64ops 12345 678
expect_out "smoke: fsum 1.5 2.25 (f64 bits)" 4615626668101337088 kdev invoke compute fsum 4609434218613702656 4612248968380809216
check "smoke: dispatch 9 traps" sh -c 'kdev invoke compute dispatch 9 1 | grep -q "^trap undefined_element func"'
check "smoke: mem_sum past the end traps" sh -c 'kdev invoke compute mem_sum 100000 | grep -q "^trap memory_oob func"'
check "smoke: duplicate name refused" sh -c '! kdev load $KW/compute.kw compute'
check "smoke: bad export -> error" sh -c '! kdev invoke compute nope'
check "smoke: bad arg count -> error" sh -c '! kdev invoke compute fib'
check "smoke: unknown program -> error" sh -c '! kdev invoke nothere fib 1'
check "smoke: unprivileged INVOKE refused (EPERM)" sh -c 'out=$(su nobody -s /bin/sh -c "/opt/kwasm/bin/kdev invoke compute fib 3" 2>&1); echo "$out"; echo "$out" | grep -q "Operation not permitted"'
check "smoke: unprivileged LIST allowed" su nobody -s /bin/sh -c "kdev list"
check "smoke: rmmod kwasm refused while programs are loaded" sh -c '! rmmod kwasm'
check "smoke: unload compute" kdev unload compute

# port_filter at ipv4:input: UDP to 9999 is dropped, to 9998 accepted.
check "smoke: load port_filter" kdev load $KW/port_filter.kw port_filter
check "smoke: attach ipv4:input" kdev attach port_filter ipv4:input 0
check "smoke: attach twice -> EEXIST" sh -c '! kdev attach port_filter ipv4:input 0'
check "smoke: attach ipv6:input" kdev attach port_filter ipv6:input 0
kdev udp-recv 9998 3000 > /tmp/ok.out &
kdev udp-recv 9999 3000 > /tmp/blocked.out &
sleep 1
kdev udp-send 127.0.0.1:9998 50
kdev udp-send 127.0.0.1:9999 50
wait
check "smoke: port 9998 datagrams delivered" test "$(cat /tmp/ok.out)" = 50
check "smoke: port 9999 datagrams dropped" test "$(cat /tmp/blocked.out)" = 0
check "smoke: drops counted in stats" test "$(stat_field port_filter drops)" -ge 50
check "smoke: map 0 counts drops" sh -c 'kdev mapget port_filter 0 0 2 | grep -q "len=2"'
echo "smoke: $(kdev stats port_filter)"
echo "smoke: $(kdev mapget port_filter 0 0 2)"
inv=$(stat_field port_filter invocations)
ns=$(stat_field port_filter run_ns)
[ "${inv:-0}" -gt 0 ] && echo "smoke: port_filter mean run time: $((ns / inv)) ns per packet (TCG)"
check "smoke: mapset" kdev mapset port_filter 0 0 42
expect_out "smoke: mapget after mapset" "len=2 [42]" kdev mapget port_filter 0 0 1
check "smoke: bad map index -> error" sh -c '! kdev mapget port_filter 5 0 1'
check "smoke: detach ipv4:input" kdev detach port_filter ipv4:input
check "smoke: detach again -> error" sh -c '! kdev detach port_filter ipv4:input'
check "smoke: unload while attached (ipv6)" kdev unload port_filter

# Every trap kind from the hook: the program traps, the packet gets the
# default verdict, nothing oopses.
for f in $KW/traps/*.kw; do
	t=$(basename "$f" .kw)
	check "smoke: trap $t: load" kdev load "$f" "t_$t" 0 32
	kdev invoke "t_$t" filter 0 | sed "s/^/smoke: trap $t invoke: /"
	check "smoke: trap $t: attach" kdev attach "t_$t" ipv4:output 0
	ping -c 2 -W 1 127.0.0.1 >/dev/null 2>&1
	echo "smoke: $(kdev stats t_$t)"
	check "smoke: trap $t: unload" kdev unload "t_$t"
done

# Hostile ioctls, as root and as nobody, with programs loaded and attached.
check "smoke: fuzz: load compute" kdev load $KW/compute.kw compute
check "smoke: fuzz: load port_filter" kdev load $KW/port_filter.kw port_filter
check "smoke: fuzz: attach" kdev attach port_filter ipv4:output 0
kdev fuzz 20000 compute port_filter nothere | sed "s/^/smoke: root /"
check "smoke: fuzz as root" kdev fuzz 2000 compute port_filter nothere
check "smoke: fuzz as nobody" su nobody -s /bin/sh -c "/opt/kwasm/bin/kdev fuzz 5000 compute port_filter"
ping -c 2 -W 1 127.0.0.1 >/dev/null 2>&1
echo "smoke: after fuzz: $(kdev list | tr '\n' ' ')"
check "smoke: fuzz: unload compute" kdev unload compute
check "smoke: fuzz: unload port_filter" kdev unload port_filter

check "smoke: packet_counter loads" kdev load $KW/packet_counter.kw packet_counter
check "smoke: dns_parser loads" kdev load $KW/dns_parser.kw dns_parser
check "smoke: hello loads" kdev load $KW/hello.kw hello
kdev list | sed 's/^/smoke: list: /'
for p in packet_counter dns_parser hello; do kdev unload $p; done
check "smoke: rmmod kwasm" rmmod kwasm
dmesg | grep kwasm | tail -40 | sed 's/^/smoke: dmesg: /'
