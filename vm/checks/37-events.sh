# A ring buffer fed by real traffic (guests/wat/events.wat): the hook writes
# each UDP datagram's payload ("kwasm datagram N") as a record with
# event_output; `kwasm events` drains them in order. The ring has 4096
# bytes; a record of 16 payload bytes takes 32, of 17 or 18 bytes 40, so
# datagrams 0..103 fit (10 * 32 + 94 * 40 = 4080) and a slow reader sees
# the rest dropped and counted.

# payloads: the `data` of `kwasm events/log --json` lines on stdin.
payloads() {
	sed -n 's/.*"data":"\([^"]*\)".*/\1/p'
}
# ev_data ARGS...: the payloads `kwasm events ARGS --json` prints.
ev_data() {
	kwasm events "$@" --json 2>/dev/null | payloads
}
# log_data NAME: the lines `kwasm log NAME --json` prints.
log_data() {
	kwasm log "$1" --json | payloads
}
# cpu_data CPU: the payloads of CPU's records in /tmp/ev.out.
cpu_data() {
	grep "\"cpu\":$1," /tmp/ev.out | payloads
}
# ring_used NAME: bytes pending in NAME's ring, from `kwasm map list`.
ring_used() {
	kwasm map list "$1" --json | sed -n 's/.*"kind":"ring_buf","entries":[0-9]*,"used":\([0-9]*\).*/\1/p'
}
# drop_note NAME: what `kwasm events NAME` says on stderr.
drop_note() {
	kwasm events "$1" 2>&1 >/dev/null
}

check "events: load events attached to ipv4:input" \
	kwasm load $KW/events.kw --name ev --attach ipv4:input
expect_out "events: map list" \
	'[{"map":0,"kind":"ring_buf","entries":4096,"used":0,"key_size":0,"value_size":0,"copies":1},{"map":1,"kind":"array","entries":1,"used":1,"key_size":4,"value_size":8,"copies":1}]' \
	kwasm map list ev --json
expect_out "events: 5 datagrams" "sent 5, failed 0, received 5" \
	kwasm-tools udp-check --port 9990 --count 5
expect_out "events: their records, in order" "$(seq 0 4 | sed 's/^/kwasm datagram /')" \
	ev_data ev
expect_out "events: drained: nothing left" "" kwasm events ev

# A reader that does not keep up: 150 datagrams, 104 records fit.
expect_out "events: 150 datagrams, nobody reading" "sent 150, failed 0, received 150" \
	kwasm-tools udp-check --port 9990 --count 150
expect_out "events: 4080 bytes pending" 4080 ring_used ev
expect_out "events: the first 104 records, in order" "$(seq 0 103 | sed 's/^/kwasm datagram /')" \
	ev_data ev
expect_out "events: the 46 others were dropped and counted" \
	"kwasm: the ring has dropped 46 records since the program loaded (it was full)" \
	drop_note ev

# Both CPUs write while a reader follows: each CPU's records arrive in its
# order, none torn or lost (80 records of at most 40 bytes fit even unread).
kwasm events ev --follow --json >/tmp/ev.out 2>/tmp/ev.err &
reader=$!
taskset -c 0 kwasm-tools udp-check --port 9991 --count 40 >/dev/null &
s0=$!
taskset -c 1 kwasm-tools udp-check --port 9992 --count 40 >/dev/null
wait $s0
sleep 1
kill $reader
wait $reader 2>/dev/null
expect_eq "events: --follow saw all 80 as they came" 80 "$(payloads </tmp/ev.out | wc -l)"
expect_out "events: CPU 0's records in its order" "$(seq 0 39 | sed 's/^/kwasm datagram /')" \
	cpu_data 0
expect_out "events: CPU 1's records in its order" "$(seq 0 39 | sed 's/^/kwasm datagram /')" \
	cpu_data 1
expect_out "events: no drops while following (only the 46 before)" \
	"kwasm: the ring has dropped 46 records since the program loaded (it was full)" cat /tmp/ev.err

# wasm's side: statuses and traps, through INVOKE.
expect_out "events: a record above 4096 bytes is a status" -7 kwasm invoke ev emit 5000 --kw $KW/events.kw
expect_out "events: a map that is not a ring is a status" -22 kwasm invoke ev notring --kw $KW/events.kw
expect_fail "events: a range outside memory traps" "out of bounds" kwasm invoke ev oob --kw $KW/events.kw
expect_fail "events: an array is not a ring" "not a ring_buf" kwasm events ev --map 1

# The log ring: every `log` line, once.
check "events: log three lines" sh -c "for i in 1 2 3; do kwasm invoke ev say --kw $KW/events.kw || exit 1; done"
expect_out "events: kwasm log shows them" "event log line
event log line
event log line" log_data ev
expect_out "events: kwasm log drains" "" kwasm log ev
check "events: 2000 random ioctls at a program with a ring" \
	kwasm-tools fuzz-ioctl --iterations 2000 --seed 12 --name ev
check "events: unload" kwasm unload ev
unload_all
