// SPDX-License-Identifier: GPL-2.0

//! A loaded program: validated metadata, its per-CPU instances, maps and
//! stats, and the call path into generated code.
//!
//! Instantiation mirrors the userspace runtime (`cli/src/runtime/
//! instance.rs`) and `docs/codegen-contract.md`, with kernel constraints:
//! memory and tables are allocated up front (`grow` beyond that returns -1,
//! so nothing allocates on the packet path), there are no imports other than
//! host functions, and every CPU has its own instance, stack and counters.

use core::fmt::Write;
use core::ptr;
use core::sync::atomic::{AtomicU64, Ordering};

use kernel::prelude::*;

use crate::abi::host;
use crate::abi::ioctl::{self, LoadConfig, ProgStats, NAME_LEN};
use crate::abi::meta::{self, kind, Meta, NONE};
use crate::abi::trap::{TrapCode, TRAP_KINDS};
use crate::abi::types::ValType;
use crate::abi::vmctx::{
    self, funcref, header, import_func, MemoryKind, VmCtxCounts, VmCtxLayout, WASM_PAGE_SIZE,
};
use crate::ffi::{self, BhGuard, MsgBuf, RateLimit, VMem};
use crate::runtime;

/// Most linear memory preallocated per instance: 16 MiB.
pub(crate) const MEM_CAP_PAGES: u32 = 256;
/// Pages preallocated beyond the minimum when a memory declares no maximum.
pub(crate) const MEM_HEADROOM_PAGES: u32 = 16;
/// Most elements preallocated per table.
pub(crate) const TABLE_CAP: u32 = 1 << 16;
/// Elements preallocated beyond the minimum when a table declares no maximum.
pub(crate) const TABLE_HEADROOM: u32 = 64;

/// A defined table: preallocated elements; `VmTable` lives in `VmCtx`.
pub(crate) struct Table {
    pub(crate) buf: VMem,
    /// Capacity in elements (grow stops here).
    pub(crate) cap: u32,
}

/// A program's instance on one CPU. Only that CPU touches it, with bottom
/// halves disabled (see [`Program::run`]); generated code reaches it through
/// `VmCtx + HOST_CTX`, so it lives at a fixed address (a leaked `KBox`
/// owned by [`Program`]).
pub(crate) struct Instance {
    /// The program, for host functions (maps, name); set once the program
    /// has its final address.
    pub(crate) prog: *const Program,
    pub(crate) vmctx: VMem,
    pub(crate) layout: VmCtxLayout,
    /// Preallocated linear memory (`VmMemory` is in `VmCtx`).
    pub(crate) memory: Option<VMem>,
    pub(crate) tables: KVec<Table>,
    /// Resolved element segments; `elem_dropped[i]` empties segment `i`.
    pub(crate) elems: KVec<KVec<u64>>,
    pub(crate) elem_dropped: KVec<bool>,
    pub(crate) data_dropped: KVec<bool>,
    pub(crate) stack: VMem,
    /// Saved registers of the running `kwasm_enter` (layout: `entry.S`).
    pub(crate) jmpbuf: [u64; 8],
    pub(crate) trapped: bool,
    pub(crate) trap_code: u32,
    pub(crate) trap_func: u32,
    /// The packet of the running hook invocation, or null.
    pub(crate) skb: *const core::ffi::c_void,
    /// Set while generated code runs on this instance.
    pub(crate) busy: bool,
}

impl Instance {
    pub(crate) fn at<T>(&self, off: u32) -> *mut T {
        self.vmctx.ptr().wrapping_add(off as usize).cast()
    }

    /// `VmMemory.length`, in bytes.
    pub(crate) fn mem_len(&self) -> u64 {
        if self.memory.is_none() {
            return 0;
        }
        // SAFETY: the defined memory's `VmMemory` is inside `vmctx`.
        unsafe { *self.at::<u64>(self.layout.defined_memory + vmctx::memory::LENGTH) }
    }

    pub(crate) fn set_mem_len(&self, len: u64) {
        // SAFETY: as in `mem_len`; only called when the memory exists.
        unsafe { *self.at::<u64>(self.layout.defined_memory + vmctx::memory::LENGTH) = len }
    }

