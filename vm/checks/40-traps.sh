# Every trap kind raised from the netfilter hook under traffic: the kernel
# stays up, stats count the trap by kind, and the default verdict applies
# (accept; with --on-trap drop the datagrams do not arrive). The *_loop
# programs loop on bulk operations and byte-moving host calls under the
# default fuel: fuel counts work, so each packet ends promptly with
# out_of_fuel, and /init's kernel-log check finds no soft lockup or RCU stall.

# program:trap kind (see the `expect:` line of guests/wat/traps/*.wat)
for pk in div_zero:div_by_zero oob:memory_oob unreachable:unreachable \
	stack_overflow:stack_overflow infinite_loop:out_of_fuel \
	int_overflow:int_overflow bad_conversion:bad_conversion null_call:null_call \
	bad_signature:bad_signature table_oob:table_oob \
	undefined_element:undefined_element host_error:host_error log_oob:memory_oob \
	fill_loop:out_of_fuel copy_loop:out_of_fuel table_loop:out_of_fuel \
	host_loop:out_of_fuel; do
	p=${pk%%:*} k=${pk#*:}
	f=$KW/traps/$p.kw
	[ -f "$f" ] || { fail "trap $p: $f missing"; continue; }
	fuel=
	[ "$p" = infinite_loop ] && fuel="--fuel 20000"
	if kwasm load "$f" --name "t_$p" --attach ipv4:input $fuel >/tmp/load.out 2>&1; then
		expect_out "trap $p: accept by default, traffic passes" "sent 8, failed 0, received 8" \
			kwasm-tools udp-check --port 9100 --count 8
		expect_eq "trap $p: 8 $k traps counted, 8 invocations" "8 8 8" \
			"$(stat_of t_$p trap.$k) $(stat_of t_$p traps) $(stat_of t_$p invocations)"
		kwasm unload "t_$p"
	else
		fail "trap $p: load"
		sed 's/^/    /' /tmp/load.out
	fi
	if kwasm load "$f" --name "t_$p" --attach ipv4:input --on-trap drop $fuel >/tmp/load.out 2>&1; then
		expect_out "trap $p: --on-trap drop, traffic dropped" "sent 8, failed 0, received 0" \
			kwasm-tools udp-check --port 9100 --count 8
		expect_out "trap $p: --on-trap drop: 8 $k traps counted" 8 stat_of "t_$p" "trap.$k"
		kwasm unload "t_$p"
	else
		fail "trap $p: load --on-trap drop"
		sed 's/^/    /' /tmp/load.out
	fi
done
kwasm load $KW/traps/div_zero.kw --name dz
expect_fail "traps: INVOKE in the kernel reports the trap (exit status 2)" \
	"trap: integer divide by zero in function" kwasm invoke dz filter 5 --kw $KW/traps/div_zero.kw
kwasm unload dz
check "traps: traps are logged with the program name" sh -c 'dmesg | grep -q "t_div_zero"'
expect_out "traps: nothing left loaded" 0 prog_modules
unload_all
