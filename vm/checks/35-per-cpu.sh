# A per_cpu_array beside a shared array (guests/wat/per_cpu.wat): each
# packet adds 1 to the CPU's own copy of map 0 entry 0 (plain loads and
# stores) and to map 1 entry 0 (an atomic add). Datagrams over lo are
# filtered on the sending CPU, so a sender pinned with taskset fills that
# CPU's copy; the copies sum to the shared count.

check "percpu: load per_cpu attached to ipv4:input" \
	kwasm load $KW/per_cpu.kw --name pc --attach ipv4:input
expect_out "percpu: map list" \
	'[{"map":0,"kind":"per_cpu_array","entries":2,"used":2,"key_size":4,"value_size":8,"copies":2},{"map":1,"kind":"array","entries":1,"used":1,"key_size":4,"value_size":8,"copies":1}]' \
	kwasm map list pc --json
expect_out "percpu: 30 datagrams from CPU 0" "sent 30, failed 0, received 30" \
	taskset -c 0 kwasm-tools udp-check --port 9998 --count 30
expect_out "percpu: 20 datagrams from CPU 1" "sent 20, failed 0, received 20" \
	taskset -c 1 kwasm-tools udp-check --port 9998 --count 20
expect_out "percpu: each CPU counted its own" "cpu0: 30
cpu1: 20" kwasm map get pc 0 0 --per-cpu
expect_out "percpu: map get sums the copies" 50 kwasm map get pc 0 0
expect_out "percpu: --cpu 1 reads one copy" 20 kwasm map get pc 0 0 --cpu 1
expect_out "percpu: the shared array counted them all" 50 kwasm map get pc 1 0
expect_out "percpu: dump --per-cpu --json" "[[30,20],[0,0]]" kwasm map dump pc 0 --per-cpu --json
expect_out "percpu: dump sums" "0: 50
1: 0" kwasm map dump pc 0
check "percpu: map set writes every copy" kwasm map set pc 0 1 7
check "percpu: map set --cpu 1 writes one" kwasm map set pc 0 1 5 --cpu 1
expect_out "percpu: copies after the sets" "cpu0: 7
cpu1: 5" kwasm map get pc 0 1 --per-cpu
# INVOKE runs on the caller's CPU, where wasm sees that CPU's copy.
expect_out "percpu: wasm on CPU 0 reads CPU 0's copy" 7 \
	taskset -c 0 kwasm invoke pc get 0 1 --kw $KW/per_cpu.kw
expect_out "percpu: wasm on CPU 1 reads CPU 1's copy" 5 \
	taskset -c 1 kwasm invoke pc get 0 1 --kw $KW/per_cpu.kw
check "percpu: wasm on CPU 1 writes CPU 1's copy" \
	taskset -c 1 kwasm invoke pc set 0 1 11 --kw $KW/per_cpu.kw
expect_out "percpu: ... and only that one" "cpu0: 7
cpu1: 11" kwasm map get pc 0 1 --per-cpu
expect_fail "percpu: --cpu on a shared array is refused" "drop --cpu" kwasm map get pc 1 0 --cpu 0
expect_fail "percpu: --cpu past the last CPU is refused" "CPUs 0 to 1" kwasm map get pc 0 0 --cpu 2
expect_fail "percpu: --per-cpu on a shared array is refused" "drop --per-cpu" kwasm map dump pc 1 --per-cpu
expect_fail "percpu: wasm's index out of range traps" "host function error" \
	kwasm invoke pc get 0 2 --kw $KW/per_cpu.kw
check "percpu: unload" kwasm unload pc
unload_all
