//! `kwasmc` as a user runs it: exit codes, one-line errors, default output
//! path, and error messages for malformed, invalid and unsupported input.

#[path = "../../abi/tests/support/exec.rs"]
mod exec;
use std::path::PathBuf;
use std::process::Command;

use kwasm_compiler::{CompileOptions, ErrorKind, compile};

fn kwasmc() -> Command {
    exec::program(env!("CARGO_BIN_EXE_kwasmc"))
}

fn scratch(name: &str, contents: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kwasmc-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p
}

#[test]
fn compiles_to_default_output() {
    let input = scratch(
        "ok.wat",
        b"(module (func (export \"f\") (result i32) (i32.const 1)))",
    );
    let out = kwasmc().arg("compile").arg(&input).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kw = input.with_extension("kw");
    let bytes = std::fs::read(&kw).unwrap();
    assert_eq!(&bytes[..4], b"\x7fELF");

    let explicit = input.with_file_name("explicit.kw");
    let out = kwasmc()
        .args(["compile", "--target", "aarch64", "--opt", "none", "-o"])
        .arg(&explicit)
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&explicit).unwrap();
    // e_machine = EM_AARCH64 (183)
    assert_eq!(u16::from_le_bytes([bytes[18], bytes[19]]), 183);
}

#[test]
fn errors_are_one_line_with_status_1() {
    let cases: &[(&str, &[u8], &str)] = &[
        (
            "garbage.wasm",
            b"\x00\x01\x02garbage",
            "not a WebAssembly module",
        ),
        (
            "invalid.wat",
            b"(module (func (result i32) (i64.const 0)))",
            "invalid module: function 0 at offset",
        ),
        (
            "simd.wat",
            b"(module (func $parse_header (drop (i32x4.splat (i32.const 1)))))",
            "function 0 (parse_header) at offset 0x",
        ),
        (
            "truncated.wasm",
            b"\0asm\x01\0\0\0\x01\x05\x01",
            "malformed module at offset",
        ),
        ("missing.wasm", b"", ""),
    ];
    for (name, contents, expect) in cases {
        let mut path = scratch(name, contents);
        if *name == "missing.wasm" {
            path = path.with_file_name("does-not-exist.wasm");
        }
        let out = kwasmc().arg("compile").arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        let prefix = format!("kwasmc: {}: ", path.display());
        assert!(err.starts_with(&prefix), "{name}: {err}");
        assert!(err.contains(expect), "{name}: {err}");
    }
}

#[test]
fn help_on_every_command() {
    for args in [&["--help"][..], &["compile", "--help"][..]] {
        let out = kwasmc().args(args).output().unwrap();
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"));
    }
}

/// `--no-spectre-guards` is accepted, documented as a measuring aid, and
/// leaves out the guards: the same module compiles to less code.
#[test]
fn no_spectre_guards_is_for_measurement() {
    use object::{Object, ObjectSymbol};
    let input = scratch(
        "guards.wat",
        br#"(module (memory 1) (table 1 funcref) (type $t (func))
            (func (export "f") (param i32) (result i32) (i32.load offset=4 (local.get 0)))
            (func (export "g") (param i32) (call_indirect (type $t) (local.get 0))))"#,
    );
    let text = |extra: &[&str], name: &str| -> u64 {
        let out_path = input.with_file_name(name);
        let out = kwasmc()
            .arg("compile")
            .args(extra)
            .arg("-o")
            .arg(&out_path)
            .arg(&input)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bytes = std::fs::read(&out_path).unwrap();
        let elf = object::File::parse(&*bytes).unwrap();
        // The functions' own bytes: `.text` also holds the padding that
        // aligns each one, which can hide a difference this small.
        elf.symbols()
            .filter(|s| s.kind() == object::SymbolKind::Text)
            .map(|s| s.size())
            .sum()
    };
    let guarded = text(&[], "guarded.kw");
    let bare = text(&["--no-spectre-guards"], "bare.kw");
    assert!(
        bare < guarded,
        "text: {bare} bytes unguarded, {guarded} guarded"
    );
    let help = kwasmc().args(["compile", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("--no-spectre-guards"), "{help}");
    assert!(help.contains("measuring"), "{help}");
}

#[test]
fn error_kinds() {
    let kind = |src: &[u8]| compile(src, &CompileOptions::default()).unwrap_err();
    let e = kind(b"\0asm\x02\0\0\0");
    assert_eq!(e.kind, ErrorKind::Malformed, "{e}");
    let e = kind(b"(module (func (result i32)))");
    assert_eq!(e.kind, ErrorKind::Invalid, "{e}");
    let e = kind(b"(module (memory i64 1))");
    assert_eq!(e.kind, ErrorKind::Unsupported, "{e}");
    assert!(
        e.to_string().contains("unsupported feature: memory64"),
        "{e}"
    );
    let e = kind(b"(module (func (drop (i32.atomic.load (i32.const 0)))) (memory 1 1 shared))");
    assert_eq!(e.kind, ErrorKind::Unsupported, "{e}");
    let e = kind(b"(module (func return_call 0))");
    assert!(e.to_string().contains("function 0 at offset"), "{e}");
    assert!(
        e.to_string()
            .contains("unsupported feature: tail calls: build without `-mtail-call`"),
        "{e}"
    );
    let e = kind(b"(module (tag))");
    assert!(e.to_string().contains("exception handling"), "{e}");
    let e = kind(b"(module (func (export \"filter\") (param i64) (result i32) (i32.const 0)))");
    assert!(e.to_string().contains("filter"), "{e}");
    let e = kind(b"\xff\xfe not text");
    assert!(e.to_string().starts_with("not a WebAssembly module"), "{e}");
}

/// Corrupted inputs must give errors, never panics or internal errors.
#[test]
fn hostile_inputs_do_not_crash() {
    let base = wat::parse_str(
        r#"(module
            (type (func (param i32) (result i32)))
            (import "env" "f" (func (type 0)))
            (table 2 funcref) (memory 1 2) (global (mut i32) (i32.const 0))
            (func (type 0) (block (result i32) (br_table 0 0 (local.get 0) (i32.const 1))))
            (func (param i64 f64) (result f64) (f64.add (local.get 1) (f64.convert_i64_s (local.get 0))))
            (elem (i32.const 0) 0 1) (data (i32.const 0) "abc") (export "e" (func 1)))"#,
    )
    .unwrap();
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..400 {
        let mut m = base.clone();
        let flips = 1 + (next() % 4) as usize;
        for _ in 0..flips {
            let at = 8 + (next() as usize % (m.len() - 8));
            m[at] ^= 1 << (next() % 8);
        }
        if i % 7 == 0 {
            m.truncate(8 + next() as usize % (m.len() - 8));
        }
        if let Err(e) = compile(&m, &CompileOptions::default()) {
            assert_ne!(e.kind, ErrorKind::Codegen, "input {i}: {e}");
        }
    }
}
