//! `kwasmc` on hostile input: valid seed modules corrupted a thousand ways
//! (bit flips, byte changes, truncations, insertions, deletions, LEB128 and
//! section-size edits, section shuffles, and edits of the WAT text).
//!
//! Every run must end with exit status 0 or 1, never by a signal and never by
//! a panic; a failure is one line on stderr. The corruptions come from fixed
//! seeds, so a failure reproduces: the test names the case and keeps its
//! input file.

#[path = "../../abi/tests/support/exec.rs"]
mod exec;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Cases per run natively; under qemu-aarch64 (`make aarch64-test`) the
/// first [`EMULATED_CASES`] of them.
const CASES: usize = 1000;
const EMULATED_CASES: usize = 300;

fn case_count() -> usize {
    exec::cases(CASES, EMULATED_CASES)
}
const WORKERS: usize = 2;

/// A module that exercises every section kwasmc handles: imports, a table
/// with active and passive segments, memory with active and passive data,
/// globals of every type, a start function, exports of every kind, loops,
/// `br_table`, indirect calls, bulk memory, reference types, multi-value,
/// sign extension, saturating conversions and a name section.
const KITCHEN_SINK: &str = r#"
(module $sink
  (type $bin (func (param i32 i32) (result i32)))
  (type $pair (func (param i64) (result i64 i32)))
  (import "kwasm" "log" (func $log (param i32 i32)))
  (import "kwasm" "pkt_len" (func $pkt_len (result i32)))
  (memory (export "memory") 1 4)
  (table $t (export "table") 8 16 funcref)
  (table $ext 2 externref)
  (global $counter (export "counter") (mut i32) (i32.const 0))
  (global $big i64 (i64.const 0x7fffffffffffffff))
  (global $f f32 (f32.const 1.5))
  (global $d (mut f64) (f64.const -0.0))
  (global $fr funcref (ref.func $add))
  (elem (table $t) (i32.const 0) func $add $sub $mul)
  (elem $passive func $add $sub)
  (elem declare func $start)
  (data (i32.const 16) "hello, world")
  (data $bytes "\00\01\02\03\04\05\06\07")
  (start $start)

  (func $start
    (global.set $counter (i32.const 1)))
  (func $add (type $bin) (i32.add (local.get 0) (local.get 1)))
  (func $sub (type $bin) (i32.sub (local.get 0) (local.get 1)))
  (func $mul (type $bin) (i32.mul (local.get 0) (local.get 1)))

  (func $dispatch (export "dispatch") (param $op i32) (param $a i32) (param $b i32) (result i32)
    (call_indirect $t (type $bin) (local.get $a) (local.get $b) (local.get $op)))

  (func $switch (export "switch") (param $x i32) (result i32)
    (block $d (block $c (block $b (block $a
      (br_table $a $b $c $d (local.get $x)))
      (return (i32.const 10)))
      (return (i32.const 20)))
      (return (i32.const 30)))
    (i32.const 40))

  (func $sum (export "sum") (param $n i32) (result i64)
    (local $acc i64)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u (local.get $n))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $acc))

  (func $mem (export "mem") (param $p i32) (result i32)
    (i32.store offset=4 align=2 (local.get $p) (i32.const 0x01020304))
    (memory.fill (i32.const 64) (i32.const 0xaa) (i32.const 16))
    (memory.copy (i32.const 128) (i32.const 16) (i32.const 12))
    (memory.init $bytes (i32.const 200) (i32.const 0) (i32.const 8))
    (data.drop $bytes)
    (drop (memory.grow (i32.const 1)))
    (i32.add (i32.load8_s offset=4 (local.get $p)) (memory.size)))

  (func $floats (export "floats") (param $x f64) (result i32 i64 f32)
    (i32.trunc_sat_f64_s (local.get $x))
    (i64.trunc_sat_f64_u (f64.sqrt (local.get $x)))
    (f32.demote_f64 (f64.nearest (local.get $x))))

  (func $ext (export "ext") (param $x i32) (result i64)
    (i64.extend32_s (i64.extend_i32_u (i32.extend8_s (local.get $x)))))

  (func $pairs (type $pair)
    (local.get 0)
    (i32.wrap_i64 (local.get 0)))

  (func $refs (export "refs") (result i32)
    (table.set $t (i32.const 5) (ref.func $mul))
    (table.init $t $passive (i32.const 6) (i32.const 0) (i32.const 2))
    (elem.drop $passive)
    (drop (table.grow $t (ref.null func) (i32.const 1)))
    (table.fill $ext (i32.const 0) (ref.null extern) (i32.const 2))
    (i32.add
      (ref.is_null (table.get $t (i32.const 7)))
      (table.size $t)))

  (func $filter (export "filter") (param $len i32) (result i32)
    (call $log (i32.const 16) (i32.const 12))
    (if (result i32) (i32.gt_u (call $pkt_len) (local.get $len))
      (then (i32.const 0))
      (else (i32.const 1)))))
