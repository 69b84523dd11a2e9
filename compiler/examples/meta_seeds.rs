//! Writes the `.kwasm.meta` blobs of a few small modules, compiled with
//! [`kwasm_compiler::compile`], as seeds for the `meta_parse` fuzz target:
//! libFuzzer mutates valid blobs (and the target repairs their length and
//! checksum) instead of finding the format from nothing.
//!
//!   cargo run -p kwasm-compiler --example meta_seeds -- fuzz/corpus/meta_parse
//!
//! Between them the modules fill every section: types, imports of each
//! kind, functions with names, tables, the memory, globals of every
//! initialiser kind, exports of each kind, active/passive/declared element
//! and data segments, maps and a start function.

use kwasm_compiler::{Arch, CompileOptions, OptLevel, compile};
use object::{Object, ObjectSection};

const MODULES: &[(&str, &str)] = &[
    ("empty", "(module)"),
    (
        "imports",
        r#"(module
  (import "lib" "f" (func $f (param i32 i64) (result f32)))
  (import "lib" "tab" (table 2 8 funcref))
  (import "lib" "mem" (memory 1 2))
  (import "lib" "g" (global $g (mut i32)))
  (import "lib" "c" (global $c f64))
  (func $h (export "h") (param i32) (result i32) (local.get 0))
  (export "f" (func $f))
  (export "tab" (table 0))
  (export "mem" (memory 0))
  (export "g" (global $g)))"#,
    ),
    (
        "segments",
        r#"(module
  (type $t (func (param i32) (result i32)))
  (import "lib" "base" (global $base i32))
  (import "lib" "fr" (global $fr funcref))
  (table $a 4 16 funcref)
  (table $b 2 externref)
  (memory 1 4)
  (global $rf funcref (ref.func $one))
  (global $n (mut externref) (ref.null extern))
  (global $k (mut i64) (i64.const -7))
  (global $d f64 (f64.const 2.5))
  (global $gg i32 (global.get $base))
  (func $one (type $t) (i32.add (local.get 0) (i32.const 1)))
  (func $two (type $t) (i32.mul (local.get 0) (i32.const 2)))
  (func $decl (result funcref) (ref.func $two))
  (elem (table $a) (i32.const 0) func $one $two)
  (elem (table $a) (global.get $base) funcref (ref.func $two) (ref.null func) (global.get $fr))
  (elem $p funcref (ref.func $one))
  (elem declare func $two)
  (data (i32.const 8) "abc")
  (data (global.get $base) "\00\01\02")
  (data $q "passive")
  (func $start (global.set $k (i64.const 3)))
  (start $start)
  (func (export "call") (param i32 i32) (result i32)
    (table.init $a $p (i32.const 3) (i32.const 0) (i32.const 1))
    (memory.init $q (i32.const 100) (i32.const 0) (i32.const 4))
    (data.drop $q)
    (call_indirect $a (type $t) (local.get 0) (local.get 1)))
  (export "a" (table $a))
  (export "k" (global $k))
  (export "memory" (memory 0)))"#,
    ),
    (
        "filter",
        r#"(module
  (import "kwasm" "pkt_len" (func $pkt_len (result i32)))
  (import "kwasm" "map_add" (func $map_add (param i32 i32 i64) (result i64)))
  (import "kwasm" "log" (func $log (param i32 i32)))
  (memory 1)
  (@custom "kwasm.maps" "\04\00\00\00\10\00\00\00\01\00\4d\4b\04\00\00\00\08\00\00\00\02\00\00\00")
  (data (i32.const 16) "hello")
  (func $f (export "filter") (param i32) (result i32)
    (local f32)
    (local.set 1 (f32.convert_i32_s (call $pkt_len)))
    (drop (call $map_add (i32.const 1) (i32.const 3) (i64.const 5)))
    (call $log (i32.const 16) (i32.const 5))
    (i32.trunc_sat_f32_u (local.get 1))))"#,
    ),
];

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/corpus/meta_parse".into());
    std::fs::create_dir_all(&dir).expect("create the output directory");
    for (name, wat) in MODULES {
        let opts = CompileOptions {
            target: Arch::X86_64,
            opt: OptLevel::Speed,
            ..CompileOptions::default()
        };
        let kw = compile(wat.as_bytes(), &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        let elf = object::File::parse(&*kw).expect("parse the .kw ELF");
        let meta = elf
            .section_by_name(kwasm_abi::meta::SECTION_NAME)
            .and_then(|s| s.data().ok())
            .expect(".kwasm.meta section");
        kwasm_abi::meta::Meta::parse(meta).expect("the compiler writes valid metadata");
        let path = format!("{dir}/seed-{name}");
        std::fs::write(&path, meta).expect("write the seed");
        println!("{path}: {} bytes", meta.len());
    }
}
