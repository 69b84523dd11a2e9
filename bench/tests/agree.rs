//! Every compute workload, at its tiny test size, returns the same checksum
//! natively, under kwasm (with and without Spectre guards) and under
//! Wasmtime (default, and at kwasm's safety level): the benchmark's
//! engines all run the same computation. Builds the wasm modules in
//! `guests/` first (cargo; seconds once built). Speed is the benchmark's
//! business (`cargo bench -p kwasm-bench`), not this test's.

use kwasm_bench::{Engine, Prepared, WORKLOADS, WasmtimeEngines, build_wasm};

#[test]
fn every_engine_agrees_with_native() {
    let dir = build_wasm(true).expect("building the wasm workloads");
    let wt = WasmtimeEngines::new().expect("Wasmtime engines");
    let mut failures = Vec::new();
    for w in WORKLOADS {
        let path = dir.join(format!("{}.wasm", w.name));
        let wasm = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let p =
            Prepared::new(w, &wasm, &wt, 1, None).unwrap_or_else(|e| panic!("{}: {e:#}", w.name));
        // A pure computation: nothing to import, only `run` (and the
        // memory) to export.
        assert_eq!(
            p.wasmtime.imports().count(),
            0,
            "{} imports something",
            w.name
        );
        let funcs: Vec<_> = p
            .wasmtime
            .exports()
            .filter(|e| e.ty().func().is_some())
            .map(|e| e.name().to_string())
            .collect();
        assert_eq!(funcs, ["run"], "{}", w.name);

        let native = (w.run)(w.test_n);
        for e in Engine::ALL {
            let mut inst = p
                .instance(e)
                .unwrap_or_else(|err| panic!("{} {e:?}: {err:#}", w.name));
            // Twice on one instance: the benchmark reuses instances.
            for call in 0..2 {
                match inst.call(w.test_n) {
                    Ok(s) if s.checksum == native => {}
                    Ok(s) => failures.push(format!(
                        "{} on {} (call {call}): {:#x}, native {native:#x}",
                        w.name,
                        e.id(),
                        s.checksum
                    )),
                    Err(err) => failures.push(format!("{} on {}: {err:#}", w.name, e.id())),
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