    /// All accessible bytes of linear memory (empty without a memory).
    pub(crate) fn mem_bytes(&mut self) -> &mut [u8] {
        let len = self.mem_len() as u32;
        self.mem_slice(0, len).unwrap_or(&mut [])
    }

    /// `[off, off + len)` of linear memory, if in bounds.
    pub(crate) fn mem_slice(&mut self, off: u32, len: u32) -> Option<&mut [u8]> {
        let m = self.memory.as_ref()?;
        let end = off as u64 + len as u64;
        if end > self.mem_len() {
            return None;
        }
        // SAFETY: in bounds of the current length, which never exceeds the
        // preallocation; the caller has the instance exclusively.
        Some(unsafe { core::slice::from_raw_parts_mut(m.ptr().add(off as usize), len as usize) })
    }

    /// `VmTable.length` of defined table `t`.
    pub(crate) fn table_len(&self, t: u32) -> u64 {
        // SAFETY: `t` is a defined table (callers check), inside `vmctx`.
        unsafe { *self.at::<u64>(self.layout.defined_table(t) + vmctx::table::LENGTH) }
    }

    pub(crate) fn set_table_len(&self, t: u32, len: u64) {
        // SAFETY: as in `table_len`.
        unsafe { *self.at::<u64>(self.layout.defined_table(t) + vmctx::table::LENGTH) = len }
    }

    /// The current elements of table `t`.
    pub(crate) fn table_elems(&mut self, t: u32) -> Option<&mut [u64]> {
        let len = self.table_len(*(t < self.tables.len() as u32).then_some(&t)?);
        let tb = &self.tables[t as usize];
        // SAFETY: `len <= cap` elements of the preallocated buffer.
        Some(unsafe { core::slice::from_raw_parts_mut(tb.buf.ptr().cast::<u64>(), len as usize) })
    }

    pub(crate) fn func_ref(&self, f: u32) -> u64 {
        self.vmctx.ptr() as u64 + self.layout.func_ref(f) as u64
    }
}

/// Per-CPU counters, written only by their CPU, read by anyone.
#[derive(Default)]
pub(crate) struct CpuStats {
    pub(crate) invocations: AtomicU64,
    pub(crate) accepts: AtomicU64,
    pub(crate) drops: AtomicU64,
    pub(crate) bad_verdicts: AtomicU64,
    pub(crate) fpu_unavailable: AtomicU64,
    pub(crate) run_ns: AtomicU64,
    pub(crate) traps: [AtomicU64; TRAP_KINDS],
}

/// Adds to a counter that only the current CPU writes (no locked op).
fn bump(c: &AtomicU64, by: u64) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(by), Ordering::Relaxed);
}

/// A callable function: its code, its type's trampoline and its type.
#[derive(Clone, Copy)]
pub(crate) struct Callee {
    pub(crate) code: *const u8,
    pub(crate) trampoline: *const u8,
    pub(crate) nparams: usize,
    pub(crate) nresults: usize,
    /// The function's type, for checking values that cross the boundary.
    pub(crate) ty: meta::TypeRec,
}

/// A trap: code and function index.
#[derive(Clone, Copy)]
pub(crate) struct Trap {
    pub(crate) code: u32,
    pub(crate) func: u32,
}

/// A loaded program.
pub(crate) struct Program {
    pub(crate) name: [u8; NAME_LEN],
    pub(crate) id: u32,
    /// The program's `struct module`.
    pub(crate) owner: *mut core::ffi::c_void,
    /// Metadata and code live in the owner module, which outlives the
    /// program (`kwasm_unregister` runs in its exit stub).
    pub(crate) meta: Meta<'static>,
    pub(crate) text: *const u8,
    pub(crate) fuel: u64,
    pub(crate) stack_kib: u32,
    /// `LoadConfig.flags`.
    pub(crate) flags: u32,
    pub(crate) mem_pages: u32,
    /// The `filter` export, if any.
    pub(crate) entry: Option<Callee>,
    pub(crate) maps: KVec<VMem>,
    /// One per possible CPU id.
    pub(crate) instances: KVec<*mut Instance>,
    pub(crate) stats: KVec<CpuStats>,
    /// Rate limits of this program's `log` output and of its reports (traps,
    /// refused `INVOKE` arguments).
    pub(crate) log_limit: RateLimit,
    pub(crate) report_limit: RateLimit,
}

