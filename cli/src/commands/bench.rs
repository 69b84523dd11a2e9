//! `kwasm bench`: what a program's `filter` costs per packet, measured
//! inside the kernel with the `BENCH` ioctl (a test run, as eBPF's
//! `BPF_PROG_TEST_RUN`), or with `--user` in the userspace runner, timed the
//! same way: in batches, summarised by [`ioctl::bench_summary`].

use super::{Failure, fail, hook};
use crate::output::{self, Align, KeyValues, Ordered, Table};
use anyhow::{Context, Result, anyhow, bail};
use kwasm::Ctx;
use kwasm::device::{self, BenchRun};
use kwasm::packet::{dns_query, udp_datagram, udp_packet};
use kwasm::program::{load_config, load_program, unload_module};
use kwasm_abi::host;
use kwasm_abi::ioctl::{self, BenchOutcome, BenchReq};
use kwasm_abi::link::{self, Linking};
use kwasm_abi::trap::TrapCode;
use kwasm_runtime::artifact::raw_sections;
use kwasm_runtime::{Artifact, InvokeError, Store, StoreConfig, Val};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// A loaded program's name, or a .kw file: it is then loaded under a
    /// temporary name for the run and unloaded after it.
    pub program: String,
    /// File whose bytes are the packet, from the IP header on (what
    /// `pkt_load` offset 0 reads in the hook); at most 65535 bytes.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["udp", "len"])]
    pub packet: Option<PathBuf>,
    /// Use an IPv4/UDP packet from 127.0.0.1:40000 to this destination port
    /// [default when no --packet: 9].
    #[arg(long, value_name = "DPORT")]
    pub udp: Option<u16>,
    /// Length of the --udp packet in bytes, IP header included (28..=65535).
    #[arg(long, value_name = "N", default_value_t = 64, conflicts_with = "dns")]
    pub len: u32,
    /// Use an IPv4/UDP DNS query (type A, recursion desired) for this name,
    /// to --udp or port 53.
    #[arg(long, value_name = "NAME", conflicts_with = "packet")]
    pub dns: Option<String>,
    /// Number of calls of `filter` (1..=100000000).
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub repeat: u32,
    /// Calls per timed batch (0 = automatic: batches of about 1 ms). The
    /// kernel shrinks larger batches to about 1 ms, as bottom halves are
    /// disabled during one.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub batch: u32,
    /// Run on this CPU (the command pins itself with sched_setaffinity; the
    /// kernel benches on the caller's CPU).
    #[arg(long, value_name = "N")]
    pub cpu: Option<usize>,
    /// Print one JSON object instead of `key: value` lines.
    #[arg(long)]
    pub json: bool,
    /// Measure in the userspace runner (kwasm-runtime) instead of the
    /// kernel, on the same packet and timed the same way; needs a .kw file.
    #[arg(long)]
    pub user: bool,
    /// PROGRAM is an eBPF object (a SEC("netfilter") program built with
    /// `clang -target bpf`), timed with BPF_PROG_TEST_RUN in the same
    /// batches (needs a kwasm built with the `bpf` feature).
    #[arg(long, conflicts_with = "user")]
    pub bpf: bool,
    /// Also run this eBPF object on the same packet, the same way, and
    /// print both side by side with the ratio; fails when the verdicts
    /// disagree.
    #[arg(long, value_name = "FILE.bpf.o", conflicts_with_all = ["bpf", "user"])]
    pub compare_bpf: Option<PathBuf>,
    /// Measure the real hook path instead: --repeat UDP datagrams over lo
    /// (the --udp/--packet datagram) with the program attached at this
    /// point (e.g. ipv4:input) and as many without, in alternating rounds;
    /// prints packets per second and the ns the program adds per packet.
    #[arg(long, value_name = "POINT", conflicts_with_all = ["user", "compare_bpf"])]
    pub hook: Option<String>,
    /// Netfilter priority for --hook.
    #[arg(
        long,
        default_value_t = 0,
        allow_hyphen_values = true,
        requires = "hook"
    )]
    pub priority: i32,
    /// Send the request as given, without the CLI's checks (tests the
    /// kernel's).
    #[arg(long, hide = true)]
    pub unchecked: bool,
    /// PROGRAM is a filter of native_bench.ko (accept, port_filter,
    /// packet_counter, dns): the same logic in plain C, timed in the kernel
    /// in the same batches (the native baseline); with --hook, attached as
    /// a netfilter hook.
    #[arg(long, conflicts_with_all = ["user", "bpf"])]
    pub native: bool,
    /// Also run this native_bench.ko filter on the same packet, the same
    /// way, side by side (as --compare-bpf; both may be given).
    #[arg(long, value_name = "FILTER", conflicts_with_all = ["bpf", "user", "native", "hook"])]
    pub compare_native: Option<String>,
}

