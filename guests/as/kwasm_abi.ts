// kwasm_abi.ts: generated from the kwasm_abi crate (abi/src) by
// abi/tests/c_header.rs. Do not edit: regenerate with
//   KWASM_BLESS=1 cargo test -p kwasm-abi --test c_header

export const VERDICT_DROP: i32 = 0;
export const VERDICT_ACCEPT: i32 = 1;
export const MAP_ARRAY: i32 = 0;
export const MAP_PER_CPU_ARRAY: i32 = 1;
export const MAP_HASH: i32 = 2;
export const MAP_RING_BUF: i32 = 3;
export const DECL_TAG: i32 = 1263337472;
export const MAX_MAPS: i32 = 16;
export const MAX_MAP_ENTRIES: i32 = 1048576;
export const MAX_KEY_SIZE: i32 = 64;
export const MAX_VALUE_SIZE: i32 = 256;
export const MAX_RECORD: i32 = 4096;
export const NOT_FOUND: i32 = -2;
export const FULL: i32 = -7;
export const EXISTS: i32 = -17;
export const INVALID: i32 = -22;
export const UPDATE_ANY: i32 = 0;
export const UPDATE_NOEXIST: i32 = 1;
export const UPDATE_EXIST: i32 = 2;
export const UPDATE_ADD: i32 = 4;

// The host functions (kwasm_abi::host::HOST_FUNCS), with their wasm types.
// @ts-ignore: a decorator AssemblyScript knows
@external("kwasm", "log")
export declare function log(a0: i32, a1: i32): void;
// @ts-ignore: a decorator AssemblyScript knows
@external("kwasm", "pkt_len")
export declare function pkt_len(): i32;
// @ts-ignore: a decorator AssemblyScript knows
@external("kwasm", "pkt_load")
export declare function pkt_load(a0: i32, a1: i32, a2: i32): i32;
// @ts-ignore: a decorator AssemblyScript knows
@external("kwasm", "time_ns")
export declare function time_ns(): i64;
// @ts-ignore: a decorator AssemblyScript knows
@external("kwasm", "map_get")
export declare function map_get(a0: i32, a1: i32): i64;
// @ts-ignore: a decorator AssemblyScript knows
@external("kwasm", "map_set")
export declare function map_set(a0: i32, a1: i32, a2: i64): void;
// @ts-ignore: a decorator AssemblyScript knows
@external("kwasm", "map_add")
export declare function map_add(a0: i32, a1: i32, a2: i64): i64;
// @ts-ignore: a decorator AssemblyScript knows
@external("kwasm", "random_u32")
export declare function random_u32(): i32;
// @ts-ignore: a decorator AssemblyScript knows
@external("kwasm", "map_lookup")
export declare function map_lookup(a0: i32, a1: i32, a2: i32): i32;
// @ts-ignore: a decorator AssemblyScript knows
@external("kwasm", "map_update")
export declare function map_update(a0: i32, a1: i32, a2: i32, a3: i32): i32;
// @ts-ignore: a decorator AssemblyScript knows
@external("kwasm", "map_delete")
export declare function map_delete(a0: i32, a1: i32): i32;
// @ts-ignore: a decorator AssemblyScript knows
@external("kwasm", "event_output")
export declare function event_output(a0: i32, a1: i32, a2: i32): i32;
