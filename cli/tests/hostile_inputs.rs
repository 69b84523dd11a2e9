//! `kwasm run` on hostile `.kw` files: valid artifacts (compiled with
//! `kwasm_compiler::compile`) corrupted a thousand ways: the ELF header, the
//! section headers, `.text`, `.kwasm.meta` with a stale checksum and with a
//! re-stamped one, truncation and trailing garbage.
//!
//! Every run must end with exit status 0, 1 or 2 (success, load error, trap),
//! never by a signal and never by a panic. The corruptions come from fixed
//! seeds; a failure names its case and keeps the file for reproduction.
//!
//! Corrupting `.text` is caught by the CRC-32 of the code that the metadata
//! carries, so it is a loader-level case. Re-stamping edited metadata (which
//! can point a function anywhere in `.text` or change the `VmCtx` layout the
//! code was compiled for) still runs arbitrary machine code: a `.kw`'s code is
//! trusted by design, no loader can tell good code from bad, and such code can write
//! through a stray register into the runner's own memory, which no safety
//! net can undo. For these *code-level* cases a crash or a hang is reported
//! but tolerated; a panic still fails. Every other (*loader-level*) case must
//! meet the contract above, without hanging. Each run has a generous
//! wall-clock limit (a guard against corrupted code looping forever, not a
//! performance assertion). When the test runs as root, children run as
//! `nobody` so that stray code cannot do much.

#[path = "../../abi/tests/support/exec.rs"]
mod exec;
use kwasm_compiler::{CompileOptions, compile};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Cases per run natively; under qemu-aarch64 (`make aarch64-test`) the
/// first [`EMULATED_CASES`] of them.
const CASES: usize = 1000;
const EMULATED_CASES: usize = 300;

fn case_count() -> usize {
    exec::cases(CASES, EMULATED_CASES)
}
const WORKERS: usize = 2;
/// Wall-clock limit of one run. Not a performance assertion: only a guard
/// against corrupted code that loops forever.
const HANG_LIMIT: Duration = Duration::from_secs(30);

/// Exercises imports, memory, data, a table with an active segment, indirect
/// calls, globals, a start function, loops and floats; `main` needs no
/// arguments.
const KITCHEN_SINK: &str = r#"
(module
  (type $bin (func (param i32 i32) (result i32)))
  (import "kwasm" "log" (func $log (param i32 i32)))
  (memory 1 2)
  (table 4 funcref)
  (global $g (mut i32) (i32.const 0))
  (global $f (mut f64) (f64.const 0.5))
  (elem (i32.const 0) $add $sub)
  (data (i32.const 16) "hello, world")
  (start $init)
  (func $init (global.set $g (i32.const 7)))
  (func $add (type $bin) (i32.add (local.get 0) (local.get 1)))
  (func $sub (type $bin) (i32.sub (local.get 0) (local.get 1)))
  (func (export "main") (result i32)
    (local $i i32) (local $acc i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (i32.const 100)))
        (local.set $acc
          (call_indirect (type $bin)
            (local.get $acc) (local.get $i) (i32.and (local.get $i) (i32.const 1))))
        (i32.store8 (i32.add (i32.const 64) (local.get $i)) (local.get $acc))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (global.set $f (f64.mul (global.get $f) (f64.convert_i32_s (local.get $acc))))
    (i32.add (local.get $acc)
      (i32.add (global.get $g) (i32.trunc_sat_f64_s (global.get $f)))))
  (func (export "log") (result i32)
    (call $log (i32.const 16) (i32.const 12))
    (i32.load8_u (i32.const 16)))
  (func (export "trap") (result i32)
    (i32.div_s (i32.const 1) (global.get $g)) (drop)
    (unreachable)))
"#;

const TINY: &str = r#"(module (func (export "main") (result i32) (i32.const 42)))"#;

