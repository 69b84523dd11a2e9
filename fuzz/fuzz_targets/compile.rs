//! The compiler on wasm-smith modules: `kwasm_compiler::compile` must never
//! panic (libfuzzer-sys aborts on a panic, even one the compiler would
//! catch) and never report an internal error (`ErrorKind::Codegen`, "always
//! a kwasm bug"), at either optimisation level.
//!
//! Three modules out of four are generated with the differential test's
//! wasm-smith configuration (`runtime/tests/diff/mod.rs`: kwasm's feature set);
//! these must compile at both levels, and the `.kw` must load in the
//! userspace runtime (its metadata passes `Meta::parse`, its checksums
//! match). The fourth also enables proposals and imports kwasm does not
//! support: there `Unsupported`, `Invalid` and `Malformed` are acceptable
//! answers, and only panics and internal errors fail.
#![no_main]

#[path = "../../runtime/tests/diff/mod.rs"]
mod diff;

use arbitrary::Unstructured;
use diff::{Profile, smith_config};
use kwasm_compiler::{CompileOptions, ErrorKind, OptLevel, compile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(mode) = u.arbitrary::<u8>() else {
        return;
    };
    let profile = Profile {
        opt: OptLevel::Speed, // both levels are compiled below
        large: mode & 1 != 0,
        disallow_traps: mode & 2 != 0,
        host_cpu: false, // unused: this target picks its own options below
    };
    let wide = mode & 0x0c == 0x0c;
    let mut config = smith_config(profile);
    if wide {
        widen(&mut config);
    }
    let Ok(module) = wasm_smith::Module::new(config, &mut u) else {
        return;
    };
    let wasm = module.to_bytes();

    let mut outcomes = Vec::new();
    for opt in [OptLevel::Speed, OptLevel::None] {
        let opts = CompileOptions {
            opt,
            ..CompileOptions::default()
        };
        match compile(&wasm, &opts) {
            Ok(kw) => {
                if let Err(e) = kwasm_runtime::Artifact::from_bytes("fuzz", &kw) {
                    fail(
                        &wasm,
                        &format!("{opt:?}: the runtime rejects the artifact: {e}"),
                    );
                }
                outcomes.push(None);
            }
            Err(e) if e.kind == ErrorKind::Codegen => {
                fail(&wasm, &format!("{opt:?}: internal error: {e}"));
            }
            Err(e) if !wide => {
                fail(&wasm, &format!("{opt:?}: kwasm's feature set, yet: {e}"));
            }
            Err(e) => outcomes.push(Some(e.kind)),
        }
    }
    if outcomes[0] != outcomes[1] {
        fail(&wasm, &format!("the levels disagree: {outcomes:?}"));
    }
});

/// Proposals kwasm rejects and imports it has never seen, on top of the
/// differential configuration.
fn widen(c: &mut wasm_smith::Config) {
    c.simd_enabled = true;
    c.relaxed_simd_enabled = true;
    c.threads_enabled = true;
    c.exceptions_enabled = true;
    c.max_tags = 4;
    c.memory64_enabled = true;
    c.tail_call_enabled = true;
    c.extended_const_enabled = true;
    c.wide_arithmetic_enabled = true;
    c.custom_page_sizes_enabled = true;
    c.max_memories = 2;
    c.max_imports = 8;
    c.memory_max_size_required = false;
    c.table_max_size_required = false;
    c.generate_custom_sections = true;
}

fn fail(wasm: &[u8], what: &str) -> ! {
    let wat = wasmprinter::print_bytes(wasm).unwrap_or_else(|e| format!("(no WAT: {e})"));
    panic!("{what}\n--- module (WAT) ---\n{wat}");
}
