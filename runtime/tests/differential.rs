//! Differential testing against Wasmtime.
//!
//! From fixed seeds, wasm-smith generates modules restricted to kwasm's
//! feature set (MVP, sign extension, saturating float-to-int, multi-value,
//! bulk memory, reference types; no imports, at most one small memory,
//! bounded tables, canonical NaNs, and wasm-smith's own fuel so every call
//! ends; every third module is generated without trapping instructions so
//! execution goes deeper). Every fifth module is larger (more instructions
//! and functions) and left as generated, without wasm-smith's fuel code:
//! both engines then run it with their own fuel, and a call that exhausts
//! it in either (they count differently) ends the comparison of that
//! function. Each module is compiled by `kwasm_compiler::compile`, at
//! `--opt speed` for even seeds and `--opt none` for odd ones, and by
//! Wasmtime 48 (same Cranelift line); both
//! instantiate it (a trap during instantiation must be the same trap), then
//! every exported function is called twice, in a fresh instance per
//! function, with the same deterministic arguments in both engines. Results
//! are compared bit-for-bit (floats by bits), traps by kind (stack
//! exhaustion matches only stack exhaustion), and after instantiation and
//! every call the exported globals, memories (size and contents) and tables
//! (size, and which elements are null) are compared too.
//!
//! `KWASM_DIFF_SEEDS=start..end` picks other seeds. A mismatch prints the
//! seed, what differed and the module as WAT. `KWASM_DIFF_DEBUG=1` prints a
//! line per module (`=wat` adds the module).
//!
//! The comparison itself is in `tests/diff/mod.rs`, shared with the
//! `differential` fuzz target (`fuzz/`), which feeds it libFuzzer's inputs
//! instead of these seeds.

mod diff;

use diff::{Profile, Rng, THREAD_STACK, generate_from, run_module, wasmtime_engines};
use std::fmt::Write as _;
use std::io::Write as _;
use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Default seeds (a thousand modules take about ten seconds).
const DEFAULT_SEEDS: Range<u64> = 0..(1000 / EMULATED_SHARE);
/// Under emulation (the aarch64 build runs under `qemu-aarch64`, about ten
/// times slower) each test compares a third of its modules.
const EMULATED_SHARE: u64 = if cfg!(target_arch = "aarch64") { 3 } else { 1 };
/// Bytes of PRNG output wasm-smith consumes per module (large modules:
/// [`LARGE_INPUT_BYTES`]).
const INPUT_BYTES: usize = 4096;
const LARGE_INPUT_BYTES: usize = 32 * 1024;
const WORKERS: usize = 2;
/// WAT dumps printed for at most this many failing modules.
const MAX_DUMPS: usize = 5;

/// The module for a seed.
fn generate(seed: u64) -> Result<Vec<u8>, String> {
    let profile = Profile::of(seed);
    let mut rng = Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0x6b77_6173_6d64_6966);
    let n = if profile.large {
        LARGE_INPUT_BYTES
    } else {
        INPUT_BYTES
    };
    let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
    generate_from(&mut arbitrary::Unstructured::new(&bytes), profile)
}

fn seeds() -> Range<u64> {
    match std::env::var("KWASM_DIFF_SEEDS") {
        Ok(s) => {
            let (a, b) = s
                .split_once("..")
                .expect("KWASM_DIFF_SEEDS must look like start..end");
            let a: u64 = a.trim().parse().expect("KWASM_DIFF_SEEDS start");
            let b: u64 = b.trim().parse().expect("KWASM_DIFF_SEEDS end");
            a..b
        }
        Err(_) => DEFAULT_SEEDS,
    }
}