/// One bench result as printed; `--json` serializes it as is (the key names
/// are an interface).
#[derive(Serialize)]
struct BenchView {
    program: String,
    /// `kernel` (kwasm.ko), `user` (the userspace runner), `bpf`
    /// (BPF_PROG_TEST_RUN) or `native` (native_bench.ko).
    runner: &'static str,
    cpu: u32,
    packet_bytes: u32,
    /// `accept` or `drop`: the last call's verdict, as the hook returns it.
    verdict: &'static str,
    runs: u64,
    batch: u32,
    batches: u32,
    total_ns: u64,
    mean_ns: f64,
    median_ns: f64,
    p99_ns: f64,
    min_ns: f64,
    max_ns: f64,
    /// Calls by outcome (`accepts`, `drops`, `bad_verdicts`, `skipped`,
    /// `traps`, `out_of_fuel`), in this order.
    #[serde(flatten)]
    outcomes: Ordered<&'static str, u64>,
}

impl BenchView {
    fn new(program: &str, runner: &'static str, r: &BenchReq) -> BenchView {
        let ns = |ps: u64| ps as f64 / 1000.0;
        BenchView {
            program: program.to_string(),
            runner,
            cpu: r.cpu,
            packet_bytes: r.packet_len,
            verdict: if r.verdict == host::VERDICT_DROP as u32 {
                "drop"
            } else {
                "accept"
            },
            runs: r.runs,
            batch: r.batch,
            batches: r.batches,
            total_ns: r.total_ns,
            mean_ns: ns(r.mean_ps()),
            median_ns: ns(r.median_ps),
            p99_ns: ns(r.p99_ps),
            min_ns: ns(r.min_ps),
            max_ns: ns(r.max_ps),
            outcomes: Ordered(vec![
                ("accepts", r.accepts),
                ("drops", r.drops),
                ("bad_verdicts", r.bad_verdicts),
                ("skipped", r.skipped),
                ("traps", r.traps),
                ("out_of_fuel", r.out_of_fuel),
            ]),
        }
    }

    fn print(&self, json: bool) {
        if json {
            return output::json(self);
        }
        let mut kv = KeyValues::default();
        kv.add("program", &self.program)
            .add("runner", self.runner)
            .add("cpu", self.cpu)
            .add("packet_bytes", self.packet_bytes)
            .add("verdict", self.verdict)
            .add("runs", self.runs)
            .add("batches", self.batches)
            .add("batch", self.batch)
            .add("total_ns", self.total_ns)
            .add("mean_ns", format!("{:.1}", self.mean_ns))
            .add("median_ns", format!("{:.1}", self.median_ns))
            .add("p99_ns", format!("{:.1}", self.p99_ns))
            .add("min_ns", format!("{:.1}", self.min_ns))
            .add("max_ns", format!("{:.1}", self.max_ns));
        for (key, n) in &self.outcomes.0 {
            kv.add(key, n);
        }
        print!("{kv}");
    }
}

