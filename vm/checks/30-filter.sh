# A real filter: port_filter at ipv4:input drops UDP to port 9999 and accepts
# everything else, with real datagrams over lo. (UDP to 127.0.0.1 passes
# output, postrouting, prerouting and input once each; attaching to input
# alone sees every datagram exactly once.) busybox nc has no UDP mode, so
# `kwasm-tools udp-check` sends the datagrams and counts those that arrive.

check "filter: load port_filter attached to ipv4:input" \
	kwasm load $KW/port_filter.kw --name pf --attach ipv4:input
check "filter: list shows the attachment" sh -c 'kwasm list | grep -q " pf  *ipv4:input "'
expect_out "filter: 40 datagrams to 9999: none arrive" "sent 40, failed 0, received 0" \
	kwasm-tools udp-check --port 9999 --count 40
expect_out "filter: 30 datagrams to 9998: all arrive" "sent 30, failed 0, received 30" \
	kwasm-tools udp-check --port 9998 --count 30
expect_eq "filter: stats count 70 invocations, 30 accepts, 40 drops, 0 traps" "70 30 40 0" \
	"$(stat_of pf invocations) $(stat_of pf accepts) $(stat_of pf drops) $(stat_of pf traps)"
expect_out "filter: map 0 = [accepted, dropped] = [30, 40]" "0: 30
1: 40" kwasm map dump pf 0
expect_out "filter: map get" 40 kwasm map get pf 0 1
check "filter: map set" kwasm map set pf 0 0 1000
expect_out "filter: map get after set" 1000 kwasm map get pf 0 0
expect_fail "filter: map index out of range is refused" "invalid" kwasm map get pf 0 7
echo "filter: port_filter run time: $(stat_of pf avg_ns) ns per packet ($(stat_of pf invocations) packets; TCG)"
check "filter: detach" kwasm detach pf ipv4:input
expect_out "filter: detached: datagrams to 9999 arrive" "sent 10, failed 0, received 10" \
	kwasm-tools udp-check --port 9999 --count 10
expect_out "filter: detached: no more invocations" 70 stat_of pf invocations
expect_fail "filter: detach again says it is not attached" "DETACH" kwasm detach pf ipv4:input
check "filter: attach again" kwasm attach pf ipv4:input
expect_fail "filter: attach twice is refused" "already" kwasm attach pf ipv4:input
expect_out "filter: reattached: 9999 dropped again" "sent 5, failed 0, received 0" \
	kwasm-tools udp-check --port 9999 --count 5
kwasm list
kwasm stats pf
check "filter: unload while attached" kwasm unload pf
expect_out "filter: unloaded: 9999 arrives" "sent 5, failed 0, received 5" \
	kwasm-tools udp-check --port 9999 --count 5
unload_all
