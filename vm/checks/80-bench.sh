# kwasm bench: the BENCH ioctl (a test run of `filter`, as eBPF's
# BPF_PROG_TEST_RUN). A bounded smoke run: verdicts and counts, not timing
# (no assertion here depends on how fast anything runs). Also: bench runs
# stay out of the program's stats, a .kw file is loaded only for the run,
# unprivileged callers and hostile sizes are refused, and a long bench ends
# promptly on a signal.

B=/tmp/bench
mkdir -p $B
check "bench: insmod kwasm.ko" insmod /lib/kwasm.ko

# The clock: BENCH times batches with sched_clock (TSC); the VM boots with
# tsc=reliable so timekeeping uses the TSC too, not 4 ms jiffies.
_cs=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)
check "bench: clocksource is not jiffies ($_cs)" sh -c "! echo $_cs | grep -q jiffies"

check "bench: load port_filter as pf" kwasm load $KW/port_filter.kw --name pf
# For the record, not asserted: two runs of 100000 calls.
for _r in 1 2; do
	echo "bench: pf --repeat 100000 run $_r: $(kwasm bench pf --udp 9999 --repeat 100000 --cpu 0 | bench_fields median_ns p99_ns mean_ns batches batch) (median p99 mean ns, batches, batch)"
done
expect_eq "bench: UDP to 9999: drop, 1000 runs, 1000 drops, no traps" "drop 1000 1000 0 0" \
	"$(kwasm bench pf --udp 9999 --repeat 1000 | bench_fields verdict runs drops traps skipped)"
expect_eq "bench: UDP to 53: accept, 1000 runs, 1000 accepts" "accept 1000 1000 0" \
	"$(kwasm bench pf --udp 53 --len 200 --repeat 1000 | bench_fields verdict runs accepts drops)"
expect_eq "bench: bench runs are not counted in the program's stats" "0 0 0" \
	"$(stat_of pf invocations) $(stat_of pf accepts) $(stat_of pf drops)"
# An IPv4/UDP header to port 9999 written by hand: --packet is what
# pkt_load sees from offset 0 (the IP header).
printf '\105\000\000\034\000\000\100\000\100\021\000\000\177\000\000\001\177\000\000\001\234\100\047\017\000\010\000\000' > $B/udp9999.pkt
expect_eq "bench: --packet FILE (IPv4/UDP to 9999): drop, 28 bytes" "drop 28 100" \
	"$(kwasm bench pf --packet $B/udp9999.pkt --repeat 100 | bench_fields verdict packet_bytes runs)"
check "bench: --json: 100 runs" sh -c 'kwasm bench pf --repeat 100 --json | grep -q "\"runs\":100,"'
_b=$(kwasm bench pf --repeat 100 --batch 10 | bench_fields batches batch)
check "bench: --batch 10: batches of at most 10 calls ($_b)" test "${_b#* }" -le 10 -a "${_b% *}" -ge 10
expect_eq "bench: --cpu 1 runs on CPU 1" "1 300" \
	"$(kwasm bench pf --cpu 1 --repeat 300 | bench_fields cpu runs)"
expect_eq "bench: a .kw file is loaded for the run" "drop 500" \
	"$(kwasm bench $KW/port_filter.kw --udp 9999 --repeat 500 | bench_fields verdict runs)"
expect_out "bench: ... and unloaded after it" 1 prog_modules
expect_eq "bench: --user gives the same verdicts in userspace" "user drop 200 200" \
	"$(kwasm bench $KW/port_filter.kw --user --udp 9999 --repeat 200 | bench_fields runner verdict runs drops)"

# Refusals: by the CLI first, and with the hidden --unchecked by the kernel.
expect_fail "bench: non-root refused (EPERM)" "permission denied" \
	kwasm --as-uid 65534 bench pf --repeat 10
expect_fail "bench: unknown program (ENOENT)" "no such program" kwasm bench nosuch --repeat 10
expect_fail "bench: CLI refuses --repeat 0" "--repeat 0: use 1..=" kwasm bench pf --repeat 0
expect_fail "bench: kernel refuses repeat 0 (EINVAL)" "Invalid argument" \
	kwasm bench pf --repeat 0 --unchecked
