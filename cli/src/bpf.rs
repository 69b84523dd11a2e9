//! eBPF reference programs for `kwasm bench --bpf` and `--compare-bpf`: a
//! netfilter BPF object (`SEC("netfilter")`, built with `clang -target bpf`)
//! loaded with libbpf-rs, timed with `BPF_PROG_TEST_RUN` on the same packet
//! as the kwasm program, in the same batches, and attached to a real hook
//! through a netfilter BPF link for the hook-path bench.
//!
//! Only with the `bpf` feature: libbpf is C (libbpf-sys builds its bundled
//! copy and links libelf, zlib and zstd statically), so the default CLI stays
//! pure Rust. The VM's `kwasm` is built with it (static glibc).
//!
//! Timing. `BPF_PROG_TEST_RUN` runs the program `repeat` times in the
//! kernel (`bpf_test_run`: RCU read lock and migration disabled, bottom
//! halves on) and reports the mean per run in whole nanoseconds
//! (`ktime_get_ns`, rounded down). One test run is one batch here, sized by
//! [`ioctl::bench_batch_size`] as the kwasm BENCH batches are, so the
//! median and p99 of batches mean the same thing for both. The rounding
//! down favours eBPF by less than 1 ns per call.

use anyhow::{Context, Result, anyhow, bail};
use kwasm_abi::ioctl::{self, BenchOutcome, BenchReq};
use libbpf_rs::{
    Link, NetfilterOpts, Object, ObjectBuilder, PrintLevel, ProgramInput, ProgramMut, ProgramType,
};
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

/// libbpf's messages of the current load, kept so a verifier refusal can be
/// shown in full (libbpf logs the verifier's output at warning level).
static LOG: Mutex<String> = Mutex::new(String::new());

fn keep_log(level: PrintLevel, msg: String) {
    if matches!(level, PrintLevel::Warn | PrintLevel::Info)
        && let Ok(mut l) = LOG.lock()
    {
        l.push_str(&msg);
    }
}

/// A loaded BPF object with exactly one netfilter program.
pub struct BpfProgram {
    obj: Object,
    /// The program's name in the object (its C function name).
    pub name: String,
}

impl BpfProgram {
    /// Opens `path`, loads it (the verifier runs here) and finds its
    /// netfilter program. A refusal carries the verifier's log.
    pub fn load(path: &Path) -> Result<BpfProgram> {
        let file = path.display();
        LOG.lock().map(|mut l| l.clear()).ok();
        libbpf_rs::set_print(Some((PrintLevel::Info, keep_log)));
        let open = ObjectBuilder::default()
            .open_file(path)
            .with_context(|| format!("{file}: not a BPF object libbpf can open"))?;
        let nf: Vec<String> = open
            .progs()
            .filter(|p| p.prog_type() == ProgramType::Netfilter)
            .map(|p| p.name().to_string_lossy().into_owned())
            .collect();
        let name = match nf.as_slice() {
            [one] => one.clone(),
            [] => bail!(
                "{file}: no netfilter program in the object: kwasm compares against \
                 SEC(\"netfilter\") programs (BPF_PROG_TYPE_NETFILTER)"
            ),
            _ => bail!(
                "{file}: {} netfilter programs ({}): keep one per object",
                nf.len(),
                nf.join(", ")
            ),
        };
        let obj = open.load().map_err(|e| {
            let log = LOG.lock().map(|l| l.clone()).unwrap_or_default();
            anyhow!(
                "{file}: the kernel refused program {name}: {e}\n{}",
                log.trim_end()
            )
        })?;
        libbpf_rs::set_print(None);
        Ok(BpfProgram { obj, name })
    }

    fn prog(&mut self) -> Result<ProgramMut<'_>> {
        self.obj
            .progs_mut()
            .find(|p| p.name().to_string_lossy() == self.name)
            .ok_or_else(|| anyhow!("program {} vanished from its object", self.name))
    }

    /// One `BPF_PROG_TEST_RUN` of `repeat` calls on `packet` (from the IP
    /// header on, hook LOCAL_OUT as the kernel's netfilter test run fixes
    /// it): the verdict and the mean time per call in ns.
    pub fn test_run(&mut self, packet: &[u8], repeat: u32) -> Result<(u32, u64)> {
        let name = self.name.clone();
        let prog = self.prog()?;
        let input = ProgramInput {
            data_in: Some(packet),
            repeat,
            ..Default::default()
        };
        let out = prog
            .test_run(input)
            .with_context(|| format!("BPF_PROG_TEST_RUN of {name}"))?;
        Ok((out.return_value, out.duration.as_nanos() as u64))
    }

    /// The bench: `repeat` calls in batches, as the kwasm BENCH ioctl makes
    /// them, one test run per batch. The kernel's test run yields when a
    /// reschedule is due and ends with EINTR on a signal, as BENCH does.
    pub fn bench(&mut self, packet: &[u8], repeat: u32, batch: u32) -> Result<BenchReq> {
        if !(1..=ioctl::BENCH_MAX_REPEAT).contains(&repeat) {
            bail!("--repeat {repeat}: use 1..={}", ioctl::BENCH_MAX_REPEAT);
        }
        let mut r = BenchReq {
            packet_len: packet.len() as u32,
            repeat,
            ..Default::default()
        };
        let t0 = Instant::now();
        let (_, warm_ns) = self.test_run(packet, 1)?;
        let first_ns = warm_ns.max(t0.elapsed().as_nanos() as u64 / 8);
        crate::batches::run::<anyhow::Error>(&mut r, batch, first_ns, |n, r| {
            let (verdict, mean_ns) = self.test_run(packet, n)?;
            let outcome = BenchOutcome::of_verdict(verdict as i32);
            for _ in 0..n {
                r.count(outcome);
            }
            r.verdict = verdict;
            Ok(mean_ns * n as u64)
        })?;
        Ok(r)
    }

    /// Attaches the program to a netfilter hook through a BPF link; it stays
    /// attached while the link lives.
    pub fn attach(&mut self, family: u32, hook: u32, priority: i32) -> Result<Link> {
        let opts = NetfilterOpts {
            protocol_family: family as i32,
            hooknum: hook as i32,
            priority,
            ..Default::default()
        };
        let name = self.name.clone();
        self.prog()?
            .attach_netfilter_with_opts(opts)
            .with_context(|| format!("attaching BPF program {name} (netfilter link)"))
    }
}