#[test]
fn differential_against_wasmtime() {
    let seeds = seeds();
    let engines = wasmtime_engines();
    let next = AtomicUsize::new(0);
    let all: Vec<u64> = seeds.clone().collect();
    let totals = Mutex::new((0usize, 0usize, 0usize)); // modules, functions, calls
    let outcomes = Mutex::new(std::collections::BTreeMap::<String, usize>::new());
    let failures = Mutex::new(Vec::<(u64, Vec<String>, Vec<u8>)>::new());

    std::thread::scope(|s| {
        for w in 0..WORKERS {
            std::thread::Builder::new()
                .name(format!("differential-{w}"))
                .stack_size(THREAD_STACK)
                .spawn_scoped(s, || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&seed) = all.get(i) else { break };
                        let wasm = match generate(seed) {
                            Ok(w) => w,
                            Err(e) => {
                                failures.lock().unwrap().push((
                                    seed,
                                    vec![format!("wasm-smith failed: {e}")],
                                    vec![],
                                ));
                                continue;
                            }
                        };
                        let r = run_module(&engines, seed, &wasm, Profile::of(seed));
                        if std::env::var_os("KWASM_DIFF_DEBUG").is_some() {
                            eprintln!(
                                "seed {seed} ({:?}): {} bytes, {} functions, {:?}",
                                Profile::of(seed),
                                wasm.len(),
                                r.functions,
                                r.note
                            );
                            if std::env::var_os("KWASM_DIFF_DEBUG").unwrap() == "wat" {
                                eprintln!("{}", wasmprinter::print_bytes(&wasm).unwrap());
                            }
                        }
                        {
                            let mut t = totals.lock().unwrap();
                            t.0 += 1;
                            t.1 += r.functions;
                            t.2 += r.calls;
                            let mut o = outcomes.lock().unwrap();
                            for k in &r.outcomes {
                                *o.entry(k.clone()).or_default() += 1;
                            }
                            if let Some(n) = &r.note {
                                *o.entry(n.clone()).or_default() += 1;
                            }
                        }
                        if !r.mismatches.is_empty() {
                            failures.lock().unwrap().push((seed, r.mismatches, wasm));
                        }
                    }
                })
                .expect("spawn worker");
        }
    });

    let (modules, functions, calls) = totals.into_inner().unwrap();
    let mut failures = failures.into_inner().unwrap();
    failures.sort_by_key(|f| f.0);
    let mismatches: usize = failures.iter().map(|f| f.1.len()).sum();
    let outcomes = outcomes.into_inner().unwrap();
    let hist: Vec<String> = outcomes.iter().map(|(k, n)| format!("{k}: {n}")).collect();
    // Straight to the terminal, past libtest's capture: `make test` shows
    // the totals even when the test passes.
    let _ = write!(
        std::io::stderr(),
        "differential: {modules} modules, {functions} functions, {mismatches} mismatches ({calls} calls, seeds {seeds:?})\n  outcomes (kwasm side): {}\n",
        hist.join(", ")
    );
    if failures.is_empty() {
        return;
    }
    let mut msg = String::new();
    for (n, (seed, what, wasm)) in failures.iter().enumerate() {
        let _ = writeln!(
            msg,
            "\n=== seed {seed} (reproduce: KWASM_DIFF_SEEDS={seed}..{} cargo test -p kwasm-cli --test differential -- --nocapture)",
            seed + 1
        );
        for w in what.iter().take(8) {
            let _ = writeln!(msg, "  {w}");
        }
        if what.len() > 8 {
            let _ = writeln!(msg, "  ... and {} more", what.len() - 8);
        }
        if n < MAX_DUMPS && !wasm.is_empty() {
            match wasmprinter::print_bytes(wasm) {
                Ok(wat) => {
                    let _ = writeln!(msg, "--- module (WAT) ---\n{wat}");
                }
                Err(e) => {
                    let _ = writeln!(msg, "(cannot print the module: {e})");
                }
            }
        }
    }
    let seeds: Vec<String> = failures.iter().map(|f| f.0.to_string()).collect();
    panic!(
        "{mismatches} mismatches in {} modules (seeds {}):{msg}",
        failures.len(),
        seeds.join(", ")
    );
}

