//! `kwasm map list|get|set|dump|lookup|update|delete`: a loaded program's
//! maps (arrays of u64 shared with userspace, one such array per CPU, or
//! hash maps of byte strings; see `kwasm_abi::maps`), in the style of
//! `bpftool map`.

use super::{parse_u32, parse_u64};
use crate::mapbytes;
use crate::output::{self, Align, Table};
use anyhow::{Result, anyhow, bail};
use kwasm::Ctx;
use kwasm::device::{Device, ElemOp, MapRead};
use kwasm_abi::hash::{UPDATE_ADD, UPDATE_ANY, UPDATE_EXIST, UPDATE_NOEXIST};
use kwasm_abi::maps::{ALL_CPUS, MapKind};
use serde::Serialize;
use std::io;

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
    /// List the program's maps: number, kind, entries (a hash map's
    /// capacity), keys in use, key and value sizes, and copies per entry.
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
    /// Print the value of KEY in map MAP: of a hash map, or an array
    /// (KEY is the index). Keys and values are text: an integer, an IPv4 or
    /// IPv6 address, `hex:...`, `str:...`, or typed parts joined by commas
    /// (`10.0.0.1,be16:53,u8:17`); see `kwasm map update --help`.
    Lookup {
        #[command(flatten)]
        map: MapRef,
        /// The key.
        key: String,
        /// `{"key": ..., "value": ...}` instead of the value alone.
        #[arg(long)]
        json: bool,
    },
    /// Insert or replace KEY's value in hash map MAP (or set an array
    /// entry). KEY and VALUE: a bare integer (little-endian, as wide as
    /// the map's size), an IPv4/IPv6 address (network order), `hex:0a0b`,
    /// `str:text` (zero-padded), or parts joined by commas, each typed:
    /// `u8:` `u16:` `u32:` `u64:` (little-endian), `be16:` `be32:` `be64:`.
    Update {
        #[command(flatten)]
        map: MapRef,
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// Only insert: fail if KEY is present.
        #[arg(long, conflicts_with_all = ["exist", "add"])]
        noexist: bool,
        /// Only replace: fail if KEY is absent.
        #[arg(long, conflicts_with = "add")]
        exist: bool,
        /// Add VALUE's u64 words to the present value (or insert it).
        #[arg(long)]
        add: bool,
    },
    /// Remove KEY from hash map MAP.
    Delete {
        #[command(flatten)]
        map: MapRef,
        /// The key.
        key: String,
    },
}

/// One row of `kwasm map list --json`.
#[derive(Serialize)]
struct MapInfo {
    map: u32,
    kind: &'static str,
    entries: u32,
    used: u32,
    key_size: u32,
    value_size: u32,
    copies: u32,
}

/// One entry of a hash map, as `lookup --json` and `dump --json` print it
/// (`mapbytes::render`), with the raw bytes in hex.
#[derive(Serialize)]
struct Entry {
    key: serde_json::Value,
    value: serde_json::Value,
    key_hex: String,
    value_hex: String,
}

impl Entry {
    fn new(key: &[u8], value: &[u8]) -> Entry {
        Entry {
            key: mapbytes::render(key, false),
            value: mapbytes::render(value, true),
            key_hex: mapbytes::hex(key),
            value_hex: mapbytes::hex(value),
        }
    }
}

/// Why an index-based command does not apply to hash map `map`.
fn not_indexed(map: u32, cmd: &str) -> anyhow::Error {
    anyhow!(
        "map {map} is a hash map, which has keys, not indices: use `kwasm map {cmd}` \
         (see `kwasm map {cmd} --help` for how to write keys)"
    )
}

/// A failed `MAP_ELEM` as a message that names the map and key.
fn elem_error(e: io::Error, name: &str, map: u32, key: &str, r: &MapRead) -> anyhow::Error {
    match e.raw_os_error() {
        Some(libc::ENOENT) => anyhow!("{name} map {map}: no key {key}"),
        Some(libc::EEXIST) => anyhow!("{name} map {map}: key {key} exists (--noexist)"),
        Some(libc::E2BIG) => anyhow!(
            "{name} map {map} is full ({} of {} keys): delete keys first",
            r.used,
            r.len
        ),
        Some(libc::EINVAL) => anyhow!(
            "{name} map {map}: the kernel refused the operation (--add needs a value of whole \
             u64 words; this map's values are {} bytes)",
            r.value_size
        ),
        _ => anyhow!("{name} map {map}: {e}"),
    }
}