"#;

/// The smallest useful module.
const TINY: &str = r#"(module (func (export "f") (result i32) (i32.const 42)))"#;

/// A module with only imports, globals and data, no code.
const NO_CODE: &str = r#"
(module
  (import "env" "_debug" (func (param i32 i32)))
  (memory 0 1)
  (global (export "g") i64 (i64.const -1))
  (data (i32.const 0) ""))
"#;

fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let compute = include_str!("../../guests/wat/compute.wat");
    [
        ("kitchen_sink", KITCHEN_SINK),
        ("tiny", TINY),
        ("no_code", NO_CODE),
        ("compute", compute),
    ]
    .into_iter()
    .map(|(name, text)| (name, wat::parse_str(text).expect(name)))
    .collect()
}

#[path = "../../abi/tests/support/rng.rs"]
mod rng;
use rng::Rng;

/// Bytes worth trying where a byte or a LEB128 number is expected.
const INTERESTING_BYTES: [u8; 8] = [0x00, 0x01, 0x40, 0x7f, 0x80, 0xc0, 0xfe, 0xff];

/// Encodings that stress LEB128 readers: maxima, overlong, too long,
/// unterminated, and values just past common limits.
fn interesting_leb(rng: &mut Rng) -> Vec<u8> {
    let choices: [&[u8]; 10] = [
        &[0xff, 0xff, 0xff, 0xff, 0x0f],       // u32::MAX
        &[0xff, 0xff, 0xff, 0xff, 0x7f],       // too many bits for u32
        &[0x80, 0x80, 0x80, 0x80, 0x00],       // overlong 0
        &[0x80, 0x80, 0x80, 0x80, 0x80, 0x00], // 6 bytes: too long
        &[0x80, 0x80, 0x80],                   // unterminated
        &[0x80, 0x80, 0x80, 0x80, 0x04],       // 1 << 30
        &[0x81, 0x80, 0x04],                   // 65537
        &[0x80, 0x80, 0x40],                   // i32 negative / 1 << 20
        &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], // u64::MAX
        &[0x7f],                               // -1 as a signed LEB
    ];
    choices[rng.below(choices.len())].to_vec()
}

