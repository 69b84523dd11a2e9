//! `kwasm exporter`: every loaded program's counters and maps as Prometheus
//! metrics on `/metrics`, in the text exposition format (version 0.0.4),
//! like Cloudflare's `ebpf_exporter` for eBPF maps.
//!
//! Each scrape reads the kernel afresh (`LIST`, `MAP_GET`, `MAP_ELEM`,
//! and `EVENTS` of no bytes for a ring's counters, which drains nothing).
//! Map values are labelled by program, map and key; a per-CPU array is
//! summed over CPUs; a hash map's value is one series per `u64` word (with
//! a `word` label when it has several), and values that are not whole
//! words are counted but not exported. A map exports at most
//! `--max-series` keys, so that one large map cannot make a scrape huge.

use super::map::{describe, hash_entries};
use crate::mapbytes;
use anyhow::{Context, Result, anyhow};
use kwasm::Ctx;
use kwasm::device::Device;
use kwasm_abi::ioctl::{self, ProgInfo};
use kwasm_abi::maps::{ALL_CPUS, MapKind};
use kwasm_abi::trap::ALL_TRAPS;
use std::fmt::Write;

#[derive(clap::Args)]
pub struct ExporterArgs {
    /// Address and port to serve on.
    #[arg(long, default_value = "127.0.0.1:9435", value_name = "ADDR:PORT")]
    pub listen: String,
    /// Most keys exported per map.
    #[arg(long, default_value_t = 4096, value_name = "N")]
    pub max_series: u32,
    /// Print one scrape to stdout and exit, instead of serving.
    #[arg(long)]
    pub once: bool,
}

/// What a scrape reads of one map.
pub struct MapSnapshot {
    pub map: u32,
    pub kind: MapKind,
    pub entries: u32,
    pub used: u32,
    pub values: Values,
}

/// A map's contents, as exported.
pub enum Values {
    /// An array's values (a per-CPU array's sums), index order.
    Array(Vec<u64>),
    /// A hash map's entries, and its value size.
    Hash(Vec<(Vec<u8>, Vec<u8>)>, u32),
    /// A ring's counters.
    Ring { dropped: u64 },
}

/// One program and its maps.
pub struct ProgSnapshot {
    pub info: ProgInfo,
    pub maps: Vec<MapSnapshot>,
}

/// Reads every program and its maps.
fn snapshot(dev: &Device, max_series: u32) -> Result<Vec<ProgSnapshot>> {
    let mut out = Vec::new();
    for info in dev.list()? {
        let name = ioctl::decode_name(&info.name).unwrap_or("?").to_string();
        let mut maps = Vec::new();
        for m in 0..info.nmaps {
            let r = describe(dev, &name, m)?;
            let values = match r.kind {
                MapKind::Array | MapKind::PerCpuArray => {
                    let n = r.len.min(max_series);
                    Values::Array(dev.map_get(&name, m, 0, n, ALL_CPUS)?.values)
                }
                MapKind::Hash => {
                    let mut e = hash_entries(dev, &name, m, &r)?;
                    e.truncate(max_series as usize);
                    Values::Hash(e, r.value_size)
                }
                MapKind::RingBuf => {
                    let d = dev.events(&name, m, 0)?;
                    Values::Ring { dropped: d.dropped }
                }
            };
            maps.push(MapSnapshot {
                map: m,
                kind: r.kind,
                entries: r.len,
                used: r.used,
                values,
            });
        }
        out.push(ProgSnapshot { info, maps });
    }
    Ok(out)
}

/// A label value, escaped as the exposition format requires.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes one metric family: its HELP and TYPE lines, then for every
/// program the `(labels, value)` pairs `lines` gives (labels after the
/// program's own `program="..."`).
fn family<V: std::fmt::Display>(
    o: &mut String,
    progs: &[ProgSnapshot],
    (name, kind, help): (&str, &str, &str),
    lines: impl Fn(&ProgSnapshot) -> Vec<(String, V)>,
) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for p in progs {
        let prog = esc(ioctl::decode_name(&p.info.name).unwrap_or("?"));
        for (labels, v) in lines(p) {
            let _ = writeln!(o, "{name}{{program=\"{prog}\"{labels}}} {v}");
        }
    }
}

