//! End-to-end tests of `kwasm run`: compile small WAT programs with
//! `kwasm_compiler::compile`, write the `.kw` to a temporary directory and
//! run the real binary. Traps must exit with status 2 (never a signal), load
//! errors with status 1. Also `kwasm bench --user`, the same runner timed.

#[path = "../../runtime/tests/common/mod.rs"]
mod common;
#[path = "../../abi/tests/support/exec.rs"]
mod exec;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// A fresh directory under the target dir for this test's files.
fn temp_dir(test: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("run_cli-{test}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Compile `wat` to `<test>/prog.kw` and return its path.
fn build(test: &str, wat: &str) -> PathBuf {
    let kw = kwasm_compiler::compile(wat.as_bytes(), &kwasm_compiler::CompileOptions::default())
        .unwrap_or_else(|e| panic!("compile failed: {e}"));
    let path = temp_dir(test).join("prog.kw");
    std::fs::write(&path, kw).unwrap();
    path
}

fn kwasm(args: &[&str]) -> Output {
    exec::program(env!("CARGO_BIN_EXE_kwasm"))
        .args(args)
        .output()
        .expect("run kwasm")
}

fn run(path: &Path, args: &[&str]) -> Output {
    let mut a = vec!["run", path.to_str().unwrap()];
    a.extend_from_slice(args);
    kwasm(&a)
}

/// How long [`wait_watched`] lets a child run. Only a guard that turns a
/// hang into a failure: no test asserts how long a run takes.
const WATCHDOG: Duration = Duration::from_secs(120);

/// Wait for `child` (stdout and stderr piped) and collect its output; kill it
/// and fail if it is still running after [`WATCHDOG`].
fn wait_watched(mut child: Child, what: &str) -> Output {
    let pipe = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut v);
            }
            v
        })
    };
    let out = pipe(child.stdout.take().map(|p| Box::new(p) as _));
    let err = pipe(child.stderr.take().map(|p| Box::new(p) as _));
    let start = Instant::now();
    let status: ExitStatus = loop {
        if let Some(s) = child.try_wait().expect("wait for kwasm") {
            break s;
        }
        if start.elapsed() > WATCHDOG {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {WATCHDOG:?}, killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// [`run`], failing instead of hanging if `kwasm` does not finish.
fn run_watched(path: &Path, args: &[&str]) -> Output {
    let child = exec::program(env!("CARGO_BIN_EXE_kwasm"))
        .arg("run")
        .arg(path)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kwasm");
    wait_watched(child, &format!("kwasm run {args:?}"))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The program traps: exit status 2 (not a signal) and `msg` in stderr.
fn assert_trap(o: &Output, msg: &str) {
    assert_eq!(
        o.status.code(),
        Some(2),
        "expected exit 2, got {:?}; stderr: {}",
        o.status,
        stderr(o)
    );
    let e = stderr(o);
    assert!(e.contains(msg), "stderr {e:?} does not mention {msg:?}");
}

const PROG: &str = r#"
(module
  (import "kwasm" "log" (func $log (param i32 i32)))
  (memory 1)
  (data (i32.const 0) "hello from wasm")
  (func (export "add") (param i32 i32) (result i32)
    local.get 0 local.get 1 i32.add)
  (func (export "pair") (param i64 f64) (result i64 f64)
    local.get 0 i64.const 1 i64.add
    local.get 1 f64.const 2 f64.mul)
  (func (export "fdiv") (param f32 f32) (result f32)
    local.get 0 local.get 1 f32.div)
  (func (export "hello") (result i32)
    (call $log (i32.const 0) (i32.const 15))
    i32.const 7)
  (func $div (export "div") (param i32 i32) (result i32)
    local.get 0 local.get 1 i32.div_s)
  (func $peek (export "peek") (param i32) (result i32)
    local.get 0 i32.load)
  (func $boom (export "boom") unreachable)
  (func $rec (export "rec") (param i32) (result i32)
    local.get 0 i32.const 1 i32.add call $rec)
  (func $spin (export "spin") (loop $l br $l))
)
"#;

#[test]
fn prints_results() {
    let p = build("prints_results", PROG);
    let o = run(&p, &["--invoke", "add", "40", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "42\n");

    let o = run(&p, &["--invoke", "add", "-1", "0x10"]);
    assert_eq!(stdout(&o), "15\n");

    let o = run(&p, &["--invoke", "pair", "41", "1.25", "--typed"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "i64:42\nf64:2.5\n");

    let o = run(&p, &["--invoke", "fdiv", "1", "0"]);
    assert_eq!(stdout(&o), "inf\n");
    let o = run(&p, &["--invoke", "fdiv", "nan", "1"]);
    assert_eq!(stdout(&o), "nan\n");
    let o = run(&p, &["--invoke", "fdiv", "-inf", "2"]);
    assert_eq!(stdout(&o), "-inf\n");
}

#[test]
fn host_log_goes_to_stderr() {
    let p = build("host_log", PROG);
    let o = run(&p, &["--invoke", "hello"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "7\n");
    assert!(stderr(&o).contains("hello from wasm"));
}

#[test]
fn divide_by_zero_traps() {
    let p = build("div0", PROG);
    let o = run(&p, &["--invoke", "div", "1", "0"]);
    assert_trap(&o, "trap: integer divide by zero in function");
    assert!(stderr(&o).contains("(div)"), "{}", stderr(&o));
    let o = run(&p, &["--invoke", "div", "-2147483648", "-1"]);
    assert_trap(&o, "integer overflow");
}

#[test]
fn out_of_bounds_read_traps() {
    let p = build("oob", PROG);
    let o = run(&p, &["--invoke", "peek", "65533"]);
    assert_trap(&o, "out of bounds memory access");
    assert!(stderr(&o).contains("(peek)"), "{}", stderr(&o));
    let o = run(&p, &["--invoke", "peek", "65532"]);
    assert_eq!(stdout(&o), "0\n");
}

#[test]
fn unreachable_traps() {
    let p = build("unreachable", PROG);
    let o = run(&p, &["--invoke", "boom"]);
    assert_trap(&o, "trap: unreachable in function");
    assert!(stderr(&o).contains("(boom)"), "{}", stderr(&o));
}

#[test]
fn infinite_recursion_is_a_stack_overflow() {
    let p = build("recursion", PROG);
    let o = run(&p, &["--invoke", "rec", "0"]);
    assert_trap(&o, "stack overflow");
    assert!(stderr(&o).contains("(rec)"), "{}", stderr(&o));
}

#[test]
fn infinite_loop_runs_out_of_fuel() {
    let p = build("fuel", PROG);
    let o = run(&p, &["--invoke", "spin", "--fuel", "100000"]);
    assert_trap(&o, "out of fuel");
    assert!(stderr(&o).contains("(spin)"), "{}", stderr(&o));
}

/// Without `--fuel` a call gets the kernel's default fuel, so an endless
/// loop ends with the out-of-fuel trap instead of spinning for minutes.
#[test]
fn infinite_loop_runs_out_of_default_fuel() {
    let p = build("default_fuel", PROG);
    let o = run_watched(&p, &["--invoke", "spin"]);
    assert_trap(&o, "trap: out of fuel");
    assert!(stderr(&o).contains("(spin)"), "{}", stderr(&o));
}

const SPIN_PROG: &str = r#"
(module
  (import "kwasm" "log" (func $log (param i32 i32)))
  (memory 1)
  (data (i32.const 0) "spinning")
  (func (export "spin")
    (call $log (i32.const 0) (i32.const 8))
    (loop $l br $l)))
"#;

/// A SIGSEGV sent by another process while wasm code runs is no fault of
/// that code: `kwasm run` dies of it, as a process does, instead of
/// reporting a trap.
#[test]
fn sent_sigsegv_kills_instead_of_trapping() {
    use std::io::BufRead;
    use std::os::unix::process::ExitStatusExt;

    let p = build("kill_segv", SPIN_PROG);
    let mut cmd = exec::program(env!("CARGO_BIN_EXE_kwasm"));
    cmd.arg("run")
        .arg(&p)
        .args(["--invoke", "spin", "--fuel", "1000000000000000"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    common::without_core_dumps(&mut cmd);
    let mut child = cmd.spawn().expect("spawn kwasm");
    // The program logs once before it loops: once the line is out, the
    // process is inside the wasm call.
    let (tx, rx) = std::sync::mpsc::channel();
    let err = std::io::BufReader::new(child.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        for line in err.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    loop {
        match rx.recv_timeout(WATCHDOG) {
            Ok(l) => {
                let ready = l.contains("spinning");
                lines.push(l);
                if ready {
                    break;
                }
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("kwasm run never reached the loop ({e}); stderr: {lines:?}");
            }
        }
    }
    // SAFETY: kill(2) on our own child, which has not been waited for.
    let r = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGSEGV) };
    assert_eq!(r, 0, "kill: {}", std::io::Error::last_os_error());
    let o = wait_watched(child, "kwasm run after kill -SEGV");
    reader.join().unwrap();
    lines.extend(rx.try_iter());
    assert_eq!(
        o.status.signal(),
        Some(libc::SIGSEGV),
        "expected death by SIGSEGV, got {:?}; stderr: {lines:?}",
        o.status
    );
    assert!(
        !lines.iter().any(|l| l.contains("trap")),
        "stderr: {lines:?}"
    );
}

#[test]
fn trap_in_start_function() {
    let p = build(
        "start",
        r#"(module (func $s unreachable) (start $s) (func (export "f")))"#,
    );
    let o = run(&p, &["--invoke", "f"]);
    assert_trap(&o, "unreachable");
}

#[test]
fn bad_inputs_exit_1() {
    let d = temp_dir("bad_inputs");
    let garbage = d.join("garbage.kw");
    std::fs::write(&garbage, b"\x7fELF not really").unwrap();
    let o = kwasm(&["run", garbage.to_str().unwrap(), "--invoke", "f"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with(&format!("kwasm: {}: ", garbage.display())));

    // A .wasm is compiled first: this one has no export `f`.
    let wasm = d.join("prog.wasm");
    std::fs::write(&wasm, b"\0asm\x01\0\0\0").unwrap();
    let o = kwasm(&["run", wasm.to_str().unwrap(), "--invoke", "f"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("`f`"), "{}", stderr(&o));
    // Neither a .kw, nor wasm, nor WAT.
    let junk = d.join("junk.wasm");
    std::fs::write(&junk, b"\x01\x02\xff\xfe").unwrap();
    let o = kwasm(&["run", junk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with(&format!("kwasm: {}: ", junk.display()))
            && stderr(&o).contains("nor WAT text"),
        "{}",
        stderr(&o)
    );

    let o = kwasm(&["run", d.join("missing.kw").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));

    // A truncated artifact.
    let p = build("bad_inputs_trunc", PROG);
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let o = run(&p, &["--invoke", "add", "1", "2"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));

    // Wrong arguments.
    let p = build("bad_inputs_args", PROG);
    for args in [
        &["--invoke", "add", "1"][..],
        &["--invoke", "add", "1", "x"],
        &["--invoke", "nope"],
    ] {
        let o = run(&p, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).starts_with("kwasm: "), "{}", stderr(&o));
    }
}

#[test]
fn help_works() {
    let o = kwasm(&["run", "--help"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("--invoke"));
    // The help names the default fuel, which is the kernel's.
    let default = format!("[default: {}]", kwasm_abi::fuel::DEFAULT);
    assert!(stdout(&o).contains(&default), "{}", stdout(&o));
    let o = kwasm(&["--help"]);
    assert!(o.status.success());
}

const HOST_PROG: &str = r#"
(module
  (import "kwasm" "pkt_len" (func $pkt_len (result i32)))
  (import "kwasm" "pkt_load" (func $pkt_load (param i32 i32 i32) (result i32)))
  (import "kwasm" "map_add" (func $map_add (param i32 i32 i64) (result i64)))
  (import "kwasm" "map_get" (func $map_get (param i32 i32) (result i64)))
  (memory 1)
  (@custom "kwasm.maps" "\04\00\00\00")
  (func (export "filter") (param i32) (result i32)
    (drop (call $map_add (i32.const 0) (i32.const 3) (i64.const 5)))
    (drop (call $map_add (i32.const 0) (i32.const 3) (i64.const 2)))
    (i64.ne (call $map_get (i32.const 0) (i32.const 3)) (i64.const 7))
    if unreachable end
    (drop (call $pkt_load (i32.const 1) (i32.const 100) (i32.const 8)))
    (i32.add (call $pkt_len) (i32.load8_u (i32.const 100))))
  (func (export "badmap") (result i64) (call $map_get (i32.const 0) (i32.const 4)))
  (func (export "badload") (result i32)
    (call $pkt_load (i32.const 0) (i32.const 65535) (i32.const 2)))
)
"#;

#[test]
fn host_api_packet_and_maps() {
    let p = build("host_api", HOST_PROG);
    let pkt = p.with_file_name("pkt.bin");
    std::fs::write(&pkt, b"ABCDEFG").unwrap();
    // No --invoke: the entry export `filter` runs. 7 bytes + 'B'.
    let o = run(&p, &["--packet", pkt.to_str().unwrap(), "9"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "73\n");
    // Without a packet, pkt_len is 0 and nothing is copied.
    let o = run(&p, &["1"]);
    assert_eq!(stdout(&o), "0\n");
    let o = run(&p, &["--invoke", "badmap"]);
    assert_trap(&o, "host function error");
    let o = run(
        &p,
        &["--invoke", "badload", "--packet", pkt.to_str().unwrap()],
    );
    assert_trap(&o, "out of bounds memory access");
}

/// `kwasm run` takes a .wasm or .wat and compiles it first, with
/// kwasmc's options; a WASI module is refused with what to change.
#[test]
fn run_compiles_wasm_and_wat() {
    let d = temp_dir("run_wasm");
    let wat = d.join("p.wat");
    std::fs::write(&wat, PROG).unwrap();
    let o = kwasm(&[
        "run",
        wat.to_str().unwrap(),
        "--invoke",
        "add",
        "2",
        "3",
        "--opt",
        "none",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "5\n");
    let wasm = d.join("p.wasm");
    std::fs::write(&wasm, wat::parse_str(PROG).unwrap()).unwrap();
    let o = kwasm(&["run", wasm.to_str().unwrap(), "--invoke", "add", "2", "3"]);
    assert_eq!(stdout(&o), "5\n", "{}", stderr(&o));
    let wasi = d.join("wasi.wat");
    std::fs::write(
        &wasi,
        r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
             (func (export "filter") (param i32) (result i32) i32.const 1))"#,
    )
    .unwrap();
    let o = kwasm(&["run", wasi.to_str().unwrap(), "20"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("kwasm programs have no WASI"),
        "{}",
        stderr(&o)
    );
}

/// `--events` prints what the call wrote to the program's ring_buf, and
/// the records that did not fit (guests/wat/events.wat).
#[test]
fn run_prints_ring_events() {
    let p = build("events", include_str!("../../guests/wat/events.wat"));
    let o = run(&p, &["--invoke", "emit", "5", "--events"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "0\nevent 0: event\n");
    let o = run(&p, &["--invoke", "emit", "5000", "--events"]);
    assert_eq!(stdout(&o), "-7\nevent 0: 1 dropped (ring full)\n");
    let o = run(&p, &["--invoke", "emit", "5"]);
    assert_eq!(stdout(&o), "0\n", "no --events, no event lines");
}

// `kwasm bench --user`: the userspace measurement on a packet the CLI
// builds. (The kernel side is tested in the VM: `vm/checks/80-bench.sh`.)
// No assertion depends on timing.

/// Drops packets longer than 100 bytes, accepts the others.
const BY_LENGTH: &str = r#"(module
  (func (export "filter") (param i32) (result i32)
    local.get 0
    i32.const 100
    i32.gt_u
    if (result i32) i32.const 0 else i32.const 1 end))"#;

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("one JSON object")
}

#[test]
fn bench_user_counts_verdicts() {
    let kw = build("bench_user", BY_LENGTH);
    let kw = kw.to_str().unwrap();
    let small = json(&kwasm(&[
        "bench", kw, "--user", "--udp", "53", "--repeat", "50", "--json",
    ]));
    assert_eq!(small["runner"], "user");
    assert_eq!(small["verdict"], "accept");
    assert_eq!(small["packet_bytes"], 64);
    assert_eq!(
        (small["runs"].as_u64(), small["accepts"].as_u64()),
        (Some(50), Some(50))
    );
    let big = json(&kwasm(&[
        "bench", kw, "--user", "--udp", "53", "--len", "200", "--repeat", "30", "--batch", "10",
        "--json",
    ]));
    assert_eq!(big["verdict"], "drop");
    assert_eq!(
        (big["runs"].as_u64(), big["drops"].as_u64()),
        (Some(30), Some(30))
    );
    assert!(big["batches"].as_u64().unwrap() >= 3);
    assert!(big["median_ns"].as_f64().unwrap() > 0.0);
}

#[test]
fn bench_refuses_bad_requests_clearly() {
    let kw = build("bench_bad", BY_LENGTH);
    let kw = kw.to_str().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["bench", kw, "--user", "--repeat", "0"],
            "--repeat 0: use 1..=",
        ),
        (
            &["bench", kw, "--user", "--len", "20"],
            "--len 20: an IPv4/UDP packet has 28..=65535",
        ),
        (&["bench", "pf", "--user"], "--user needs a .kw file"),
        (
            &["bench", kw, "--user", "--batch", "70000"],
            "--batch 70000: use 0..=65536",
        ),
    ];
    for (args, msg) in cases {
        let o = kwasm(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(msg), "{args:?}: expected '{msg}' in: {err}");
    }
}

/// Code compiled with `--cpu` runs on a CPU that has the extensions and is
/// refused, naming the missing one, on a CPU that lacks it. The CPU
/// without `lzcnt` is QEMU's x86-64 model with ABM turned off
/// (`qemu-x86_64 -cpu max,-abm`, from `make setup`'s qemu-user): there
/// `lzcnt` would execute as `bsr` and return 0 instead of 31 for
/// `clz(1)`, so running it is not an option.
#[cfg(target_arch = "x86_64")]
#[test]
fn code_for_missing_cpu_extensions_is_refused() {
    use kwasm_abi::cpu;
    let wat = r#"(module (func (export "clz") (param i32) (result i32) (i32.clz (local.get 0))))"#;
    let opts = kwasm_compiler::CompileOptions {
        cpu: cpu::LZCNT | cpu::BMI1,
        ..kwasm_compiler::CompileOptions::default()
    };
    let kw = kwasm_compiler::compile(wat.as_bytes(), &opts).unwrap();
    let d = temp_dir("cpu_extensions");
    let p = d.join("lzcnt.kw");
    std::fs::write(&p, kw).unwrap();
    let args = ["run", p.to_str().unwrap(), "--invoke", "clz", "1"];

    let emulated = std::process::Command::new("qemu-x86_64")
        .args(["-cpu", "max,-abm", env!("CARGO_BIN_EXE_kwasm")])
        .args(args)
        .output()
        .expect("qemu-x86_64 (make setup installs qemu-user)");
    assert_eq!(emulated.status.code(), Some(1), "{}", stderr(&emulated));
    let e = stderr(&emulated);
    assert!(
        e.contains("compiled for CPUs with lzcnt,bmi1") && e.contains("this CPU lacks lzcnt"),
        "{e}"
    );

    // The same file where the CPU has them (this machine, or QEMU's model
    // with everything it emulates).
    let o = match kwasm_abi::host_cpu::host_has(cpu::by_name("lzcnt").unwrap()) {
        true => kwasm(&args),
        false => std::process::Command::new("qemu-x86_64")
            .args(["-cpu", "max", env!("CARGO_BIN_EXE_kwasm")])
            .args(args)
            .output()
            .unwrap(),
    };
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "31\n");

    // `--cpu` when `kwasm run` compiles, and a name that is no extension.
    let wat_file = d.join("clz.wat");
    std::fs::write(&wat_file, wat).unwrap();
    let o = kwasm(&[
        "run",
        wat_file.to_str().unwrap(),
        "--cpu",
        "bmi3",
        "--invoke",
        "clz",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("unknown CPU extension `bmi3`"),
        "{}",
        stderr(&o)
    );
    let o = kwasm(&[
        "run",
        wat_file.to_str().unwrap(),
        "--cpu",
        "native",
        "--invoke",
        "clz",
        "1",
    ]);
    assert_eq!(stdout(&o), "31\n", "{}", stderr(&o));
}