/// Read an unsigned LEB128 at `at`: (value, length).
fn read_leb(b: &[u8], at: usize) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for i in 0..10 {
        let byte = *b.get(at + i)?;
        v |= ((byte & 0x7f) as u64) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

fn write_leb(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

/// A section of a well-formed module: where its header and contents are.
#[derive(Clone, Copy, Debug)]
struct Section {
    /// Offset of the id byte.
    start: usize,
    /// Offset of the size LEB.
    size_at: usize,
    size_len: usize,
    /// Contents.
    body: usize,
    end: usize,
}

fn sections(wasm: &[u8]) -> Vec<Section> {
    let mut out = Vec::new();
    let mut at = 8;
    while at < wasm.len() {
        let Some((size, size_len)) = read_leb(wasm, at + 1) else {
            break;
        };
        let body = at + 1 + size_len;
        let end = body.saturating_add(size as usize);
        if end > wasm.len() {
            break;
        }
        out.push(Section {
            start: at,
            size_at: at + 1,
            size_len,
            body,
            end,
        });
        at = end;
    }
    out
}

/// Apply one random edit to a binary module; returns what it did.
fn corrupt_binary(rng: &mut Rng, b: &mut Vec<u8>) -> String {
    if b.is_empty() {
        b.push(rng.byte());
        return "append to empty".into();
    }
    let secs = sections(b);
    match rng.below(10) {
        0 => {
            let bit = rng.below(b.len() * 8);
            b[bit / 8] ^= 1 << (bit % 8);
            format!("flip bit {bit}")
        }
        1 => {
            let at = rng.below(b.len());
            let v = if rng.below(2) == 0 {
                INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())]
            } else {
                rng.byte()
            };
            b[at] = v;
            format!("byte {at} = {v:#04x}")
        }
        2 => {
            let len = rng.below(b.len());
            b.truncate(len);
            format!("truncate to {len}")
        }
        3 => {
            let at = rng.below(b.len() + 1);
            let n = 1 + rng.below(8);
            for _ in 0..n {
                let v = rng.byte();
                b.insert(at, v);
            }
            format!("insert {n} bytes at {at}")
        }
        4 => {
            let at = rng.below(b.len());
            let n = (1 + rng.below(16)).min(b.len() - at);
            b.drain(at..at + n);
            format!("delete {n} bytes at {at}")
        }
        5 if !secs.is_empty() => {
            // Rewrite a section's size.
            let s = secs[rng.below(secs.len())];
            let (old, _) = read_leb(b, s.size_at).unwrap();
            let new = match rng.below(5) {
                0 => old.wrapping_add(1),
                1 => old.wrapping_sub(1),
                2 => 0,
                3 => u32::MAX as u64,
                _ => rng.next() % (b.len() as u64 * 2 + 1),
            };
            let enc = if rng.below(4) == 0 {
                interesting_leb(rng)
            } else {
                write_leb(new)
            };
            b.splice(s.size_at..s.size_at + s.size_len, enc.iter().copied());
            format!("section at {} size {old} -> {enc:02x?}", s.start)
        }
        6 if !secs.is_empty() => {
            // Overwrite a LEB-looking spot inside a section's contents (a
            // count, index, type or immediate) with a stressful encoding.
            let s = secs[rng.below(secs.len())];
            if s.body >= s.end {
                return "no-op (empty section)".into();
            }
            let at = s.body + rng.below(s.end - s.body);
            let old_len = read_leb(b, at).map_or(1, |(_, l)| l);
            let enc = interesting_leb(rng);
            b.splice(at..at + old_len.min(b.len() - at), enc.iter().copied());
            format!("LEB at {at} -> {enc:02x?}")
        }
        7 if secs.len() >= 2 => {
            // Swap two sections (order errors, and ids in the wrong place).
            let i = rng.below(secs.len() - 1);
            let (x, y) = (secs[i], secs[i + 1]);
            let mut out = b[..x.start].to_vec();
            out.extend_from_slice(&b[y.start..y.end]);
            out.extend_from_slice(&b[x.start..x.end]);
            out.extend_from_slice(&b[y.end..]);
            *b = out;
            format!("swap sections at {} and {}", x.start, y.start)
        }
        8 if !secs.is_empty() => {
            // Duplicate a section, or drop one.
            let s = secs[rng.below(secs.len())];
            if rng.below(2) == 0 {
                let copy = b[s.start..s.end].to_vec();
                b.splice(s.end..s.end, copy);
                format!("duplicate section at {}", s.start)
            } else {
                b.drain(s.start..s.end);
                format!("remove section at {}", s.start)
            }
        }
        _ => {
            // Change a section id.
            if secs.is_empty() {
                b[0] ^= 0x20;
                return "flip magic".into();
            }
            let s = secs[rng.below(secs.len())];
            let id = [0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 0x7f][rng.below(16)];
            b[s.start] = id;
            format!("section at {} id -> {id}", s.start)
        }
    }
}

