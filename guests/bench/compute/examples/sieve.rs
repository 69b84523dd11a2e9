//! The `sieve` workload as a wasm module: exports `run(n: i32) -> i64`.
compute_bench::export!(sieve);
