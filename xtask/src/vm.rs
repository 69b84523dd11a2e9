//! `cargo xtask vm-test` and `vm-shell`: boot the kernel in QEMU.
//!
//! The VM's `/init` (`vm/init`) prints `PASS: <name>` / `FAIL: <name>` per
//! check and then a totals line `N passed, N failed`, and reboots. With
//! `-no-reboot`, QEMU exits when the guest reboots (see `vm/init`).
//!
//! The serial console is streamed line by line. Besides the in-VM checks, the
//! host counts one check of its own: the kernel log must be clean (no oops,
//! BUG, WARNING, call trace, KASAN report or panic).
//!
//! `--arch aarch64` boots the arm64 kernel on `qemu-system-aarch64 -M virt
//! -cpu max` under TCG, console on the PL011 (`ttyAMA0`), with the same
//! checks.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::kernel::{self, KernelTree};
use crate::util;
use crate::{Arch, VmArgs, initramfs, module, payload};

/// Kernel console patterns that fail a run wherever they appear.
const BAD: &[&str] = &[
    "Oops",
    "BUG:",
    "WARNING:",
    "Call Trace",
    "KASAN",
    "Kernel panic",
    "kernel panic",
    // A CPU kept too long in softirq or with preemption off.
    "self-detected stall",
    "rcu_sched detected stalls",
    "soft lockup",
    "blocked for more than",
];

/// The line `/init` prints first, to time the boot.
const INIT_BANNER: &str = "kwasm-vm: init started";

/// A kernel and an initramfs ready to boot.
struct Prepared {
    k: KernelTree,
    initrd: PathBuf,
}

fn prepare(args: &VmArgs) -> Result<Prepared> {
    let arch = args.kernel.arch;
    let k = kernel::ensure(&args.kernel)?;
    if !k.image.is_file() {
        bail!("{} does not exist", k.image.display());
    }
    let m = module::build(&k, false)?;
    // The static kwasm and kwasm-tools, the compiled guests and the spec
    // files; `--add` entries come last so that they can override them.
    let mut adds = payload::build(arch)?;
    adds.extend(args.add.iter().cloned());
    let initrd = arch.out_dir().join("initramfs.cpio");
    initramfs::build(arch, &m, &adds, &initrd)?;
    let qemu = arch.qemu();
    if !util::have(qemu) {
        let pkg = match arch {
            Arch::X86_64 => "qemu-system-x86",
            Arch::Aarch64 => "qemu-system-arm",
        };
        bail!("{qemu} not found: run `make setup` (apt-get install {pkg})");
    }
    Ok(Prepared { k, initrd })
}