/// Hand-written modules for what wasm-smith's fuel keeps away: running out
/// of stack (which must happen in both engines), at several frame sizes and
/// through direct, indirect and mutual recursion.
#[test]
fn stack_exhaustion_matches() {
    const MODULES: [&str; 4] = [
        r#"(module (func $f (export "f") (result i32) (i32.add (call $f) (i32.const 1))))"#,
        r#"(module
             (func $g (export "g") (param i64 f64 i32) (result f64)
               (local i64 i64 i64 i64 f64 f64 f64 f64 i32 i32 i32 i32)
               (f64.add (local.get 1)
                 (call $g (i64.add (local.get 0) (i64.const 1)) (local.get 1) (local.get 2)))))"#,
        r#"(module
             (type $t (func (param i32) (result i32)))
             (table 1 funcref)
             (elem (i32.const 0) $h)
             (func $h (export "h") (type $t)
               (call_indirect (type $t) (i32.add (local.get 0) (i32.const 1)) (i32.const 0))))"#,
        r#"(module
             (func $a (export "a") (param i32) (result i32)
               (if (result i32) (i32.eqz (local.get 0))
                 (then (call $b (i32.const 1)))
                 (else (call $b (local.get 0)))))
             (func $b (param i32) (result i32)
               (i32.mul (call $a (local.get 0)) (i32.const 3))))"#,
    ];
    std::thread::Builder::new()
        .stack_size(THREAD_STACK)
        .spawn(|| {
            let engines = wasmtime_engines();
            for (i, wat) in MODULES.iter().enumerate() {
                let wasm = wat::parse_str(wat).unwrap();
                let r = run_module(&engines, i as u64, &wasm, Profile::of(i as u64));
                assert!(r.mismatches.is_empty(), "module {i}: {:?}", r.mismatches);
                assert_eq!(r.functions, 1, "module {i}");
                assert!(
                    r.outcomes.iter().all(|o| o == "StackOverflow"),
                    "module {i}: {:?}",
                    r.outcomes
                );
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

/// Counted loops of the shapes kwasmc versions (`compiler/src/loops.rs`),
/// with bases, starts, limits, steps and accesses drawn near the edges that
/// matter: the end of memory, memory grown past its minimum, addresses that
/// wrap past 2^32 back into memory, starts past the limit, and strides that
/// never land on it. wasm-smith almost never writes these loops. Both
/// engines must agree on the result, the trap and the memory left behind.
#[test]
fn versioned_loops_match() {
    generated_modules_match("versioned loops", 5000, |case| {
        let mut rng = Rng(case.wrapping_mul(0x9E37_79B9) ^ 0x6c6f_6f70);
        match case % 5 {
            2 => counter_loop(&mut rng),
            3 => top_tested_loop(&mut rng),
            4 => top_stride_loop(&mut rng),
            _ => counted_loop(&mut rng),
        }
    });
}

/// Run each of `cases` generated modules (WAT) in both engines, and
/// require them to agree and the cases to reach both ends: some run to
/// completion, some trap out of bounds.
fn generated_modules_match(what: &str, cases: u64, generate: impl Fn(u64) -> String + Sync) {
    let cases = cases / EMULATED_SHARE;
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(THREAD_STACK)
            .spawn_scoped(s, || {
                let engines = wasmtime_engines();
                let mut failures = Vec::new();
                let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
                for case in 0..cases {
                    let wat = generate(case);
                    let wasm = wat::parse_str(&wat).unwrap_or_else(|e| panic!("{e}\n{wat}"));
                    let profile = Profile {
                        disallow_traps: false,
                        large: false,
                        ..Profile::of(case)
                    };
                    let r = run_module(&engines, case, &wasm, profile);
                    for o in r.outcomes {
                        *outcomes.entry(o).or_default() += 1;
                    }
                    if !r.mismatches.is_empty() {
                        failures.push(format!("case {case}: {:?}\n{wat}", r.mismatches));
                    }
                }
                let _ = writeln!(
                    std::io::stderr(),
                    "{what}: {cases} modules, {} mismatches, outcomes {outcomes:?}",
                    failures.len()
                );
                assert!(failures.is_empty(), "{}", failures.join("\n"));
                assert!(
                    outcomes
                        .get("values")
                        .is_some_and(|n| *n as u64 > cases / 10),
                    "{outcomes:?}"
                );
                assert!(
                    outcomes.keys().any(|k| k.contains("OutOfBounds")),
                    "{outcomes:?}"
                );
            })
            .expect("spawn")
            .join()
            .expect("the comparison panicked");
    });
}

/// One module whose exported `run` executes a counted loop (see
/// [`versioned_loops_match`]) that stores to and sums memory.
fn counted_loop(rng: &mut Rng) -> String {
    let near = |rng: &mut Rng, at: i64| at + rng.below(41) as i64 - 20;
    let access = Access::draw(rng, &ACCESSES, &[0, 0, 1, 7, 100, 4093]);
    let Access {
        ty,
        store,
        load,
        size,
        offset,
        grow,
        len,
    } = access;
    // Where an access's last byte is exactly the last byte of memory (`x`
    // for base 0).
    let edge = len - offset - size;
    let mut base = match rng.below(5) {
        0 => 0,
        1 => rng.below(4096) as i64,
        2 => near(rng, PAGE - 1024),
        3 => near(rng, 1 << 32) - 32, // wraps back to the start
        _ => rng.next() as u32 as i64,
    };
    let (start, limit, step, cmp) = match rng.below(5) {
        // `x += step` until `x == limit`, step a power of two; starts that
        // land on the limit, and ones that do not (or start past it).
        0 => {
            let step = 1i64 << rng.below(5);
            let n = 1 + rng.below(300) as i64;
            let choices = [0, 0, step / 2, 4 * step, near(rng, 0)];
            let start = rng.pick(&choices) as u32 as i64;
            let limit = if rng.below(4) == 0 {
                start + n * step + 1
            } else {
                start + n * step
            };
            if rng.below(2) == 0 {
                // The last access (at `limit - step`) one byte short of the
                // end, at it, or one byte past it.
                base = edge - (limit - step) + rng.below(3) as i64 - 1;
            }
            (start, limit as u32 as i64, step, "i32.ne")
        }
        k => {
            let step = rng.pick(&[1, 1, 2, 3, 8, 13]);
            let starts = [0, rng.below(64) as i64, near(rng, PAGE), near(rng, 1 << 32)];
            let start = rng.pick(&starts);
            // The largest `x` ends one byte short of the end of memory, at
            // it, or one byte past it.
            let last = edge - base.rem_euclid(1 << 32) + rng.below(3) as i64 - 1;
            let last = match k {
                1 | 3 => last + 1, // x < limit
                _ => last,
            };
            let limits = [
                0,
                rng.below(200) as i64,
                last,
                last,
                near(rng, 2 * PAGE),
                0xffff_ffff,
            ];
            let limit = rng.pick(&limits);
            let cmp = ["", "i32.lt_u", "i32.le_u", "i32.gt_u", "i32.ge_u"][k];
            (start as u32 as i64, limit as u32 as i64, step, cmp)
        }
    };
    let (base, start, limit) = (base as u32 as i32, start as u32 as i32, limit as u32 as i32);
    let addr = if rng.below(2) == 0 {
        "(i32.add (local.get $t) (local.get $x))"
    } else {
        "(i32.add (local.get $x) (local.get $t))"
    };
    let next = format!("(local.tee $x (i32.add (local.get $x) (i32.const {step})))");
    let limit_first = rng.below(2) == 0;
    let exit = match cmp {
        "i32.gt_u" | "i32.ge_u" => format!("({cmp} (local.get $n) {next})"),
        "i32.ne" if limit_first => format!("({cmp} (local.get $n) {next})"),
        _ => format!("({cmp} {next} (local.get $n))"),
    };
    // Leave by a branch instead of falling through, sometimes.
    let leave = if rng.below(3) == 0 { "(br $out)" } else { "" };
    let (q, fixed) = access.invariant(rng);
    loop_module(
        ty,
        grow,
        &[("t", base), ("x", start), ("n", limit), ("q", q)],
        &format!(
            r#"(loop
                 {BUDGET}
                 ({store} offset={offset} {addr} ({ty}.add (local.get $s) ({ty}.const 3)))
                 (local.set $s ({ty}.add (local.get $s) ({load} offset={offset} {addr})))
                 {fixed}
                 (br_if 0 {exit})
                 {leave})"#
        ),
    )
}