/// Pins the calling thread to `cpu`.
fn pin(cpu: usize) -> Result<()> {
    // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET stays in bounds
    // (checked against CPU_SETSIZE); sched_setaffinity reads the set.
    let rc = unsafe {
        if cpu >= libc::CPU_SETSIZE as usize {
            bail!("--cpu {cpu}: no such CPU");
        }
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc != 0 {
        bail!(
            "--cpu {cpu}: cannot run there: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

/// The CPU this thread runs on.
fn current_cpu() -> u32 {
    // SAFETY: no arguments; returns a CPU number or -1.
    let c = unsafe { libc::sched_getcpu() };
    c.max(0) as u32
}

fn is_file_arg(p: &str) -> bool {
    p.ends_with(".kw") || p.contains('/')
}

pub fn bench(ctx: &Ctx, a: &BenchArgs) -> Result<(), Failure> {
    let packet = match &a.packet {
        Some(p) => std::fs::read(p).map_err(|e| fail(p, format!("cannot read packet: {e}")))?,
        None => match &a.dns {
            Some(name) => udp_datagram(a.udp.unwrap_or(53), &dns_query(name)?)?,
            None => udp_packet(a.udp.unwrap_or(9), a.len)?,
        },
    };
    if !a.unchecked {
        if packet.is_empty() || packet.len() > ioctl::BENCH_MAX_PACKET as usize {
            return Err(anyhow!(
                "the packet has {} bytes: a bench packet has 1..={}",
                packet.len(),
                ioctl::BENCH_MAX_PACKET
            )
            .into());
        }
        if !(1..=ioctl::BENCH_MAX_REPEAT).contains(&a.repeat) {
            return Err(
                anyhow!("--repeat {}: use 1..={}", a.repeat, ioctl::BENCH_MAX_REPEAT).into(),
            );
        }
        if a.batch > ioctl::BENCH_MAX_BATCH {
            return Err(anyhow!("--batch {}: use 0..={}", a.batch, ioctl::BENCH_MAX_BATCH).into());
        }
    }
    if let Some(cpu) = a.cpu {
        pin(cpu)?;
    }
    if let Some(point) = &a.hook {
        return bench_hook(ctx, a, point, &packet);
    }
    if a.bpf {
        let r = bench_bpf(Path::new(&a.program), &packet, a)?;
        BenchView::new(&a.program, "bpf", &r).print(a.json);
        return Ok(());
    }
    let file = is_file_arg(&a.program).then(|| PathBuf::from(&a.program));
    if a.user {
        let Some(file) = &file else {
            return Err(anyhow!(
                "--user needs a .kw file: the kernel does not give a loaded program's code back"
            )
            .into());
        };
        let r = bench_user(file, &packet, a.repeat, a.batch)?;
        BenchView::new(&file.display().to_string(), "user", &r).print(a.json);
        return Ok(());
    }
    if a.native {
        let r = kwasm::native::bench_native(&a.program, &packet, a.repeat, a.batch)?;
        BenchView::new(&a.program, "native", &r).print(a.json);
        return Ok(());
    }
    let r = match &file {
        Some(f) => bench_file(ctx, f, &packet, a)?,
        None => {
            let dev = ctx.device()?;
            dev.bench(&BenchRun {
                name: &a.program,
                packet: &packet,
                repeat: a.repeat,
                batch: a.batch,
            })?
        }
    };
    let kwasm = BenchView::new(&a.program, "kernel", &r);
    let mut others = Vec::new();
    if let Some(obj) = &a.compare_bpf {
        let r = bench_bpf(obj, &packet, a)?;
        others.push(BenchView::new(&obj.display().to_string(), "bpf", &r));
    }
    if let Some(f) = &a.compare_native {
        let r = kwasm::native::bench_native(f, &packet, a.repeat, a.batch)?;
        others.push(BenchView::new(f, "native", &r));
    }
    if others.is_empty() {
        kwasm.print(a.json);
        return Ok(());
    }
    compare(kwasm, others, a.json)
}

/// `--compare-*`: the runs side by side, with each one's ratio to kwasm
/// (median of batches over median; the means are printed too). Fails when a
/// verdict differs from kwasm's.
fn compare(kwasm: BenchView, others: Vec<BenchView>, json: bool) -> Result<(), Failure> {
    let ratio = |o: &BenchView| kwasm.median_ns / o.median_ns.max(f64::MIN_POSITIVE);
    let disagree: Vec<&BenchView> = others
        .iter()
        .filter(|o| o.verdict != kwasm.verdict)
        .collect();
    if json {
        #[derive(Serialize)]
        struct Comparison<'a> {
            packet_bytes: u32,
            verdicts_agree: bool,
            /// kwasm's median over each other runner's, by runner.
            ratios: Ordered<&'static str, f64>,
            runs: Vec<&'a BenchView>,
        }
        let runs = std::iter::once(&kwasm).chain(&others).collect();
        output::json(&Comparison {
            packet_bytes: kwasm.packet_bytes,
            verdicts_agree: disagree.is_empty(),
            ratios: Ordered(others.iter().map(|o| (o.runner, ratio(o))).collect()),
            runs,
        });
    } else {
        let mut t = Table::new([
            ("RUNNER", Align::Left),
            ("PROGRAM", Align::Left),
            ("VERDICT", Align::Left),
            ("RUNS", Align::Right),
            ("MEAN_NS", Align::Right),
            ("MEDIAN_NS", Align::Right),
            ("P99_NS", Align::Right),
            ("KWASM/THIS", Align::Right),
        ]);
        for v in std::iter::once(&kwasm).chain(&others) {
            t.row([
                if v.runner == "kernel" {
                    "kwasm"
                } else {
                    v.runner
                }
                .to_string(),
                v.program.clone(),
                v.verdict.to_string(),
                v.runs.to_string(),
                format!("{:.1}", v.mean_ns),
                format!("{:.1}", v.median_ns),
                format!("{:.1}", v.p99_ns),
                format!("{:.2}", ratio(v)),
            ]);
        }
        print!("{t}");
    }
    if let Some(o) = disagree.first() {
        return Err(anyhow!(
            "verdicts disagree on the same packet: kwasm {} says {}, {} {} says {}",
            kwasm.program,
            kwasm.verdict,
            o.runner,
            o.program,
            o.verdict
        )
        .into());
    }
    Ok(())
}

/// A loaded kwasm program on a hook, through `/dev/kwasm`.
struct KwasmHook<'a> {
    dev: &'a kwasm::device::Device,
    name: &'a str,
    point: &'a str,
    priority: i32,
}

impl hook::Hooked for KwasmHook<'_> {
    fn attach(&mut self) -> Result<()> {
        self.dev.attach(self.name, self.point, self.priority, false)
    }
    fn detach(&mut self) -> Result<()> {
        self.dev.attach(self.name, self.point, 0, true)
    }
}

/// A native_bench.ko filter on a hook (`kwasm::native::attach`); detached
/// when dropped, so an error cannot leave it on the hook.
struct NativeHook<'a> {
    filter: &'a str,
    point: &'a str,
    priority: i32,
    attached: bool,
}

