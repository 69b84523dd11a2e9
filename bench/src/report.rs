//! The results of one run: medians, ratios to native, geometric means and
//! compile figures, as JSON (`compute.json`) and Markdown (`compute.md`).

use crate::{CompileStats, Engine, Sample};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

/// One workload's measurements.
pub struct WorkloadResult {
    pub name: &'static str,
    pub what: &'static str,
    pub n: i32,
    /// The checksum every engine returned.
    pub checksum: i64,
    /// Timed runs per engine, in the order they ran.
    pub samples: BTreeMap<Engine, Vec<Sample>>,
    pub compile: CompileStats,
}

impl WorkloadResult {
    /// Median CPU time of `engine`'s runs.
    pub fn median(&self, engine: Engine) -> Option<Duration> {
        let mut v: Vec<Duration> = self.samples.get(&engine)?.iter().map(|s| s.cpu).collect();
        (!v.is_empty()).then(|| crate::median(&mut v))
    }

    /// `engine`'s median over native's.
    pub fn ratio(&self, engine: Engine) -> Option<f64> {
        let native = self.median(Engine::Native)?.as_secs_f64();
        Some(self.median(engine)?.as_secs_f64() / native)
    }

    /// Fastest CPU time of `engine`'s runs: interference on a shared
    /// machine only ever adds time.
    pub fn best(&self, engine: Engine) -> Option<Duration> {
        self.samples.get(&engine)?.iter().map(|s| s.cpu).min()
    }

    /// `engine`'s best run over native's.
    pub fn ratio_best(&self, engine: Engine) -> Option<f64> {
        let native = self.best(Engine::Native)?.as_secs_f64();
        Some(self.best(engine)?.as_secs_f64() / native)
    }
}

/// A whole run.
pub struct Report {
    pub engines: Vec<Engine>,
    pub runs: usize,
    pub warmup: usize,
    pub scale: f64,
    pub compile_runs: usize,
    pub workloads: Vec<WorkloadResult>,
    /// `git describe`-like commit of the tree measured.
    pub commit: Option<String>,
    pub cpu: Option<String>,
    pub rustc: Option<String>,
    /// Seconds since the epoch at the end of the run.
    pub date: u64,
}

/// The extensions `--cpu native` gives on this machine.
fn host_extensions() -> String {
    let target = kwasm_compiler::DEFAULT_TARGET;
    kwasm_abi::cpu::Names(kwasm_abi::host_cpu::host(target)).to_string()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn round(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (x * p).round() / p
}

/// Geometric mean (none for an empty list).
pub fn geomean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| (xs.iter().map(|x| x.ln()).sum::<f64>() / xs.len() as f64).exp())
}

impl Report {
    /// Geometric mean of `engine`'s best-run ratios to native.
    pub fn geomean_best(&self, engine: Engine) -> Option<f64> {
        let r: Vec<f64> = self
            .workloads
            .iter()
            .filter_map(|w| w.ratio_best(engine))
            .collect();
        if r.len() != self.workloads.len() {
            return None;
        }
        geomean(&r)
    }

    /// Geometric mean of `engine`'s ratios to native.
    pub fn geomean(&self, engine: Engine) -> Option<f64> {
        let r: Vec<f64> = self
            .workloads
            .iter()
            .filter_map(|w| w.ratio(engine))
            .collect();
        if r.len() != self.workloads.len() {
            return None;
        }
        geomean(&r)
    }

    /// Geometric mean of kwasmc's compile time over Wasmtime's.
    pub fn compile_geomean(&self) -> Option<f64> {
        let r: Vec<f64> = self
            .workloads
            .iter()
            .map(|w| w.compile.kwasmc.as_secs_f64() / w.compile.wasmtime.as_secs_f64())
            .collect();
        geomean(&r)
    }