expect_fail "bench: kernel refuses repeat 4000000000 (E2BIG)" "Argument list too long" \
	kwasm bench pf --repeat 4000000000 --unchecked
expect_fail "bench: kernel refuses batch 100000 (EINVAL)" "Invalid argument" \
	kwasm bench pf --repeat 10 --batch 100000 --unchecked
head -c 70000 /dev/zero > $B/huge.pkt
: > $B/empty.pkt
expect_fail "bench: CLI refuses a 70000-byte packet" "a bench packet has 1..=65535" \
	kwasm bench pf --packet $B/huge.pkt
expect_fail "bench: kernel refuses a 70000-byte packet (E2BIG)" "Argument list too long" \
	kwasm bench pf --packet $B/huge.pkt --unchecked
expect_fail "bench: kernel refuses an empty packet (EINVAL)" "Invalid argument" \
	kwasm bench pf --packet $B/empty.pkt --unchecked
expect_eq "bench: stats still untouched" "0" "$(stat_of pf invocations)"
# --hook: the real hook path, datagrams over lo with and without the
# program on ipv4:input (no timing asserted: counts and cleanup).
expect_eq "bench: --hook: 600 datagrams each side in 10 rounds" "600 10 ipv4:input" \
	"$(kwasm bench pf --hook ipv4:input --udp 5000 --repeat 600 | bench_fields packets rounds point)"
check "bench: ... and pf is detached after it" sh -c '! kwasm list | grep -q "ipv4:input"'
expect_eq "bench: --hook --dns: the query's datagram goes to port 53" "53 33" \
	"$(kwasm bench $KW/port_filter.kw --hook ipv4:input --dns www.example.com --repeat 60 | bench_fields port payload_bytes)"
expect_fail "bench: --hook on datagrams the program drops fails, saying so" "did not arrive" \
	kwasm bench $KW/port_filter.kw --hook ipv4:input --udp 9999 --repeat 60
expect_out "bench: ... and the temporary program is unloaded" 1 prog_modules
expect_fail "bench: --hook refuses a bad point" "use ipv4|ipv6" \
	kwasm bench pf --hook ipv4:sideways --repeat 60
expect_fail "bench: --hook needs an IPv4/UDP packet" "IPv4/UDP" \
	kwasm bench pf --hook ipv4:input --packet $KW/port_filter.kw --repeat 60

check "bench: unload pf" kwasm unload pf

# A bench that would run for hours (every call spins until out of fuel)
# ends promptly on a signal: the kernel checks between batches.

# running PID: the process exists and has not exited (the shell has not
# waited for it yet, so an exited one stays a zombie: state Z).
running() {
	[ -r /proc/$1/stat ] && [ "$(awk '{ print $3 }' /proc/$1/stat 2>/dev/null)" != Z ]
}

# interrupt_after SECS SIGNAL PID: sends SIGNAL after SECS, then waits up to
# 10 s for PID to end; succeeds if it has.
interrupt_after() {
	sleep "$1"
	kill -"$2" "$3"
	_i=0
	while running "$3" && [ $_i -lt 100 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	! running "$3"
}

kwasm bench $KW/traps/infinite_loop.kw --repeat 100000000 > $B/int.out 2>&1 &
_pid=$!
check "bench: SIGTERM ends a long bench within 10 s" interrupt_after 2 TERM $_pid
wait $_pid 2>/dev/null
check "bench: ... with EINTR, reported" grep -q "interrupted by a signal" $B/int.out
expect_out "bench: ... and the temporary program is unloaded" 0 prog_modules
check "bench: load spin (infinite_loop)" kwasm load $KW/traps/infinite_loop.kw --name spin
kwasm bench spin --repeat 100000000 > /dev/null 2>&1 &
_pid=$!
check "bench: SIGKILL ends a long bench by name within 10 s" interrupt_after 1 KILL $_pid
wait $_pid 2>/dev/null
check "bench: unload spin" kwasm unload spin
unload_all
check "bench: rmmod kwasm" rmmod kwasm
