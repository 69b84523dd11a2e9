//! `cargo bench -p kwasm-bench`: the compute workloads side by side,
//! natively, under kwasm (with and without Spectre guards) and under
//! Wasmtime (default, and at kwasm's safety level). Writes
//! `target/bench/compute.json` and `compute.md` and prints the tables.
//!
//! Options go after `--`: `cargo bench -p kwasm-bench -- --runs 7 sha256 json`.

use anyhow::{Context, Result, bail};
use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use kwasm_bench::report::{Report, WorkloadResult};
use kwasm_bench::{Engine, Prepared, WORKLOADS, WasmtimeEngines, build_wasm, repo_root};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

#[derive(Parser)]
#[command(
    name = "compute",
    about = "The compute workloads natively, under kwasm and under Wasmtime, side by side"
)]
struct Args {
    /// Timed runs per engine and workload (the table shows the median).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Untimed runs per engine before them.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Scale every workload's size (1.0: about 0.5 s natively).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// The tests' tiny sizes instead (a smoke run of the whole pipeline).
    #[arg(long)]
    test_size: bool,
    /// Engines to run, comma-separated (native always runs: the ratios are
    /// to it) [default: all: native, kwasm, kwasm-no-spectre,
    /// kwasm-host-cpu, wasmtime, wasmtime-safe].
    #[arg(long, value_delimiter = ',', value_parser = parse_engine)]
    engines: Vec<Engine>,
    /// Compiles of each module per compiler for the compile-time figures.
    #[arg(long, default_value_t = 3)]
    compile_runs: usize,
    /// Where to write compute.json, compute.md and the .kw files
    /// [default: target/bench].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Take the wasm modules from DIR (`<workload>.wasm`) instead of
    /// building them in guests/.
    #[arg(long, value_name = "DIR")]
    wasm_dir: Option<PathBuf>,
    /// Also run the `.kw` files in DIR (`<workload>.kw`, e.g. the
    /// `compute-kw` directory of a run at an older commit) as the engine
    /// `kwasm-baseline`: a compiler change's before and after in one run.
    #[arg(long, value_name = "DIR")]
    baseline: Option<PathBuf>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    /// Workloads to run [default: all].
    workloads: Vec<String>,
}