/// One module whose exported `run` executes a loop counted down by `c -=
/// step` to 0 while a pointer `p += pstep` addresses memory (see
/// [`versioned_loops_match`]): counts the step divides or not, pointers
/// going up and down, the last access at the edge of memory.
fn counter_loop(rng: &mut Rng) -> String {
    let access = Access::draw(
        rng,
        &[ACCESSES[0], ACCESSES[2], ACCESSES[3]],
        &[0, 0, 3, 100],
    );
    let Access {
        ty,
        store,
        load,
        size,
        offset,
        grow,
        len,
    } = access;
    let step = 1i64 << rng.below(3);
    let trips = 1 + rng.below(200) as i64;
    let count = match rng.below(6) {
        0 => 0,
        1 => trips * step + 1, // never reaches 0 exactly
        _ => trips * step,
    };
    let pstep = rng.pick(&[1i64, 2, 4, 8, 12, -1, -4, -8]);
    let base = rng.pick(&[0i64, 0, 64, 4096, (1 << 32) - 64]);
    // The furthest access (the last one going up, the first going down)
    // one byte short of the end of memory, at it, or one byte past it; or
    // anywhere.
    let far = len - offset - size + rng.below(3) as i64 - 1 - base;
    let p0 = match rng.below(4) {
        0 => rng.below(70000) as i64,
        1 => (1 << 32) - 4 * trips,
        _ if pstep > 0 => far - (trips - 1) * pstep,
        _ => far,
    };
    let (base, p0) = (base as u32 as i32, p0 as u32 as i32);
    let (q, fixed) = access.invariant(rng);
    loop_module(
        ty,
        grow,
        &[("t", base), ("p", p0), ("c", count as i32), ("q", q)],
        &format!(
            r#"(loop
                 {BUDGET}
                 ({store} offset={offset} (i32.add (local.get $t) (local.get $p)) ({ty}.add (local.get $s) ({ty}.const 3)))
                 (local.set $s ({ty}.add (local.get $s) ({load} offset={offset} (i32.add (local.get $p) (local.get $t)))))
                 {fixed}
                 (local.set $p (i32.add (local.get $p) (i32.const {pstep})))
                 (br_if 0 (local.tee $c (i32.add (local.get $c) (i32.const -{step})))))"#
        ),
    )
}

