# kwasm.ko loads, creates /dev/kwasm, exports its symbols to other modules,
# and unloads cleanly. Sourced by /init; see `check` there.

check "insmod kwasm.ko" insmod /lib/kwasm.ko
check "/dev/kwasm is a character device" test -c /dev/kwasm
check "open /dev/kwasm" sh -c 'exec 3</dev/kwasm'
check "kwasm.ko exports link (insmod kwasm_probe.ko)" insmod /lib/kwasm_probe.ko
check "rmmod kwasm_probe" rmmod kwasm_probe
check "rmmod kwasm" rmmod kwasm
check "/dev/kwasm removed" sh -c '! test -e /dev/kwasm'
check "no modules left" sh -c '! grep -q kwasm /proc/modules'
