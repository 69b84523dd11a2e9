//! The compute benchmark (`cargo bench -p kwasm-bench`): the workloads of
//! `guests/bench/compute` run natively (this crate links them), under kwasm
//! (`kwasmc` at `--opt speed`, the userspace runner, as `kwasm run` does),
//! under kwasm without Spectre guards (`kwasmc --no-spectre-guards`), under
//! kwasm with this CPU's extensions (`kwasmc --cpu native`, every check
//! on), and
//! under Wasmtime 48 in its default configuration and at kwasm's safety
//! level. Checksums must agree across engines.
//!
//! - [`build_wasm`] builds the wasm modules (one per workload) in the guest
//!   workspace;
//! - [`Prepared::new`] compiles one module for every engine, timing the
//!   compilers;
//! - [`Prepared::instance`] instantiates it, and [`Instance::call`] runs
//!   the workload once and times it;
//! - [`report`] turns the measurements into `compute.json` and
//!   `compute.md`.

pub mod report;

use anyhow::{Context, Result, anyhow, bail};
use kwasm_compiler::{CompileOptions, OptLevel};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

pub use compute_bench::{WORKLOADS, Workload};

/// The engines, in the order of the table's columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Engine {
    /// The workload's Rust source compiled for the host.
    Native,
    /// `.kw` files from another build of kwasmc (`--baseline DIR`: the
    /// `compute-kw` directory an earlier run wrote), run by this build's
    /// `kwasm-runtime`: a compiler change's before and after, measured
    /// side by side in one run.
    KwasmBaseline,
    /// kwasmc `--opt speed`, every check on (bounds, fuel, stack, Spectre
    /// guards), run by `kwasm-runtime`.
    Kwasm,
    /// The same without Spectre guards (`kwasmc --no-spectre-guards`).
    KwasmNoSpectre,
    /// Every check on, with this CPU's optional extensions (`kwasmc --cpu
    /// native`): BMI, POPCNT, LZCNT, SSE4.1, AVX where the CPU has them,
    /// as Wasmtime uses them.
    KwasmHostCpu,
    /// Wasmtime 48, `Config::new()`: guard pages, signal-based traps, no
    /// fuel.
    Wasmtime,
    /// Wasmtime 48 at kwasm's safety level: no guard pages or reservation
    /// (explicit bounds checks), no signal-based traps, fuel on.
    WasmtimeSafe,
}

impl Engine {
    /// Every engine that needs no input beyond the workloads (not
    /// [`Engine::KwasmBaseline`]).
    pub const ALL: [Engine; 6] = [
        Engine::Native,
        Engine::Kwasm,
        Engine::KwasmNoSpectre,
        Engine::KwasmHostCpu,
        Engine::Wasmtime,
        Engine::WasmtimeSafe,
    ];

    /// Identifier in JSON and on the command line.
    pub fn id(self) -> &'static str {
        match self {
            Engine::Native => "native",
            Engine::KwasmBaseline => "kwasm-baseline",
            Engine::Kwasm => "kwasm",
            Engine::KwasmNoSpectre => "kwasm-no-spectre",
            Engine::KwasmHostCpu => "kwasm-host-cpu",
            Engine::Wasmtime => "wasmtime",
            Engine::WasmtimeSafe => "wasmtime-safe",
        }
    }

    /// Column heading.
    pub fn label(self) -> &'static str {
        match self {
            Engine::Native => "native",
            Engine::KwasmBaseline => "kwasm, baseline",
            Engine::Kwasm => "kwasm",
            Engine::KwasmNoSpectre => "kwasm, no Spectre guards",
            Engine::KwasmHostCpu => "kwasm, --cpu native",
            Engine::Wasmtime => "Wasmtime default",
            Engine::WasmtimeSafe => "Wasmtime, kwasm's safety",
        }
    }

    pub fn from_id(s: &str) -> Option<Engine> {
        Engine::ALL
            .into_iter()
            .chain([Engine::KwasmBaseline])
            .find(|e| e.id() == s)
    }
}

/// Fuel for one call, in kwasm's and Wasmtime's units alike: far more than
/// any workload uses (a second of work is around 10^9 units).
pub const FUEL: u64 = 1 << 60;