impl hook::Hooked for NativeHook<'_> {
    fn attach(&mut self) -> Result<()> {
        kwasm::native::attach(self.filter, self.point, self.priority, false)?;
        self.attached = true;
        Ok(())
    }
    fn detach(&mut self) -> Result<()> {
        kwasm::native::attach(self.filter, self.point, self.priority, true)?;
        self.attached = false;
        Ok(())
    }
}

impl Drop for NativeHook<'_> {
    fn drop(&mut self) {
        if self.attached {
            let _ = kwasm::native::attach(self.filter, self.point, self.priority, true);
        }
    }
}

/// `--hook`: the real hook path, for a kwasm program (loaded, or a .kw file
/// loaded for the run), with `--bpf` an eBPF object, or with `--native` a
/// native_bench.ko filter.
fn bench_hook(ctx: &Ctx, a: &BenchArgs, point: &str, packet: &[u8]) -> Result<(), Failure> {
    let d = hook::Datagram::from_ipv4_udp(packet)?;
    let packets = u64::from(a.repeat);
    let (runner, times) = if a.bpf {
        (
            "bpf",
            bpf_hook(Path::new(&a.program), point, a.priority, &d, packets)?,
        )
    } else if a.native {
        let mut h = NativeHook {
            filter: &a.program,
            point,
            priority: a.priority,
            attached: false,
        };
        ("native", hook::measure(&mut h, &d, packets)?)
    } else {
        device::attach_point(point)?;
        let dev = ctx.device()?;
        let times = if is_file_arg(&a.program) {
            let file = PathBuf::from(&a.program);
            catch_interrupts();
            let name = load_for_bench(ctx, &dev, &file)?;
            let mut h = KwasmHook {
                dev: &dev,
                name: &name,
                point,
                priority: a.priority,
            };
            let r = hook::measure(&mut h, &d, packets);
            let u = unload_module(&name);
            let r = r.with_context(|| format!("{} (loaded as {name})", file.display()))?;
            u?;
            r
        } else {
            let mut h = KwasmHook {
                dev: &dev,
                name: &a.program,
                point,
                priority: a.priority,
            };
            hook::measure(&mut h, &d, packets)?
        };
        ("kernel", times)
    };
    hook::view(
        a.program.clone(),
        runner,
        point,
        a.priority,
        &d,
        packets,
        times,
    )
    .print(a.json);
    Ok(())
}