/// Apply one random edit to WAT text; returns what it did.
fn corrupt_text(rng: &mut Rng, t: &mut Vec<u8>) -> String {
    if t.is_empty() {
        t.push(b'(');
        return "append to empty".into();
    }
    const TOKENS: [&str; 12] = [
        "(",
        ")",
        "\"",
        "0xffffffffffffffffff",
        "-0x80000001",
        "nan:0x0",
        "$undefined",
        "i32.add",
        "(local.get 99999)",
        "(br 42)",
        "\\ff",
        ";;",
    ];
    match rng.below(4) {
        0 => {
            let len = rng.below(t.len());
            t.truncate(len);
            format!("truncate text to {len}")
        }
        1 => {
            let at = rng.below(t.len());
            let n = (1 + rng.below(8)).min(t.len() - at);
            t.drain(at..at + n);
            format!("delete {n} chars at {at}")
        }
        2 => {
            let at = rng.below(t.len() + 1);
            let tok = TOKENS[rng.below(TOKENS.len())];
            t.splice(at..at, tok.bytes());
            format!("insert {tok:?} at {at}")
        }
        _ => {
            let at = rng.below(t.len());
            let v = rng.byte();
            t[at] = v;
            format!("text byte {at} = {v:#04x}")
        }
    }
}

struct Case {
    index: usize,
    seed: &'static str,
    edits: Vec<String>,
    input: Vec<u8>,
    text: bool,
}

