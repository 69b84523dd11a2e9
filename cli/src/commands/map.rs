//! `kwasm map list|get|set|dump`: a loaded program's maps (arrays of u64
//! shared with userspace, or one such array per CPU; see
//! `kwasm_abi::maps`).

use super::{parse_u32, parse_u64};
use crate::output::{self, Align, Table};
use anyhow::{Result, anyhow, bail};
use kwasm::Ctx;
use kwasm::device::{Device, MapRead};
use kwasm_abi::maps::ALL_CPUS;
use serde::Serialize;

/// Which entry of which map: the arguments every map command starts with.
#[derive(clap::Args)]
pub struct MapRef {
    /// Program name (see `kwasm list`).
    pub name: String,
    /// Map number, as the program passes it to `kwasm.map_get` (0 is the
    /// first map its `kwasm.maps` section declares).
    pub map: String,
}

/// Which copy of a per-CPU map's entries to read or write.
#[derive(clap::Args)]
pub struct CpuSel {
    /// Only CPU N's copy of a per_cpu_array (default: the sum when reading,
    /// every CPU when writing). Refused for other maps.
    #[arg(long, value_name = "N")]
    pub cpu: Option<u32>,
}

#[derive(clap::Subcommand)]
pub enum MapCmd {
    /// List the program's maps: number, kind, entries and copies per entry.
    List {
        /// Program name (see `kwasm list`).
        name: String,
        /// One JSON array of objects instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print entry INDEX of map MAP (of a per_cpu_array: the sum over CPUs,
    /// or with --per-cpu one value per CPU).
    Get {
        #[command(flatten)]
        map: MapRef,
        /// Entry index (decimal or 0x-hex).
        index: String,
        #[command(flatten)]
        cpu: CpuSel,
        /// A per_cpu_array's value on each CPU, as `cpuN: VALUE` lines.
        #[arg(long, conflicts_with = "cpu")]
        per_cpu: bool,
    },
    /// Set entry INDEX of map MAP to VALUE (u64, decimal or 0x-hex; a
    /// negative value is stored as its two's complement). Of a
    /// per_cpu_array: on every CPU, or with --cpu on one.
    Set {
        #[command(flatten)]
        map: MapRef,
        /// Entry index (decimal or 0x-hex).
        index: String,
        /// The new value.
        #[arg(allow_hyphen_values = true)]
        value: String,
        #[command(flatten)]
        cpu: CpuSel,
    },
    /// Print every entry of map MAP as `INDEX: VALUE` lines (of a
    /// per_cpu_array: the sums, or with --per-cpu `INDEX: V0 V1 ...`).
    Dump {
        #[command(flatten)]
        map: MapRef,
        #[command(flatten)]
        cpu: CpuSel,
        /// A per_cpu_array's values on each CPU.
        #[arg(long, conflicts_with = "cpu")]
        per_cpu: bool,
        /// One JSON array of the values, entry 0 first (with --per-cpu, one
        /// array per entry, CPU 0 first).
        #[arg(long)]
        json: bool,
    },
}

/// One row of `kwasm map list --json`.
#[derive(Serialize)]
struct MapInfo {
    map: u32,
    kind: &'static str,
    entries: u32,
    copies: u32,
}

/// Why `flag`, which picks per-CPU copies, does not apply to map `map`.
fn shared_map(r: &MapRead, map: u32, flag: &str) -> anyhow::Error {
    anyhow!(
        "map {map} is an {}, which has one copy shared by every CPU: drop {flag}",
        r.kind.name()
    )
}

/// The `cpu` field of a request: `--cpu N` is for per-CPU maps only.
fn cpu_of(sel: &CpuSel, r: &MapRead, map: u32) -> Result<u32> {
    match sel.cpu {
        None => Ok(ALL_CPUS),
        Some(_) if !r.kind.per_cpu() => Err(shared_map(r, map, "--cpu")),
        Some(c) if c >= r.copies => bail!(
            "--cpu {c}: map {map} has copies for CPUs 0 to {}",
            r.copies.saturating_sub(1)
        ),
        Some(c) => Ok(c),
    }
}

/// The map's kind, entry count and copies (a read of no entries).
fn describe(dev: &Device, name: &str, map: u32) -> Result<MapRead> {
    dev.map_get(name, map, 0, 0, ALL_CPUS)
}

/// Each CPU's copies of `count` entries from `index` on: `[cpu][entry]`.
fn per_cpu(
    dev: &Device,
    name: &str,
    map: u32,
    r: &MapRead,
    index: u32,
    count: u32,
) -> Result<Vec<Vec<u64>>> {
    if !r.kind.per_cpu() {
        return Err(shared_map(r, map, "--per-cpu"));
    }
    (0..r.copies)
        .map(|c| Ok(dev.map_get(name, map, index, count, c)?.values))
        .collect()
}

pub fn map(ctx: &Ctx, cmd: &MapCmd) -> Result<()> {
    let dev = ctx.device()?;
    match cmd {
        MapCmd::List { name, json } => {
            let n = dev.stats(name)?.nmaps;
            let rows = (0..n)
                .map(|m| {
                    let r = describe(&dev, name, m)?;
                    Ok(MapInfo {
                        map: m,
                        kind: r.kind.name(),
                        entries: r.len,
                        copies: r.copies,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            if *json {
                output::json(&rows);
            } else {
                let mut t = Table::new([
                    ("MAP", Align::Right),
                    ("KIND", Align::Left),
                    ("ENTRIES", Align::Right),
                    ("COPIES", Align::Right),
                ]);
                for r in rows {
                    t.row([
                        r.map.to_string(),
                        r.kind.into(),
                        r.entries.to_string(),
                        r.copies.to_string(),
                    ]);
                }
                print!("{t}");
            }
        }
        MapCmd::Get {
            map,
            index,
            cpu,
            per_cpu: each,
        } => {
            let m = parse_u32(&map.map)?;
            let idx = parse_u32(index)?;
            let r = describe(&dev, &map.name, m)?;
            if *each {
                for (c, v) in per_cpu(&dev, &map.name, m, &r, idx, 1)?.iter().enumerate() {
                    println!("cpu{c}: {}", v[0]);
                }
            } else {
                let c = cpu_of(cpu, &r, m)?;
                println!("{}", dev.map_get(&map.name, m, idx, 1, c)?.values[0]);
            }
        }
        MapCmd::Set {
            map,
            index,
            value,
            cpu,
        } => {
            let m = parse_u32(&map.map)?;
            let r = describe(&dev, &map.name, m)?;
            let c = cpu_of(cpu, &r, m)?;
            dev.map_set(&map.name, m, parse_u32(index)?, parse_u64(value)?, c)?;
        }
        MapCmd::Dump {
            map,
            cpu,
            per_cpu: each,
            json,
        } => {
            let m = parse_u32(&map.map)?;
            let r = describe(&dev, &map.name, m)?;
            if *each {
                let cpus = per_cpu(&dev, &map.name, m, &r, 0, r.len)?;
                let rows: Vec<Vec<u64>> = (0..r.len as usize)
                    .map(|i| cpus.iter().map(|c| c[i]).collect())
                    .collect();
                if *json {
                    output::json(&rows);
                } else {
                    for (i, row) in rows.iter().enumerate() {
                        let vals: Vec<String> = row.iter().map(u64::to_string).collect();
                        println!("{i}: {}", vals.join(" "));
                    }
                }
            } else {
                let c = cpu_of(cpu, &r, m)?;
                let vals = dev.map_get(&map.name, m, 0, r.len, c)?.values;
                if *json {
                    output::json(&vals);
                } else {
                    output::indexed(&vals);
                }
            }
        }
    }
    Ok(())
}