/// Every entry of hash map `map`, in bucket order.
pub(crate) fn hash_entries(
    dev: &Device,
    name: &str,
    map: u32,
    r: &MapRead,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut cursor = 0;
    loop {
        let mut key = vec![0u8; r.key_size as usize];
        let mut value = vec![0u8; r.value_size as usize];
        match dev.map_elem(name, map, ElemOp::next(cursor), &mut key, &mut value)? {
            Ok(b) => {
                out.push((key, value));
                cursor = b + 1;
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(out),
            Err(e) => return Err(anyhow!("{name} map {map}: reading entries: {e}")),
        }
    }
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
pub(crate) fn describe(dev: &Device, name: &str, map: u32) -> Result<MapRead> {
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
                        used: r.used,
                        key_size: r.key_size,
                        value_size: r.value_size,
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
                    ("USED", Align::Right),
                    ("KEY", Align::Right),
                    ("VALUE", Align::Right),
                    ("COPIES", Align::Right),
                ]);
                for r in rows {
                    t.row([
                        r.map.to_string(),
                        r.kind.into(),
                        r.entries.to_string(),
                        r.used.to_string(),
                        r.key_size.to_string(),
                        r.value_size.to_string(),
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
            if r.kind == MapKind::Hash {
                return Err(not_indexed(m, "lookup"));
            }
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
            if r.kind == MapKind::Hash {
                return Err(not_indexed(m, "update"));
            }
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
            if r.kind == MapKind::Hash {
                if each.then_some(()).or(cpu.cpu.map(drop)).is_some() {
                    bail!(
                        "map {m} is a hash map, which has one copy shared by every CPU: drop --cpu/--per-cpu"
                    );
                }
                let entries = hash_entries(&dev, &map.name, m, &r)?;
                if *json {
                    let rows: Vec<Entry> = entries.iter().map(|(k, v)| Entry::new(k, v)).collect();
                    output::json(&rows);
                } else {
                    for (k, v) in &entries {
                        println!(
                            "{}: {}",
                            mapbytes::render_text(k, false),
                            mapbytes::render_text(v, true)
                        );
                    }
                }
                return Ok(());
            }
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
        MapCmd::Lookup { map, key, json } => {
            let m = parse_u32(&map.map)?;
            let r = describe(&dev, &map.name, m)?;
            let (k, v) = if r.kind == MapKind::Hash {
                let mut k = mapbytes::parse(key, r.key_size as usize, "key")?;
                let mut v = vec![0u8; r.value_size as usize];
                dev.map_elem(&map.name, m, ElemOp::lookup(), &mut k, &mut v)?
                    .map_err(|e| elem_error(e, &map.name, m, key, &r))?;
                (k, v)
            } else {
                let idx = parse_u32(key)?;
                let val = dev.map_get(&map.name, m, idx, 1, ALL_CPUS)?.values[0];
                (idx.to_le_bytes().to_vec(), val.to_le_bytes().to_vec())
            };
            if *json {
                output::json(&Entry::new(&k, &v));
            } else {
                println!("{}", mapbytes::render_text(&v, true));
            }
        }
        MapCmd::Update {
            map,
            key,
            value,
            noexist,
            exist,
            add,
        } => {
            let m = parse_u32(&map.map)?;
            let r = describe(&dev, &map.name, m)?;
            if r.kind != MapKind::Hash {
                if *noexist || *exist || *add {
                    bail!(
                        "map {m} is an {}: its entries always exist; use `kwasm map set`",
                        r.kind.name()
                    );
                }
                let c = cpu_of(&CpuSel { cpu: None }, &r, m)?;
                return dev.map_set(&map.name, m, parse_u32(key)?, parse_u64(value)?, c);
            }
            let flags = match (noexist, exist, add) {
                (true, _, _) => UPDATE_NOEXIST,
                (_, true, _) => UPDATE_EXIST,
                (_, _, true) => UPDATE_ADD,
                _ => UPDATE_ANY,
            };
            let mut k = mapbytes::parse(key, r.key_size as usize, "key")?;
            let mut v = mapbytes::parse(value, r.value_size as usize, "value")?;
            dev.map_elem(&map.name, m, ElemOp::update(flags), &mut k, &mut v)?
                .map_err(|e| elem_error(e, &map.name, m, key, &r))?;
        }
        MapCmd::Delete { map, key } => {
            let m = parse_u32(&map.map)?;
            let r = describe(&dev, &map.name, m)?;
            if r.kind != MapKind::Hash {
                bail!(
                    "map {m} is an {}: its entries cannot be deleted; set them to 0 with `kwasm map set`",
                    r.kind.name()
                );
            }
            let mut k = mapbytes::parse(key, r.key_size as usize, "key")?;
            dev.map_elem(
                &map.name,
                m,
                ElemOp::delete(),
                &mut k,
                &mut vec![0u8; r.value_size as usize],
            )?
            .map_err(|e| elem_error(e, &map.name, m, key, &r))?;
        }
    }
    Ok(())
}
