//! Shared helpers: paths, running logged commands behind a spinner.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Scratch output of xtask inside the workspace's target directory.
pub fn out_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    target.join("kwasm-vm")
}

/// `$KWASM_CACHE`, else `$XDG_CACHE_HOME/kwasm`, else `~/.cache/kwasm`.
pub fn cache_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("KWASM_CACHE") {
        return Ok(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(d).join("kwasm"));
    }
    let home = std::env::var_os("HOME").context("HOME is not set (set KWASM_CACHE)")?;
    Ok(PathBuf::from(home).join(".cache/kwasm"))
}

/// Whether `name` is an executable on `PATH`.
pub fn have(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| {
        std::env::split_paths(&p).any(|d| {
            fs::metadata(d.join(name)).is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            })
        })
    })
}

/// Runs a command and returns its stdout (trimmed); fails on non-zero exit.
pub fn capture(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A spinner line: "<prefix> <message> [elapsed]".
pub fn spinner(prefix: &str) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {prefix:.bold} {wide_msg} [{elapsed_precise}]")
            .expect("valid template"),
    );
    pb.set_prefix(prefix.to_string());
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// Prints a line on stdout above the spinner (also when the spinner is hidden
/// because stderr is not a terminal, where `ProgressBar::println` prints
/// nothing).
pub fn say(pb: &ProgressBar, msg: impl std::fmt::Display) {
    pb.suspend(|| println!("{msg}"));
}

/// An append-only build log with a tail kept in memory for error reports.
pub struct Log {
    file: File,
    path: PathBuf,
    tail: VecDeque<String>,
}

impl Log {
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(d) = path.parent() {
            fs::create_dir_all(d)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
            tail: VecDeque::new(),
        })
    }

    pub fn line(&mut self, s: &str) {
        // A failing log write must not hide the build's own result.
        let _ = writeln!(self.file, "{s}");
        if self.tail.len() == 40 {
            self.tail.pop_front();
        }
        self.tail.push_back(s.to_string());
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last 40 lines written, one string.
    pub fn tail(&self) -> String {
        self.tail.iter().map(|l| format!("  | {l}\n")).collect()
    }
}

/// Runs `cmd` with stdout and stderr merged into `log`, showing `step` and the
/// latest output line on `pb`. Returns the output lines. On failure the error
/// holds the last 40 lines of the log.
pub fn run_logged(
    cmd: &mut Command,
    step: &str,
    pb: &ProgressBar,
    log: &mut Log,
) -> Result<Vec<String>> {
    let start = Instant::now();
    pb.set_message(step.to_string());
    log.line(&format!("==> {step}: {cmd:?}"));
    let (reader, writer) = std::io::pipe()?;
    cmd.stdin(Stdio::null())
        .stdout(writer.try_clone()?)
        .stderr(writer);
    let mut child = cmd.spawn().with_context(|| format!("starting {cmd:?}"))?;
    // `cmd` still holds the write end of the pipe: close it, or EOF never comes.
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let mut lines = Vec::new();
    for line in BufReader::new(reader).lines() {
        let line = line.unwrap_or_else(|e| format!("<unreadable output: {e}>"));
        let short = line.trim();
        if !short.is_empty() {
            pb.set_message(format!("{step}: {short}"));
        }
        log.line(&line);
        lines.push(line);
    }
    let status = child.wait()?;
    let secs = start.elapsed().as_secs_f64();
    log.line(&format!("==> {step}: {status} after {secs:.1}s"));
    // Without a terminal (CI) the spinner is hidden: a line per step keeps
    // long builds visible in the log, with their time.
    if pb.is_hidden() && status.success() {
        say(pb, format_args!("{step}: done in {secs:.0}s"));
    }
    if !status.success() {
        bail!(
            "{step} failed ({status}); last lines of {}:\n{}",
            log.path().display(),
            log.tail()
        );
    }
    Ok(lines)
}

/// 64-bit FNV-1a, for cache keys (stable across Rust versions, unlike
/// `DefaultHasher`).
#[derive(Clone, Copy)]
pub struct Fnv(u64);

impl Fnv {
    pub fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // Separate fields so that ("ab","c") and ("a","bc") differ.
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
    }

    pub fn hex(self) -> String {
        format!("{:016x}", self.0)
    }
}

/// The `e_machine` of the ELF file at `path` (62 x86-64, 183 aarch64).
pub fn elf_machine(path: &Path) -> Result<u16> {
    let mut head = [0u8; 20];
    std::io::Read::read_exact(&mut File::open(path)?, &mut head)
        .with_context(|| format!("reading {}", path.display()))?;
    if &head[..4] != b"\x7fELF" || head[5] != 1 {
        bail!("{} is not a little-endian ELF file", path.display());
    }
    Ok(u16::from_le_bytes([head[18], head[19]]))
}

/// Whether the ELF file at `path` is statically linked (has no PT_INTERP).
pub fn is_static_elf(path: &Path) -> Result<bool> {
    let data = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if data.len() < 64 || &data[..4] != b"\x7fELF" || data[4] != 2 {
        bail!("{} is not a 64-bit ELF file", path.display());
    }
    let u16_at = |o: usize| u16::from_le_bytes([data[o], data[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(data[0x20..0x28].try_into()?) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    for i in 0..phnum {
        let o = phoff + i * phentsize;
        let p_type = data
            .get(o..o + 4)
            .with_context(|| format!("{}: truncated program headers", path.display()))?;
        if u32::from_le_bytes(p_type.try_into()?) == 3 {
            return Ok(false);
        }
    }
    Ok(true)
}
