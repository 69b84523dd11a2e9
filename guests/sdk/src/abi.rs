//! The parts of the kwasm ABI a program sees, taken from `kwasm_abi` (the
//! crate kwasmc and both runtimes build from) rather than declared again.
//!
//! Rust insists on string literals in a few attributes the SDK needs:
//! `#[link(wasm_import_module)]` ([`crate::sys`]), `#[link_section]`
//! ([`crate::maps!`]) and `#[export_name]` ([`crate::filter!`]). Each of those
//! literals is checked against the constant here at compile time, with
//! [`str_eq`], and every host import is checked against
//! [`kwasm_abi::host::HOST_FUNCS`] with [`is_host_func`], so the SDK cannot
//! drift from what kwasmc accepts.

pub use kwasm_abi::hash::{UPDATE_ADD, UPDATE_ANY, UPDATE_EXIST, UPDATE_NOEXIST, Update};
pub use kwasm_abi::host::{
    FILTER_EXPORT, HOST_MODULE, MAPS_SECTION, MAX_MAP_ENTRIES, MAX_MAPS, VERDICT_ACCEPT,
    VERDICT_DROP,
};
pub use kwasm_abi::maps::MapStatus;
pub use kwasm_abi::types::ValType;

use kwasm_abi::host::HOST_FUNCS;

/// `a == b`, usable in constants.
pub const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

const fn types_eq(a: &[ValType], b: &[ValType]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] as u8 != b[i] as u8 {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether `HOST_FUNCS` has a function `module.name` of exactly this type.
pub const fn is_host_func(
    module: &str,
    name: &str,
    params: &[ValType],
    results: &[ValType],
) -> bool {
    let mut i = 0;
    while i < HOST_FUNCS.len() {
        let f = &HOST_FUNCS[i];
        if str_eq(f.module, module) && str_eq(f.name, name) {
            return types_eq(f.params, params) && types_eq(f.results, results);
        }
        i += 1;
    }
    false
}

/// Whether every host function of module `module` in `HOST_FUNCS` is among
/// `names`.
pub const fn covers_host_module(module: &str, names: &[&str]) -> bool {
    let mut i = 0;
    while i < HOST_FUNCS.len() {
        let f = &HOST_FUNCS[i];
        if str_eq(f.module, module) {
            let mut j = 0;
            while j < names.len() && !str_eq(names[j], f.name) {
                j += 1;
            }
            if j == names.len() {
                return false;
            }
        }
        i += 1;
    }
    true
}

/// The wasm value type a Rust parameter or result of a host import has on
/// `wasm32`, where pointers and `usize` are `i32`.
pub trait WasmType {
    /// The wasm type.
    const TYPE: ValType;
}

macro_rules! wasm_types {
    ($($rust:ty => $wasm:ident),* $(,)?) => {
        $(impl WasmType for $rust {
            const TYPE: ValType = ValType::$wasm;
        })*
    };
}

wasm_types! {
    i32 => I32,
    u32 => I32,
    usize => I32,
    *const u8 => I32,
    *mut u8 => I32,
    i64 => I64,
    u64 => I64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ValType::{I32, I64};

    #[test]
    fn host_funcs_are_found_by_type() {
        assert!(is_host_func(
            HOST_MODULE,
            "map_add",
            &[I32, I32, I64],
            &[I64]
        ));
        assert!(!is_host_func(HOST_MODULE, "map_add", &[I32, I32, I64], &[]));
        assert!(!is_host_func(HOST_MODULE, "nope", &[], &[]));
        assert!(is_host_func("env", "_debug", &[I32, I32], &[]));
        assert!(!covers_host_module(HOST_MODULE, &["log"]));
        assert!(str_eq("kwasm", HOST_MODULE) && !str_eq("kwasm", "kwasm.maps"));
    }
}