/// The repository root (this crate lives in `bench/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ has a parent")
        .to_path_buf()
}

/// Builds the workloads' wasm modules in the guest workspace (profile
/// `compute`: opt-level 3) and returns the directory holding
/// `<workload>.wasm`.
///
/// Runs the guest workspace's own cargo configuration
/// (`guests/.cargo/config.toml`: MVP CPU plus kwasm's features), so the
/// flags of the cargo that runs us (`RUSTFLAGS` and the like) must not
/// leak into it.
pub fn build_wasm(quiet: bool) -> Result<PathBuf> {
    let guests = repo_root().join("guests");
    let target_dir = guests.join("target");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&guests)
        .args([
            "build",
            "--profile",
            "compute",
            "--target",
            "wasm32-unknown-unknown",
            "-p",
            "compute_bench",
            "--examples",
            "--target-dir",
        ])
        .arg(&target_dir);
    if quiet {
        cmd.arg("--quiet");
    }
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .context("running cargo to build the wasm workloads")?;
    if !status.success() {
        bail!("building the wasm workloads in guests/ failed ({status})");
    }
    Ok(target_dir.join("wasm32-unknown-unknown/compute/examples"))
}

/// Per-thread CPU time: the measure of a run. The machines are shared, and
/// time spent descheduled would otherwise land on whichever engine was
/// running.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(r, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Wasmtime's errors as `anyhow`'s (Wasmtime 48 has its own error type).
trait WasmtimeResult<T> {
    fn wt(self) -> Result<T>;
}

impl<T> WasmtimeResult<T> for wasmtime::Result<T> {
    fn wt(self) -> Result<T> {
        self.map_err(|e| anyhow!("Wasmtime: {e:?}"))
    }
}

/// The two Wasmtime configurations.
pub struct WasmtimeEngines {
    pub default: wasmtime::Engine,
    pub safe: wasmtime::Engine,
}

impl WasmtimeEngines {
    pub fn new() -> Result<WasmtimeEngines> {
        let default = wasmtime::Engine::new(&wasmtime::Config::new()).wt()?;
        let mut c = wasmtime::Config::new();
        // kwasm's safety level (no guard pages in the kernel): every access
        // checked explicitly (with Wasmtime's Spectre guards, on by
        // default), traps as explicit branches, fuel counted.
        c.memory_reservation(0)
            .memory_guard_size(0)
            .signals_based_traps(false)
            .consume_fuel(true);
        let safe = wasmtime::Engine::new(&c).wt()?;
        Ok(WasmtimeEngines { default, safe })
    }
}

/// Compiler figures for one module.
#[derive(Clone, Debug, Default)]
pub struct CompileStats {
    pub wasm_bytes: usize,
    /// `kwasmc compile --opt speed` (with Spectre guards): median wall time.
    pub kwasmc: Duration,
    pub kw_bytes: usize,
    /// `--no-spectre-guards`.
    pub kwasmc_no_spectre: Duration,
    pub kw_no_spectre_bytes: usize,
    /// `--cpu native`.
    pub kwasmc_host_cpu: Duration,
    pub kw_host_cpu_bytes: usize,
    /// `wasmtime::Module::new`, default configuration: median wall time.
    pub wasmtime: Duration,
    /// `Module::serialize` of that module (what a `.cwasm` holds).
    pub wasmtime_bytes: usize,
    /// `Module::new` at kwasm's safety level.
    pub wasmtime_safe: Duration,
}

/// One module, compiled for every engine that runs wasm.
pub struct Prepared {
    pub workload: &'static Workload,
    pub kw: Rc<kwasm_runtime::Artifact>,
    pub kw_no_spectre: Rc<kwasm_runtime::Artifact>,
    pub kw_host_cpu: Rc<kwasm_runtime::Artifact>,
    /// The baseline build's `.kw`, if one was given.
    pub kw_baseline: Option<Rc<kwasm_runtime::Artifact>>,
    pub wasmtime: wasmtime::Module,
    pub wasmtime_safe: wasmtime::Module,
    pub compile: CompileStats,
    /// The `.kw` files' bytes (with and without guards, and with this
    /// CPU's extensions), for `objdump`.
    pub kw_bytes: Vec<u8>,
    pub kw_no_spectre_bytes: Vec<u8>,
    pub kw_host_cpu_bytes: Vec<u8>,
    /// Wasmtime's serialised modules (default, then at kwasm's safety): ELF
    /// files `objdump -d` reads, to compare the code side by side.
    pub cwasm: Vec<u8>,
    pub cwasm_safe: Vec<u8>,
}

