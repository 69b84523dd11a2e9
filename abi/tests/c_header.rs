//! The SDKs of other languages take the ABI from files generated from this
//! crate: `guests/c/kwasm_abi.h`, `guests/zig/kwasm_abi.zig` and
//! `guests/as/kwasm_abi.ts` hold the host functions with their wasm types,
//! verdicts, map kinds, statuses, update flags and limits, so no constant
//! is typed twice. This test renders them and fails when a checked-in file
//! differs; `KWASM_BLESS=1 cargo test -p kwasm-abi --test c_header`
//! rewrites them.

use kwasm_abi::hash::{self, MapStatus};
use kwasm_abi::host::{self, HOST_FUNCS, HOST_MODULE};
use kwasm_abi::maps::{self, MapKind};
use kwasm_abi::ring;
use kwasm_abi::types::ValType;

fn c_type(t: ValType) -> &'static str {
    match t {
        ValType::I32 => "int32_t",
        ValType::I64 => "int64_t",
        ValType::F32 => "float",
        ValType::F64 => "double",
        other => panic!("no C type for {other:?} in the host API"),
    }
}

fn render() -> String {
    let mut h = String::new();
    let mut line = |s: String| {
        h.push_str(&s);
        h.push('\n');
    };
    line("/* kwasm_abi.h: generated from the kwasm_abi crate (abi/src) by".into());
    line(" * abi/tests/c_header.rs. Do not edit: regenerate with".into());
    line(" *   KWASM_BLESS=1 cargo test -p kwasm-abi --test c_header".into());
    line(" * Include kwasm.h, which includes this. */".into());
    line("#ifndef KWASM_ABI_H".into());
    line("#define KWASM_ABI_H".into());
    line(String::new());
    line("#include <stdint.h>".into());
    line(String::new());
    line("/* Verdicts (kwasm_abi::host). */".into());
    line(format!("#define KWASM_VERDICT_DROP {}", host::VERDICT_DROP));
    line(format!(
        "#define KWASM_VERDICT_ACCEPT {}",
        host::VERDICT_ACCEPT
    ));
    line(format!(
        "#define KWASM_FILTER_EXPORT \"{}\"",
        host::FILTER_EXPORT
    ));
    line(String::new());
    line("/* Map kinds and declarations (kwasm_abi::maps). */".into());
    for k in MapKind::ALL {
        line(format!(
            "#define KWASM_MAP_{} {}",
            k.name().to_uppercase(),
            k as u32
        ));
    }
    line(format!("#define KWASM_DECL_TAG 0x{:08x}", maps::DECL_TAG));
    line(format!(
        "#define KWASM_MAPS_SECTION \"{}\"",
        maps::MAPS_SECTION
    ));
    line(format!("#define KWASM_MAX_MAPS {}", maps::MAX_MAPS));
    line(format!(
        "#define KWASM_MAX_MAP_ENTRIES {}",
        maps::MAX_MAP_ENTRIES
    ));
    line(format!("#define KWASM_MAX_KEY_SIZE {}", maps::MAX_KEY_SIZE));
    line(format!(
        "#define KWASM_MAX_VALUE_SIZE {}",
        maps::MAX_VALUE_SIZE
    ));
    line(format!(
        "#define KWASM_MIN_RING_BYTES {}",
        ring::MIN_RING_BYTES
    ));
    line(format!(
        "#define KWASM_MAX_RING_BYTES {}",
        ring::MAX_RING_BYTES
    ));
    line(format!("#define KWASM_MAX_RECORD {}", ring::MAX_RECORD));
    line(String::new());
    line("/* Statuses of map_lookup, map_update, map_delete, event_output. */".into());
    for (n, s) in [
        ("NOT_FOUND", MapStatus::NotFound),
        ("FULL", MapStatus::Full),
        ("EXISTS", MapStatus::Exists),
        ("INVALID", MapStatus::Invalid),
    ] {
        line(format!("#define KWASM_{n} ({})", s as i32));
    }
    line("/* map_update flags. */".into());
    for (n, v) in [
        ("ANY", hash::UPDATE_ANY),
        ("NOEXIST", hash::UPDATE_NOEXIST),
        ("EXIST", hash::UPDATE_EXIST),
        ("ADD", hash::UPDATE_ADD),
    ] {
        line(format!("#define KWASM_UPDATE_{n} {v}"));
    }
    line(String::new());
    line("/* The host functions (kwasm_abi::host::HOST_FUNCS), with their wasm".into());
    line(" * types; kwasm.h wraps them with C types. */".into());
    for f in HOST_FUNCS.iter().filter(|f| f.module == HOST_MODULE) {
        let ret = match f.results {
            [] => "void",
            [t] => c_type(*t),
            _ => panic!("{}: several results", f.name),
        };
        let params = match f.params {
            [] => "void".to_string(),
            ps => ps.iter().map(|t| c_type(*t)).collect::<Vec<_>>().join(", "),
        };
        line(format!(
            "__attribute__((import_module(\"{}\"), import_name(\"{}\"))) {ret} __kwasm_{}({params});",
            f.module, f.name, f.name
        ));
    }
    line(String::new());
    line("#endif /* KWASM_ABI_H */".into());
    h
}

