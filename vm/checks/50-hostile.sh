# Hostile input: truncated and corrupted .kw files, a wrong import
# signature, unprivileged callers and garbage ioctls. Userspace refuses them
# with a clear error; with the hidden `load --unchecked` the same bytes reach
# the kernel, whose own validation must refuse them too (checksum re-stamped,
# so it is the structural checks that answer). The kernel log must stay
# clean (checked at the end by /init and by xtask).

T=/tmp/hostile
mkdir -p $T
head -c 1500 $KW/port_filter.kw > $T/truncated.kw
kwasm-tools forge-kw $KW/port_filter.kw $T/truncated_meta.kw --mode truncate-meta
kwasm-tools forge-kw $KW/port_filter.kw $T/corrupt_meta.kw --mode corrupt-meta
kwasm-tools forge-kw $KW/port_filter.kw $T/bad_import.kw --mode bad-import

expect_fail "hostile: truncated .kw refused" "malformed ELF" kwasm load $T/truncated.kw
expect_fail "hostile: truncated .kw refused even --unchecked" "malformed ELF" \
	kwasm load $T/truncated.kw --unchecked
expect_fail "hostile: truncated metadata refused in userspace" "metadata truncated" \
	kwasm load $T/truncated_meta.kw
expect_fail "hostile: truncated metadata refused by the kernel" "the kernel rejected the program" \
	kwasm load $T/truncated_meta.kw --unchecked --name trunc
check "hostile: kernel log names the truncated program" sh -c 'dmesg | grep -q "trunc: invalid metadata: metadata truncated"'
expect_fail "hostile: corrupted metadata refused in userspace" "lies outside .text" \
	kwasm load $T/corrupt_meta.kw
expect_fail "hostile: corrupted metadata refused by the kernel" "the kernel rejected the program" \
	kwasm load $T/corrupt_meta.kw --unchecked --name corrupt
check "hostile: kernel log says why" sh -c 'dmesg | grep -q "corrupt: invalid metadata: function 0 lies outside .text"'
expect_fail "hostile: wrong import signature refused in userspace, naming it" \
	"import \`kwasm\`.\`pkt_load\` has type" kwasm load $T/bad_import.kw
expect_fail "hostile: wrong import signature refused by the kernel" "pkt_load" \
	kwasm load $T/bad_import.kw --unchecked --name badimp

# Code for the other architecture (x86-64 code on an arm64 kernel and the
# reverse): refused by kwasm before init_module, and by the kernel's own
# check with --unchecked; both messages name both architectures.
HERE=$(uname -m)
case $HERE in x86_64) OTHER=aarch64 ;; *) OTHER=x86_64 ;; esac
expect_fail "hostile: $OTHER code refused in userspace, naming both architectures" \
	"built for $OTHER, but this host runs $HERE" kwasm load $KW/foreign/port_filter.kw
expect_fail "hostile: $OTHER code refused by the kernel" "the kernel rejected the program" \
	kwasm load $KW/foreign/port_filter.kw --unchecked --name foreign
check "hostile: kernel log names both architectures" \
	sh -c "dmesg | grep -q 'foreign: code is for $OTHER, this kernel is $HERE'"
