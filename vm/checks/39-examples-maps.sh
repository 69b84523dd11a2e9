# The examples that use hash maps and a ring buffer (guests/examples/
# dns_parser and flow_counter), under real traffic: DNS queries over lo to
# port 53 (nothing listens; the hook sees them at input) and UDP datagrams
# from both CPUs.

# pairs: `"key":K,"value":V` of `kwasm map dump --json` on stdin, sorted.
pairs() {
	grep -o '"key":[^,]*,"value":[^,]*' | sort
}
# dump_pairs PROG MAP: the sorted pairs of a hash map's dump.
dump_pairs() {
	kwasm map dump "$1" "$2" --json | pairs
}
# ev_lines FILE: the `data` of the JSON records in FILE.
ev_lines() {
	sed -n 's/.*"data":"\([^"]*\)".*/\1/p' "$1"
}
# log_count PROG TEXT: how many of PROG's log lines are exactly TEXT.
log_count() {
	kwasm log "$1" --json | grep -c "\"data\":\"$2\""
}

check "dns: load dns_parser attached to ipv4:input" \
	kwasm load $KW/dns_parser.kw --name dns_parser --attach ipv4:input
expect_out "dns: map list" \
	'[{"map":0,"kind":"array","entries":4,"used":4,"key_size":4,"value_size":8,"copies":1},{"map":1,"kind":"array","entries":256,"used":256,"key_size":4,"value_size":8,"copies":1},{"map":2,"kind":"hash","entries":1024,"used":0,"key_size":64,"value_size":8,"copies":1},{"map":3,"kind":"ring_buf","entries":65536,"used":0,"key_size":0,"value_size":0,"copies":1}]' \
	kwasm map list dns_parser --json
kwasm events dns_parser --follow --json >/tmp/dns.ev 2>/tmp/dns.err &
reader=$!
sleep 1
expect_out "dns: 3 queries for www.example.com" "sent 3, failed 0" \
	kwasm-tools udp-send --port 53 --dns www.example.com --count 3
expect_out "dns: 2 for WWW.Example.COM, the same name" "sent 2, failed 0" \
	kwasm-tools udp-send --port 53 --dns WWW.Example.COM --count 2
expect_out "dns: 4 AAAA queries for x.blocked.test" "sent 4, failed 0" \
	kwasm-tools udp-send --port 53 --dns x.blocked.test --qtype 28 --count 4
sleep 1
kill $reader
wait $reader 2>/dev/null
expect_out "dns: per-name counts (map dump --json)" '"key":"www.example.com","value":5
"key":"x.blocked.test","value":4' dump_pairs dns_parser 2
expect_out "dns: lookup by name" 4 kwasm map lookup dns_parser 2 str:x.blocked.test
expect_out "dns: kwasm events --follow streamed each blocked query as it came" \
	"$(for i in 1 2 3 4; do echo 'x.blocked.test AAAA from 127.0.0.1'; done)" ev_lines /tmp/dns.ev
expect_out "dns: the reader saw no drops" "" cat /tmp/dns.err
expect_out "dns: queries counted" 9 kwasm map get dns_parser 0 0
expect_out "dns: blocked counted" 4 kwasm map get dns_parser 0 1
expect_out "dns: AAAA counted" 4 kwasm map get dns_parser 1 28
expect_out "dns: the log ring has every DROP line" 4 log_count dns_parser "dns: DROP x.blocked.test AAAA from 127.0.0.1"
check "dns: unload" kwasm unload dns_parser

# flow_counter: one flow (127.0.0.1 -> 127.0.0.1, UDP) whatever the ports.
# 25 datagrams "kwasm datagram N" are 25 * 28 + 10 * 16 + 15 * 17 = 1115
# bytes of IP.
FLOW=::ffff:127.0.0.1,::ffff:127.0.0.1,u8:17,hex:000000
check "flows: load flow_counter attached to ipv4:input" \
	kwasm load $KW/flow_counter.kw --name flows --attach ipv4:input
expect_out "flows: 25 datagrams" "sent 25, failed 0, received 25" \
	kwasm-tools udp-check --port 9970 --count 25
expect_out "flows: packets and bytes of the flow" "25 1115" kwasm map lookup flows 0 $FLOW
taskset -c 0 kwasm-tools udp-send --port 9971 --count 300 >/dev/null &
s0=$!
taskset -c 1 kwasm-tools udp-send --port 9972 --count 300 >/dev/null
wait $s0
expect_out "flows: both CPUs added to the same key, none lost" 625 \
	sh -c "kwasm map lookup flows 0 $FLOW | cut -d' ' -f1"
expect_out "flows: dump shows the flow's key in hex" \
	"hex:00000000000000000000ffff7f00000100000000000000000000ffff7f00000111000000" \
	sh -c "kwasm map dump flows 0 | grep ' 625 ' | cut -d: -f1-2"
expect_out "flows: nothing untracked" 0 kwasm map get flows 1 1
check "flows: unload" kwasm unload flows
unload_all