    pub fn to_json(&self) -> Value {
        let workloads: Vec<Value> = self
            .workloads
            .iter()
            .map(|w| {
                let mut engines = serde_json::Map::new();
                for &e in &self.engines {
                    let Some(s) = w.samples.get(&e) else { continue };
                    engines.insert(
                        e.id().into(),
                        json!({
                            "median_ms": w.median(e).map(|d| round(ms(d), 3)),
                            "ratio": w.ratio(e).map(|r| round(r, 4)),
                            "best_ms": w.best(e).map(|d| round(ms(d), 3)),
                            "ratio_best": w.ratio_best(e).map(|r| round(r, 4)),
                            "cpu_ms": s.iter().map(|s| round(ms(s.cpu), 3)).collect::<Vec<_>>(),
                            "wall_ms": s.iter().map(|s| round(ms(s.wall), 3)).collect::<Vec<_>>(),
                        }),
                    );
                }
                let c = &w.compile;
                json!({
                    "name": w.name,
                    "what": w.what,
                    "n": w.n,
                    "checksum": w.checksum,
                    "engines": engines,
                    "compile": {
                        "wasm_bytes": c.wasm_bytes,
                        "kwasmc_ms": round(ms(c.kwasmc), 3),
                        "kw_bytes": c.kw_bytes,
                        "kwasmc_no_spectre_ms": round(ms(c.kwasmc_no_spectre), 3),
                        "kw_no_spectre_bytes": c.kw_no_spectre_bytes,
                        "kwasmc_host_cpu_ms": round(ms(c.kwasmc_host_cpu), 3),
                        "kw_host_cpu_bytes": c.kw_host_cpu_bytes,
                        "wasmtime_ms": round(ms(c.wasmtime), 3),
                        "wasmtime_bytes": c.wasmtime_bytes,
                        "wasmtime_safe_ms": round(ms(c.wasmtime_safe), 3),
                    },
                })
            })
            .collect();
        let geomean: serde_json::Map<String, Value> = self
            .engines
            .iter()
            .map(|&e| {
                (
                    e.id().to_string(),
                    json!(self.geomean(e).map(|g| round(g, 4))),
                )
            })
            .collect();
        let geomean_best: serde_json::Map<String, Value> = self
            .engines
            .iter()
            .map(|&e| {
                let g = self.geomean_best(e).map(|g| round(g, 4));
                (e.id().to_string(), json!(g))
            })
            .collect();
        json!({
            "kind": "compute",
            "commit": self.commit,
            "date": self.date,
            "cpu": self.cpu,
            "rustc": self.rustc,
            "measure": "thread CPU time of one call; median (and best) of the runs; ratios to native",
            "runs": self.runs,
            "warmup": self.warmup,
            "scale": self.scale,
            "compile_runs": self.compile_runs,
            "host_cpu_extensions": host_extensions(),
            "engines": self.engines.iter().map(|e| json!({"id": e.id(), "label": e.label()})).collect::<Vec<_>>(),
            "workloads": workloads,
            "geomean": geomean,
            "geomean_best": geomean_best,
            "compile_geomean_kwasmc_over_wasmtime": self.compile_geomean().map(|g| round(g, 4)),
        })
    }

    /// One row of geometric means: native is 1.00x by definition, other
    /// engines show `cell(engine)`, empty when it has no figure.
    fn mean_row(&self, s: &mut String, label: &str, cell: impl Fn(Engine) -> Option<String>) {
        let _ = write!(s, "| {label} | |");
        for &e in &self.engines {
            let text = match e {
                Engine::Native => Some("1.00x".to_string()),
                _ => cell(e),
            };
            let _ = match text {
                Some(t) => write!(s, " {t} |"),
                None => write!(s, " |"),
            };
        }
        let _ = writeln!(s);
    }