/// The labels of map `m`: `,map="0",kind="hash"`.
fn map_labels(m: &MapSnapshot) -> String {
    format!(",map=\"{}\",kind=\"{}\"", m.map, m.kind.name())
}

/// A hash map's values per key and u64 word (`word` label only when a
/// value has several).
fn hash_values(m: &MapSnapshot, entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for (k, v) in entries {
        let key = esc(&mapbytes::render_text(k, false));
        let words: Vec<u64> = v
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect();
        for (w, x) in words.iter().enumerate() {
            let word = match words.len() {
                1 => String::new(),
                _ => format!(",word=\"{w}\""),
            };
            out.push((format!("{},key=\"{key}\"{word}", map_labels(m)), *x));
        }
    }
    out
}

/// The metrics of `progs`, in the text exposition format.
pub fn render(progs: &[ProgSnapshot]) -> String {
    let mut o = String::new();
    let one = |v: u64| vec![(String::new(), v)];
    family(
        &mut o,
        progs,
        (
            "kwasm_invocations_total",
            "counter",
            "Calls of the program's filter from netfilter hooks.",
        ),
        |p| one(p.info.stats.invocations),
    );
    family(
        &mut o,
        progs,
        (
            "kwasm_verdicts_total",
            "counter",
            "Verdicts of the program's filter, by verdict.",
        ),
        |p| {
            let s = &p.info.stats;
            [
                ("accept", s.accepts),
                ("drop", s.drops),
                ("bad", s.bad_verdicts),
            ]
            .map(|(v, c)| (format!(",verdict=\"{v}\""), c))
            .to_vec()
        },
    );
    family(
        &mut o,
        progs,
        (
            "kwasm_traps_total",
            "counter",
            "Traps of the program, by kind.",
        ),
        |p| {
            ALL_TRAPS
                .iter()
                .zip(&p.info.stats.traps)
                .map(|(t, c)| (format!(",kind=\"{}\"", t.name()), *c))
                .collect()
        },
    );
    family(
        &mut o,
        progs,
        (
            "kwasm_fpu_unavailable_total",
            "counter",
            "Invocations skipped because the FPU was not usable.",
        ),
        |p| one(p.info.stats.fpu_unavailable),
    );
    family(
        &mut o,
        progs,
        (
            "kwasm_run_seconds_total",
            "counter",
            "Time spent in the program's filter.",
        ),
        |p| vec![(String::new(), p.info.stats.run_ns as f64 / 1e9)],
    );
    family(
        &mut o,
        progs,
        (
            "kwasm_map_entries",
            "gauge",
            "Entries of a map: its capacity (a ring: bytes).",
        ),
        |p| {
            p.maps
                .iter()
                .map(|m| (map_labels(m), u64::from(m.entries)))
                .collect()
        },
    );
    family(
        &mut o,
        progs,
        (
            "kwasm_map_used",
            "gauge",
            "Keys a hash map holds; bytes pending in a ring.",
        ),
        |p| {
            p.maps
                .iter()
                .filter(|m| matches!(m.kind, MapKind::Hash | MapKind::RingBuf))
                .map(|m| (map_labels(m), u64::from(m.used)))
                .collect()
        },
    );
    family(
        &mut o,
        progs,
        (
            "kwasm_map_value",
            "gauge",
            "A map's value by key (per-CPU arrays summed; hash values per u64 word).",
        ),
        |p| {
            let mut lines = Vec::new();
            for m in &p.maps {
                match &m.values {
                    Values::Array(v) => lines.extend(
                        v.iter()
                            .enumerate()
                            .map(|(i, x)| (format!("{},key=\"{i}\"", map_labels(m)), *x)),
                    ),
                    Values::Hash(entries, vsize) if vsize % 8 == 0 => {
                        lines.extend(hash_values(m, entries))
                    }
                    _ => {}
                }
            }
            lines
        },
    );
    family(
        &mut o,
        progs,
        (
            "kwasm_ring_dropped_total",
            "counter",
            "Records a ring dropped because it was full.",
        ),
        |p| {
            p.maps
                .iter()
                .filter_map(|m| match m.values {
                    Values::Ring { dropped } => Some((format!(",map=\"{}\"", m.map), dropped)),
                    _ => None,
                })
                .collect()
        },
    );
    o
}

