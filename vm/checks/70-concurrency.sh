# Concurrency: UDP traffic on both CPUs while the program is detached,
# reattached and unloaded over and over; then nothing is leaked: kwasm.ko's
# refcount is back to 0 and rmmod works. Also runs INVOKE meanwhile.

check "conc: load pf attached to ipv4:input" kwasm load $KW/port_filter.kw --name pf --attach ipv4:input
# The senders run until killed below (the loop's duration varies a lot:
# TCG, KASAN).
taskset -c 0 kwasm-tools udp-send --port 9999 --count 0 --seconds 600 > /tmp/send0.out 2>&1 &
s0=$!
taskset -c 1 kwasm-tools udp-send --port 9998 --count 0 --seconds 600 > /tmp/send1.out 2>&1 &
s1=$!
errors=0
i=0
while [ $i -lt 12 ]; do
	kwasm detach pf ipv4:input || errors=$((errors + 1))
	kwasm attach pf ipv4:output || errors=$((errors + 1))
	kwasm attach pf ipv4:input --priority -10 || errors=$((errors + 1))
	kwasm invoke pf filter i32:60 >/dev/null || errors=$((errors + 1))
	kwasm detach pf ipv4:output || errors=$((errors + 1))
	if [ $((i % 3)) = 2 ]; then
		# Unload while attached and under traffic, then load again: through
		# the CLI (detach, then delete_module), or by removing the program
		# module directly (the kernel detaches it).
		if [ $((i % 2)) = 0 ]; then
			kwasm unload pf || errors=$((errors + 1))
		else
			rmmod kwasm_pf || errors=$((errors + 1))
		fi
		kwasm load $KW/port_filter.kw --name pf --attach ipv4:input || errors=$((errors + 1))
	fi
	i=$((i + 1))
done
expect_eq "conc: 12 rounds of detach/attach/unload/load under traffic without an error" 0 $errors
sleep 1
check "conc: the reloaded program sees the traffic" test "$(stat_of pf invocations)" -gt 0
echo "conc: pf after the last reload: $(stat_of pf invocations) invocations, $(stat_of pf drops) drops, $(stat_of pf avg_ns) ns avg"
kill $s0 $s1
wait $s0 $s1 2>/dev/null
check "conc: unload pf" kwasm unload pf
expect_out "conc: no program modules left" 0 prog_modules
expect_out "conc: kwasm.ko refcount back to 0" 0 kwasm_refcount
check "conc: rmmod kwasm" rmmod kwasm
check "conc: kwasm gone from /proc/modules" sh -c '! grep -q "^kwasm " /proc/modules'
