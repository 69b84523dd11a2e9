# `kwasm exporter` scraped with wget while traffic flows: the hash map of
# guests/wat/hash.wat (packets and bytes per UDP destination port) and the
# program's counters, as Prometheus text.

# metric FILE SERIES: the value of the line of FILE that starts with SERIES
# (name and labels exactly), or nothing.
metric() {
	awk -v s="$2" 'index($0, s " ") == 1 { print $2 }' "$1"
}

check "exporter: load hash attached to ipv4:input" \
	kwasm load $KW/hash.kw --name hx --attach ipv4:input
kwasm exporter --listen 127.0.0.1:9435 2>/tmp/exp.err &
exporter=$!
sleep 1
kwasm-tools udp-check --port 9980 --count 300 >/tmp/exp.traffic &
traffic=$!
scrapes=0
while kill -0 $traffic 2>/dev/null; do
	wget -q -O /tmp/exp.during http://127.0.0.1:9435/metrics && scrapes=$((scrapes + 1))
done
wait $traffic
expect_out "exporter: the traffic got through" "sent 300, failed 0, received 300" cat /tmp/exp.traffic
check "exporter: scraped while traffic flowed ($scrapes scrapes)" test "$scrapes" -ge 1
check "exporter: a scrape during traffic is well-formed" \
	grep -q '^kwasm_invocations_total{program="hx"} [0-9]' /tmp/exp.during
check "exporter: scrape after the traffic" wget -q -O /tmp/exp.after http://127.0.0.1:9435/metrics
expect_out "exporter: packets to port 9980 by key" 300 \
	metric /tmp/exp.after 'kwasm_map_value{program="hx",map="0",kind="hash",key="9980",word="0"}'
# 300 datagrams "kwasm datagram N": 28 bytes of headers each, and payloads
# of 15 bytes plus N's digits: 300 * 43 + 10 * 1 + 90 * 2 + 200 * 3.
expect_out "exporter: bytes to port 9980 by key" 13690 \
	metric /tmp/exp.after 'kwasm_map_value{program="hx",map="0",kind="hash",key="9980",word="1"}'
expect_out "exporter: keys in use" 1 \
	metric /tmp/exp.after 'kwasm_map_used{program="hx",map="0",kind="hash"}'
expect_eq "exporter: every invocation accepted" \
	"$(metric /tmp/exp.after 'kwasm_invocations_total{program="hx"}')" \
	"$(metric /tmp/exp.after 'kwasm_verdicts_total{program="hx",verdict="accept"}')"
expect_out "exporter: no traps" 0 \
	metric /tmp/exp.after 'kwasm_traps_total{program="hx",kind="memory_oob"}'
check "exporter: the invocations agree with kwasm stats" \
	test "$(metric /tmp/exp.after 'kwasm_invocations_total{program="hx"}')" -le "$(stat_of hx invocations)"
check "exporter: TYPE lines" grep -q '^# TYPE kwasm_map_value gauge' /tmp/exp.after
expect_fail "exporter: other paths are 404" "404" wget -O /dev/null http://127.0.0.1:9435/nope
kill $exporter
wait $exporter 2>/dev/null
expect_out "exporter: nothing on stderr but its address" \
	"kwasm exporter: serving http://127.0.0.1:9435/metrics" cat /tmp/exp.err
check "exporter: unload" kwasm unload hx
unload_all
