# The kwasm demo (`make demo` / `cargo xtask demo`), sourced by /init in
# demo mode: load the port filter into the kernel, send real UDP traffic over
# lo, and show what the kernel counted.

KW=/opt/kwasm/kw

# step CMD...: show the command, run it; a failure prints FAIL (xtask fails).
step() {
	echo
	echo "# $*"
	"$@" || echo "FAIL: $*"
}

echo
echo "================ kwasm demo: a WebAssembly packet filter in Linux ================"
echo "port_filter (guests/examples/port_filter, Rust -> wasm -> kwasmc -> .kw) drops"
echo "UDP datagrams to port 9999 and accepts everything else, counting both in map 0."
step insmod /lib/kwasm.ko
step kwasm load $KW/port_filter.kw --name port_filter --attach ipv4:input
step kwasm list
step kwasm-tools udp-check --port 9999 --count 200
step kwasm-tools udp-check --port 8080 --count 100
step kwasm-tools udp-check --port 9999 --count 50
step kwasm list
step kwasm stats port_filter
step kwasm map dump port_filter 0
echo
echo "# a second program traps on purpose (division by zero) on every packet; the"
echo "# kernel logs it (rate-limited), counts it and applies the default verdict (accept):"
step kwasm load $KW/traps/div_zero.kw --name div_zero --attach ipv4:output
step kwasm-tools udp-check --port 8080 --count 10
step kwasm list
step sh -c 'kwasm stats div_zero | grep -E "^(invocations|traps|trap.div_by_zero)"'
step kwasm unload div_zero
step kwasm unload port_filter
step rmmod kwasm
echo
echo "================ demo done ================"