/// QEMU for the VM; `mode` goes to `/init` as `$kwasm_vm`.
///
/// x86-64: the `pc` machine, console on the first 8250 UART. arm64: QEMU's
/// `virt` board with GIC, arch timer, PSCI and the PL011 UART (`ttyAMA0`),
/// which `-nodefaults` keeps (it is part of the board); the guest resets
/// through PSCI, which `-no-reboot` turns into QEMU's exit, so `reboot -f`
/// and `panic=-1` end the VM as on x86, and the arch timer needs no
/// calibration (its frequency is in a register).
fn qemu(k: &KernelTree, initrd: &Path, args: &VmArgs, mode: &str) -> Command {
    let n = args.cpus;
    let mut append = format!("console={} panic=-1", k.arch.console());
    if k.arch == Arch::X86_64 {
        // The clock. Under TCG the guest's TSC is the host's (QEMU's
        // `cpu_get_ticks`), but the kernel often fails to calibrate it
        // against the emulated PIT ("Unable to calibrate against PIT"), or
        // its warp check between the vCPUs (host threads run in turn) fails;
        // either way it marks the TSC unstable and both timekeeping and
        // `sched_clock` fall back to jiffies (4 ms at HZ=250), which makes
        // `kwasm bench` and `run_ns` meaningless. So tell it the frequency
        // (`tsc_early_khz`, measured on the host) and that the TSC is in
        // sync (`tsc=reliable`): the clocksource is then `tsc` and both
        // resolve nanoseconds.
        append.push_str(" reboot=t tsc=reliable");
    }
    append.push_str(&format!(" kwasm_vm={mode} kwasm_cpus={n}"));
    if k.arch == Arch::X86_64
        && !kvm()
        && let Some(khz) = host_tsc_khz()
    {
        append.push_str(&format!(" tsc_early_khz={khz}"));
    }
    if let Some(extra) = &args.cmdline {
        append.push(' ');
        append.push_str(extra);
    }
    let mut c = Command::new(k.arch.qemu());
    c.args(["-nodefaults", "-no-user-config", "-nographic", "-no-reboot"]);
    match k.arch {
        // One socket per CPU: without ACPI the kernel finds CPUs in
        // SeaBIOS's MP table, which lists one entry per package, so `-smp 2`
        // (two cores in one socket since QEMU 6.2) would boot with one CPU.
        Arch::X86_64 => c
            .arg("-smp")
            .arg(format!("{n},sockets={n},cores=1,threads=1"))
            .args(["-m", "512M"]),
        Arch::Aarch64 => c
            .args(["-machine", "virt"])
            .arg("-smp")
            .arg(n.to_string())
            .args(["-m", "1G"]),
    };
    c.arg("-kernel")
        .arg(&k.image)
        .arg("-initrd")
        .arg(initrd)
        .arg("-append")
        .arg(append);
    // Nested KVM is unreliable on the project's machines: TCG unless asked.
    if kvm() && k.arch.is_host() {
        c.args(["-accel", "kvm", "-cpu", "host"]);
    } else {
        // Every feature QEMU emulates. On arm64 that includes PAC and BTI,
        // which the kernel uses; `pauth-impdef` signs pointers with QEMU's
        // own cheap function instead of emulating QARMA, much faster under
        // TCG and the same to the guest.
        // On x86-64 without ABM (`lzcnt`), so that code compiled with
        // `--cpu lzcnt` meets a CPU that lacks it and must be refused
        // (vm/checks/50-hostile.sh). Nothing else depends on it.
        let cpu = match k.arch {
            Arch::X86_64 => "max,-abm",
            Arch::Aarch64 => "max,pauth-impdef=on",
        };
        c.args(["-accel", "tcg", "-cpu", cpu]);
    }
    c
}

/// Whether QEMU runs with KVM (`KWASM_ACCEL=kvm`) rather than TCG.
fn kvm() -> bool {
    std::env::var("KWASM_ACCEL").as_deref() == Ok("kvm")
}

/// The host's TSC frequency in kHz, measured against the monotonic clock
/// over 100 ms (TCG guests read the host's TSC).
fn host_tsc_khz() -> Option<u64> {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `rdtsc` has no preconditions on x86-64.
        let tsc = || unsafe { core::arch::x86_64::_rdtsc() };
        let (t0, c0) = (Instant::now(), tsc());
        std::thread::sleep(Duration::from_millis(100));
        let (ns, cycles) = (t0.elapsed().as_nanos() as u64, tsc().wrapping_sub(c0));
        let khz = (cycles as u128 * 1_000_000 / ns.max(1) as u128) as u64;
        (khz > 100_000).then_some(khz)
    }
    #[cfg(not(target_arch = "x86_64"))]
    None
}

/// Parses `N passed, N failed`.
fn parse_totals(line: &str) -> Option<(u32, u32)> {
    let (p, f) = line.trim().split_once(", ")?;
    let p = p.strip_suffix(" passed")?.parse().ok()?;
    let f = f.strip_suffix(" failed")?.parse().ok()?;
    Some((p, f))
}