fn parse_engine(s: &str) -> Result<Engine, String> {
    Engine::from_id(s).ok_or_else(|| {
        let all: Vec<&str> = Engine::ALL.iter().map(|e| e.id()).collect();
        format!("unknown engine `{s}` (one of {})", all.join(", "))
    })
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn command_line(cmd: &str, args: &[&str]) -> Option<String> {
    let o = Command::new(cmd)
        .args(args)
        .current_dir(repo_root())
        .output()
        .ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let model = info
        .lines()
        .find_map(|l| l.strip_prefix("model name"))?
        .trim_start_matches([' ', '\t', ':'])
        .to_string();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Some(format!("{model}, {cores} cores"))
}

fn run(a: Args) -> Result<()> {
    let mut engines: Vec<Engine> = if a.engines.is_empty() {
        Engine::ALL.to_vec()
    } else {
        a.engines.clone()
    };
    engines.push(Engine::Native);
    if a.baseline.is_some() {
        engines.push(Engine::KwasmBaseline);
    }
    engines.sort();
    engines.dedup();
    for w in &a.workloads {
        if !WORKLOADS.iter().any(|x| x.name == w) {
            let all: Vec<&str> = WORKLOADS.iter().map(|w| w.name).collect();
            bail!("unknown workload `{w}` (one of {})", all.join(", "));
        }
    }
    let selected: Vec<_> = WORKLOADS
        .iter()
        .filter(|w| a.workloads.is_empty() || a.workloads.iter().any(|x| x == w.name))
        .collect();
    if a.runs == 0 {
        bail!("--runs must be at least 1");
    }

    let wasm_dir = match &a.wasm_dir {
        Some(d) => d.clone(),
        None => {
            eprintln!("building the wasm workloads (guests/, profile compute)");
            build_wasm(false)?
        }
    };
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| repo_root().join("target/bench"));
    let kw_dir = out.join("compute-kw");
    std::fs::create_dir_all(&kw_dir).with_context(|| format!("creating {}", kw_dir.display()))?;
    if let Some(b) = &a.baseline
        && b.canonicalize().ok() == kw_dir.canonicalize().ok()
    {
        bail!(
            "--baseline {}: this run writes its own .kw files there; copy the baseline elsewhere first",
            b.display()
        );
    }
    let wt = WasmtimeEngines::new()?;

    let rounds = a.warmup + a.runs;
    let pb = ProgressBar::new((selected.len() * rounds * engines.len()) as u64);
    pb.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
            .expect("template")
            .progress_chars("=> "),
    );
    let mut results = Vec::new();
    for w in selected {
        let n = if a.test_size {
            w.test_n
        } else {
            ((f64::from(w.bench_n) * a.scale).round() as i32).max(1)
        };
        pb.set_message(format!("{}: compiling", w.name));
        let path = wasm_dir.join(format!("{}.wasm", w.name));
        let wasm = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let p = Prepared::new(w, &wasm, &wt, a.compile_runs, a.baseline.as_deref())?;
        std::fs::write(kw_dir.join(format!("{}.kw", w.name)), &p.kw_bytes)?;
        std::fs::write(
            kw_dir.join(format!("{}-no-spectre.kw", w.name)),
            &p.kw_no_spectre_bytes,
        )?;
        std::fs::write(
            kw_dir.join(format!("{}-host-cpu.kw", w.name)),
            &p.kw_host_cpu_bytes,
        )?;
        std::fs::write(kw_dir.join(format!("{}.wasmtime.cwasm", w.name)), &p.cwasm)?;
        std::fs::write(
            kw_dir.join(format!("{}.wasmtime-safe.cwasm", w.name)),
            &p.cwasm_safe,
        )?;
        let mut instances = engines
            .iter()
            .map(|&e| Ok((e, p.instance(e)?)))
            .collect::<Result<BTreeMap<_, _>>>()?;
        let mut samples: BTreeMap<Engine, Vec<_>> = BTreeMap::new();
        let mut checksum: Option<(Engine, i64)> = None;
        for round in 0..rounds {
            // Interleave, starting each round with the next engine, so
            // drift on the shared machine is spread over all of them.
            for i in 0..engines.len() {
                let e = engines[(round + i) % engines.len()];
                pb.set_message(format!("{} (n = {n}): {}", w.name, e.id()));
                let s = instances.get_mut(&e).expect("instance").call(n)?;
                match checksum {
                    None => checksum = Some((e, s.checksum)),
                    Some((first, c)) if c != s.checksum => bail!(
                        "{}: checksums differ: {} returned {c:#x}, {} returned {:#x}",
                        w.name,
                        first.id(),
                        e.id(),
                        s.checksum
                    ),
                    Some(_) => {}
                }
                if round >= a.warmup {
                    samples.entry(e).or_default().push(s);
                }
                pb.inc(1);
            }
        }
        let r = WorkloadResult {
            name: w.name,
            what: w.what,
            n,
            checksum: checksum.expect("ran").1,
            samples,
            compile: p.compile.clone(),
        };
        let line: Vec<String> = engines
            .iter()
            .map(|&e| match (e, r.median(e), r.ratio(e)) {
                (Engine::Native, Some(d), _) => format!("native {:.1} ms", d.as_secs_f64() * 1e3),
                (_, _, Some(x)) => format!("{} {x:.2}x", e.id()),
                _ => String::new(),
            })
            .collect();
        let line = format!("{:8} {}", w.name, line.join(", "));
        // Without a terminal the bar is hidden, and so is its println.
        if pb.is_hidden() {
            eprintln!("{line}");
        } else {
            pb.println(line);
        }
        results.push(r);
    }
    pb.finish_and_clear();

    let report = Report {
        engines,
        runs: a.runs,
        warmup: a.warmup,
        scale: if a.test_size { 0.0 } else { a.scale },
        compile_runs: a.compile_runs,
        workloads: results,
        commit: command_line("git", &["describe", "--always", "--dirty"]),
        cpu: cpu_model(),
        rustc: command_line("rustc", &["-V"]),
        date: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let json = serde_json::to_string_pretty(&report.to_json())?;
    let md = report.to_markdown();
    std::fs::write(out.join("compute.json"), json + "\n")?;
    std::fs::write(out.join("compute.md"), &md)?;
    println!();
    print!("{md}");
    println!();
    println!(
        "wrote {} and compute.md; the .kw and Wasmtime's .cwasm files are in {}",
        out.join("compute.json").display(),
        kw_dir.display()
    );
    Ok(())
}
