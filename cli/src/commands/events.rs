//! `kwasm events` and `kwasm log`: drain a program's ring buffer or its log
//! ring (`kwasm_abi::ring`), once or following it, like `bpftool prog
//! tracelog` and a ring-buffer reader.

use super::map::describe;
use crate::mapbytes;
use anyhow::{Result, bail};
use kwasm::Ctx;
use kwasm::device::Device;
use kwasm_abi::ioctl::{EVENTS_MAX_READ, LOG_RING};
use kwasm_abi::maps::MapKind;
use kwasm_abi::ring;
use serde::Serialize;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Options of a ring reader.
#[derive(clap::Args)]
pub struct Follow {
    /// Keep reading until interrupted, polling every --interval-ms.
    #[arg(long, short)]
    pub follow: bool,
    /// Milliseconds between polls with --follow.
    #[arg(long, default_value_t = 100, value_name = "MS")]
    pub interval_ms: u64,
    /// One JSON object per line instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct EventsArgs {
    /// Program name (see `kwasm list`).
    pub name: String,
    /// Ring buffer to read (default: the program's first ring_buf map).
    #[arg(long, value_name = "N")]
    pub map: Option<u32>,
    #[command(flatten)]
    pub follow: Follow,
}

#[derive(clap::Args)]
pub struct LogArgs {
    /// Program name (see `kwasm list`).
    pub name: String,
    #[command(flatten)]
    pub follow: Follow,
}

/// One record as `--json` prints it.
#[derive(Serialize)]
struct Line {
    cpu: u32,
    time_ns: u64,
    len: usize,
    /// The bytes as text when printable, else `hex:...`
    /// (`mapbytes::render`).
    data: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    hex: Option<String>,
}

/// Prints the records of `d`, and a note on stderr when the ring has
/// dropped records: all of them at the first read (`last_dropped` is
/// `None`), then those since the last read.
fn print(d: &kwasm::device::Drained, json: bool, log: bool, last_dropped: &mut Option<u64>) {
    let mut out = std::io::stdout().lock();
    for r in ring::records(&d.buf) {
        if json {
            let line = Line {
                cpu: r.cpu,
                time_ns: r.time_ns,
                len: r.data.len(),
                data: shown(r.data, log),
                hex: (!log).then(|| mapbytes::hex(r.data)),
            };
            let _ = writeln!(out, "{}", serde_json::to_string(&line).unwrap_or_default());
        } else {
            let t = r.time_ns as f64 / 1e9;
            let data = match shown(r.data, log) {
                serde_json::Value::String(s) => s,
                v => v.to_string(),
            };
            let _ = writeln!(out, "[{t:>14.6}] cpu{}: {data}", r.cpu);
        }
    }
    let _ = out.flush();
    match *last_dropped {
        None if d.dropped > 0 => eprintln!(
            "kwasm: the ring has dropped {} records since the program loaded (it was full)",
            d.dropped
        ),
        Some(last) if d.dropped > last => eprintln!(
            "kwasm: {} more records dropped (ring full), {} in all",
            d.dropped - last,
            d.dropped
        ),
        _ => {}
    }
    *last_dropped = Some(d.dropped);
}

/// A record's bytes for display: log lines as (lossy) text, events as text
/// when printable, else hex.
fn shown(data: &[u8], log: bool) -> serde_json::Value {
    if log {
        return serde_json::Value::from(String::from_utf8_lossy(data).into_owned());
    }
    match mapbytes::render(data, false) {
        serde_json::Value::String(s) => serde_json::Value::from(s),
        _ => serde_json::Value::from(format!("hex:{}", mapbytes::hex(data))),
    }
}

/// Set by SIGINT or SIGTERM while following: the reader stops after
/// printing what it has drained (the kernel has consumed those records, so
/// dying before printing them would lose them).
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn stop(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Drains ring `map` of `name` once, or until interrupted with `--follow`.
fn drain(dev: &Device, name: &str, map: u32, f: &Follow, log: bool) -> Result<()> {
    if f.follow {
        for sig in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: `stop` only stores to an atomic, which is
            // async-signal-safe.
            unsafe { libc::signal(sig, stop as *const () as libc::sighandler_t) };
        }
    }
    let mut last = None;
    loop {
        let d = dev.events(name, map, EVENTS_MAX_READ)?;
        print(&d, f.json, log, &mut last);
        if d.pending > 0 {
            continue;
        }
        if !f.follow || STOP.load(Ordering::Relaxed) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(f.interval_ms.max(1)));
    }
}

pub fn events(ctx: &Ctx, a: &EventsArgs) -> Result<()> {
    let dev = ctx.device()?;
    let map = match a.map {
        Some(m) => m,
        None => {
            let n = dev.stats(&a.name)?.nmaps;
            let kinds = (0..n)
                .map(|m| Ok(describe(&dev, &a.name, m)?.kind))
                .collect::<Result<Vec<_>>>()?;
            match kinds.iter().position(|&k| k == MapKind::RingBuf) {
                Some(m) => m as u32,
                None => bail!(
                    "{} declares no ring_buf map (see `kwasm map list {}`); its log is `kwasm log {}`",
                    a.name,
                    a.name,
                    a.name
                ),
            }
        }
    };
    drain(&dev, &a.name, map, &a.follow, false)
}

pub fn log(ctx: &Ctx, a: &LogArgs) -> Result<()> {
    let dev = ctx.device()?;
    drain(&dev, &a.name, LOG_RING, &a.follow, true)
}