/// Every constant the SDKs take from abi, as (name, value), in order.
fn constants() -> Vec<(String, i32)> {
    let mut c: Vec<(String, i32)> = vec![
        ("VERDICT_DROP".into(), host::VERDICT_DROP),
        ("VERDICT_ACCEPT".into(), host::VERDICT_ACCEPT),
    ];
    for k in MapKind::ALL {
        c.push((format!("MAP_{}", k.name().to_uppercase()), k as i32));
    }
    c.extend([
        ("DECL_TAG".into(), maps::DECL_TAG as i32),
        ("MAX_MAPS".into(), maps::MAX_MAPS as i32),
        ("MAX_MAP_ENTRIES".into(), maps::MAX_MAP_ENTRIES as i32),
        ("MAX_KEY_SIZE".into(), maps::MAX_KEY_SIZE as i32),
        ("MAX_VALUE_SIZE".into(), maps::MAX_VALUE_SIZE as i32),
        ("MAX_RECORD".into(), ring::MAX_RECORD as i32),
        ("NOT_FOUND".into(), MapStatus::NotFound as i32),
        ("FULL".into(), MapStatus::Full as i32),
        ("EXISTS".into(), MapStatus::Exists as i32),
        ("INVALID".into(), MapStatus::Invalid as i32),
        ("UPDATE_ANY".into(), hash::UPDATE_ANY as i32),
        ("UPDATE_NOEXIST".into(), hash::UPDATE_NOEXIST as i32),
        ("UPDATE_EXIST".into(), hash::UPDATE_EXIST as i32),
        ("UPDATE_ADD".into(), hash::UPDATE_ADD as i32),
    ]);
    c
}

fn zig_type(t: ValType) -> &'static str {
    match t {
        ValType::I32 => "i32",
        ValType::I64 => "i64",
        other => panic!("no Zig type for {other:?} in the host API"),
    }
}

/// A generated SDK file: a header comment (each line prefixed with
/// `comment`), the constants as `constant(name, value)` writes them, and
/// each host function as `import(module, name, params, result)` writes it
/// (types in Zig's and AssemblyScript's spelling: i32, i64, void).
fn render_lang(
    file: &str,
    comment: &str,
    constant: impl Fn(&str, i32) -> String,
    import: impl Fn(&str, &str, &str, &str) -> String,
) -> String {
    let mut h = String::new();
    for l in [
        format!("{file}: generated from the kwasm_abi crate (abi/src) by"),
        "abi/tests/c_header.rs. Do not edit: regenerate with".into(),
        "  KWASM_BLESS=1 cargo test -p kwasm-abi --test c_header".into(),
    ] {
        h += &format!("{comment} {l}\n");
    }
    h += "\n";
    for (n, v) in constants() {
        h += &constant(&n, v);
    }
    h += &format!(
        "\n{comment} The host functions (kwasm_abi::host::HOST_FUNCS), with their wasm types.\n"
    );
    for f in HOST_FUNCS.iter().filter(|f| f.module == HOST_MODULE) {
        let ret = f.results.first().map_or("void", |t| zig_type(*t));
        let params: Vec<String> = f
            .params
            .iter()
            .enumerate()
            .map(|(i, t)| format!("a{i}: {}", zig_type(*t)))
            .collect();
        h += &import(f.module, f.name, &params.join(", "), ret);
    }
    h
}

/// `guests/zig/kwasm_abi.zig`.
fn render_zig() -> String {
    render_lang(
        "kwasm_abi.zig",
        "//",
        |n, v| format!("pub const {n} = {v};\n"),
        |m, n, p, r| format!("pub extern \"{m}\" fn {n}({p}) {r};\n"),
    )
}

/// `guests/as/kwasm_abi.ts`.
fn render_as() -> String {
    render_lang(
        "kwasm_abi.ts",
        "//",
        |n, v| format!("export const {n}: i32 = {v};\n"),
        |m, n, p, r| {
            format!(
                "// @ts-ignore: a decorator AssemblyScript knows\n@external(\"{m}\", \"{n}\")\nexport declare function {n}({p}): {r};\n"
            )
        },
    )
}

#[test]
fn sdk_abi_files_match_abi() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../guests/");
    let bless = std::env::var_os("KWASM_BLESS").is_some();
    for (file, want) in [
        ("c/kwasm_abi.h", render()),
        ("zig/kwasm_abi.zig", render_zig()),
        ("as/kwasm_abi.ts", render_as()),
    ] {
        let path = format!("{root}{file}");
        if bless {
            std::fs::write(&path, &want).unwrap();
            continue;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "guests/{file} differs from what abi gives: regenerate it with \
             `KWASM_BLESS=1 cargo test -p kwasm-abi --test c_header`"
        );
    }
}
