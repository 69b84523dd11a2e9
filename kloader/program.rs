// SPDX-License-Identifier: GPL-2.0

//! A loaded program: validated and linked metadata, its per-CPU instances,
//! maps and stats, and the call path: the netfilter hook, `INVOKE` and the
//! start function all run wasm through [`Program::call_here`] or
//! [`Program::run_start`], with bottom halves disabled.

use core::fmt::Write;
use core::sync::atomic::{AtomicU64, Ordering};

use kernel::prelude::*;
use kernel::sync::Arc;

use crate::abi::fuel;
use crate::abi::host;
use crate::abi::ioctl::{self, LoadConfig, ProgStats, NAME_LEN};
use crate::abi::link::{self, Linking};
use crate::abi::meta::{Meta, NONE};
use crate::abi::trap::{TrapCode, TRAP_KINDS};
use crate::ffi::{self, BhDisabled, KernelFpu, ModulePtr, MsgBuf, Packet, RateLimit};
use crate::abi::maps;
use crate::instance::{new_map, Callee, CpuSlot, Instance, Shared, Trap};

/// Per-CPU counters, written only by their CPU, read by anyone.
#[derive(Default)]
struct CpuStats {
    invocations: AtomicU64,
    accepts: AtomicU64,
    drops: AtomicU64,
    bad_verdicts: AtomicU64,
    fpu_unavailable: AtomicU64,
    run_ns: AtomicU64,
    traps: [AtomicU64; TRAP_KINDS],
}

/// Adds to a counter that only the current CPU writes (no locked op).
fn bump(c: &AtomicU64, by: u64) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(by), Ordering::Relaxed);
}

/// Why wasm did not run to the end.
pub(crate) enum CallError {
    /// It trapped.
    Trap(Trap),
    /// The program uses floats and the FPU is not usable here.
    NoFpu,
    /// The instance is running already (a nested call on this CPU).
    Busy,
}

/// The outcome of one `filter` call, before it becomes a verdict.
enum Filtered {
    Accept,
    Drop,
    /// It returned something else than accept or drop.
    BadVerdict,
    NoFpu,
    Busy,
    Trap(Trap),
}

/// A bench call's outcome, as `BENCH` counts it.
fn bench_outcome(r: &Filtered) -> ioctl::BenchOutcome {
    use ioctl::BenchOutcome as O;
    match r {
        Filtered::Accept => O::Accept,
        Filtered::Drop => O::Drop,
        Filtered::BadVerdict => O::BadVerdict,
        Filtered::NoFpu | Filtered::Busy => O::Skipped,
        Filtered::Trap(t) => O::Trap { out_of_fuel: t.code == TrapCode::OutOfFuel as u32 },
    }
}

/// A loaded program.
pub(crate) struct Program {
    pub(crate) shared: Arc<Shared>,
    pub(crate) id: u32,
    /// The program's `struct module`.
    pub(crate) owner: ModulePtr,
    /// Metadata and code live in the owner module, which outlives the
    /// program (`kwasm_unregister` runs in its exit stub).
    pub(crate) meta: Meta<'static>,
    pub(crate) fuel: u64,
    pub(crate) stack_kib: u32,
    /// `LoadConfig.flags`.
    pub(crate) flags: u32,
    pub(crate) mem_pages: u32,
    /// The `filter` export, if any.
    pub(crate) entry: Option<Callee>,
    /// One per possible CPU id.
    cpus: KVec<KBox<CpuSlot>>,
    stats: KVec<CpuStats>,
    /// Rate limit of this program's reports (traps, refused `INVOKE`
    /// arguments).
    pub(crate) report_limit: RateLimit,
}

impl Program {
    pub(crate) fn name(&self) -> &str {
        self.shared.name()
    }

    pub(crate) fn name_bytes(&self) -> &[u8; NAME_LEN] {
        &self.shared.name
    }

    pub(crate) fn uses_float(&self) -> bool {
        self.meta.uses_float()
    }

    /// The verdict used when the program traps or returns garbage.
    pub(crate) fn default_verdict(&self) -> u32 {
        if self.flags & ioctl::PROG_DROP_ON_TRAP != 0 {
            host::VERDICT_DROP as u32
        } else {
            host::VERDICT_ACCEPT as u32
        }
    }