// SAFETY: instances are touched only by their own CPU with bottom halves
// disabled; everything else is immutable after load or atomic.
unsafe impl Send for Program {}
// SAFETY: as above.
unsafe impl Sync for Program {}

impl Drop for Program {
    fn drop(&mut self) {
        for &i in self.instances.iter() {
            // SAFETY: created by `KBox::into_raw` in `new`, freed once here;
            // no code runs on a program being dropped.
            drop(unsafe { KBox::from_raw(i) });
        }
    }
}

/// Why a load was refused; the message is printed by the caller.
pub(crate) type LoadResult<T> = core::result::Result<T, Error>;

fn sig_eq(m: &Meta<'_>, t: meta::TypeRec, params: &[ValType], results: &[ValType]) -> bool {
    t.nparams as usize == params.len()
        && t.nresults as usize == results.len()
        && m.params(t).zip(params.iter()).all(|(a, b)| a == *b)
        && m.results(t).zip(results.iter()).all(|(a, b)| a == *b)
}

struct TypeList<'a>(&'a Meta<'static>, meta::TypeRec);

impl core::fmt::Display for TypeList<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("(")?;
        for (i, p) in self.0.params(self.1).enumerate() {
            write!(f, "{}{}", if i > 0 { ", " } else { "" }, p.name())?;
        }
        f.write_str(") -> (")?;
        for (i, r) in self.0.results(self.1).enumerate() {
            write!(f, "{}{}", if i > 0 { ", " } else { "" }, r.name())?;
        }
        f.write_str(")")
    }
}

struct SigList<'a>(&'a [ValType], &'a [ValType]);

impl core::fmt::Display for SigList<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("(")?;
        for (i, p) in self.0.iter().enumerate() {
            write!(f, "{}{}", if i > 0 { ", " } else { "" }, p.name())?;
        }
        f.write_str(") -> (")?;
        for (i, r) in self.1.iter().enumerate() {
            write!(f, "{}{}", if i > 0 { ", " } else { "" }, r.name())?;
        }
        f.write_str(")")
    }
}

impl Program {
    pub(crate) fn name(&self) -> &str {
        ioctl::decode_name(&self.name).unwrap_or("?")
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
        let m = &self.meta;
        let t = m.types().get(m.func_type(f)?)?;
        if t.trampoline == NONE {
            return None;
        }
        let nimp = m.imported(kind::FUNC);
        let rec = m.funcs().get(f.checked_sub(nimp)?)?;
        Some(Callee {
            // SAFETY: offsets validated against `text_len` by `Meta::parse`,
            // and `text` holds `text_len` bytes.
            code: unsafe { self.text.add(rec.text_off as usize) },
            // SAFETY: as above.
            trampoline: unsafe { self.text.add(t.trampoline as usize) },
            nparams: t.nparams as usize,
            nresults: t.nresults as usize,
            ty: t,
        })
    }

