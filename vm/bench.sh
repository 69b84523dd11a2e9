# `cargo xtask bench`: the comparison suite, run by /init instead of the
# checks ($kwasm_vm = bench). Every result goes to the console as one line
#   BENCH-JSON {"kind":...,"filter":...,"packet":...,"result":{...}}
# which the host collects into target/bench/. A verdict disagreement (kwasm
# bench --compare-* exits 1) or a failed run is a FAIL line, as in the checks.
#
# Knobs (kernel command line, set by `cargo xtask bench`):
#   kwasm_bench_repeat   calls per test run            (default 200000)
#   kwasm_bench_packets  datagrams per hook-path side  (default 100000)

KW=/opt/kwasm/kw
BPF=/opt/kwasm/bench/bpf
REPEAT=${kwasm_bench_repeat:-200000}
PACKETS=${kwasm_bench_packets:-100000}
POINT=ipv4:input

check "bench: insmod kwasm.ko" insmod /lib/kwasm.ko
check "bench: insmod native_bench.ko" insmod /lib/native_bench.ko
echo "bench: clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)," \
	"repeat $REPEAT, hook packets $PACKETS, $(nproc) CPUs"

# run KIND FILTER PACKET RUNNER CHECK_NAME CMD...: runs CMD; on success a
# PASS line and its JSON (stdout) wrapped in a BENCH-JSON line, else a FAIL
# line with what it printed.
run() {
	_kind=$1 _filter=$2 _packet=$3 _runner=$4 _name=$5
	shift 5
	if _out=$("$@" 2>/tmp/bench.err); then
		pass "$_name"
		printf 'BENCH-JSON {"kind":"%s","filter":"%s","packet":"%s","runner":"%s","result":%s}\n' \
			"$_kind" "$_filter" "$_packet" "$_runner" "$_out"
	else
		fail "$_name"
		sed 's/^/    /' /tmp/bench.err
		printf '%s\n' "$_out" | sed 's/^/    /'
	fi
}

# testrun FILTER KWASM_PROGRAM BPF_OBJECT NATIVE_FILTER PACKET_LABEL ARGS...:
# the test-run bench of the three on the same packet, pinned to CPU 0.
testrun() {
	_f=$1 _kw=$2 _bpf=$3 _nat=$4 _pkt=$5
	shift 5
	run testrun "$_f" "$_pkt" all "bench: $_f on $_pkt: kwasm, eBPF and native agree" \
		kwasm bench "$KW/$_kw.kw" "$@" --repeat "$REPEAT" --cpu 0 --json \
		--compare-bpf "$BPF/$_bpf.bpf.o" --compare-native "$_nat"
}

testrun accept accept accept accept "udp:9 64B" --udp 9 --len 64
testrun port_filter port_filter port_filter port_filter "udp:9999 64B (drop)" --udp 9999 --len 64
testrun port_filter port_filter port_filter port_filter "udp:53 64B" --udp 53 --len 64
testrun packet_counter packet_counter packet_counter packet_counter "udp:9 64B" --udp 9 --len 64
testrun dns dns_filter dns dns "dns www.example.com" --dns www.example.com
testrun dns dns_filter dns dns "dns ads.blocked.test (drop)" --dns ads.blocked.test

# hook FILTER PACKET_LABEL ARGS...: the real hook path (datagrams over lo,
# with and without the program at $POINT) for kwasm, eBPF and native, on a
# datagram every one of them accepts.
hook() {
	_f=$1 _kw=$2 _bpf=$3 _nat=$4 _pkt=$5
	shift 5
	run hook "$_f" "$_pkt" kwasm "bench: $_f hook path (kwasm)" \
		kwasm bench "$KW/$_kw.kw" --hook $POINT "$@" --repeat "$PACKETS" --cpu 0 --json
	run hook "$_f" "$_pkt" bpf "bench: $_f hook path (eBPF)" \
		kwasm bench --bpf "$BPF/$_bpf.bpf.o" --hook $POINT "$@" --repeat "$PACKETS" --cpu 0 --json
	run hook "$_f" "$_pkt" native "bench: $_f hook path (native)" \
		kwasm bench --native "$_nat" --hook $POINT "$@" --repeat "$PACKETS" --cpu 0 --json
}

hook accept accept accept accept "udp:5000 64B" --udp 5000 --len 64
hook port_filter port_filter port_filter port_filter "udp:5000 64B" --udp 5000 --len 64
hook packet_counter packet_counter packet_counter packet_counter "udp:5000 64B" --udp 5000 --len 64
hook dns dns_filter dns dns "dns www.example.com" --dns www.example.com

echo "bench: done"