# Code compiled with CPU extensions (x86-64 only: payload CPU_VARIANTS).
# Under TCG the VM's CPU lacks lzcnt (QEMU's model without ABM, see
# xtask/src/vm.rs): compute-lzcnt.kw is refused by kwasm before
# init_module and by kwasm.ko itself with --unchecked, both naming the
# extension. Without the check it would load and compute wrong answers
# (lzcnt runs as bsr there). compute-bmi2.kw uses everything else the CPU
# has and must load and answer. With KVM the host's CPU decides.
if [ -d $KW/cpu ]; then
	if grep -qw abm /proc/cpuinfo; then
		check "cpu: this CPU has lzcnt: lzcnt code loads" \
			kwasm load $KW/cpu/compute-lzcnt.kw --name cpu_lzcnt
		check "cpu: unload lzcnt code" kwasm unload cpu_lzcnt
	else
		expect_fail "hostile: lzcnt code refused in userspace, naming it" \
			"this CPU lacks lzcnt" kwasm load $KW/cpu/compute-lzcnt.kw
		expect_fail "hostile: lzcnt code refused by the kernel" "the kernel rejected the program" \
			kwasm load $KW/cpu/compute-lzcnt.kw --unchecked --name cpu_lzcnt
		check "hostile: kernel log names the missing extension" \
			sh -c "dmesg | grep -q 'cpu_lzcnt: code compiled for CPUs with lzcnt .* but this CPU lacks lzcnt'"
	fi
	check "cpu: code with bmi1, bmi2, popcnt, sse4.1, sse4.2 and avx loads" \
		kwasm load $KW/cpu/compute-bmi2.kw --name cpu_bmi2
	expect_out "cpu: and answers" 55 kwasm invoke cpu_bmi2 fib 10 --kw $KW/cpu/compute-bmi2.kw
	check "cpu: unload it" kwasm unload cpu_bmi2
fi
expect_out "hostile: nothing was loaded" 0 prog_modules

# Unprivileged callers. /dev/kwasm may be opened by anyone, but every
# request except MODULE_LAYOUT (the ioctl version) needs CAP_NET_ADMIN:
# names, stats and maps can hold per-flow data, and per-packet timing is a
# side channel. Loading needs CAP_SYS_MODULE. --as-uid drops to nobody after
# opening the device, so the ioctl's own check answers.
check "hostile: load pf (root)" kwasm load $KW/port_filter.kw --name pf
expect_fail "hostile: non-root load refused (EPERM)" "needs CAP_SYS_MODULE" \
	kwasm --as-uid 65534 load $KW/port_filter.kw --name pf2
expect_fail "hostile: non-root attach refused (EPERM)" "permission denied" \
	kwasm --as-uid 65534 attach pf ipv4:input
expect_fail "hostile: non-root invoke refused (EPERM)" "permission denied" \
	kwasm --as-uid 65534 invoke pf filter i32:0
expect_fail "hostile: non-root map set refused (EPERM)" "permission denied" \
	kwasm --as-uid 65534 map set pf 0 0 5
expect_fail "hostile: non-root unload refused" "permission denied" \
	kwasm --as-uid 65534 unload pf
expect_fail "hostile: non-root attach via su refused" "permission denied" \
	su nobody -s /bin/sh -c "/opt/kwasm/bin/kwasm attach pf ipv4:input"
expect_fail "hostile: non-root list refused (EPERM)" "permission denied" \
	kwasm --as-uid 65534 list
expect_fail "hostile: non-root stats refused (EPERM)" "permission denied" \
	kwasm --as-uid 65534 stats pf
expect_fail "hostile: non-root map get refused (EPERM)" "permission denied" \
	kwasm --as-uid 65534 map get pf 0 0
check "hostile: non-root version allowed" kwasm --as-uid 65534 --version
expect_out "hostile: pf still unattached" - stat_of pf attached

# Garbage ioctls, with a real program name in half of them.
check "hostile: load compute" kwasm load $KW/compute.kw --name compute
check "hostile: 20000 random ioctls as root" kwasm-tools fuzz-ioctl --iterations 20000 --seed 7 --name pf
check "hostile: 5000 random ioctls as nobody" kwasm-tools --as-uid 65534 fuzz-ioctl --iterations 5000 --seed 8 --name compute
kwasm-tools fuzz-ioctl --iterations 2000 --seed 9 --name compute
check "hostile: programs still answer" kwasm invoke compute fib 10 --kw $KW/compute.kw
check "hostile: unload pf" kwasm unload pf
check "hostile: unload compute" kwasm unload compute
expect_out "hostile: nothing left loaded" 0 prog_modules
unload_all