/// Runs `f` `runs` times (at least once); returns its last result and the
/// median wall time.
fn timed<T>(runs: usize, mut f: impl FnMut() -> Result<T>) -> Result<(T, Duration)> {
    let mut t = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        last = Some(f()?);
        t.push(start.elapsed());
    }
    Ok((last.expect("ran at least once"), median(&mut t)))
}

/// Median (the mean of the middle two for an even count).
pub fn median(v: &mut [Duration]) -> Duration {
    assert!(!v.is_empty());
    v.sort();
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2
    }
}

fn kwasmc(wasm: &[u8], spectre_guards: bool, cpu: u32) -> Result<Vec<u8>> {
    let opts = CompileOptions {
        opt: OptLevel::Speed,
        spectre_guards,
        cpu,
        ..CompileOptions::default()
    };
    kwasm_compiler::compile(wasm, &opts).map_err(|e| anyhow!("kwasmc: {e}"))
}

impl Prepared {
    /// Compiles `wasm` for every engine, timing each compiler
    /// (`compile_runs` times, median), and loads `<workload>.kw` from
    /// `baseline` if given.
    pub fn new(
        workload: &'static Workload,
        wasm: &[u8],
        wt: &WasmtimeEngines,
        compile_runs: usize,
        baseline: Option<&Path>,
    ) -> Result<Prepared> {
        let name = workload.name;
        let mut stats = CompileStats {
            wasm_bytes: wasm.len(),
            ..CompileStats::default()
        };
        let (kw, t) = timed(compile_runs, || kwasmc(wasm, true, 0))?;
        stats.kwasmc = t;
        let (kw_ns, t) = timed(compile_runs, || kwasmc(wasm, false, 0))?;
        stats.kwasmc_no_spectre = t;
        let host = kwasm_abi::host_cpu::host(kwasm_compiler::DEFAULT_TARGET);
        let (kw_hc, t) = timed(compile_runs, || kwasmc(wasm, true, host))?;
        stats.kwasmc_host_cpu = t;
        stats.kw_bytes = kw.len();
        stats.kw_no_spectre_bytes = kw_ns.len();
        stats.kw_host_cpu_bytes = kw_hc.len();
        let (module, t) = timed(compile_runs, || {
            wasmtime::Module::new(&wt.default, wasm).wt()
        })?;
        stats.wasmtime = t;
        let cwasm = module.serialize().wt()?;
        stats.wasmtime_bytes = cwasm.len();
        let (safe, t) = timed(compile_runs, || wasmtime::Module::new(&wt.safe, wasm).wt())?;
        stats.wasmtime_safe = t;
        let cwasm_safe = safe.serialize().wt()?;
        let load = |label: &str, bytes: &[u8]| -> Result<Rc<kwasm_runtime::Artifact>> {
            Ok(Rc::new(
                kwasm_runtime::Artifact::from_bytes(label, bytes)
                    .map_err(|e| anyhow!("{label}: loading the .kw: {e}"))?,
            ))
        };
        let kw_baseline = match baseline {
            Some(dir) => {
                let path = dir.join(format!("{name}.kw"));
                let bytes = std::fs::read(&path)
                    .with_context(|| format!("reading the baseline {}", path.display()))?;
                let label = path.display().to_string();
                Some(
                    load(&label, &bytes)
                        .context("a baseline must be built for this runtime's .kw format")?,
                )
            }
            None => None,
        };
        Ok(Prepared {
            workload,
            kw_baseline,
            kw: load(&format!("{name}.kw"), &kw)?,
            kw_no_spectre: load(&format!("{name}-no-spectre.kw"), &kw_ns)?,
            kw_host_cpu: load(&format!("{name}-host-cpu.kw"), &kw_hc)?,
            wasmtime: module,
            wasmtime_safe: safe,
            compile: stats,
            kw_bytes: kw,
            kw_no_spectre_bytes: kw_ns,
            kw_host_cpu_bytes: kw_hc,
            cwasm,
            cwasm_safe,
        })
    }

