# The eBPF twins of the bench filters (guests/bench/bpf, shipped as
# /opt/kwasm/bench/bpf/*.bpf.o): each passes the verifier of this kernel,
# and under BPF_PROG_TEST_RUN (`kwasm bench --bpf`) gives the verdicts the
# kwasm programs and native_bench.ko give on 85-native.sh's packets (its
# $PACKETS, files and expected verdicts are reused here). Then the
# side-by-side modes and a native filter on the hook path. No timing
# assertions.

BPF=/opt/kwasm/bench/bpf
check "bpf: insmod kwasm.ko" insmod /lib/kwasm.ko
check "bpf: insmod native_bench.ko" insmod /lib/native_bench.ko
for f in accept port_filter packet_counter dns; do
	check "bpf: $f.bpf.o passes the verifier and runs" \
		kwasm bench --bpf $BPF/$f.bpf.o --udp 9 --repeat 1
	eval _want=\$want_$f
	expect_eq "bpf: $f: eBPF verdicts" "$_want" "$(verdicts --bpf $BPF/$f.bpf.o)"
done

# kwasm, eBPF and native side by side: exits 1 if a verdict differs.
check "bpf: --compare-bpf --compare-native: a blocked query, all drop" \
	kwasm bench $KW/dns_filter.kw --packet $N/v6blocked.pkt --repeat 200 \
	--compare-bpf $BPF/dns.bpf.o --compare-native dns
check "bpf: --compare-bpf --compare-native: UDP to 9999, all drop" \
	kwasm bench $KW/port_filter.kw --udp 9999 --repeat 200 \
	--compare-bpf $BPF/port_filter.bpf.o --compare-native port_filter
_j=$(kwasm bench $KW/packet_counter.kw --udp 53 --repeat 100 --json \
	--compare-bpf $BPF/packet_counter.bpf.o --compare-native packet_counter)
expect_eq "bpf: --compare --json: verdicts agree, three runners" \
	'true "kernel" "bpf" "native"' \
	"$(echo "$_j" | grep -o '"verdicts_agree":[a-z]*' | cut -d: -f2) $(echo "$_j" |
		grep -o '"runner":"[a-z]*"' | cut -d: -f2 | tr '\n' ' ' | sed 's/ $//')"

# The hook path of a native filter: attached for the run, detached after.
check "bpf: native hook path (kwasm bench --native --hook)" \
	kwasm bench --native port_filter --hook ipv4:input --udp 5000 --repeat 200
expect_fail "bpf: ... and the native filter is detached after it" "not attached" \
	kwasm-tools native-attach port_filter ipv4:input --detach
check "bpf: rmmod native_bench" rmmod native_bench
check "bpf: rmmod kwasm" rmmod kwasm