    /// Validate and instantiate. `meta`/`text` must stay valid for the
    /// program's lifetime (they are the owner module's).
    pub(crate) fn new(
        owner: *mut core::ffi::c_void,
        meta: Meta<'static>,
        text: *const u8,
        cfg: &LoadConfig,
        id: u32,
    ) -> LoadResult<Program> {
        let name = ioctl::decode_name(&cfg.name).ok_or(EINVAL)?;
        let m = &meta;

        // Imports: host functions only, with their exact signature.
        for (i, imp) in m.imports().iter().enumerate() {
            let (module, field) = (m.str(imp.module), m.str(imp.name));
            if imp.kind != kind::FUNC {
                pr_err!("{name}: import {i} ({module}.{field}) is not a function; only host functions can be imported\n");
                return Err(EINVAL);
            }
            let Some(hf) = host::lookup(module, field) else {
                pr_err!("{name}: unknown import {module}.{field}\n");
                return Err(EINVAL);
            };
            let t = m.types().get(imp.index).ok_or(EINVAL)?;
            if !sig_eq(m, t, hf.params, hf.results) {
                pr_err!(
                    "{name}: import {module}.{field} has type {}, expected {}\n",
                    TypeList(m, t),
                    SigList(hf.params, hf.results)
                );
                return Err(EINVAL);
            }
        }
        // The entry point, if present: filter: (i32) -> i32.
        let mut entry = None;
        if let Some(e) = m.export(host::FILTER_EXPORT) {
            let ok = e.kind == kind::FUNC
                && m.func_type(e.index)
                    .and_then(|t| m.types().get(t))
                    .is_some_and(|t| sig_eq(m, t, &[ValType::I32], &[ValType::I32]));
            if !ok {
                pr_err!("{name}: export `filter` must be a function of type (i32) -> (i32)\n");
                return Err(EINVAL);
            }
            entry = Some(e.index);
        }

        let fuel = if cfg.fuel == 0 { crate::abi::fuel::DEFAULT } else { cfg.fuel };
        let mut prog = Program {
            name: cfg.name,
            id,
            owner,
            meta,
            text,
            fuel,
            stack_kib: if cfg.stack_kib == 0 { ioctl::DEFAULT_STACK_KIB } else { cfg.stack_kib },
            flags: cfg.flags,
            mem_pages: meta.memory().get(0).map_or(0, |r| r.min),
            entry: None,
            maps: KVec::new(),
            instances: KVec::new(),
            stats: KVec::new(),
            log_limit: RateLimit::new()?,
            report_limit: RateLimit::new()?,
        };
        if let Some(f) = entry {
            prog.entry = Some(prog.callee(f).ok_or_else(|| {
                pr_err!("{name}: `filter` has no trampoline\n");
                EINVAL
            })?);
        }
        for r in meta.maps().iter() {
            prog.maps.push(VMem::new(r.entries as usize * 8)?, GFP_KERNEL)?;
        }

        // Canonical type ids: equal signatures get equal ids.
        let types = meta.types();
        let mut type_ids = KVec::with_capacity(types.len() as usize, GFP_KERNEL)?;
        for (i, t) in types.iter().enumerate() {
            let sig = |t: meta::TypeRec| {
                m.pool_bytes(meta::PoolRef { off: t.sig, len: t.nparams as u32 + t.nresults as u32 })
            };
            let mine = sig(t);
            let id = types
                .iter()
                .take(i)
                .position(|u| u.nparams == t.nparams && sig(u) == mine)
                .unwrap_or(i);
            type_ids.push(id as u32, GFP_KERNEL)?;
        }

        // SAFETY: no preconditions.
        let ncpus = unsafe { ffi::kwasm_nr_cpus() } as usize;
        for _ in 0..ncpus {
            let inst = prog.instantiate(&type_ids)?;
            let raw = KBox::into_raw(KBox::new(inst, GFP_KERNEL)?);
            // SAFETY: `raw` is a live allocation; HOST_CTX points back to it.
            unsafe { *(*raw).at::<*mut Instance>(header::HOST_CTX) = raw };
            prog.instances.push(raw, GFP_KERNEL).inspect_err(|_| {
                // SAFETY: not yet owned by `prog`.
                drop(unsafe { KBox::from_raw(raw) });
            })?;
            prog.stats.push(CpuStats::default(), GFP_KERNEL)?;
        }
        Ok(prog)
    }

    /// Point every instance at the program, once it is at its final address.
    pub(crate) fn bind(&self) {
        for &i in self.instances.iter() {
            // SAFETY: instances are not running yet (the program is not
            // published).
            unsafe { (*i).prog = self };
        }
    }