/// `--bpf --hook`: the eBPF object on the hook through a netfilter link.
#[cfg(feature = "bpf")]
fn bpf_hook(
    obj: &Path,
    point: &str,
    priority: i32,
    d: &hook::Datagram,
    packets: u64,
) -> Result<(std::time::Duration, std::time::Duration)> {
    struct BpfHook {
        prog: kwasm::bpf::BpfProgram,
        family: u32,
        hook: u32,
        priority: i32,
        link: Option<libbpf_rs::Link>,
    }
    impl hook::Hooked for BpfHook {
        fn attach(&mut self) -> Result<()> {
            self.link = Some(self.prog.attach(self.family, self.hook, self.priority)?);
            Ok(())
        }
        fn detach(&mut self) -> Result<()> {
            // Dropping the link detaches the program.
            self.link = None;
            Ok(())
        }
    }
    let (family, hook) = device::attach_point(point)?;
    let mut h = BpfHook {
        prog: kwasm::bpf::BpfProgram::load(obj)?,
        family,
        hook,
        priority,
        link: None,
    };
    hook::measure(&mut h, d, packets)
}

#[cfg(not(feature = "bpf"))]
fn bpf_hook(
    obj: &Path,
    _: &str,
    _: i32,
    _: &hook::Datagram,
    _: u64,
) -> Result<(std::time::Duration, std::time::Duration)> {
    bail!("{}: {NO_BPF}", obj.display())
}

/// `--bpf`/`--compare-bpf`: the eBPF object `obj`, loaded for the run.
#[cfg(feature = "bpf")]
fn bench_bpf(obj: &Path, packet: &[u8], a: &BenchArgs) -> Result<BenchReq> {
    let mut p = kwasm::bpf::BpfProgram::load(obj)?;
    let mut r = p.bench(packet, a.repeat, a.batch)?;
    r.cpu = current_cpu();
    Ok(r)
}

#[cfg(not(feature = "bpf"))]
const NO_BPF: &str = "this kwasm was built without eBPF support: rebuild it with \
    `cargo build -p kwasm --features bpf` (needs `make setup`'s libbpf-dev, libelf-dev \
    and libzstd-dev)";

#[cfg(not(feature = "bpf"))]
fn bench_bpf(obj: &Path, _: &[u8], _: &BenchArgs) -> Result<BenchReq> {
    bail!("{}: {NO_BPF}", obj.display())
}

/// Loads `file` under a temporary name, benches it, unloads it.
fn bench_file(ctx: &Ctx, file: &Path, packet: &[u8], a: &BenchArgs) -> Result<BenchReq> {
    let dev = ctx.device()?;
    // SIGINT/SIGTERM interrupt the bench (EINTR) instead of killing us, so
    // the temporary program is still unloaded.
    catch_interrupts();
    let name = load_for_bench(ctx, &dev, file)?;
    let r = dev.bench(&BenchRun {
        name: &name,
        packet,
        repeat: a.repeat,
        batch: a.batch,
    });
    let u = unload_module(&name);
    let r = r.with_context(|| format!("{} (loaded as {name})", file.display()))?;
    u?;
    Ok(r)
}