/// One module whose exported `run` executes a loop that tests `x` against
/// its limit at the top and branches back from two places (see
/// [`versioned_loops_match`]).
fn top_tested_loop(rng: &mut Rng) -> String {
    let Access {
        ty,
        store,
        load,
        size,
        offset,
        grow,
        len,
    } = Access::draw(rng, &ACCESSES[..2], &[0, 0, 5, 100]);
    let anywhere = rng.next() as u32 as i64;
    let base = rng.pick(&[0i64, 0, 64, 4096, (1 << 32) - 64, anywhere]);
    let step = rng.pick(&[1i64, 1, 2, 3, 16, -1]);
    // `x < limit` (or `x <= limit`), the largest such `x` one byte short
    // of the end of memory, at it, or one byte past it; or anywhere.
    let inclusive = rng.below(2) == 0;
    let last = len - offset - size + rng.below(3) as i64 - 1 - base;
    let limit = match rng.below(4) {
        0 => rng.below(200) as i64,
        1 => 0,
        _ if inclusive => last,
        _ => last + 1,
    };
    let small = rng.below(100) as i64;
    let start = rng.pick(&[0i64, 0, small, limit - 3, (1 << 32) - 2]);
    let test = match (inclusive, rng.below(2) == 0) {
        (false, true) => "(i32.ge_u (local.get $x) (local.get $n))",
        (false, false) => "(i32.le_u (local.get $n) (local.get $x))",
        (true, true) => "(i32.gt_u (local.get $x) (local.get $n))",
        (true, false) => "(i32.lt_u (local.get $n) (local.get $x))",
    };
    let (base, start, limit) = (base as u32 as i32, start as u32 as i32, limit as u32 as i32);
    loop_module(
        ty,
        grow,
        &[("t", base), ("x", start), ("n", limit)],
        &format!(
            r#"(loop $top
                 (br_if $out {test})
                 {BUDGET}
                 ({store} offset={offset} (i32.add (local.get $t) (local.get $x)) ({ty}.add (local.get $s) ({ty}.const 3)))
                 (local.set $x (i32.add (local.get $x) (i32.const {step})))
                 ;; A second way back to the header, every other iteration.
                 (br_if $top (i32.and (local.get $budget) (i32.const 1)))
                 (local.set $s ({ty}.add (local.get $s) ({load} offset={offset} (i32.add (local.get $t) (local.get $x)))))
                 (br $top))"#
        ),
    )
}