    fn instantiate(&self, type_ids: &[u32]) -> LoadResult<Instance> {
        let m = &self.meta;
        let name = self.name();
        let counts = VmCtxCounts {
            types: m.types().len(),
            imported_funcs: m.imported(kind::FUNC),
            funcs: m.func_count(),
            imported_tables: 0,
            defined_tables: m.tables().len(),
            memory: if m.memory().is_empty() { MemoryKind::None } else { MemoryKind::Defined },
            imported_globals: 0,
            defined_globals: m.globals().len(),
        };
        let layout = VmCtxLayout::new(counts).ok_or(EINVAL)?;
        let reserve = stack_reserve();
        let stack = VMem::new(self.stack_kib as usize * 1024 + reserve as usize)?;
        let mut inst = Instance {
            prog: ptr::null(),
            vmctx: VMem::new(layout.size as usize)?,
            layout,
            memory: None,
            tables: KVec::new(),
            elems: KVec::new(),
            elem_dropped: KVec::new(),
            data_dropped: KVec::new(),
            stack,
            jmpbuf: [0; 8],
            trapped: false,
            trap_code: 0,
            trap_func: u32::MAX,
            skb: ptr::null(),
            busy: false,
        };
        let vm = inst.vmctx.ptr();
        // SAFETY: offsets come from `layout`, which sized the zeroed
        // `vmctx`, and have the types abi documents (also for the `at`
        // writes further down that say "as above").
        unsafe {
            *inst.at::<i64>(header::FUEL) = 0;
            *inst.at::<u64>(header::STACK_LIMIT) = inst.stack.ptr() as u64 + reserve;
            *inst.at::<usize>(header::TRAP_HANDLER) = ffi::kwasm_trap_handler as *const () as usize;
            *inst.at::<usize>(header::LIBCALLS) = runtime::libcall_table();
            for (t, id) in type_ids.iter().enumerate() {
                *inst.at::<u32>(layout.type_id(t as u32)) = *id;
            }
        }

        // Imported functions: host functions, called with our own VmCtx.
        let mut host_code = KVec::new();
        for (i, imp) in m.imports().iter().enumerate() {
            let hf = host::lookup(m.str(imp.module), m.str(imp.name)).ok_or(EINVAL)?;
            let code = runtime::host_func(hf.id);
            host_code.push(code, GFP_KERNEL)?;
            // SAFETY: as above.
            unsafe {
                *inst.at::<usize>(layout.imported_func(i as u32) + import_func::CODE) = code;
                *inst.at::<*mut u8>(layout.imported_func(i as u32) + import_func::VMCTX) = vm;
            }
        }

        // Memory, preallocated.
        if let Some(r) = m.memory().get(0) {
            if r.min > MEM_CAP_PAGES {
                pr_err!("{name}: memory of {} pages exceeds the kernel's limit of {MEM_CAP_PAGES}\n", r.min);
                return Err(E2BIG);
            }
            let want = if r.max == NONE { r.min.saturating_add(MEM_HEADROOM_PAGES) } else { r.max };
            let pages = want.min(MEM_CAP_PAGES).max(r.min);
            let mem = VMem::new(pages as usize * WASM_PAGE_SIZE as usize)?;
            // SAFETY: as above.
            unsafe {
                *inst.at::<*mut u8>(layout.defined_memory + vmctx::memory::BASE) = mem.ptr();
            }
            inst.memory = Some(mem);
            inst.set_mem_len(r.min as u64 * WASM_PAGE_SIZE);
        }
        // Tables, preallocated.
        for (i, r) in m.tables().iter().enumerate() {
            if r.min > TABLE_CAP {
                pr_err!("{name}: table {i} of {} elements exceeds the kernel's limit of {TABLE_CAP}\n", r.min);
                return Err(E2BIG);
            }
            let want = if r.max == NONE { r.min.saturating_add(TABLE_HEADROOM) } else { r.max };
            let cap = want.min(TABLE_CAP).max(r.min);
            let buf = VMem::new(cap as usize * 8)?;
            // SAFETY: as above.
            unsafe {
                *inst.at::<*mut u8>(layout.defined_table(i as u32) + vmctx::table::BASE) = buf.ptr();
            }
            inst.tables.push(Table { buf, cap }, GFP_KERNEL)?;
            inst.set_table_len(i as u32, r.min as u64);
        }

        // Function references.
        let nimp = m.imported(kind::FUNC);
        for f in 0..m.func_count() {
            let code = if f < nimp {
                host_code[f as usize]
            } else {
                let rec = m.funcs().get(f - nimp).ok_or(EINVAL)?;
                self.text as usize + rec.text_off as usize
            };
            let ty = m.func_type(f).ok_or(EINVAL)?;
            let r = layout.func_ref(f);
            // SAFETY: as above.
            unsafe {
                *inst.at::<usize>(r + funcref::CODE) = code;
                *inst.at::<*mut u8>(r + funcref::VMCTX) = vm;
                *inst.at::<u32>(r + funcref::TYPE_ID) = type_ids[ty as usize];
            }
        }

        // Globals (no imported globals: indices are defined indices).
        for (i, g) in m.globals().iter().enumerate() {
            let ty = ValType::from_u8(g.ty).ok_or(EINVAL)?;
            let bits = match g.init_kind {
                meta::init::CONST => g.init,
                // SAFETY: `Meta::parse` checked the source is an earlier global.
                meta::init::GLOBAL_GET => unsafe { *inst.at::<u64>(layout.defined_global(g.init as u32)) },
                meta::init::REF_FUNC => inst.func_ref(g.init as u32),
                _ => 0,
            };
            let bits = if matches!(ty, ValType::I32 | ValType::F32) { bits & 0xffff_ffff } else { bits };
            // SAFETY: as above.
            unsafe { *inst.at::<u64>(layout.defined_global(i as u32)) = bits };
        }
        let global = |inst: &Instance, g: u32| -> u64 {
            if g < m.globals().len() {
                // SAFETY: a defined global's slot.
                unsafe { *inst.at::<u64>(layout.defined_global(g)) }
            } else {
                0
            }
        };

        // Segments.
        for e in m.elems().iter() {
            let mut items = KVec::with_capacity(e.count as usize, GFP_KERNEL)?;
            for item in m.elem_items(e) {
                let v = if item == meta::ITEM_NULL {
                    0
                } else if item & meta::ITEM_GLOBAL != 0 {
                    global(&inst, item & !meta::ITEM_GLOBAL)
                } else {
                    inst.func_ref(item)
                };
                items.push(v, GFP_KERNEL)?;
            }
            inst.elems.push(items, GFP_KERNEL)?;
            inst.elem_dropped.push(false, GFP_KERNEL)?;
        }
        for _ in m.datas().iter() {
            inst.data_dropped.push(false, GFP_KERNEL)?;
        }
        let offset = |inst: &Instance, k: u8, v: u32| -> u32 {
            if k == meta::offset::GLOBAL_GET { global(inst, v) as u32 } else { v }
        };
        for (i, e) in m.elems().iter().enumerate() {
            if e.mode != meta::mode::ACTIVE {
                continue;
            }
            let off = offset(&inst, e.offset_kind, e.offset) as usize;
            let n = inst.elems[i].len();
            let Some(dst) = inst.table_elems(e.table) else {
                return Err(init_trap(name, TrapCode::TableOutOfBounds));
            };
            if off.checked_add(n).map_or(true, |end| end > dst.len()) {
                return Err(init_trap(name, TrapCode::TableOutOfBounds));
            }
            // Disjoint fields: copy through the table's raw buffer.
            let base = dst.as_mut_ptr();
            // SAFETY: `off + n <= len` elements of the table buffer; the
            // source is a different allocation.
            unsafe { ptr::copy_nonoverlapping(inst.elems[i].as_ptr(), base.add(off), n) };
        }
        for d in m.datas().iter() {
            if d.mode != meta::mode::ACTIVE {
                continue;
            }
            let off = offset(&inst, d.offset_kind, d.offset);
            let bytes = m.pool_bytes(d.bytes).ok_or(EINVAL)?;
            let len = u32::try_from(bytes.len()).map_err(|_| EINVAL)?;
            match inst.mem_slice(off, len) {
                Some(dst) => dst.copy_from_slice(bytes),
                None => return Err(init_trap(name, TrapCode::MemoryOutOfBounds)),
            }
        }
        for (i, e) in m.elems().iter().enumerate() {
            if e.mode != meta::mode::PASSIVE {
                inst.elem_dropped[i] = true;
            }
        }
        for (i, d) in m.datas().iter().enumerate() {
            if d.mode == meta::mode::ACTIVE {
                inst.data_dropped[i] = true;
            }
        }
        Ok(inst)
    }

