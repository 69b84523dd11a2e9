//! `kwasm-tools native-run|native-attach|native-map`: raw access to
//! `native_bench.ko` (`kwasm::native`) for the VM checks and the hook-path
//! bench: one `RUN` with the values as given (hostile ones included),
//! attaching a native filter as a netfilter hook, reading its counters.
//! `kwasm bench FILTER --native` is the benchmark itself.

use anyhow::{Context, Result, anyhow};
use kwasm::Ctx;
use kwasm::native::{self, AttachReq, NativeDevice};
use kwasm_abi::ioctl;
use std::path::PathBuf;

/// Opens the device, then drops privileges if `--as-uid` asks (the open
/// file stays usable, so the module's own capability check answers).
fn open(ctx: &Ctx) -> Result<NativeDevice> {
    let dev = NativeDevice::open()?;
    ctx.drop_privileges()?;
    Ok(dev)
}

/// A filter by name (`port_filter`) or, to test the module's checks, by
/// raw id (`7`).
fn filter_arg(s: &str) -> Result<u32> {
    match s.parse::<u32>() {
        Ok(id) => Ok(id),
        Err(_) => native::filter_id(s),
    }
}

#[derive(clap::Args)]
pub struct NativeRunArgs {
    /// Filter name or raw id.
    pub filter: String,
    /// The packet, from the IP header on.
    #[arg(long, value_name = "FILE", conflicts_with = "zeros")]
    pub packet: Option<PathBuf>,
    /// Use a packet of N bytes (0x45 then zeros) instead, any N.
    #[arg(long, value_name = "N")]
    pub zeros: Option<usize>,
    /// Calls, sent as given (the module takes 1..=65536).
    #[arg(long, default_value_t = 1)]
    pub count: u32,
}

/// One `RUN`; prints `verdict`, `accepts`, `drops`, `ns` as `key: value`.
pub fn native_run(ctx: &Ctx, a: &NativeRunArgs) -> Result<()> {
    let packet = match (&a.packet, a.zeros) {
        (Some(p), _) => std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
        (None, Some(n)) => {
            let mut p = vec![0u8; n];
            if let Some(b) = p.first_mut() {
                *b = 0x45;
            }
            p
        }
        (None, None) => return Err(anyhow!("give --packet FILE or --zeros N")),
    };
    let r = open(ctx)?
        .run(filter_arg(&a.filter)?, &packet, a.count)
        .map_err(|e| native::explain("RUN", e))?;
    let verdict = if r.verdict == 0 { "drop" } else { "accept" };
    println!(
        "verdict: {verdict}\naccepts: {}\ndrops: {}\nns: {}",
        r.accepts, r.drops, r.ns
    );
    Ok(())
}

#[derive(clap::Args)]
pub struct NativeAttachArgs {
    /// Filter name or raw id.
    pub filter: String,
    /// Where: ipv4|ipv6 : prerouting|input|forward|output|postrouting.
    #[arg(required_unless_present_all = ["family", "hooknum"])]
    pub point: Option<String>,
    /// Netfilter priority.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    pub priority: i32,
    /// Detach instead.
    #[arg(long)]
    pub detach: bool,
    /// Raw NFPROTO_* family instead of POINT (tests the module's checks).
    #[arg(long, requires = "hooknum", conflicts_with = "point")]
    pub family: Option<u32>,
    /// Raw NF_INET_* hook number instead of POINT.
    #[arg(long, requires = "family", conflicts_with = "point")]
    pub hooknum: Option<u32>,
}

/// `ATTACH` or `DETACH`.
pub fn native_attach(ctx: &Ctx, a: &NativeAttachArgs) -> Result<()> {
    let (family, hooknum) = match (&a.point, a.family, a.hooknum) {
        (Some(p), _, _) => ioctl::parse_attach_point(p)
            .ok_or_else(|| anyhow!("bad attach point '{p}': use e.g. ipv4:input"))?,
        (None, Some(f), Some(h)) => (f, h),
        _ => return Err(anyhow!("give POINT or --family and --hooknum")),
    };
    let req = AttachReq {
        filter: filter_arg(&a.filter)?,
        family,
        hooknum,
        priority: a.priority,
    };
    let what = if a.detach { "DETACH" } else { "ATTACH" };
    open(ctx)?
        .attach(req, a.detach)
        .map_err(|e| native::explain(what, e))
}

#[derive(clap::Args)]
pub struct NativeMapArgs {
    /// Filter name or raw id.
    pub filter: String,
    /// Map number, as in the filter's kwasm program.
    pub map: u32,
}

/// `MAP`: prints `INDEX: VALUE` lines, as `kwasm map dump`.
pub fn native_map(ctx: &Ctx, a: &NativeMapArgs) -> Result<()> {
    let vals = open(ctx)?
        .map(filter_arg(&a.filter)?, a.map)
        .map_err(|e| native::explain("MAP", e))?;
    for (i, v) in vals.iter().enumerate() {
        println!("{i}: {v}");
    }
    Ok(())
}