    /// A callable function by index (`None` without a trampoline).
    pub(crate) fn callee(&self, f: u32) -> Option<Callee> {
        Callee::new(&self.meta, f)
    }

    /// Links (`abi::link`), allocates and instantiates one instance per
    /// possible CPU, and runs the start function on each. `meta` and `text`
    /// are the owner module's.
    pub(crate) fn new(
        owner: ModulePtr,
        meta: Meta<'static>,
        text: &'static [u8],
        cfg: &LoadConfig,
        id: u32,
    ) -> Result<Program> {
        let name = ioctl::decode_name(&cfg.name).ok_or(EINVAL)?;
        if let Err(e) = link::check_imports(&meta, Linking::Kernel) {
            pr_err!("{name}: {e}\n");
            return Err(EINVAL);
        }
        let entry = match link::entry(&meta) {
            Ok(e) => e,
            Err(e) => {
                pr_err!("{name}: {e}\n");
                return Err(EINVAL);
            }
        };
        let entry = match entry {
            None => None,
            Some(f) => Some(Callee::new(&meta, f).ok_or_else(|| {
                pr_err!("{name}: `filter` has no trampoline\n");
                EINVAL
            })?),
        };

        let ncpus = ffi::kwasm_nr_cpus();
        let mut maps = KVec::with_capacity(meta.maps().len() as usize, GFP_KERNEL)?;
        for (i, r) in meta.maps().iter().enumerate() {
            let m = new_map(&r, ncpus).inspect_err(|e| {
                if *e == E2BIG {
                    pr_err!(
                        "{name}: map {i} needs more than {} slots for {ncpus} CPUs\n",
                        maps::MAX_MAP_SLOTS
                    );
                }
            })?;
            maps.push(m, GFP_KERNEL)?;
        }
        let shared = Arc::new(Shared::new(cfg.name, maps)?, GFP_KERNEL)?;

        // Canonical type ids: equal signatures get equal ids.
        let ntypes = meta.types().len() as usize;
        let mut type_ids = KVec::from_elem(0u32, ntypes, GFP_KERNEL)?;
        let mut scratch = KVec::from_elem(0u32, ntypes, GFP_KERNEL)?;
        if !meta.canonical_type_ids(&mut type_ids, &mut scratch) {
            return Err(EINVAL);
        }
        drop(scratch);

        let stack_kib = if cfg.stack_kib == 0 { ioctl::DEFAULT_STACK_KIB } else { cfg.stack_kib };
        let mut cpus = KVec::with_capacity(ncpus as usize, GFP_KERNEL)?;
        let mut stats = KVec::with_capacity(ncpus as usize, GFP_KERNEL)?;
        for cpu in 0..ncpus {
            let inst = Instance::new(meta, text, shared.clone(), cpu, &type_ids, stack_kib)?;
            cpus.push(CpuSlot::new(inst)?, GFP_KERNEL)?;
            stats.push(CpuStats::default(), GFP_KERNEL)?;
        }

        let mut prog = Program {
            shared,
            id,
            owner,
            meta,
            fuel: if cfg.fuel == 0 { fuel::DEFAULT } else { cfg.fuel },
            stack_kib,
            flags: cfg.flags,
            mem_pages: meta.memory().get(0).map_or(0, |r| r.min),
            entry,
            cpus,
            stats,
            report_limit: RateLimit::new()?,
        };
        prog.run_start()?;
        Ok(prog)
    }