    /// Run the start function on every instance (process context, at load).
    pub(crate) fn run_start(&self) -> LoadResult<()> {
        let f = self.meta.start_func;
        if f == NONE {
            return Ok(());
        }
        let c = self.callee(f).ok_or(EINVAL)?;
        for &i in self.instances.iter() {
            let mut values = [0u64; 1];
            // As on the packet path: bottom halves disabled (no preemption,
            // no migration to a CPU whose hook could run meanwhile), and
            // the FPU only where the kernel allows it.
            let bh = BhGuard::new();
            // SAFETY: no preconditions.
            if self.uses_float() && !unsafe { ffi::kwasm_fpu_usable() } {
                return Err(EBUSY);
            }
            // SAFETY: the program is not published yet, so nothing else
            // runs on its instances; bottom halves are disabled.
            let r = unsafe { self.call_on(i, &c, &mut values, self.fuel) };
            drop(bh);
            if let Err(t) = r {
                let mut msg = MsgBuf::new();
                self.describe_trap(&mut msg, t);
                pr_err!("{}: start function trapped: {}\n",
                    self.name(), core::str::from_utf8(msg.as_bytes()).unwrap_or("?"));
                return Err(EINVAL);
            }
        }
        Ok(())
    }

    /// Call `c` on instance `ip` with `values` (arguments in, results out).
    ///
    /// # Safety
    /// The caller has `ip` exclusively: bottom halves disabled on its CPU
    /// (or the program unpublished), and not `busy`. `values` has room for
    /// `max(nparams, nresults)` slots.
    pub(crate) unsafe fn call_on(
        &self,
        ip: *mut Instance,
        c: &Callee,
        values: &mut [u64],
        fuel: u64,
    ) -> core::result::Result<(), Trap> {
        let fpu = self.uses_float();
        // SAFETY: per this function's contract, `ip` is ours; fields are
        // accessed through the raw pointer because the trap handler writes
        // them through `HOST_CTX` during the call.
        unsafe {
            *(*ip).at::<i64>(header::FUEL) = fuel.min(i64::MAX as u64) as i64;
            (*ip).trapped = false;
            (*ip).busy = true;
            let top = (*ip).stack.ptr().add((*ip).stack.len());
            if fpu {
                ffi::kwasm_fpu_begin();
            }
            ffi::kwasm_enter(
                c.trampoline,
                (*ip).vmctx.ptr(),
                c.code,
                values.as_mut_ptr(),
                top,
                ptr::addr_of_mut!((*ip).jmpbuf).cast(),
            );
            if fpu {
                ffi::kwasm_fpu_end();
            }
            (*ip).busy = false;
            if ptr::read_volatile(ptr::addr_of!((*ip).trapped)) {
                let code = (*ip).trap_code;
                Err(Trap { code, func: (*ip).trap_func })
            } else {
                Ok(())
            }
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

    /// The netfilter hook: run `filter(pkt_len)` on this CPU's instance.
    pub(crate) fn run_hook(&self, skb: *const core::ffi::c_void) -> u32 {
        let default = self.default_verdict();
        let Some(c) = self.entry else { return default };
        let bh = BhGuard::new();
        let cpu = bh.cpu();
        match (self.instances.get(cpu), self.stats.get(cpu)) {
            (Some(&ip), Some(st)) => self.run_hook_on(ip, st, &c, skb, default),
            _ => default,
        }
    }

    fn run_hook_on(
        &self,
        ip: *mut Instance,
        st: &CpuStats,
        c: &Callee,
        skb: *const core::ffi::c_void,
        default: u32,
    ) -> u32 {
        bump(&st.invocations, 1);
        // SAFETY: `ip` belongs to this CPU and bottom halves are disabled,
        // so only a nested call on this CPU could see it: `busy` catches it.
        if unsafe { (*ip).busy } {
            return default;
        }
        // SAFETY: no preconditions.
        if self.uses_float() && !unsafe { ffi::kwasm_fpu_usable() } {
            bump(&st.fpu_unavailable, 1);
            return default;
        }
        // SAFETY: `skb` is the hook's packet, valid during the call.
        let len = unsafe { ffi::kwasm_skb_len(skb) };
        let mut values = [len as u64];
        // SAFETY: no preconditions.
        let t0 = unsafe { ffi::kwasm_clock_ns() };
        // SAFETY: as above; `skb` is cleared before the packet goes away.
        unsafe { (*ip).skb = skb };
        // SAFETY: exclusive per the checks above; `filter` has one param
        // and one result.
        let r = unsafe { self.call_on(ip, c, &mut values, self.fuel) };
        // SAFETY: as above.
        unsafe { (*ip).skb = ptr::null() };
        // SAFETY: no preconditions.
        let t1 = unsafe { ffi::kwasm_clock_ns() };
        bump(&st.run_ns, t1.wrapping_sub(t0));
        match r {
            Ok(()) => match values[0] as u32 as i32 {
                host::VERDICT_ACCEPT => {
                    bump(&st.accepts, 1);
                    host::VERDICT_ACCEPT as u32
                }
                host::VERDICT_DROP => {
                    bump(&st.drops, 1);
                    host::VERDICT_DROP as u32
                }
                _ => {
                    bump(&st.bad_verdicts, 1);
                    default
                }
            },
            Err(t) => {
                if let Some(tc) = TrapCode::from_u32(t.code) {
                    bump(&st.traps[tc.index()], 1);
                }
                let mut msg = MsgBuf::new();
                let _ = write!(msg, "{}: trap: ", self.name());
                self.describe_trap(&mut msg, t);
                self.report_limit.log(msg.as_bytes());
                default
            }
        }
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

    /// Map `i` as atomics.
    pub(crate) fn map(&self, i: u32) -> Option<&[AtomicU64]> {
        let m = self.maps.get(i as usize)?;
        // SAFETY: zeroed, 8-aligned (vmalloc) memory of `len / 8` u64s that
        // lives as long as `self`; only accessed atomically.
        Some(unsafe { core::slice::from_raw_parts(m.ptr().cast::<AtomicU64>(), m.len() / 8) })
    }

    /// `ProgInfo` without attachments.
    pub(crate) fn info(&self) -> ioctl::ProgInfo {
        let mut flags = self.flags & ioctl::PROG_DROP_ON_TRAP;
        if self.uses_float() {
            flags |= ioctl::PROG_USES_FLOAT;
        }
        ioctl::ProgInfo {
            name: self.name,
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

/// Bytes of each wasm stack kept below `STACK_LIMIT`, on top of the
/// program's `--stack`.
///
/// Generated code stops at `STACK_LIMIT`; below it run the trap handler,
/// libcalls and the shallow host functions ([`vmctx::STACK_RESERVE`]), and
/// any hard interrupt that arrives while wasm code runs in softirq: x86-64
/// runs softirqs on the per-CPU IRQ stack and a hard interrupt that finds
/// `hardirq_stack_inuse` set stays on the current stack
/// (`call_on_irqstack_cond` in `arch/x86/include/asm/irq_stack.h`), which is
/// then the wasm stack. So the reserve holds a whole IRQ stack
/// (`IRQ_STACK_SIZE`: 16 KiB, 32 KiB with KASAN) as well. Host functions
/// that descend into printk and console drivers switch back to the kernel
/// stack instead (`kwasm_on_kstack`).
fn stack_reserve() -> u64 {
    // SAFETY: no preconditions.
    let irq = unsafe { ffi::kwasm_irq_stack_size() } as u64;
    irq + vmctx::STACK_RESERVE
}

fn init_trap(name: &str, t: TrapCode) -> Error {
    pr_err!("{name}: instantiation trapped: {}\n", t.message());
    EINVAL
}