/// What a run of the VM showed.
#[derive(Default)]
pub struct Outcome {
    totals: Option<(u32, u32)>,
    fails: Vec<String>,
    problems: Vec<String>,
    /// Every console line.
    pub lines: Vec<String>,
    timed_out: bool,
}

impl Outcome {
    /// What went wrong, one line each: a timeout, kernel errors on the
    /// console, failed checks, no totals line.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.timed_out {
            p.push("the VM timed out".to_string());
        }
        if !self.problems.is_empty() {
            p.push(format!(
                "{} kernel error line(s) on the console: {}",
                self.problems.len(),
                self.problems[0]
            ));
        }
        if !self.fails.is_empty() {
            p.push(format!("failed: {}", self.fails.join(", ")));
        }
        if self.totals.is_none() {
            p.push("no `N passed, N failed` line from /init".to_string());
        }
        p
    }
}

/// Builds everything and boots the VM with `/init` in `mode` (`$kwasm_vm`),
/// its console log in `target/kwasm-vm/<mode>-console.log`.
pub fn run_mode(args: &VmArgs, mode: &str) -> Result<Outcome> {
    let p = prepare(args)?;
    let log_path = args
        .kernel
        .arch
        .out_dir()
        .join(format!("{mode}-console.log"));
    boot(&p.k, &p.initrd, args, &log_path, mode)
}

