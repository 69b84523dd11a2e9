# What map host functions cost in the kernel (guests/wat/map_bench.wat,
# through BENCH): 64 operations per call, the kind chosen by the packet
# length; one operation costs (mean - baseline) / 64. Printed for the
# record, never asserted (TCG times mean little; ratios on the host are in
# docs/maps.md). Asserted: verdicts, no traps, and that under a reader on
# the other CPU every record the bench wrote was either read or counted as
# dropped, none lost or read twice.

check "mapbench: insmod kwasm.ko" insmod /lib/kwasm.ko
check "mapbench: load map_bench" kwasm load $KW/map_bench.kw --name mb
mean_of() {
	kwasm bench mb --len "$1" --repeat "$2" --cpu 0 | bench_fields mean_ns accepts traps
}
base=$(mean_of 100 20000)
expect_eq "mapbench: baseline: 20000 accepts, no traps" "20000 0" "${base#* }"
for m in "101 lookup" "102 update" "103 insert+delete"; do
	r=$(mean_of ${m% *} 20000)
	expect_eq "mapbench: ${m#* }: 20000 accepts, no traps" "20000 0" "${r#* }"
	echo "mapbench: ${m#* }: $(echo "${r%% *} ${base%% *}" | awk '{ printf "%.1f", ($1 - $2) / 64 }') ns per operation (TCG; mean ${r%% *} ns per call of 64, baseline ${base%% *})"
done

# Ring throughput: 2000 calls of 64 records (16 bytes each) on CPU 0
# while `kwasm events --follow` drains on CPU 1. The reader is stopped with
# SIGTERM the moment the bench ends, most likely in the middle of printing
# a batch it has drained: it must finish printing before it exits, or the
# records the kernel handed it are lost.
rm -f /tmp/mb.fifo
mkfifo /tmp/mb.fifo
wc -l </tmp/mb.fifo >/tmp/mb.count &
counter=$!
taskset -c 1 kwasm events mb --follow --interval-ms 10 >/tmp/mb.fifo 2>/dev/null &
reader=$!
kwasm bench mb --len 104 --repeat 2000 --cpu 0 >/tmp/mb.bench
kill -TERM $reader
wait $reader 2>/dev/null
wait $counter
read_live=$(cat /tmp/mb.count)
r=$(bench_fields total_ns accepts traps </tmp/mb.bench)
read_rest=$(kwasm events mb 2>/dev/null | wc -l)
dropped=$(kwasm exporter --once | awk '$1 == "kwasm_ring_dropped_total{program=\"mb\",map=\"1\"}" { print $2 }')
expect_eq "mapbench: ring: 2000 accepts, no traps" "2000 0" "${r#* }"
# The program counts what it tried to write (map 2): BENCH makes a
# calibration call beyond --repeat.
tried=$(kwasm map get mb 2 0)
check "mapbench: ring: at least 128000 records tried ($tried)" test "$tried" -ge 128000
expect_eq "mapbench: ring: every record read once or counted as dropped" "$tried" \
	"$((read_live + read_rest + dropped))"
echo "mapbench: ring: $((tried - dropped)) of $tried records written in ${r%% *} ns: $(echo "${r%% *} $dropped $tried" | awk '{ printf "%.0f", ($3 - $2) / ($1 / 1e9) }') records/s with a reader on the other CPU, $dropped dropped (TCG)"
check "mapbench: unload" kwasm unload mb
unload_all
check "mapbench: rmmod kwasm" rmmod kwasm
