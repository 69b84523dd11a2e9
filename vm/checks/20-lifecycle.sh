# Lifecycle through the kwasm CLI: load, list, stats, unload, reload, two
# programs at once, load options, and rmmod refused while programs exist.

check "cli: insmod kwasm.ko" insmod /lib/kwasm.ko
expect_out "cli: list with no programs" "no programs loaded" kwasm list
check "cli: load port_filter" kwasm load $KW/port_filter.kw --name pf
check "cli: program module kwasm_pf in /proc/modules" grep -q '^kwasm_pf ' /proc/modules
check "cli: list shows pf" sh -c 'kwasm list | grep -Eq "^ *[0-9]+ +pf +- +[0-9]+ "'
check "cli: list --json shows pf" sh -c 'kwasm list --json | grep -q "\"name\":\"pf\""'
expect_out "cli: stats pf: 0 invocations" 0 stat_of pf invocations
check "cli: stats lists every trap kind" sh -c 'test "$(kwasm stats pf | grep -c "^trap\.")" = 12'
check "cli: stats --json" sh -c 'kwasm stats pf --json | grep -q "\"trap_kinds\":{\"unreachable\":0"'
expect_fail "cli: loading the same name again says so" "a program named pf is already loaded" \
	kwasm load $KW/port_filter.kw --name pf
check "cli: rmmod kwasm refused while a program is loaded" sh -c '! rmmod kwasm 2>/dev/null'
check "cli: unload pf" kwasm unload pf
check "cli: kwasm_pf gone from /proc/modules" sh -c '! grep -q "^kwasm_pf " /proc/modules'
expect_out "cli: list empty again" "no programs loaded" kwasm list
expect_fail "cli: unloading an unknown program says so" "no such program" kwasm unload pf
check "cli: reload pf" kwasm load $KW/port_filter.kw --name pf
check "cli: load compute (name from the file name)" kwasm load $KW/compute.kw
expect_out "cli: two programs listed" 2 sh -c 'kwasm list --json | grep -o "\"id\":" | wc -l'
expect_out "cli: kwasm.ko refcount is 2" 2 kwasm_refcount
expect_out "cli: both answer INVOKE" "1
1" sh -c 'kwasm invoke compute filter 0 --kw $KW/compute.kw && kwasm invoke pf filter 0 --kw $KW/port_filter.kw'
check "cli: unload compute" kwasm unload compute
check "cli: unload pf (again)" kwasm unload pf
check "cli: load with --fuel --stack --on-trap" \
	kwasm load $KW/compute.kw --name opts --fuel 5000 --stack 128 --on-trap drop
expect_eq "cli: stats shows the load options" "5000 128 drop" \
	"$(stat_of opts fuel) $(stat_of opts stack_kib) $(stat_of opts on_trap)"
expect_out "cli: float program flagged" true stat_of opts uses_float
check "cli: unload opts" kwasm unload opts
expect_fail "cli: bad attach point is explained" "bad attach point 'ipv4:sideways'" \
	kwasm load $KW/port_filter.kw --name pf --attach ipv4:sideways
expect_fail "cli: bad --stack is explained" "the wasm stack must be" \
	kwasm load $KW/port_filter.kw --name pf --stack 8
check "cli: a .wasm is compiled, then loaded" \
	sh -c 'printf "\0asm\1\0\0\0" > /tmp/x.wasm; kwasm load /tmp/x.wasm --name x && kwasm unload x'
expect_fail "cli: neither .kw nor wasm nor WAT is explained" "nor WAT text" \
	sh -c 'printf "\1\2\377" > /tmp/x.kw; kwasm load /tmp/x.kw'
expect_out "cli: nothing left loaded" 0 prog_modules
unload_all
