# The safety boundary, tried as an attacker with CAP_NET_ADMIN would:
# - references cannot be forged through INVOKE, nor kernel addresses read
#   back (DESIGN decision 11);
# - fuel has a ceiling at load and at INVOKE (decision 10; the bulk loops
#   under the default fuel are in 40-traps.sh);
# - one program's log output cannot hide another's trap reports;
# - INVOKE racing unload and reload on both CPUs (a use-after-free of the
#   program module's metadata before the fix; run with --debug-kernel for
#   KASAN to see it).

# --- references -------------------------------------------------------------
check "safety: load refs" kwasm load $KW/refs.kw --name refs
expect_fail "safety: a forged funcref argument is refused" "reference parameters take only null" \
	kwasm invoke refs callref i64:0x4141414141414141
check "safety: the kernel log names the refused argument" \
	sh -c 'dmesg | grep -q "refs: invoke callref: argument 0 (funcref) refused"'
expect_fail "safety: a null funcref argument is accepted (and traps as a null call)" \
	"trap: uninitialized element" kwasm invoke refs callref funcref:null
expect_fail "safety: a 64-bit value for an i32 parameter is refused" "must fit 32 bits" \
	kwasm invoke refs filter i64:0x100000001
expect_out "safety: a funcref result leaves as a flag, not an address" 0x0000000000000001 \
	kwasm invoke refs getref
expect_out "safety: a null funcref result is 0" 0x0000000000000000 \
	kwasm invoke refs nullref
expect_out "safety: with --kw the result reads as a funcref" funcref \
	kwasm invoke refs getref --kw $KW/refs.kw
check "safety: no kernel address in the log" sh -c '! dmesg | grep -qi "general protection"'
check "safety: unload refs" kwasm unload refs

# --- fuel ceiling -----------------------------------------------------------
expect_fail "safety: --fuel above the ceiling refused in userspace" "allows at most 20000000" \
	kwasm load $KW/compute.kw --name fuelmax --fuel 20000001
expect_fail "safety: --fuel above the ceiling refused by the kernel" "the kernel rejected the program" \
	kwasm load $KW/compute.kw --name fuelmax --fuel 20000001 --unchecked
check "safety: the kernel log gives the ceiling" \
	sh -c 'dmesg | grep -q "fuelmax: fuel 20000001 is above the ceiling of 20000000"'
check "safety: load compute" kwasm load $KW/compute.kw --name fuelc
expect_fail "safety: INVOKE fuel above the ceiling refused" "ceiling" \
	kwasm invoke fuelc fib i32:10 --fuel 20000001
expect_out "safety: INVOKE at the ceiling runs" 55 kwasm invoke fuelc fib 10 --fuel 20000000 --kw $KW/compute.kw
check "safety: unload compute" kwasm unload fuelc

# --- per-program rate limits ------------------------------------------------
# chatty logs 16 lines per packet ahead of rl_dz, which traps on every packet:
# with one shared limit the trap reports would all be suppressed.
check "safety: load chatty" kwasm load $KW/chatty.kw --name chatty --attach ipv4:input --priority -20
check "safety: load a trapping program" kwasm load $KW/traps/div_zero.kw --name rl_dz --attach ipv4:input
kwasm-tools udp-check --port 9100 --count 6 >/dev/null
check "safety: chatty's lines are in the log" sh -c 'dmesg | grep -q "chatty: chatty: a packet"'
check "safety: rl_dz's trap reports are not hidden by chatty" \
	sh -c 'dmesg | grep -q "rl_dz: trap: integer divide by zero"'
kwasm unload rl_dz
kwasm unload chatty

# --- INVOKE against unload and reload ---------------------------------------
check "safety: load race" kwasm load $KW/compute.kw --name race
taskset -c 0 sh -c 'while :; do kwasm invoke race fib i32:12 >/dev/null 2>&1; done' &
r0=$!
taskset -c 1 sh -c 'while :; do kwasm invoke race fib i32:12 >/dev/null 2>&1; done' &
r1=$!
errors=0
i=0
while [ $i -lt 25 ]; do
	# An INVOKE in flight holds the program module, so an unload can fail
	# with EBUSY for a moment: retry.
	n=0
	until kwasm unload race >/dev/null 2>&1; do
		n=$((n + 1))
		[ $n -lt 200 ] || { errors=$((errors + 1)); break; }
	done
	kwasm load $KW/compute.kw --name race || errors=$((errors + 1))
	i=$((i + 1))
done
kill $r0 $r1
wait $r0 $r1 2>/dev/null
expect_eq "safety: 25 unload/reload rounds under INVOKE on both CPUs" 0 $errors
expect_out "safety: race still answers" 144 kwasm invoke race fib 12 --kw $KW/compute.kw
check "safety: unload race" kwasm unload race
expect_out "safety: nothing left loaded" 0 prog_modules
unload_all