/// Loads `file` under a temporary name (`bench_<pid>`), which it returns;
/// the caller unloads it with [`unload_module`].
fn load_for_bench(ctx: &Ctx, dev: &kwasm::device::Device, file: &Path) -> Result<String> {
    let shown = file.display().to_string();
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {shown}"))?;
    let art = Artifact::from_bytes(&shown, &bytes)?;
    let meta = art.meta();
    link::check_imports(&meta, Linking::Kernel).map_err(|e| anyhow!("{shown}: {e}"))?;
    if link::entry(&meta)
        .map_err(|e| anyhow!("{shown}: {e}"))?
        .is_none()
    {
        bail!("{shown}: no `{}` export to bench", host::FILTER_EXPORT);
    }
    let flags = if meta.uses_float() {
        ioctl::PROG_USES_FLOAT
    } else {
        0
    };
    let name = format!("bench_{}", std::process::id());
    let (text, meta_raw) = raw_sections(&bytes).map_err(|e| anyhow!("{shown}: {e}"))?;
    let config = load_config(
        device::prog_name(&name)?,
        kwasm_abi::fuel::DEFAULT,
        ioctl::DEFAULT_STACK_KIB,
        flags,
    );
    load_program(dev, ctx, &name, text, meta_raw, config, false)
        .with_context(|| format!("{shown}: loading it for the bench"))?;
    Ok(name)
}

extern "C" fn on_interrupt(_: libc::c_int) {}

/// Makes SIGINT and SIGTERM interrupt system calls (without `SA_RESTART`)
/// instead of ending the process.
fn catch_interrupts() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction with an empty mask and a handler that
        // does nothing (async-signal-safe); `sigaction` only reads it.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_interrupt as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// The userspace measurement: the same batches and summary as the kernel's
/// (one warm-up call sizes the first batch, each batch the next), each call through
/// `Store::invoke`, so the times include the runner's per-call overhead.
fn bench_user(file: &Path, packet: &[u8], repeat: u32, batch: u32) -> Result<BenchReq, Failure> {
    let artifact = Artifact::from_file(file).map_err(|e| Failure {
        status: 1,
        message: format!("kwasm: {e}"),
    })?;
    let artifact = Rc::new(artifact);
    let mut store = Store::new(StoreConfig {
        packet: packet.to_vec(),
        ..StoreConfig::default()
    });
    let inst = store.instantiate(&artifact).map_err(|e| fail(file, e))?;
    let args = [Val::I32(packet.len() as i32)];
    let export = host::FILTER_EXPORT;
    let mut r = BenchReq {
        packet_len: packet.len() as u32,
        repeat,
        cpu: current_cpu(),
        ..Default::default()
    };
    let mut call = |r: &mut BenchReq| -> Result<(), Failure> {
        let outcome = match store.invoke(inst, export, &args) {
            Ok(v) => match v.first() {
                Some(&Val::I32(v)) => BenchOutcome::of_verdict(v),
                _ => BenchOutcome::BadVerdict,
            },
            Err(InvokeError::Trap(t)) => BenchOutcome::Trap {
                out_of_fuel: t.code == TrapCode::OutOfFuel,
            },
            Err(e) => return Err(fail(file, e)),
        };
        r.count(outcome);
        // Without a program's flags, the default verdict is accept.
        let verdict = if outcome == BenchOutcome::Drop {
            host::VERDICT_DROP
        } else {
            host::VERDICT_ACCEPT
        };
        r.verdict = verdict as u32;
        Ok(())
    };
    let t0 = Instant::now();
    call(&mut BenchReq::default())?;
    let first_ns = t0.elapsed().as_nanos() as u64;
    kwasm::batches::run::<Failure>(&mut r, batch, first_ns, |n, r| {
        let t0 = Instant::now();
        for _ in 0..n {
            call(r)?;
        }
        Ok(t0.elapsed().as_nanos() as u64)
    })?;
    Ok(r)
}
