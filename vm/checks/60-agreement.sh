# Agreement with userspace: `kwasm invoke` in the kernel prints exactly what
# `kwasm run` prints in userspace (same binary), for the compute functions of
# guests/wat/compute.wat (integers, floats, memory, call_indirect, traps);
# then the spec suite's invoke/assert_return/assert_trap commands through
# INVOKE in the kernel.

C=$KW/compute.kw
check "agree: load compute" kwasm load $C --name compute
while read -r f args; do
	[ -n "$f" ] || continue
	u=$(kwasm run $C --invoke $f $args 2>&1; echo "status $?")
	k=$(kwasm invoke compute $f $args --kw $C 2>&1; echo "status $?")
	expect_eq "agree: $f $args -> $(echo $u | tr '\n' ' ')" "$u" "$k"
done <<'LIST'
fib 50
fib 0
fib_rec 20
fsum 1.5 2.25
fsum -0.0 -0.0
fsum inf -inf
fsum 1e308 1e308
fpoly 2.0
fpoly 1e-300
fmix32 3.0
fmix32 -7.25
mem_sum 16
mem_sum 100000
dispatch 0 41
dispatch 1 -21
dispatch 2 12
dispatch 3 5
dispatch 4 1
sext 0x80
sext 0x7fff
sat 1e300
sat -1e300
sat nan
divmod 17 5
divmod 0xffffffff 3
divmod 1 0
bulk 7
checksum 256 64
checksum 0 70000
collatz 27
counter
i64ops 12345 678
i64ops -1 1
i64ops 1 0
filter 0
LIST
check "agree: typed results (--typed)" sh -c \
	'test "$(kwasm run $0 --invoke divmod 17 5 --typed)" = "$(kwasm invoke compute divmod 17 5 --kw $0 --typed)"' $C
expect_out "agree: raw slots without --kw" "0x0000000000000003
0x0000000000000002" kwasm invoke compute divmod i32:17 i32:5
check "agree: unload compute" kwasm unload compute

# spec_kernel LABEL ARGS...: runs `kwasm-tools spec-kernel ARGS`; one check
# per file (prefixed LABEL), then its exit status, and nothing may be left
# loaded. Its other output (a compile line, failures) is kept in
# /tmp/spec.out and shown.
spec_kernel() {
	_label=$1
	shift
	kwasm-tools spec-kernel "$@" > /tmp/spec.out 2>&1
	_status=$?
	grep -v '^spec-kernel ' /tmp/spec.out | head -40
	grep '^spec-kernel ' /tmp/spec.out > /tmp/spec.lines
	while read -r _ file rest; do
		case $rest in
		*" 0 failed"*) pass "$_label $file $rest" ;;
		*) fail "$_label $file $rest" ;;
		esac
	done < /tmp/spec.lines
	expect_eq "$_label: exit status 0" 0 "$_status"
	expect_out "$_label: nothing left loaded" 0 prog_modules
}

spec_kernel spec-kernel /opt/kwasm/spec/*.wast

# Again with the CPU's own extensions (x86-64: all but lzcnt under TCG),
# the files whose operators they change: clz/ctz/popcnt/rotates (BMI1,
# BMI2, POPCNT), rounding (SSE4.1) and every float operator (AVX's VEX
# forms), run in ring 0.
if [ "$(uname -m)" = x86_64 ]; then
	S=/opt/kwasm/spec
	spec_kernel "spec-kernel --cpu native" --cpu native $S/i32.wast $S/i64.wast \
		$S/conversions.wast $S/f32.wast $S/f64.wast
	E=popcnt,bmi1,bmi2,sse4.1,sse4.2,avx
	grep -qw abm /proc/cpuinfo && E=popcnt,lzcnt,bmi1,bmi2,sse4.1,sse4.2,avx
	expect_out "spec-kernel --cpu native: compiled with the VM CPU's extensions" \
		"spec-kernel: compiling with CPU extensions $E" \
		grep '^spec-kernel: compiling' /tmp/spec.out
fi
unload_all
