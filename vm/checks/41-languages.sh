# Programs in C, Zig and AssemblyScript (guests/c, guests/zig, guests/as),
# loaded straight from their .wasm (`kwasm load` compiles them with
# kwasmc's library), under real traffic, with the checks the Rust programs
# get: port_filter's verdicts and map (30-filter.sh), and the C twin of
# dns_parser's verdicts, maps, events and log (39-examples-maps.sh).

for lang in c zig as; do
	p=${lang}_port_filter
	check "lang $lang: kwasm load $p.wasm --attach ipv4:input" \
		kwasm load $KW/$p.wasm --name $p --attach ipv4:input
	expect_out "lang $lang: 40 datagrams to 9999: none arrive" "sent 40, failed 0, received 0" \
		kwasm-tools udp-check --port 9999 --count 40
	expect_out "lang $lang: 30 datagrams to 9998: all arrive" "sent 30, failed 0, received 30" \
		kwasm-tools udp-check --port 9998 --count 30
	expect_eq "lang $lang: 70 invocations, 30 accepts, 40 drops, 0 traps" "70 30 40 0" \
		"$(stat_of $p invocations) $(stat_of $p accepts) $(stat_of $p drops) $(stat_of $p traps)"
	expect_out "lang $lang: map 0 = [accepted, dropped] = [30, 40]" "0: 30
1: 40" kwasm map dump $p 0
	check "lang $lang: unload" kwasm unload $p
done

# dns_counter.c beside dns_parser's checks: per-name counts, blocked queries
# streamed as events, the log ring, the counters.
pairs() {
	grep -o '"key":[^,]*,"value":[^,]*' | sort
}
dump_pairs() {
	kwasm map dump "$1" "$2" --json | pairs
}
log_count() {
	kwasm log "$1" --json | grep -c "\"data\":\"$2\""
}
check "lang c: kwasm load c_dns_counter.wasm --attach ipv4:input" \
	kwasm load $KW/c_dns_counter.wasm --name cdns --attach ipv4:input
expect_out "lang c: dns: 3 queries for www.example.com" "sent 3, failed 0" \
	kwasm-tools udp-send --port 53 --dns www.example.com --count 3
expect_out "lang c: dns: 2 AAAA queries for x.Blocked.test" "sent 2, failed 0" \
	kwasm-tools udp-send --port 53 --dns x.Blocked.test --qtype 28 --count 2
expect_out "lang c: dns: per-name counts" '"key":"www.example.com","value":3
"key":"x.blocked.test","value":2' dump_pairs cdns 2
expect_out "lang c: dns: blocked queries as events" "x.Blocked.test AAAA from 127.0.0.1
x.Blocked.test AAAA from 127.0.0.1" sh -c "kwasm events cdns --json | sed -n 's/.*\"data\":\"\\([^\"]*\\)\".*/\\1/p'"
expect_eq "lang c: dns: queries and blocked counted" "5 2" \
	"$(kwasm map get cdns 0 0) $(kwasm map get cdns 0 1)"
expect_out "lang c: dns: the log has the DROP lines" 2 \
	log_count cdns "dns: DROP x.Blocked.test AAAA from 127.0.0.1"
check "lang c: dns: unload" kwasm unload cdns

unload_all
