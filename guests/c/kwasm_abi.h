/* kwasm_abi.h: generated from the kwasm_abi crate (abi/src) by
 * abi/tests/c_header.rs. Do not edit: regenerate with
 *   KWASM_BLESS=1 cargo test -p kwasm-abi --test c_header
 * Include kwasm.h, which includes this. */
#ifndef KWASM_ABI_H
#define KWASM_ABI_H

#include <stdint.h>

/* Verdicts (kwasm_abi::host). */
#define KWASM_VERDICT_DROP 0
#define KWASM_VERDICT_ACCEPT 1
#define KWASM_FILTER_EXPORT "filter"

/* Map kinds and declarations (kwasm_abi::maps). */
#define KWASM_MAP_ARRAY 0
#define KWASM_MAP_PER_CPU_ARRAY 1
#define KWASM_MAP_HASH 2
#define KWASM_MAP_RING_BUF 3
#define KWASM_DECL_TAG 0x4b4d0000
#define KWASM_MAPS_SECTION "kwasm.maps"
#define KWASM_MAX_MAPS 16
#define KWASM_MAX_MAP_ENTRIES 1048576
#define KWASM_MAX_KEY_SIZE 64
#define KWASM_MAX_VALUE_SIZE 256
#define KWASM_MIN_RING_BYTES 64
#define KWASM_MAX_RING_BYTES 1048576
#define KWASM_MAX_RECORD 4096

/* Statuses of map_lookup, map_update, map_delete, event_output. */
#define KWASM_NOT_FOUND (-2)
#define KWASM_FULL (-7)
#define KWASM_EXISTS (-17)
#define KWASM_INVALID (-22)
/* map_update flags. */
#define KWASM_UPDATE_ANY 0
#define KWASM_UPDATE_NOEXIST 1
#define KWASM_UPDATE_EXIST 2
#define KWASM_UPDATE_ADD 4

/* The host functions (kwasm_abi::host::HOST_FUNCS), with their wasm
 * types; kwasm.h wraps them with C types. */
__attribute__((import_module("kwasm"), import_name("log"))) void __kwasm_log(int32_t, int32_t);
__attribute__((import_module("kwasm"), import_name("pkt_len"))) int32_t __kwasm_pkt_len(void);
__attribute__((import_module("kwasm"), import_name("pkt_load"))) int32_t __kwasm_pkt_load(int32_t, int32_t, int32_t);
__attribute__((import_module("kwasm"), import_name("time_ns"))) int64_t __kwasm_time_ns(void);
__attribute__((import_module("kwasm"), import_name("map_get"))) int64_t __kwasm_map_get(int32_t, int32_t);
__attribute__((import_module("kwasm"), import_name("map_set"))) void __kwasm_map_set(int32_t, int32_t, int64_t);
__attribute__((import_module("kwasm"), import_name("map_add"))) int64_t __kwasm_map_add(int32_t, int32_t, int64_t);
__attribute__((import_module("kwasm"), import_name("random_u32"))) int32_t __kwasm_random_u32(void);
__attribute__((import_module("kwasm"), import_name("map_lookup"))) int32_t __kwasm_map_lookup(int32_t, int32_t, int32_t);
__attribute__((import_module("kwasm"), import_name("map_update"))) int32_t __kwasm_map_update(int32_t, int32_t, int32_t, int32_t);
__attribute__((import_module("kwasm"), import_name("map_delete"))) int32_t __kwasm_map_delete(int32_t, int32_t);
__attribute__((import_module("kwasm"), import_name("event_output"))) int32_t __kwasm_event_output(int32_t, int32_t, int32_t);

#endif /* KWASM_ABI_H */