/// One module whose exported `run` executes a loop that leaves at the top
/// when `x == n` and adds `step` to `x` further down, as a Rust slice
/// iterator does (see [`versioned_loops_match`]): distances the step
/// divides or not, starts past the limit, the last access at the edge of
/// memory; sometimes a second way back to the header that skips the add.
fn top_stride_loop(rng: &mut Rng) -> String {
    let access = Access::draw(rng, &ACCESSES, &[0, 0, 3, 100]);
    let (ty, store, load, offset) = (access.ty, access.store, access.load, access.offset);
    let step = rng.pick(&[1i64, 1, 2, 4, 16, 3]);
    let many = rng.below(300) as i64;
    let trips = rng.pick(&[0i64, 1, 2, many]);
    let anywhere = rng.below(5000) as i64;
    let start = rng.pick(&[0i64, 0, anywhere, (1 << 32) - 2 * step]);
    let limit = start + trips * step + rng.pick(&[0, 0, 0, 1, -1]);
    // The last access (at `limit - step`) one byte short of the end, at it,
    // or one byte past it; or anywhere.
    let edge = access.len - offset - access.size;
    let base = match rng.below(3) {
        0 => rng.next() as u32 as i64,
        _ => edge - (limit - step) + rng.below(3) as i64 - 1,
    };
    let test = if rng.below(2) == 0 {
        "(i32.eq (local.get $x) (local.get $n))"
    } else {
        "(i32.eq (local.get $n) (local.get $x))"
    };
    // A way back before the add (with a budget, so that it ends): `x` then
    // stays put for an iteration.
    let again = if rng.below(3) == 0 {
        format!("{BUDGET} (br_if $top (i32.and (local.get $budget) (i32.const 1)))")
    } else {
        String::new()
    };
    let (base, start, limit) = (base as u32 as i32, start as u32 as i32, limit as u32 as i32);
    loop_module(
        ty,
        access.grow,
        &[("t", base), ("x", start), ("n", limit)],
        &format!(
            r#"(loop $top
                 (br_if $out {test})
                 ({store} offset={offset} (i32.add (local.get $t) (local.get $x)) ({ty}.add (local.get $s) ({ty}.const 3)))
                 {again}
                 (local.set $s ({ty}.add (local.get $s) ({load} offset={offset} (i32.add (local.get $t) (local.get $x)))))
                 (local.set $x (i32.add (local.get $x) (i32.const {step})))
                 (br $top))"#
        ),
    )
}

/// Accesses at `p + (x & mask) + c`, which kwasmc checks and guards
/// through `p` when `p` leaves room for the whole mask and exactly
/// otherwise (`compiler/src/bounds.rs`): pointers near the end of memory
/// and past 2^32, masks up to the declared minimum, negative constants.
#[test]
fn masked_accesses_match() {
    generated_modules_match("masked accesses", 1500, |case| {
        let rng = &mut Rng(case.wrapping_mul(0x2545_F491) ^ 0x6d61_736b);
        let (load, size) = rng.pick(&[
            ("i32.load8_u", 1),
            ("i32.load16_u", 2),
            ("i32.load", 4),
            ("i64.load", 8),
        ]);
        let ty = if size == 8 { "i64" } else { "i32" };
        let mask = rng.pick(&[0xffi64, 0x7ffe, 0xfff8, 0x3fff]);
        let offset = rng.pick(&[0i64, 0, 2, 100]);
        let c = rng.pick(&[0i64, 0, -1, -8, 3, 1000]);
        let pages = rng.pick(&[1i64, 2]);
        let len = pages * PAGE;
        let any = rng.next() as u32 as i64;
        // All of the mask's bits, none, or any.
        let x = rng.pick(&[0xffff_ffff, 0, any, any]);
        let t = x & mask;
        // The sum's last byte one short of the end, at it, or one
        // past; the fast path's edge; past 2^32; anywhere.
        let edge = len - offset - size - t - c + rng.below(3) as i64 - 1;
        let p = match rng.below(5) {
            0 => edge,
            1 => len - mask - offset - size - c + rng.below(3) as i64 - 1,
            2 => (1 << 32) - t - c + rng.below(64) as i64,
            3 => rng.below(4096) as i64,
            _ => rng.next() as u32 as i64,
        };
        let wat = format!(
            r#"(module (memory (export "m") {pages})
                 (data (i32.const 0) "\01\02\03\04\05\06\07\08")
                 (data (i32.const {tail}) "\f1\f2\f3\f4\f5\f6\f7\f8")
                 (func (export "run") (result {ty})
                   ({load} offset={offset}
                     (i32.add (i32.add (global.get $p) (i32.and (global.get $x) (i32.const {mask})))
                              (i32.const {c}))))
                 (global $p (mut i32) (i32.const {p}))
                 (global $x (mut i32) (i32.const {x})))"#,
            tail = len - 8,
            p = p as u32 as i32,
            x = x as u32 as i32,
            c = c as i32,
        );
        wat
    });
}