    /// The time table, then the compile table.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "Median of {} runs per engine (thread CPU time), ratios to native (last row: ratios of the best runs); {}{}.",
            self.runs,
            match &self.commit {
                Some(c) => format!("commit {c}"),
                None => "commit unknown".into(),
            },
            match &self.cpu {
                Some(c) => format!(", {c}"),
                None => String::new(),
            }
        );
        if self.engines.contains(&Engine::KwasmHostCpu) {
            let _ = writeln!(s);
            let _ = writeln!(
                s,
                "\"kwasm, --cpu native\" used this CPU's {}; the other kwasm columns and native use baseline x86-64 or aarch64.",
                host_extensions()
            );
        }
        let _ = writeln!(s);
        let _ = write!(s, "| workload | n |");
        for e in &self.engines {
            let _ = write!(s, " {} |", e.label());
        }
        let _ = writeln!(s);
        let _ = write!(s, "|---|---:|");
        for _ in &self.engines {
            let _ = write!(s, "---:|");
        }
        let _ = writeln!(s);
        for w in &self.workloads {
            let _ = write!(s, "| {} | {} |", w.name, w.n);
            for &e in &self.engines {
                match (e, w.median(e), w.ratio(e)) {
                    (Engine::Native, Some(d), _) => {
                        let _ = write!(s, " {:.1} ms |", ms(d));
                    }
                    (_, Some(_), Some(r)) => {
                        let _ = write!(s, " {r:.2}x |");
                    }
                    _ => {
                        let _ = write!(s, " |");
                    }
                }
            }
            let _ = writeln!(s);
        }
        self.mean_row(&mut s, "**geometric mean**", |e| {
            self.geomean(e).map(|g| format!("**{g:.2}x**"))
        });
        self.mean_row(&mut s, "geometric mean, best runs", |e| {
            self.geomean_best(e).map(|g| format!("{g:.2}x"))
        });
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "Compile time (median of {} compiles, wall clock, both compilers on all cores) and code size:",
            self.compile_runs
        );
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "| workload | .wasm KiB | kwasmc ms | .kw KiB | kwasmc, no guards ms | Wasmtime ms | Wasmtime .cwasm KiB | Wasmtime safe ms | kwasmc / Wasmtime |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        let kib = |b: usize| b as f64 / 1024.0;
        for w in &self.workloads {
            let c = &w.compile;
            let _ = writeln!(
                s,
                "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2}x |",
                w.name,
                kib(c.wasm_bytes),
                ms(c.kwasmc),
                kib(c.kw_bytes),
                ms(c.kwasmc_no_spectre),
                ms(c.wasmtime),
                kib(c.wasmtime_bytes),
                ms(c.wasmtime_safe),
                c.kwasmc.as_secs_f64() / c.wasmtime.as_secs_f64()
            );
        }
        if let Some(g) = self.compile_geomean() {
            let _ = writeln!(s, "| **geometric mean** | | | | | | | | **{g:.2}x** |");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geomean_of_ratios() {
        assert_eq!(geomean(&[]), None);
        let g = geomean(&[1.0, 4.0]).unwrap();
        assert!((g - 2.0).abs() < 1e-12);
    }

    fn sample(ms: u64) -> Sample {
        Sample {
            checksum: 7,
            cpu: Duration::from_millis(ms),
            wall: Duration::from_millis(ms + 1),
        }
    }

    #[test]
    fn tables_show_ratios_to_native() {
        let mut samples = BTreeMap::new();
        samples.insert(Engine::Native, vec![sample(10), sample(30), sample(20)]);
        samples.insert(Engine::Kwasm, vec![sample(25), sample(40), sample(30)]);
        let r = Report {
            engines: vec![Engine::Native, Engine::Kwasm],
            runs: 3,
            warmup: 0,
            scale: 1.0,
            compile_runs: 1,
            workloads: vec![WorkloadResult {
                name: "w",
                what: "a workload",
                n: 5,
                checksum: 7,
                samples,
                compile: CompileStats {
                    kwasmc: Duration::from_millis(3),
                    wasmtime: Duration::from_millis(2),
                    ..CompileStats::default()
                },
            }],
            commit: None,
            cpu: None,
            rustc: None,
            date: 0,
        };
        assert_eq!(r.workloads[0].ratio(Engine::Kwasm), Some(1.5));
        assert_eq!(r.geomean(Engine::Kwasm), Some(1.5));
        assert_eq!(r.workloads[0].ratio_best(Engine::Kwasm), Some(2.5));
        assert_eq!(r.geomean_best(Engine::Kwasm), Some(2.5));
        let md = r.to_markdown();
        assert!(md.contains("| w | 5 | 20.0 ms | 1.50x |"), "{md}");
        assert!(md.contains("**1.50x**"), "{md}");
        assert!(
            md.contains("| geometric mean, best runs | | 1.00x | 2.50x |"),
            "{md}"
        );
        let j = r.to_json();
        assert_eq!(j["workloads"][0]["engines"]["kwasm"]["ratio"], 1.5);
        assert_eq!(j["geomean"]["kwasm"], 1.5);
        assert_eq!(j["compile_geomean_kwasmc_over_wasmtime"], 1.5);
    }
}
