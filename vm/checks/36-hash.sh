# A hash map fed by real traffic (guests/wat/hash.wat): the hook adds
# (1 packet, its length) to the entry of each UDP datagram's destination
# port with map_update(UPDATE_ADD), under the map's spinlock with bottom
# halves off; userspace looks up, updates and deletes through MAP_ELEM.
# Payloads are "kwasm datagram N", so 30 datagrams are 30 * 28 + 450 + 50
# = 1340 bytes of IP, and 20 are 20 * 28 + 300 + 30 = 890.

check "hash: load hash attached to ipv4:input" \
	kwasm load $KW/hash.kw --name h --attach ipv4:input
expect_out "hash: map list" \
	'[{"map":0,"kind":"hash","entries":4,"used":0,"key_size":4,"value_size":16,"copies":1},{"map":1,"kind":"array","entries":2,"used":2,"key_size":4,"value_size":8,"copies":1}]' \
	kwasm map list h --json
expect_out "hash: 30 datagrams to port 9998 from CPU 0" "sent 30, failed 0, received 30" \
	taskset -c 0 kwasm-tools udp-check --port 9998 --count 30
expect_out "hash: 20 datagrams to port 9997 from CPU 1" "sent 20, failed 0, received 20" \
	taskset -c 1 kwasm-tools udp-check --port 9997 --count 20
expect_out "hash: packets and bytes to 9998" "30 1340" kwasm map lookup h 0 9998
expect_out "hash: packets and bytes to 9997" "20 890" kwasm map lookup h 0 9997
expect_out "hash: dump holds exactly the ports sent to" "9997: 20 890
9998: 30 1340" sh -c "kwasm map dump h 0 | sort"
expect_out "hash: dump --json" '"key":9997,"value":[20,890]
"key":9998,"value":[30,1340]' \
	sh -c "kwasm map dump h 0 --json | grep -o '\"key\":[0-9]*,\"value\":\[[0-9,]*\]' | sort"
expect_out "hash: lookup --json" '{"key":9998,"value":[30,1340],"key_hex":"0e270000","value_hex":"1e000000000000003c05000000000000"}' \
	kwasm map lookup h 0 9998 --json

# Userspace updates, with each flag, and deletes.
check "hash: update inserts" kwasm map update h 0 7 u64:5,u64:6
expect_out "hash: lookup after update" "5 6" kwasm map lookup h 0 7
expect_fail "hash: --noexist on a present key fails" "key 7 exists" \
	kwasm map update h 0 7 u64:1,u64:1 --noexist
expect_fail "hash: --exist on an absent key fails" "no key 8" \
	kwasm map update h 0 8 u64:1,u64:1 --exist
check "hash: --add adds word by word" kwasm map update h 0 7 u64:1,u64:2 --add
expect_out "hash: ... to 6 8" "6 8" kwasm map lookup h 0 7
check "hash: delete" kwasm map delete h 0 7
expect_fail "hash: lookup of a deleted key fails" "no key 7" kwasm map lookup h 0 7
expect_fail "hash: a key of the wrong size is refused" "this map's keys are 4" \
	kwasm map lookup h 0 10.0.0.1,u8:1
expect_fail "hash: map get (an index) is refused on a hash map" "use \`kwasm map lookup\`" \
	kwasm map get h 0 1

# wasm reaches the same entries through INVOKE.
expect_out "hash: wasm reads what the hook counted" 30 \
	kwasm invoke h get 9998 --kw $KW/hash.kw
expect_out "hash: wasm updates (UPDATE_EXIST)" 0 kwasm invoke h put 9997 100 2 --kw $KW/hash.kw
expect_out "hash: ... and userspace sees it" "100 0" kwasm map lookup h 0 9997
expect_out "hash: wasm's lookup of a missing key is a status" -2 \
	kwasm invoke h get 4242 --kw $KW/hash.kw
expect_out "hash: a missing map is a status" -22 kwasm invoke h nomap --kw $KW/hash.kw
expect_fail "hash: a value range outside memory traps" "out of bounds" \
	kwasm invoke h oob --kw $KW/hash.kw

# Both CPUs insert and add from the hook while userspace adds to another
# key: no increment is lost.
check "hash: empty the map" sh -c "kwasm map delete h 0 9998 && kwasm map delete h 0 9997"
kwasm-tools udp-check --port 9995 --count 300 >/tmp/h0.out 2>&1 &
h0=$!
taskset -c 1 kwasm-tools udp-check --port 9994 --count 300 >/tmp/h1.out 2>&1 &
h1=$!
i=0
while [ $i -lt 100 ]; do
	kwasm map update h 0 3 u64:1,u64:0 --add || break
	i=$((i + 1))
done
wait $h0 $h1
expect_eq "hash: 100 userspace adds beside the traffic" 100 "$i"
expect_out "hash: CPU 0's sender counted" 300 sh -c "kwasm map lookup h 0 9995 | cut -d' ' -f1"
expect_out "hash: CPU 1's sender counted" 300 sh -c "kwasm map lookup h 0 9994 | cut -d' ' -f1"
expect_out "hash: the userspace key counted" "100 0" kwasm map lookup h 0 3

# A full map: inserts fail with a status, never a trap.
check "hash: fill the fourth key" kwasm map update h 0 4 u64:0,u64:0
expect_fail "hash: a fifth key from userspace is refused" "is full (4 of 4 keys)" \
	kwasm map update h 0 5 u64:0,u64:0
expect_out "hash: 10 datagrams to a fifth port" "sent 10, failed 0, received 10" \
	kwasm-tools udp-check --port 9993 --count 10
expect_out "hash: wasm saw 10 refused inserts" 10 kwasm map get h 1 0
expect_out "hash: and no other status" 0 kwasm map get h 1 1
expect_out "hash: and no trap" 0 stat_of h traps
expect_out "hash: wasm's insert into the full map is a status" -7 \
	kwasm invoke h put 6 1 0 --kw $KW/hash.kw
# Hostile MAP_ELEM requests (bad pointers, sizes, ops, flags) aimed at it.
check "hash: 5000 random ioctls at a program with a hash map" \
	kwasm-tools fuzz-ioctl --iterations 5000 --seed 11 --name h
check "hash: unload" kwasm unload h
unload_all