    /// Runs the start function on every instance, before the program is
    /// shared: as on the packet path, with bottom halves disabled and the
    /// FPU only where the kernel allows it.
    fn run_start(&mut self) -> Result {
        let f = self.meta.start_func;
        if f == NONE {
            return Ok(());
        }
        let c = self.callee(f).ok_or(EINVAL)?;
        for slot in self.cpus.iter() {
            let mut values = [0u64; 1];
            let bh = BhDisabled::new();
            let r = {
                let fpu = match self.uses_float() {
                    true => Some(KernelFpu::begin(&bh).ok_or(EBUSY)?),
                    false => None,
                };
                // SAFETY: `&mut self`: the program is not shared yet, so
                // nothing else runs on its instances.
                let r = unsafe { slot.call(&bh, (&c, &mut values, self.fuel), None) };
                drop(fpu);
                r
            };
            drop(bh);
            match r {
                Ok(Ok(())) => {}
                Ok(Err(t)) => {
                    let mut msg = MsgBuf::new();
                    self.describe_trap(&mut msg, t);
                    pr_err!("{}: start function trapped: {}\n", self.name(), msg.as_str());
                    return Err(EINVAL);
                }
                Err(()) => return Err(EBUSY),
            }
        }
        Ok(())
    }

    /// Calls `c` on this CPU's instance with `values` (arguments in,
    /// results out; at least `max(params, results)` slots) and `fuel`.
    /// `packet` is what `pkt_len`/`pkt_load` see.
    pub(crate) fn call_here(
        &self,
        bh: &BhDisabled,
        c: &Callee,
        values: &mut [u64],
        fuel: u64,
        packet: Option<Packet>,
    ) -> core::result::Result<(), CallError> {
        let Some(slot) = self.cpus.get(bh.cpu()) else { return Err(CallError::Busy) };
        let fpu = match self.uses_float() {
            true => Some(KernelFpu::begin(bh).ok_or(CallError::NoFpu)?),
            false => None,
        };
        // SAFETY: the current CPU's slot, and bottom halves are disabled
        // (`bh`), so no other call can start on it until we return; a
        // nested one finds it busy.
        let r = unsafe { slot.call(bh, (c, values, fuel), packet) };
        drop(fpu);
        match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(t)) => Err(CallError::Trap(t)),
            Err(()) => Err(CallError::Busy),
        }
    }

    /// `"<message> in function N (name)"`.
    pub(crate) fn describe_trap(&self, out: &mut MsgBuf, t: Trap) {
        let msg = TrapCode::from_u32(t.code).map_or("unknown trap", |c| c.message());
        let _ = write!(out, "{msg}");
        if t.func != u32::MAX {
            let _ = write!(out, " in function {}", t.func);
            let n = self.meta.func_name(t.func);
            if !n.is_empty() {
                let _ = write!(out, " ({n})");
            }
        }
    }

    /// One call of `filter(pkt_len)` on this CPU's instance, with the
    /// program's fuel, and its result checked: what the netfilter hook and
    /// `BENCH` both run.
    fn filter_once(&self, bh: &BhDisabled, c: &Callee, pkt: Packet) -> Filtered {
        let mut values = [pkt.len() as u64];
        match self.call_here(bh, c, &mut values, self.fuel, Some(pkt)) {
            Ok(()) => match values[0] as u32 as i32 {
                host::VERDICT_ACCEPT => Filtered::Accept,
                host::VERDICT_DROP => Filtered::Drop,
                _ => Filtered::BadVerdict,
            },
            Err(CallError::NoFpu) => Filtered::NoFpu,
            Err(CallError::Busy) => Filtered::Busy,
            Err(CallError::Trap(t)) => Filtered::Trap(t),
        }
    }

    /// The verdict the hook returns for an outcome.
    fn verdict(&self, f: &Filtered) -> u32 {
        match f {
            Filtered::Accept => host::VERDICT_ACCEPT as u32,
            Filtered::Drop => host::VERDICT_DROP as u32,
            _ => self.default_verdict(),
        }
    }

    /// The netfilter hook: runs `filter(pkt_len)` on this CPU's instance.
    pub(crate) fn run_hook(&self, pkt: Packet) -> u32 {
        let default = self.default_verdict();
        let Some(c) = self.entry else { return default };
        let bh = BhDisabled::new();
        let Some(st) = self.stats.get(bh.cpu()) else { return default };
        bump(&st.invocations, 1);
        let t0 = ffi::kwasm_clock_ns();
        let r = self.filter_once(&bh, &c, pkt);
        let t1 = ffi::kwasm_clock_ns();
        match &r {
            Filtered::Accept => bump(&st.accepts, 1),
            Filtered::Drop => bump(&st.drops, 1),
            Filtered::BadVerdict => bump(&st.bad_verdicts, 1),
            Filtered::NoFpu => bump(&st.fpu_unavailable, 1),
            Filtered::Busy => {}
            Filtered::Trap(t) => {
                if let Some(tc) = TrapCode::from_u32(t.code) {
                    bump(&st.traps[tc.index()], 1);
                }
                let mut msg = MsgBuf::new();
                let _ = write!(msg, "{}: trap: ", self.name());
                self.describe_trap(&mut msg, *t);
                self.report_limit.log(msg.as_bytes());
            }
        }
        if !matches!(r, Filtered::NoFpu | Filtered::Busy) {
            bump(&st.run_ns, t1.wrapping_sub(t0));
        }
        self.verdict(&r)
    }

    /// `BENCH`: `filter` on `pkt`, `req.repeat` times, exactly as the hook
    /// runs it ([`Program::filter_once`]) but not counted in the program's
    /// stats, in batches with bottom halves disabled, timed per batch.
    /// Between batches it yields, and stops with EINTR on a signal. Each
    /// batch is sized from the previous one's time per call (the first
    /// from one uncounted warm-up call), so that a program that slows down
    /// cannot hold bottom halves off for long. Fills the output fields of
    /// `req`; `req` is checked by the caller.
    pub(crate) fn bench(&self, pkt: Packet, req: &mut ioctl::BenchReq) -> Result {
        let c = self.entry.ok_or(EINVAL)?;
        // One warm-up call (not counted) sizes the batches.
        let warm = {
            let bh = BhDisabled::new();
            let t0 = ffi::kwasm_clock_ns();
            let r = self.filter_once(&bh, &c, pkt);
            let t1 = ffi::kwasm_clock_ns();
            req.cpu = bh.cpu() as u32;
            if matches!(r, Filtered::Busy) {
                return Err(EBUSY);
            }
            t1.wrapping_sub(t0)
        };
        let mut per_call = KVVec::new();
        let mut call_ns = warm;
        let mut left = req.repeat;
        let requested = req.batch;
        req.batch = 0;
        while left > 0 {
            if !ffi::yield_now() {
                return Err(EINTR);
            }
            let n = left.min(ioctl::bench_batch_size(requested, req.repeat, call_ns));
            let ns = {
                let bh = BhDisabled::new();
                let t0 = ffi::kwasm_clock_ns();
                for _ in 0..n {
                    let r = self.filter_once(&bh, &c, pkt);
                    req.count(bench_outcome(&r));
                    req.verdict = self.verdict(&r);
                }
                ffi::kwasm_clock_ns().wrapping_sub(t0)
            };
            left -= n;
            call_ns = ns / n as u64;
            per_call.push(req.add_batch(n, ns), GFP_KERNEL)?;
        }
        req.summarise(&mut per_call);
        Ok(())
    }

    /// Summed stats.
    pub(crate) fn stats(&self) -> ProgStats {
        let mut s = ProgStats::default();
        let ld = |a: &AtomicU64| a.load(Ordering::Relaxed);
        for c in self.stats.iter() {
            s.invocations += ld(&c.invocations);
            s.accepts += ld(&c.accepts);
            s.drops += ld(&c.drops);
            s.bad_verdicts += ld(&c.bad_verdicts);
            s.fpu_unavailable += ld(&c.fpu_unavailable);
            s.run_ns += ld(&c.run_ns);
            for k in 0..TRAP_KINDS {
                s.traps[k] += ld(&c.traps[k]);
            }
        }
        s
    }

    /// `ProgInfo` without attachments.
    pub(crate) fn info(&self) -> ioctl::ProgInfo {
        let mut flags = self.flags & ioctl::PROG_DROP_ON_TRAP;
        if self.uses_float() {
            flags |= ioctl::PROG_USES_FLOAT;
        }
        ioctl::ProgInfo {
            name: self.shared.name,
            id: self.id,
            flags,
            funcs: self.meta.func_count(),
            text_len: self.meta.text_len,
            mem_pages: self.mem_pages,
            stack_kib: self.stack_kib,
            fuel: self.fuel,
            nmaps: self.meta.maps().len(),
            stats: self.stats(),
            ..Default::default()
        }
    }
}