/// A checked access followed by one at the same root plus another
/// constant, which the first check may cover or be widened to cover
/// (`Checks::covering` and `Checks::widen` in `compiler/src/bounds.rs`):
/// the second address written as an add or a subtract, the root near the
/// end of memory, near 0 (so that `p - c` wraps) and near 2^32, constants
/// on both sides of the first, and sometimes a store between the two that
/// must have happened when the second traps; the first access is
/// sometimes a store, which must have happened too.
#[test]
fn covered_accesses_match() {
    generated_modules_match("covered accesses", 1500, |case| {
        let rng = &mut Rng(case.wrapping_mul(0x9E37_79B1) ^ 0x636f_7672);
        let access = |rng: &mut Rng| {
            rng.pick(&[
                ("i32.load8_u", 1i64),
                ("i32.load16_u", 2),
                ("i32.load", 4),
                ("i64.load", 8),
            ])
        };
        let ((load1, size1), (load2, size2)) = (access(rng), access(rng));
        let (o1, o2) = (rng.pick(&[0i64, 0, 4, 8]), rng.pick(&[0i64, 0, 4, 8]));
        let c1 = rng.pick(&[0i64, -16, -84, 8, 100]);
        let c2 = c1 + rng.below(25) as i64 - 12;
        let pages = rng.pick(&[1i64, 2]);
        let len = pages * PAGE;
        let p = match rng.below(5) {
            0 => len - c1 - o1 - size1 + rng.below(24) as i64 - 12,
            4 => len - c2 - o2 - size2 + rng.below(24) as i64 - 12,
            1 => rng.below(128) as i64,
            2 => (1 << 32) - c1 + rng.below(32) as i64 - 16,
            _ => rng.next() as u32 as i64,
        };
        let addr = |c: i64, rng: &mut Rng| {
            if c < 0 && rng.below(2) == 0 {
                format!("(i32.sub (local.get $p) (i32.const {}))", -c)
            } else {
                format!("(i32.add (local.get $p) (i32.const {c}))")
            }
        };
        let (a1, a2) = (addr(c1, rng), addr(c2, rng));
        let as_i64 = |load: &str, e: String| {
            if load.starts_with("i64") {
                e
            } else {
                format!("(i64.extend_i32_u {e})")
            }
        };
        let first = if rng.below(4) == 0 {
            // A store, whose own check must not cover the load after it.
            let store = match load1 {
                "i32.load8_u" => "i32.store8 (i32.const 0x5a)",
                "i32.load16_u" => "i32.store16 (i32.const 0x5a5a)",
                "i32.load" => "i32.store (i32.const 0x5a5a5a5a)",
                _ => "i64.store (i64.const 0x5a5a5a5a5a5a5a5a)",
            };
            let (op, value) = store.split_once(' ').unwrap_or((store, ""));
            format!("({op} offset={o1} {a1} {value})")
        } else {
            let load = as_i64(load1, format!("({load1} offset={o1} {a1})"));
            format!("(local.set $x {load})")
        };
        let second = as_i64(load2, format!("({load2} offset={o2} {a2})"));
        let between = match rng.below(3) {
            0 => "(i32.store8 (i32.const 9) (i32.const 0x55))",
            _ => "",
        };
        format!(
            r#"(module (memory (export "m") {pages})
                 (data (i32.const 0) "\01\02\03\04\05\06\07\08")
                 (data (i32.const {tail}) "\f1\f2\f3\f4\f5\f6\f7\f8")
                 (global $g (mut i32) (i32.const {p}))
                 (func (export "run") (result i64) (local $p i32) (local $x i64)
                   (local.set $p (global.get $g))
                   {first}
                   {between}
                   (i64.add (local.get $x) {second})))"#,
            tail = len - 8,
            p = p as u32 as i32,
        )
    });
}