pub fn vm_test(args: &VmArgs) -> ExitCode {
    let p = match prepare(args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let log_path = args.kernel.arch.out_dir().join("console.log");
    let o = match boot(&p.k, &p.initrd, args, &log_path, "test") {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };

    let clean = o.problems.is_empty();
    let mut problems = Vec::new();
    if o.timed_out {
        problems.push(format!("timed out after {}s", args.timeout));
    }
    if !clean {
        problems.push(format!(
            "{} kernel error line(s) on the console",
            o.problems.len()
        ));
    }
    if !o.fails.is_empty() {
        problems.push(format!("failed checks: {}", o.fails.join(", ")));
    }
    let (vp, vf) = o.totals.unwrap_or_else(|| {
        problems.push("no `N passed, N failed` line from /init".into());
        (0, 1)
    });
    // The host-side check: the kernel log is clean.
    let println_check = |ok: bool, name: &str| {
        println!("{}: {name}", if ok { "PASS" } else { "FAIL" });
    };
    println_check(clean, "kernel console clean (host check)");
    let (passed, failed) = (vp + u32::from(clean), vf + u32::from(!clean));

    if !problems.is_empty() || failed > 0 {
        if !args.verbose {
            let tail = o.lines.len().saturating_sub(60);
            println!("--- last console lines ({}) ---", log_path.display());
            for l in &o.lines[tail..] {
                println!("  | {l}");
            }
        }
        for p in &problems {
            println!("vm-test: {p}");
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 || !problems.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn boot(
    k: &KernelTree,
    initrd: &Path,
    args: &VmArgs,
    log_path: &Path,
    mode: &str,
) -> Result<Outcome> {
    let mut log = File::create(log_path)?;
    let (reader, writer) = std::io::pipe()?;
    let mut cmd = qemu(k, initrd, args, mode);
    // The demo shows everything /init prints (and the kernel's messages
    // between), not only check results.
    let echo = mode == "demo";
    let mut in_init = false;
    cmd.args(["-serial", "stdio", "-monitor", "none"])
        .stdin(Stdio::null())
        .stdout(writer.try_clone()?)
        .stderr(writer);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", k.arch.qemu()))?;
    drop(cmd);

    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(reader);
        let mut buf = Vec::new();
        // Console output is not always UTF-8; never stop reading over it.
        while r.read_until(b'\n', &mut buf).is_ok_and(|n| n > 0) {
            let s = String::from_utf8_lossy(&buf);
            if tx
                .send(s.trim_end_matches(['\n', '\r']).to_string())
                .is_err()
            {
                break;
            }
            buf.clear();
        }
    });

    let pb = util::spinner("vm");
    pb.set_message("booting");
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.timeout);
    let mut o = Outcome::default();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = match rx.recv_timeout(left) {
            Ok(l) => l,
            Err(RecvTimeoutError::Timeout) => {
                o.timed_out = true;
                let _ = child.kill();
                break;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let line = line.replace('\r', "");
        let _ = writeln!(log, "{line}");
        let say = |s: String| util::say(&pb, s);
        if line.contains(INIT_BANNER) {
            in_init = true;
        }
        if args.verbose || (echo && in_init) {
            say(line.clone());
        } else if !line.trim().is_empty() {
            pb.set_message(line.trim().to_string());
        }
        if line.contains(INIT_BANNER) && !args.verbose {
            say(format!(
                "booted to /init in {:.1}s",
                start.elapsed().as_secs_f64()
            ));
        }
        if let Some(name) = line.strip_prefix("PASS: ") {
            if !args.verbose && !echo {
                say(format!("PASS: {name}"));
            }
        } else if let Some(name) = line.strip_prefix("FAIL: ") {
            if !args.verbose && !echo {
                say(format!("FAIL: {name}"));
            }
            o.fails.push(name.to_string());
        } else if !line.starts_with("    ") && BAD.iter().any(|b| line.contains(b)) {
            // (Indented lines are the output of a failed check, already
            // counted by its FAIL line.)
            if !args.verbose && !echo {
                say(format!("kernel: {line}"));
            }
            o.problems.push(line.clone());
        } else if let Some(t) = parse_totals(&line) {
            o.totals = Some(t);
        }
        o.lines.push(line);
    }
    let status = child.wait()?;
    pb.finish_and_clear();
    eprintln!(
        "vm: qemu exited ({status}) after {:.1}s; console log: {}",
        start.elapsed().as_secs_f64(),
        log_path.display()
    );
    Ok(o)
}

/// `cargo xtask demo`: boots the VM in demo mode (`/init` runs
/// `/opt/kwasm/demo.sh`: load the port filter, send traffic, show `kwasm
/// list` and the stats) and prints what it shows.
pub fn demo(args: &VmArgs) -> ExitCode {
    let r = prepare(args).and_then(|p| {
        let log_path = args.kernel.arch.out_dir().join("demo-console.log");
        boot(&p.k, &p.initrd, args, &log_path, "demo")
    });
    match r {
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
        Ok(o) => {
            let mut ok = true;
            if o.timed_out {
                eprintln!("demo: timed out after {}s", args.timeout);
                ok = false;
            }
            if !o.problems.is_empty() {
                eprintln!(
                    "demo: {} kernel error line(s) on the console",
                    o.problems.len()
                );
                ok = false;
            }
            if !o.fails.is_empty() {
                eprintln!("demo: failed steps: {}", o.fails.join(", "));
                ok = false;
            }
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Boots the VM with the console on this terminal; `/init` starts a shell
/// after the checks. Ctrl-A X quits QEMU.
pub fn vm_shell(args: &VmArgs) -> Result<()> {
    let p = prepare(args)?;
    eprintln!("vm: starting QEMU; Ctrl-A X quits, `reboot -f` in the shell ends the VM");
    let status = qemu(&p.k, &p.initrd, args, "shell")
        .args(["-serial", "mon:stdio"])
        .status()
        .with_context(|| format!("starting {}", p.k.arch.qemu()))?;
    if !status.success() {
        bail!("qemu exited with {status}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_totals;

    #[test]
    fn totals() {
        assert_eq!(parse_totals("5 passed, 0 failed"), Some((5, 0)));
        assert_eq!(parse_totals("5 passed, 2 failed\r"), Some((5, 2)));
        assert_eq!(parse_totals("PASS: 5 passed, 0 failed"), None);
        assert_eq!(parse_totals("x passed, 0 failed"), None);
    }
}