fn make_cases(seeds: &[(&'static str, Vec<u8>)]) -> Vec<Case> {
    let texts = [
        ("kitchen_sink", KITCHEN_SINK),
        ("tiny", TINY),
        ("no_code", NO_CODE),
    ];
    (0..case_count())
        .map(|index| {
            let mut rng = Rng(0x6b77_6173_6d63_0000 ^ index as u64);
            // One case in ten corrupts the WAT text instead of the binary.
            if index % 10 == 9 {
                let (seed, text) = texts[rng.below(texts.len())];
                let mut t = text.as_bytes().to_vec();
                let edits = (0..1 + rng.below(3))
                    .map(|_| corrupt_text(&mut rng, &mut t))
                    .collect();
                return Case {
                    index,
                    seed,
                    edits,
                    input: t,
                    text: true,
                };
            }
            let (seed, wasm) = &seeds[rng.below(seeds.len())];
            let mut b = wasm.clone();
            let edits = (0..1 + rng.below(4))
                .map(|_| corrupt_binary(&mut rng, &mut b))
                .collect();
            Case {
                index,
                seed,
                edits,
                input: b,
                text: false,
            }
        })
        .collect()
}

#[derive(Debug)]
enum Outcome {
    Compiled,
    /// Rejected with this one-line message.
    Rejected(String),
    Bad(String),
}

/// The kind of a rejection, for the summary: the message without the
/// `kwasmc: <file>: ` prefix, up to the first offset, colon or digit.
fn error_kind(msg: &str) -> String {
    let rest = msg.splitn(3, ": ").nth(2).unwrap_or(msg);
    let end = rest
        .find(|c: char| c == ':' || c.is_ascii_digit() || c == '(' || c == '`')
        .unwrap_or(rest.len());
    let kind = rest[..end].trim_end_matches(" at offset ").trim();
    kind.chars().take(60).collect()
}

fn kwasmc(input: &Path, output: &Path) -> std::process::Output {
    exec::program(env!("CARGO_BIN_EXE_kwasmc"))
        .arg("compile")
        .arg(input)
        .arg("-o")
        .arg(output)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("spawn kwasmc")
}

/// Judge one run by the contract: exit 0, or exit 1 with one line on
/// stderr; never a signal, never a panic.
fn judge(out: &std::process::Output, output: &Path) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if let Some(sig) = out.status.signal() {
        return Outcome::Bad(format!("killed by signal {sig}; stderr: {stderr}"));
    }
    if stderr.contains("panicked at") {
        return Outcome::Bad(format!("panicked; stderr: {stderr}"));
    }
    match out.status.code() {
        Some(0) => {
            if !output.exists() {
                return Outcome::Bad("exit 0 but no output file".into());
            }
            Outcome::Compiled
        }
        Some(1) => {
            let msg = stderr.strip_suffix('\n').unwrap_or(&stderr);
            if msg.trim().is_empty() {
                Outcome::Bad("exit 1 with nothing on stderr".into())
            } else if msg.contains('\n') {
                Outcome::Bad(format!("exit 1 with a multi-line error: {stderr:?}"))
            } else {
                Outcome::Rejected(msg.to_string())
            }
        }
        Some(c) => Outcome::Bad(format!("exit status {c}; stderr: {stderr}")),
        None => Outcome::Bad("no exit status".into()),
    }
}

/// A fresh scratch directory for one test of this process (tests, and test
/// processes, run in parallel).
fn workdir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("kwasmc_hostile_inputs")
        .join(format!("{test}.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn seeds_compile() {
    let dir = workdir("seeds");
    for (name, wasm) in seeds() {
        let input = dir.join(format!("{name}.wasm"));
        let output = dir.join(format!("{name}.kw"));
        std::fs::write(&input, &wasm).unwrap();
        let out = kwasmc(&input, &output);
        assert!(
            matches!(judge(&out, &output), Outcome::Compiled),
            "seed {name} did not compile: {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn corrupted_modules_are_rejected_cleanly() {
    let seeds = seeds();
    let cases = make_cases(&seeds);
    let dir = workdir("cases");
    let next = AtomicUsize::new(0);
    let compiled = AtomicUsize::new(0);
    let rejected = Mutex::new(std::collections::BTreeMap::<String, usize>::new());
    let failures = Mutex::new(Vec::new());

    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = cases.get(i) else { break };
                    let ext = if case.text { "wat" } else { "wasm" };
                    let input = dir.join(format!("case{:04}.{ext}", case.index));
                    let output = dir.join(format!("case{:04}.kw", case.index));
                    std::fs::write(&input, &case.input).unwrap();
                    let out = kwasmc(&input, &output);
                    match judge(&out, &output) {
                        Outcome::Compiled => {
                            compiled.fetch_add(1, Ordering::Relaxed);
                        }
                        Outcome::Rejected(msg) => {
                            *rejected.lock().unwrap().entry(error_kind(&msg)).or_default() += 1;
                        }
                        Outcome::Bad(why) => {
                            // Keep the input for reproduction.
                            failures.lock().unwrap().push(format!(
                                "case {} (seed {}, edits {:?}): {why}\n  reproduce: {} compile {} -o /tmp/x.kw",
                                case.index,
                                case.seed,
                                case.edits,
                                env!("CARGO_BIN_EXE_kwasmc"),
                                input.display()
                            ));
                            continue;
                        }
                    }
                    let _ = std::fs::remove_file(&input);
                    let _ = std::fs::remove_file(&output);
                }
            });
        }
    });

    let failures = failures.into_inner().unwrap();
    let rejected = rejected.into_inner().unwrap();
    println!(
        "kwasmc hostile inputs: {} cases, {} compiled, {} rejected, {} bad",
        cases.len(),
        compiled.into_inner(),
        rejected.values().sum::<usize>(),
        failures.len()
    );
    let mut kinds: Vec<_> = rejected.into_iter().collect();
    kinds.sort_by_key(|k| std::cmp::Reverse(k.1));
    for (kind, n) in kinds.iter().take(12) {
        println!("  {n:4} {kind}");
    }
    if failures.is_empty() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(
        failures.is_empty(),
        "{} of {} corrupted inputs were mishandled:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn corruptions_are_deterministic() {
    // The same seeds give the same cases, so a reported case number
    // reproduces.
    let seeds = seeds();
    let a = make_cases(&seeds);
    let b = make_cases(&seeds);
    assert_eq!(a.len(), case_count());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.input, y.input, "case {}", x.index);
        assert_eq!(x.edits, y.edits);
    }
    // And they actually differ from the seeds.
    let unchanged = a
        .iter()
        .filter(|c| !c.text && seeds.iter().any(|(_, w)| *w == c.input))
        .count();
    assert!(
        unchanged < case_count() / 20,
        "{unchanged} cases left a seed unchanged"
    );
}