/// Every generated loop spends one unit of this per iteration and leaves
/// when it runs out: each legitimate case ends long before, and a
/// miscompiled loop that no longer traps must not hang the test.
const BUDGET: &str =
    "(br_if $out (i32.eqz (local.tee $budget (i32.sub (local.get $budget) (i32.const 1)))))";

/// The module around a generated loop: `run` sets its `i32` locals
/// (`init`: name and value), runs `body` inside `block $out` and returns
/// the sum `$s`; memory is one page, grown to two first if `grow`.
fn loop_module(ty: &str, grow: bool, init: &[(&str, i32)], body: &str) -> String {
    let grow = if grow {
        "(drop (memory.grow (i32.const 1)))"
    } else {
        ""
    };
    let init: String = init
        .iter()
        .map(|(name, v)| format!("(local.set ${name} (i32.const {v}))\n"))
        .collect();
    format!(
        r#"(module (memory (export "m") 1 2)
             (func (export "run") (result {ty})
               (local $t i32) (local $x i32) (local $n i32) (local $p i32) (local $c i32)
               (local $q i32) (local $s {ty}) (local $budget i32)
               {grow}
               {init}
               (local.set $budget (i32.const 0x100000))
               (block $out {body})
               (local.get $s)))"#
    )
}

/// A wasm page, the memory of the generated modules before they grow.
const PAGE: i64 = 65536;

/// The kinds of access the generated loops make: type, store, load, size.
const ACCESSES: [(&str, &str, &str, i64); 4] = [
    ("i32", "i32.store8", "i32.load8_u", 1),
    ("i32", "i32.store16", "i32.load16_u", 2),
    ("i32", "i32.store", "i32.load", 4),
    ("i64", "i64.store", "i64.load", 8),
];

/// The access a generated loop makes, and the memory it runs in.
#[derive(Clone, Copy)]
struct Access {
    ty: &'static str,
    store: &'static str,
    load: &'static str,
    size: i64,
    offset: i64,
    /// Memory grows from one page to two before the loop.
    grow: bool,
    /// Memory's length when the loop runs.
    len: i64,
}

impl Access {
    /// A statement at `q + c`, the same address in every iteration (the
    /// value of `q` to set, and the statement): mostly in bounds, its last
    /// byte sometimes one short of the end of memory, at it, or one past.
    fn invariant(&self, rng: &mut Rng) -> (i32, String) {
        let (ty, store, load, offset) = (self.ty, self.store, self.load, self.offset);
        let c = rng.pick(&[0i64, 8]);
        let edge = self.len - offset - self.size - c;
        let q = match rng.below(8) {
            0 => edge - 1,
            1 => edge,
            2 => edge + 1,
            3 => (1 << 32) - 4,
            _ => rng.below(4096) as i64,
        };
        let addr = format!("(i32.add (local.get $q) (i32.const {c}))");
        let statement = if rng.below(2) == 0 {
            format!("({store} offset={offset} {addr} (local.get $s))")
        } else {
            format!("(local.set $s ({ty}.add (local.get $s) ({load} offset={offset} {addr})))")
        };
        (q as u32 as i32, statement)
    }

    fn draw(
        rng: &mut Rng,
        kinds: &[(&'static str, &'static str, &'static str, i64)],
        offsets: &[i64],
    ) -> Access {
        let (ty, store, load, size) = rng.pick(kinds);
        let offset = rng.pick(offsets);
        let grow = rng.below(3) == 0;
        let len = if grow { 2 * PAGE } else { PAGE };
        Access {
            ty,
            store,
            load,
            size,
            offset,
            grow,
            len,
        }
    }
}
