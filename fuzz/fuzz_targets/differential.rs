//! kwasm against Wasmtime on wasm-smith modules, with the comparison of
//! `runtime/tests/differential.rs` (`runtime/tests/diff/mod.rs`, included here):
//! the fixed-seed test runs a thousand modules; this target lets libFuzzer
//! steer wasm-smith's input instead.
//!
//! The first input byte picks the profile (optimisation level, large and
//! fuel-bounded or wasm-smith-instrumented, traps allowed or not); the rest
//! is wasm-smith's. Any mismatch (results, traps, exported state, a module
//! one engine compiles and the other does not) panics with the module as
//! WAT.
#![no_main]

#[path = "../../runtime/tests/diff/mod.rs"]
mod diff;

use arbitrary::Unstructured;
use diff::{Engines, Profile, THREAD_STACK, generate_from, run_module, wasmtime_engines};
use kwasm_compiler::OptLevel;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static ENGINES: OnceLock<Engines> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(mode) = u.arbitrary::<u8>() else {
        return;
    };
    let profile = Profile {
        opt: if mode & 1 != 0 {
            OptLevel::None
        } else {
            OptLevel::Speed
        },
        large: mode & 2 != 0,
        disallow_traps: mode & 4 != 0,
        host_cpu: mode & 8 != 0,
    };
    let Ok(wasm) = generate_from(&mut u, profile) else {
        return;
    };
    // Arguments come from a PRNG seeded by the input.
    let seed = diff::fnv1a(data);
    let engines = ENGINES.get_or_init(wasmtime_engines);
    // Wasmtime runs wasm on the caller's stack: give it the test's.
    let report = std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(THREAD_STACK)
            .spawn_scoped(s, || run_module(engines, seed, &wasm, profile))
            .expect("spawn")
            .join()
            .expect("run_module panicked")
    });
    if !report.mismatches.is_empty() {
        let wat = wasmprinter::print_bytes(&wasm).unwrap_or_else(|e| format!("(no WAT: {e})"));
        panic!(
            "{profile:?}: {} mismatches:\n  {}\n--- module (WAT) ---\n{wat}",
            report.mismatches.len(),
            report.mismatches.join("\n  ")
        );
    }
});