pub fn exporter(ctx: &Ctx, a: &ExporterArgs) -> Result<()> {
    let dev = ctx.device()?;
    if a.once {
        print!("{}", render(&snapshot(&dev, a.max_series)?));
        return Ok(());
    }
    let server = tiny_http::Server::http(&a.listen)
        .map_err(|e| anyhow!("cannot listen on {}: {e}", a.listen))?;
    eprintln!("kwasm exporter: serving http://{}/metrics", a.listen);
    let text = |s: String, code: u16, ctype: &str| {
        let h = tiny_http::Header::from_bytes(&b"Content-Type"[..], ctype.as_bytes())
            .expect("a valid header");
        tiny_http::Response::from_string(s)
            .with_status_code(code)
            .with_header(h)
    };
    for req in server.incoming_requests() {
        let resp = match (req.method(), req.url()) {
            (tiny_http::Method::Get, "/metrics") => match snapshot(&dev, a.max_series) {
                Ok(s) => text(render(&s), 200, "text/plain; version=0.0.4; charset=utf-8"),
                Err(e) => text(format!("kwasm exporter: {e:#}\n"), 500, "text/plain"),
            },
            (tiny_http::Method::Get, "/") => text(
                "kwasm exporter: metrics at /metrics\n".into(),
                200,
                "text/plain",
            ),
            _ => text("not found: try /metrics\n".into(), 404, "text/plain"),
        };
        req.respond(resp).context("answering a scrape")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_programs_and_maps() {
        let mut info = ProgInfo {
            name: ioctl::encode_name("h").unwrap(),
            ..Default::default()
        };
        info.stats.invocations = 7;
        info.stats.accepts = 6;
        info.stats.traps[kwasm_abi::trap::TrapCode::IntegerDivisionByZero.index()] = 1;
        let p = ProgSnapshot {
            info,
            maps: vec![
                MapSnapshot {
                    map: 0,
                    kind: MapKind::PerCpuArray,
                    entries: 2,
                    used: 2,
                    values: Values::Array(vec![5, 0]),
                },
                MapSnapshot {
                    map: 1,
                    kind: MapKind::Hash,
                    entries: 4,
                    used: 1,
                    values: Values::Hash(
                        vec![
                            (
                                9998u32.to_le_bytes().to_vec(),
                                [30u64.to_le_bytes(), 1340u64.to_le_bytes()].concat(),
                            ),
                            (
                                b"a\"b\0\0".to_vec(),
                                [1u64.to_le_bytes(), 2u64.to_le_bytes()].concat(),
                            ),
                        ],
                        16,
                    ),
                },
                MapSnapshot {
                    map: 2,
                    kind: MapKind::RingBuf,
                    entries: 4096,
                    used: 80,
                    values: Values::Ring { dropped: 46 },
                },
            ],
        };
        let m = render(&[p]);
        for want in [
            "kwasm_invocations_total{program=\"h\"} 7",
            "kwasm_verdicts_total{program=\"h\",verdict=\"accept\"} 6",
            "kwasm_traps_total{program=\"h\",kind=\"div_by_zero\"} 1",
            "kwasm_map_value{program=\"h\",map=\"0\",kind=\"per_cpu_array\",key=\"0\"} 5",
            "kwasm_map_value{program=\"h\",map=\"1\",kind=\"hash\",key=\"9998\",word=\"1\"} 1340",
            "kwasm_map_used{program=\"h\",map=\"2\",kind=\"ring_buf\"} 80",
            "kwasm_ring_dropped_total{program=\"h\",map=\"2\"} 46",
            "kwasm_map_value{program=\"h\",map=\"1\",kind=\"hash\",key=\"a\\\"b\",word=\"0\"} 1",
            "# TYPE kwasm_run_seconds_total counter",
        ] {
            assert!(m.lines().any(|l| l == want), "missing {want} in\n{m}");
        }
    }
}
