// kwasm_abi.zig: generated from the kwasm_abi crate (abi/src) by
// abi/tests/c_header.rs. Do not edit: regenerate with
//   KWASM_BLESS=1 cargo test -p kwasm-abi --test c_header

pub const VERDICT_DROP = 0;
pub const VERDICT_ACCEPT = 1;
pub const MAP_ARRAY = 0;
pub const MAP_PER_CPU_ARRAY = 1;
pub const MAP_HASH = 2;
pub const MAP_RING_BUF = 3;
pub const DECL_TAG = 1263337472;
pub const MAX_MAPS = 16;
pub const MAX_MAP_ENTRIES = 1048576;
pub const MAX_KEY_SIZE = 64;
pub const MAX_VALUE_SIZE = 256;
pub const MAX_RECORD = 4096;
pub const NOT_FOUND = -2;
pub const FULL = -7;
pub const EXISTS = -17;
pub const INVALID = -22;
pub const UPDATE_ANY = 0;
pub const UPDATE_NOEXIST = 1;
pub const UPDATE_EXIST = 2;
pub const UPDATE_ADD = 4;

// The host functions (kwasm_abi::host::HOST_FUNCS), with their wasm types.
pub extern "kwasm" fn log(a0: i32, a1: i32) void;
pub extern "kwasm" fn pkt_len() i32;
pub extern "kwasm" fn pkt_load(a0: i32, a1: i32, a2: i32) i32;
pub extern "kwasm" fn time_ns() i64;
pub extern "kwasm" fn map_get(a0: i32, a1: i32) i64;
pub extern "kwasm" fn map_set(a0: i32, a1: i32, a2: i64) void;
pub extern "kwasm" fn map_add(a0: i32, a1: i32, a2: i64) i64;
pub extern "kwasm" fn random_u32() i32;
pub extern "kwasm" fn map_lookup(a0: i32, a1: i32, a2: i32) i32;
pub extern "kwasm" fn map_update(a0: i32, a1: i32, a2: i32, a3: i32) i32;
pub extern "kwasm" fn map_delete(a0: i32, a1: i32) i32;
pub extern "kwasm" fn event_output(a0: i32, a1: i32, a2: i32) i32;
