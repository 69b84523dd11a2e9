# The VM itself: every CPU asked for is online (per-CPU code needs SMP), and
# loopback works over IPv4 and IPv6. Sourced by /init; see `check` there.

check "${kwasm_cpus:-2} CPUs online" test "$(grep -c ^processor /proc/cpuinfo)" = "${kwasm_cpus:-2}"
check "ping 127.0.0.1" ping -c 1 -W 2 127.0.0.1
check "ping ::1" ping -c 1 -W 2 ::1