    /// A fresh instance of the workload for `engine`.
    pub fn instance(&self, engine: Engine) -> Result<Instance> {
        let name = self.workload.name;
        let kwasm = |a: &Rc<kwasm_runtime::Artifact>| -> Result<Instance> {
            let mut store = kwasm_runtime::Store::new(kwasm_runtime::StoreConfig {
                fuel: FUEL,
                ..kwasm_runtime::StoreConfig::default()
            });
            let inst = store
                .instantiate(a)
                .map_err(|e| anyhow!("{name}: kwasm instantiation: {e}"))?;
            Ok(Instance::Kwasm {
                store: Box::new(store),
                inst,
            })
        };
        let wasmtime = |m: &wasmtime::Module, fuel: bool| -> Result<Instance> {
            let mut store = wasmtime::Store::new(m.engine(), ());
            let inst = wasmtime::Instance::new(&mut store, m, &[]).wt()?;
            let func = inst.get_typed_func::<i32, i64>(&mut store, "run").wt()?;
            Ok(Instance::Wasmtime { store, func, fuel })
        };
        match engine {
            Engine::Native => Ok(Instance::Native(self.workload.run)),
            Engine::KwasmBaseline => match &self.kw_baseline {
                Some(a) => kwasm(a),
                None => bail!("{name}: the kwasm-baseline engine needs --baseline DIR"),
            },
            Engine::Kwasm => kwasm(&self.kw),
            Engine::KwasmNoSpectre => kwasm(&self.kw_no_spectre),
            Engine::KwasmHostCpu => kwasm(&self.kw_host_cpu),
            Engine::Wasmtime => wasmtime(&self.wasmtime, false),
            Engine::WasmtimeSafe => wasmtime(&self.wasmtime_safe, true),
        }
    }
}

/// One timed call.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub checksum: i64,
    /// Thread CPU time of the call.
    pub cpu: Duration,
    /// Wall-clock time of the call.
    pub wall: Duration,
}

/// An instantiated workload, ready to be called repeatedly (its memory and
/// allocator state persist between calls, as the native process's do).
pub enum Instance {
    Native(fn(i32) -> i64),
    Kwasm {
        store: Box<kwasm_runtime::Store>,
        inst: kwasm_runtime::InstanceId,
    },
    Wasmtime {
        store: wasmtime::Store<()>,
        func: wasmtime::TypedFunc<i32, i64>,
        fuel: bool,
    },
}

impl Instance {
    /// Runs the workload at size `n`, timed.
    pub fn call(&mut self, n: i32) -> Result<Sample> {
        let n = std::hint::black_box(n);
        match self {
            Instance::Native(f) => {
                let f = std::hint::black_box(*f);
                time(|| Ok(f(n)))
            }
            Instance::Kwasm { store, inst } => {
                let args = [kwasm_runtime::Val::I32(n)];
                time(|| match store.invoke(*inst, "run", &args) {
                    Ok(r) => match r.as_slice() {
                        [kwasm_runtime::Val::I64(v)] => Ok(*v),
                        other => bail!("kwasm: `run` returned {other:?}"),
                    },
                    Err(e) => bail!("kwasm: {e}"),
                })
            }
            Instance::Wasmtime { store, func, fuel } => {
                if *fuel {
                    store.set_fuel(FUEL).wt()?;
                }
                time(|| func.call(&mut *store, n).wt())
            }
        }
    }
}

fn time(f: impl FnOnce() -> Result<i64>) -> Result<Sample> {
    let wall = Instant::now();
    let cpu = thread_cpu_time();
    let checksum = std::hint::black_box(f()?);
    let cpu = thread_cpu_time() - cpu;
    let wall = wall.elapsed();
    Ok(Sample {
        checksum,
        cpu,
        wall,
    })
}