/// Seed artifacts and the exports (without parameters) to call.
fn seeds() -> Vec<(&'static str, Vec<u8>, &'static [&'static str])> {
    let compute = include_str!("../../guests/wat/compute.wat");
    let hello = include_str!("../../guests/wat/hello.wat");
    let list: [(&'static str, &str, &'static [&'static str]); 4] = [
        ("kitchen_sink", KITCHEN_SINK, &["main", "log", "trap"]),
        ("tiny", TINY, &["main"]),
        ("compute", compute, &["counter"]),
        ("hello", hello, &["run", "main"]),
    ];
    list.into_iter()
        .map(|(name, text, exports)| {
            let kw = compile(text.as_bytes(), &CompileOptions::default())
                .unwrap_or_else(|e| panic!("seed {name} does not compile: {e}"));
            (name, kw, exports)
        })
        .collect()
}

#[path = "../../abi/tests/support/rng.rs"]
mod rng;
use rng::Rng;

// ---------------------------------------------------------------------------
// Just enough ELF64 to aim the corruptions.

fn rd(b: &[u8], at: usize, n: usize) -> u64 {
    let mut v = 0u64;
    for i in 0..n {
        v |= (b[at + i] as u64) << (8 * i);
    }
    v
}

fn wr(b: &mut [u8], at: usize, n: usize, v: u64) {
    for i in 0..n {
        b[at + i] = (v >> (8 * i)) as u8;
    }
}

#[derive(Clone, Debug)]
struct Shdr {
    /// File offset of this section header.
    at: usize,
    name: String,
    offset: usize,
    size: usize,
}

/// The section headers of a `.kw`, or `None` once they are too damaged to
/// aim at.
fn section_headers(elf: &[u8]) -> Option<Vec<Shdr>> {
    let get = |at: usize, n: usize| (at.checked_add(n)? <= elf.len()).then(|| rd(elf, at, n));
    let shoff = usize::try_from(get(0x28, 8)?).ok()?;
    let shnum = get(0x3c, 2)? as usize;
    let shstrndx = get(0x3e, 2)? as usize;
    let hdr = |i: usize| -> Option<(usize, usize, usize, usize)> {
        let at = shoff.checked_add(64 * i)?;
        Some((
            at,
            get(at, 4)? as usize,
            usize::try_from(get(at + 24, 8)?).ok()?,
            usize::try_from(get(at + 32, 8)?).ok()?,
        ))
    };
    let (_, _, stroff, _) = hdr(shstrndx)?;
    (0..shnum)
        .map(|i| {
            let (at, name, offset, size) = hdr(i)?;
            let s = elf.get(stroff.checked_add(name)?..)?;
            let end = s.iter().position(|&c| c == 0)?;
            (offset.checked_add(size)? <= elf.len()).then(|| Shdr {
                at,
                name: String::from_utf8_lossy(&s[..end]).into_owned(),
                offset,
                size,
            })
        })
        .collect()
}

/// `.text` and `.kwasm.meta`, when both are intact enough to aim at.
fn text_and_meta(shdrs: &[Shdr]) -> Option<(Shdr, Shdr)> {
    let find = |name: &str| {
        shdrs
            .iter()
            .find(|s| s.name == name && s.size >= 32)
            .cloned()
    };
    Some((find(".text")?, find(kwasm_abi::meta::SECTION_NAME)?))
}

/// Re-stamp the metadata blob's CRC-32 (over the blob with the field zeroed).
fn restamp_meta(meta: &mut [u8]) {
    const AT: usize = 24;
    if meta.len() < AT + 4 {
        return;
    }
    meta[AT..AT + 4].fill(0);
    let sum = kwasm_abi::meta::crc32(0, meta);
    meta[AT..AT + 4].copy_from_slice(&sum.to_le_bytes());
}

fn interesting_u64(rng: &mut Rng, file_len: usize) -> u64 {
    let l = file_len as u64;
    let v = [
        0,
        1,
        7,
        64,
        0xffff,
        0x7fff_ffff,
        0xffff_ffff,
        0x1_0000_0000,
        u64::MAX,
        u64::MAX - 63,
        i64::MAX as u64,
        l,
        l - 1,
        l + 1,
        l / 2,
    ];
    if rng.below(4) == 0 {
        rng.next()
    } else {
        v[rng.below(v.len())]
    }
}

/// What a corruption may do when run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Level {
    /// The loader must catch it or run the program correctly.
    Loader,
    /// It may change the code that runs (see the module docs).
    Code,
}

/// Apply one corruption of the given class; returns what it did.
fn corrupt(rng: &mut Rng, elf: &mut Vec<u8>, class: usize) -> (String, Level) {
    let len = elf.len();
    // Once the section headers are too damaged, only blind edits remain.
    let Some((shdrs, (text, meta))) =
        section_headers(elf).and_then(|s| text_and_meta(&s).map(|tm| (s, tm)))
    else {
        let to = rng.below(len);
        elf.truncate(to);
        return (format!("truncate to {to}"), Level::Loader);
    };
    match class {
        0 => {
            let bit = rng.below(64 * 8);
            elf[bit / 8] ^= 1 << (bit % 8);
            (format!("ELF header: flip bit {bit}"), Level::Loader)
        }
        1 => {
            // (name, offset, size) of header fields.
            const FIELDS: [(&str, usize, usize); 12] = [
                ("EI_CLASS", 4, 1),
                ("EI_DATA", 5, 1),
                ("EI_VERSION", 6, 1),
                ("e_type", 0x10, 2),
                ("e_machine", 0x12, 2),
                ("e_phoff", 0x20, 8),
                ("e_shoff", 0x28, 8),
                ("e_ehsize", 0x34, 2),
                ("e_phnum", 0x38, 2),
                ("e_shentsize", 0x3a, 2),
                ("e_shnum", 0x3c, 2),
                ("e_shstrndx", 0x3e, 2),
            ];
            let (name, at, n) = FIELDS[rng.below(FIELDS.len())];
            let v = interesting_u64(rng, len);
            wr(elf, at, n, v);
            (format!("ELF header: {name} = {v:#x}"), Level::Loader)
        }
        2 => {
            const FIELDS: [(&str, usize, usize); 9] = [
                ("sh_name", 0, 4),
                ("sh_type", 4, 4),
                ("sh_flags", 8, 8),
                ("sh_offset", 24, 8),
                ("sh_size", 32, 8),
                ("sh_link", 40, 4),
                ("sh_info", 44, 4),
                ("sh_addralign", 48, 8),
                ("sh_entsize", 56, 8),
            ];
            // Aim at .text and .kwasm.meta half of the time.
            let s = match rng.below(4) {
                0 => &text,
                1 => &meta,
                _ => &shdrs[rng.below(shdrs.len())],
            };
            let (field, at, n) = FIELDS[rng.below(FIELDS.len())];
            let v = match rng.below(3) {
                0 => rd(elf, s.at + at, n).wrapping_add(1 + rng.below(16) as u64),
                1 => rd(elf, s.at + at, n).wrapping_sub(1 + rng.below(16) as u64),
                _ => interesting_u64(rng, len),
            };
            wr(elf, s.at + at, n, v);
            (
                format!("section header {:?}: {field} = {v:#x}", s.name),
                Level::Loader,
            )
        }
        3 => {
            let first = shdrs[0].at;
            let bit = rng.below((len - first) * 8);
            elf[first + bit / 8] ^= 1 << (bit % 8);
            (format!("section headers: flip bit {bit}"), Level::Loader)
        }
        4 => {
            let n = 1 + rng.below(4);
            let mut what = Vec::new();
            for _ in 0..n {
                let at = text.offset + rng.below(text.size);
                if rng.below(2) == 0 {
                    let bit = rng.below(8);
                    elf[at] ^= 1 << bit;
                    what.push(format!("flip {at}.{bit}"));
                } else {
                    let v = rng.next() as u8;
                    elf[at] = v;
                    what.push(format!("{at} = {v:#04x}"));
                }
            }
            // The metadata carries a CRC-32 of `.text`, so a changed
            // byte must be refused at load like any other loader-level case.
            (format!(".text: {}", what.join(", ")), Level::Loader)
        }
        5 => {
            let bit = rng.below(meta.size * 8);
            elf[meta.offset + bit / 8] ^= 1 << (bit % 8);
            (
                format!(".kwasm.meta: flip bit {bit}, stale checksum"),
                Level::Loader,
            )
        }
        6 => {
            let blob = &mut elf[meta.offset..meta.offset + meta.size];
            let n = 1 + rng.below(3);
            let mut what = Vec::new();
            for _ in 0..n {
                let at = rng.below(blob.len());
                match rng.below(3) {
                    0 => {
                        let bit = rng.below(8);
                        blob[at] ^= 1 << bit;
                        what.push(format!("flip {at}.{bit}"));
                    }
                    1 => {
                        let v = rng.next() as u8;
                        blob[at] = v;
                        what.push(format!("{at} = {v:#04x}"));
                    }
                    _ => {
                        let at = at.min(blob.len() - 4);
                        let v = interesting_u64(rng, blob.len()) as u32;
                        wr(blob, at, 4, v as u64);
                        what.push(format!("u32 at {at} = {v:#x}"));
                    }
                }
            }
            restamp_meta(blob);
            (
                format!(".kwasm.meta: {}, checksum re-stamped", what.join(", ")),
                Level::Code,
            )
        }
        7 => {
            if rng.below(3) == 0 {
                let n = 1 + rng.below(64);
                for _ in 0..n {
                    let v = rng.next() as u8;
                    elf.push(v);
                }
                (format!("append {n} bytes"), Level::Loader)
            } else {
                let to = rng.below(len);
                elf.truncate(to);
                (format!("truncate to {to}"), Level::Loader)
            }
        }
        _ => {
            // Sections the loader does not need (symbols, strings).
            let others: Vec<&Shdr> = shdrs
                .iter()
                .filter(|s| s.size > 0 && s.name != ".text" && s.name != meta.name)
                .collect();
            let Some(s) = others.get(rng.below(others.len())) else {
                return ("no other section: no-op".into(), Level::Loader);
            };
            let at = s.offset + rng.below(s.size);
            let v = rng.next() as u8;
            elf[at] = v;
            (format!("{:?}: byte {at} = {v:#04x}", s.name), Level::Loader)
        }
    }
}

struct Case {
    index: usize,
    seed: &'static str,
    export: &'static str,
    edits: Vec<String>,
    level: Level,
    bytes: Vec<u8>,
}

fn make_cases(seeds: &[(&'static str, Vec<u8>, &'static [&'static str])]) -> Vec<Case> {
    (0..case_count())
        .map(|index| {
            let mut rng = Rng(0x6b77_6173_6d72_756e ^ (index as u64).wrapping_mul(0x1000_0001));
            let (seed, kw, exports) = &seeds[rng.below(seeds.len())];
            let export = exports[rng.below(exports.len())];
            let mut bytes = kw.clone();
            // Every class equally often; one case in ten stacks up to three.
            let mut classes = vec![index % 9];
            if index % 10 == 7 {
                classes.extend((0..1 + rng.below(2)).map(|_| rng.below(9)));
            }
            let mut edits = Vec::new();
            let mut level = Level::Loader;
            for class in classes {
                let (what, l) = corrupt(&mut rng, &mut bytes, class);
                edits.push(what);
                if l == Level::Code {
                    level = Level::Code;
                }
            }
            Case {
                index,
                seed,
                export,
                edits,
                level,
                bytes,
            }
        })
        .collect()
}

enum Outcome {
    /// Exit status 0, 1 or 2.
    Status(i32),
    Hung,
    /// Killed by this signal.
    Signal(i32, String),
    Bad(String),
}

fn kwasm_cmd(file: &Path, export: &str) -> Command {
    let mut c = exec::program(env!("CARGO_BIN_EXE_kwasm"));
    c.arg("run")
        .arg(file)
        .arg("--invoke")
        .arg(export)
        .arg("--fuel")
        .arg("100000000")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        c.uid(65534).gid(65534);
    }
    c
}

fn run(file: &Path, export: &str) -> Outcome {
    let mut child = kwasm_cmd(file, export).spawn().expect("spawn kwasm");
    // Drain the pipes on threads so a chatty child cannot block.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut err, &mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if start.elapsed() > HANG_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let _ = out_t.join();
    let stderr = String::from_utf8_lossy(&err_t.join().unwrap_or_default()).into_owned();
    let Some(status) = status else {
        return Outcome::Hung;
    };
    if stderr.contains("panicked at") {
        return Outcome::Bad(format!("panicked: {stderr}"));
    }
    if let Some(sig) = status.signal() {
        return Outcome::Signal(sig, stderr);
    }
    match status.code() {
        Some(c @ 0..=2) => {
            if c != 0 && stderr.trim().is_empty() {
                return Outcome::Bad(format!("exit {c} without a message"));
            }
            Outcome::Status(c)
        }
        Some(c) => Outcome::Bad(format!("exit status {c}; stderr: {stderr}")),
        None => Outcome::Bad("no exit status".into()),
    }
}

fn workdir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("kwasm_hostile_inputs")
        .join(format!("{test}.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn seeds_run() {
    let dir = workdir("seeds");
    for (name, kw, exports) in seeds() {
        let file = dir.join(format!("{name}.kw"));
        std::fs::write(&file, &kw).unwrap();
        for export in exports {
            match run(&file, export) {
                Outcome::Status(c) => {
                    let want = if *export == "trap" { 2 } else { 0 };
                    assert_eq!(c, want, "seed {name} --invoke {export}");
                }
                Outcome::Hung => panic!("seed {name} --invoke {export} hung"),
                Outcome::Signal(sig, _) => {
                    panic!("seed {name} --invoke {export}: killed by signal {sig}")
                }
                Outcome::Bad(why) => panic!("seed {name} --invoke {export}: {why}"),
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn corrupted_artifacts_never_crash_the_runner() {
    let seeds = seeds();
    let cases = make_cases(&seeds);
    let dir = workdir("cases");
    let next = AtomicUsize::new(0);
    let statuses = [0, 1, 2].map(|_| AtomicUsize::new(0));
    // Code-level cases that hung or crashed: reported, not failures.
    let tolerated = Mutex::new(Vec::new());
    let failures = Mutex::new(Vec::new());

    std::thread::scope(|s| {
        for _ in 0..WORKERS {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = cases.get(i) else { break };
                    let file = dir.join(format!("case{:04}.kw", case.index));
                    std::fs::write(&file, &case.bytes).unwrap();
                    let describe = || {
                        format!(
                            "case {} (seed {}, {:?}-level, edits {:?})\n  reproduce: {} run {} --invoke {}",
                            case.index,
                            case.seed,
                            case.level,
                            case.edits,
                            env!("CARGO_BIN_EXE_kwasm"),
                            file.display(),
                            case.export
                        )
                    };
                    match run(&file, case.export) {
                        Outcome::Status(c) => {
                            statuses[c as usize].fetch_add(1, Ordering::Relaxed);
                            let _ = std::fs::remove_file(&file);
                        }
                        Outcome::Hung if case.level == Level::Code => {
                            tolerated.lock().unwrap().push(format!("hung: {}", describe()));
                        }
                        Outcome::Signal(sig, _) if case.level == Level::Code => {
                            tolerated
                                .lock()
                                .unwrap()
                                .push(format!("killed by signal {sig}: {}", describe()));
                        }
                        Outcome::Hung => failures
                            .lock()
                            .unwrap()
                            .push(format!("{}: hung", describe())),
                        Outcome::Signal(sig, stderr) => failures.lock().unwrap().push(format!(
                            "{}: killed by signal {sig}; stderr: {stderr}",
                            describe()
                        )),
                        Outcome::Bad(why) => failures
                            .lock()
                            .unwrap()
                            .push(format!("{}: {why}", describe())),
                    }
                }
            });
        }
    });

    let failures = failures.into_inner().unwrap();
    let mut tolerated = tolerated.into_inner().unwrap();
    tolerated.sort();
    let [ok, load_err, trapped] = statuses.map(|a| a.into_inner());
    println!(
        "kwasm hostile inputs: {} cases ({} code-level): exit 0: {ok}, exit 1: {load_err}, exit 2: {trapped}, \
         code-level hangs/crashes (tolerated): {}, bad: {}",
        cases.len(),
        cases.iter().filter(|c| c.level == Level::Code).count(),
        tolerated.len(),
        failures.len()
    );
    for t in &tolerated {
        println!("  {t}");
    }
    if failures.is_empty() && std::env::var_os("KWASM_KEEP_CASES").is_none() {
        // Set KWASM_KEEP_CASES=1 to keep the tolerated cases' files.
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(
        failures.is_empty(),
        "{} of {} corrupted artifacts were mishandled:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn corruptions_are_deterministic() {
    let seeds = seeds();
    let a = make_cases(&seeds);
    let b = make_cases(&seeds);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.bytes, y.bytes, "case {}", x.index);
        assert_eq!(x.edits, y.edits);
    }
    let unchanged = a
        .iter()
        .filter(|c| seeds.iter().any(|(_, kw, _)| *kw == c.bytes))
        .count();
    assert!(
        unchanged < case_count() / 20,
        "{unchanged} cases left a seed unchanged"
    );
}
