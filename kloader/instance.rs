// SPDX-License-Identifier: GPL-2.0

//! One instance of a program on one CPU: its allocation, its instantiation
//! (the rules are `abi::instantiate`'s, the kernel only allocates) and the
//! call into generated code.
//!
//! Kernel constraints beyond the userspace runtime (`runtime/src/
//! instance.rs`): memory and tables are allocated up front (`grow` beyond
//! that returns -1, so nothing allocates on the packet path), programs
//! import host functions only, and every CPU has its own instance, stack
//! and counters. All buffers are `vmalloc` memory (`VVec`): page aligned,
//! zeroed at allocation.

use core::cell::UnsafeCell;
use core::pin::Pin;
use core::sync::atomic::AtomicU64;

use kernel::prelude::*;
use kernel::new_spinlock;
use kernel::new_mutex;
use kernel::sync::{Arc, Mutex, SpinLock};

use crate::abi::host;
use crate::abi::instantiate::{self, InitTarget};
use crate::abi::ioctl::{self, NAME_LEN};
use crate::abi::maps::{self, MapDecl, MapKind, MapSlots};
use crate::abi::meta::{kind, MapRec, Meta, PoolRef, TypeRec, NONE};
use crate::abi::trap::TrapCode;
use crate::abi::vmctx::{self, VmCtxHeader, VmCtxLayout, VmCtxView, WASM_PAGE_SIZE};
use crate::ffi::{self, BhDisabled, Packet, RateLimit};
use crate::libcalls;

/// Most linear memory preallocated per instance: 16 MiB.
pub(crate) const MEM_CAP_PAGES: u32 = 256;
/// Pages preallocated beyond the minimum when a memory declares no maximum.
pub(crate) const MEM_HEADROOM_PAGES: u32 = 16;
/// Most elements preallocated per table.
pub(crate) const TABLE_CAP: u32 = 1 << 16;
/// Elements preallocated beyond the minimum when a table declares no maximum.
pub(crate) const TABLE_HEADROOM: u32 = 64;

/// One map's slots ([`crate::abi::maps`]), zeroed when the program loads:
/// `entries` u64, or as many per CPU for a per-CPU map, or a hash map's
/// table. Array slots are only accessed through atomics (relaxed loads and
/// stores, and atomic adds on shared arrays), so userspace and every CPU
/// may touch them at once; a hash map's table only under its lock.
pub(crate) type MapStore = maps::MapStore<VVec<AtomicU64>, BhSpinLock>;

/// A map's lock: a spinlock taken with bottom halves off. Wasm runs in
/// softirq (or under `BhDisabled` for INVOKE and BENCH) on every CPU, and
/// userspace's ioctls take the same lock from process context, so with
/// bottom halves on a packet arriving on the CPU of an ioctl holding the
/// lock would spin on it forever. Critical sections are short and bounded
/// (`abi::hash`): one probe and a copy of at most a key and a value.
pub(crate) struct BhSpinLock(Pin<KBox<SpinLock<()>>>);

impl maps::MapLock for BhSpinLock {
    fn locked(&self, f: &mut dyn FnMut()) {
        let _bh = BhDisabled::new();
        let _guard = self.0.lock();
        f()
    }
}

/// Allocates a map of a record that `Meta::parse` accepted, with a copy per
/// possible CPU for a per-CPU kind, and a random hash key.
pub(crate) fn new_map(rec: &MapRec, ncpus: u32) -> Result<MapStore> {
    alloc_map(&rec.decl().ok_or(EINVAL)?, ncpus)
}

fn alloc_map(decl: &MapDecl, ncpus: u32) -> Result<MapStore> {
    let decl = *decl;
    let len = maps::storage_len(&decl, ncpus).ok_or(E2BIG)?;
    let mut slots = VVec::with_capacity(len, GFP_KERNEL)?;
    for _ in 0..len {
        slots.push(AtomicU64::new(0), GFP_KERNEL)?;
    }
    let lock = BhSpinLock(KBox::pin_init(new_spinlock!((), "kwasm_map"), GFP_KERNEL)?);
    let random = || u64::from(ffi::kwasm_random_u32()) << 32 | u64::from(ffi::kwasm_random_u32());
    Ok(MapStore::new(&decl, slots, lock, [random(), random()]))
}

/// The first `len` bytes of a preallocated memory: the accessible part.
fn accessible(memory: &mut Option<VVec<u8>>, len: u64) -> &mut [u8] {
    memory.as_mut().and_then(|m| m.get_mut(..len as usize)).unwrap_or(&mut [])
}

/// What every instance of a program shares with the program: its name, its
/// maps and the rate limit of its `log` output (for host functions).
pub(crate) struct Shared {
    pub(crate) name: [u8; NAME_LEN],
    pub(crate) maps: KVec<MapStore>,
    pub(crate) log_limit: RateLimit,
    /// Every `log` message that fits, for `kwasm log` (`ioctl::LOG_RING`).
    pub(crate) log_ring: MapStore,
    /// Held by an `EVENTS` reader from peek to consume, so that two
    /// readers never copy out the same records.
    pub(crate) readers: Pin<KBox<Mutex<()>>>,
}

impl Shared {
    pub(crate) fn name(&self) -> &str {
        ioctl::decode_name(&self.name).unwrap_or("?")
    }

    /// What the program shares, around its maps.
    pub(crate) fn new(name: [u8; NAME_LEN], maps: KVec<MapStore>) -> Result<Shared> {
        let log = MapDecl::ring_buf(ioctl::LOG_RING_BYTES);
        Ok(Shared {
            name,
            maps,
            log_limit: RateLimit::new()?,
            log_ring: alloc_map(&log, 1)?,
            readers: KBox::pin_init(new_mutex!((), "kwasm_ring_readers"), GFP_KERNEL)?,
        })
    }

    /// Map `i`.
    pub(crate) fn map(&self, i: u32) -> Option<MapSlots<'_>> {
        self.maps.get(i as usize).map(MapStore::slots)
    }

    /// Ring `i` for `EVENTS`: a declared ring_buf, or the log ring.
    pub(crate) fn ring(&self, i: u32) -> Option<MapSlots<'_>> {
        let m = match i {
            ioctl::LOG_RING => self.log_ring.slots(),
            _ => self.map(i)?,
        };
        (m.kind == MapKind::RingBuf).then_some(m)
    }
}

/// `u64` slots of the jmpbuf that `kwasm_enter` fills: rbx, rbp, r12-r15
/// and rsp on x86-64 (`entry_x86_64.S`); x19-x30 and sp on arm64
/// (`entry_arm64.S`).
#[cfg(target_arch = "x86_64")]
const JMPBUF_SLOTS: usize = 8;
#[cfg(target_arch = "aarch64")]
const JMPBUF_SLOTS: usize = 13;

/// 16 bytes of `VmCtx`, whose alignment `VmCtxView` requires.
#[derive(Clone, Copy)]
#[repr(C, align(16))]
struct VmCtxChunk([u64; 2]);

/// 16 bytes of wasm stack: the top of a stack of these is aligned as the
/// x86-64 and AAPCS64 ABIs want.
#[derive(Clone, Copy)]
#[repr(C, align(16))]
struct StackChunk([u8; 16]);

/// A trap: code and function index.
#[derive(Clone, Copy)]
pub(crate) struct Trap {
    pub(crate) code: u32,
    pub(crate) func: u32,
}

/// A callable function: where its code and its type's trampoline are in the
/// program's text, and its type.
#[derive(Clone, Copy)]
pub(crate) struct Callee {
    pub(crate) code: u32,
    pub(crate) trampoline: u32,
    pub(crate) nparams: usize,
    pub(crate) nresults: usize,
    /// The function's type, for checking values that cross the boundary.
    pub(crate) ty: TypeRec,
}

impl Callee {
    /// Function `f` of `meta`, if it is defined and its type has a
    /// trampoline.
    pub(crate) fn new(meta: &Meta<'_>, f: u32) -> Option<Callee> {
        let t = meta.types().get(meta.func_type(f)?)?;
        if t.trampoline == NONE {
            return None;
        }
        let rec = meta.funcs().get(f.checked_sub(meta.imported(kind::FUNC))?)?;
        Some(Callee {
            code: rec.text_off,
            trampoline: t.trampoline,
            nparams: t.nparams as usize,
            nresults: t.nresults as usize,
            ty: t,
        })
    }
}

/// A program's instance on one CPU. Generated code reaches it through
/// `VmCtx + HOST_CTX`, so it lives at a fixed address, in a [`CpuSlot`].
pub(crate) struct Instance {
    /// Metadata and code live in the program module, which outlives every
    /// instance (`kwasm_unregister` runs in its exit stub).
    pub(crate) meta: Meta<'static>,
    text: &'static [u8],
    pub(crate) shared: Arc<Shared>,
    /// The CPU this instance serves: its copy of per-CPU maps.
    pub(crate) cpu: u32,
    /// Typed access to `_vmctx`'s memory.
    vm: VmCtxView,
    _vmctx: VVec<VmCtxChunk>,
    /// Linear memory, all of it preallocated (`VmMemory.length` says how
    /// much is accessible).
    memory: Option<VVec<u8>>,
    /// Defined tables, preallocated; `VmTable.length` says how much is used.
    tables: KVec<VVec<u64>>,
    /// Resolved element segments; `elem_dropped[i]` empties segment `i`.
    pub(crate) elems: KVec<KVec<u64>>,
    pub(crate) elem_dropped: KVec<bool>,
    pub(crate) data_dropped: KVec<bool>,
    stack: VVec<StackChunk>,
    /// Saved registers of the running `kwasm_enter` (layout: `entry_*.S`).
    pub(crate) jmpbuf: [u64; JMPBUF_SLOTS],
    /// Written by the trap recorder during a call.
    pub(crate) trapped: bool,
    pub(crate) trap: Trap,
    /// The packet of the running hook invocation.
    pub(crate) packet: Option<Packet>,
    /// Set while generated code runs on this instance.
    busy: bool,
}

/// A zeroed `vmalloc` buffer of `n` elements.
fn vzeroed<T: Copy>(zero: T, n: usize) -> Result<VVec<T>> {
    Ok(VVec::from_elem(zero, n, GFP_KERNEL)?)
}

impl Instance {
    /// `VmMemory.length`, in bytes (0 without a memory).
    pub(crate) fn mem_len(&mut self) -> u64 {
        self.vm.defined_memory().map_or(0, |m| m.length)
    }

    /// Preallocated bytes of linear memory.
    pub(crate) fn mem_cap(&self) -> u64 {
        self.memory.as_ref().map_or(0, |m| m.len() as u64)
    }

    pub(crate) fn set_mem_len(&mut self, len: u64) {
        if let Some(m) = self.vm.defined_memory() {
            m.length = len;
        }
    }

    /// All accessible bytes of linear memory (empty without a memory).
    pub(crate) fn mem_bytes(&mut self) -> &mut [u8] {
        let len = self.mem_len();
        accessible(&mut self.memory, len)
    }

    /// `VmTable.length` of defined table `t`.
    pub(crate) fn table_len(&mut self, t: u32) -> Option<usize> {
        self.vm.defined_table(t).map(|tb| tb.length as usize)
    }

    /// Preallocated elements of table `t`.
    pub(crate) fn table_cap(&self, t: u32) -> Option<u64> {
        self.tables.get(t as usize).map(|b| b.len() as u64)
    }

    pub(crate) fn set_table_len(&mut self, t: u32, len: u64) {
        if let Some(tb) = self.vm.defined_table(t) {
            tb.length = len;
        }
    }

    /// The current elements of table `t`.
    pub(crate) fn table_elems(&mut self, t: u32) -> Option<&mut [u64]> {
        let len = self.table_len(t)?;
        self.tables.get_mut(t as usize)?.get_mut(..len)
    }

    /// The current elements of two different tables, `d` mutably.
    pub(crate) fn two_tables(&mut self, d: u32, s: u32) -> Option<(&mut [u64], &[u64])> {
        let (dl, sl) = (self.table_len(d)?, self.table_len(s)?);
        let (mut dt, mut st) = (None, None);
        for (k, t) in self.tables.iter_mut().enumerate() {
            if k == d as usize {
                dt = t.get_mut(..dl);
            } else if k == s as usize {
                st = t.get(..sl);
            }
        }
        Some((dt?, st?))
    }

    /// The packet of the running call and the accessible bytes of linear
    /// memory (empty without a memory), borrowed at once.
    pub(crate) fn packet_and_mem(&mut self) -> (&Option<Packet>, &mut [u8]) {
        let len = self.mem_len();
        (&self.packet, accessible(&mut self.memory, len))
    }

    /// What the program shares (its maps) and the accessible memory, at
    /// once.
    pub(crate) fn shared_and_mem(&mut self) -> (&Shared, &mut [u8]) {
        let len = self.mem_len();
        (&self.shared, accessible(&mut self.memory, len))
    }

    /// Allocates and instantiates an instance of `meta` (already linked by
    /// `abi::link`). `type_ids` are the canonical type ids.
    pub(crate) fn new(
        meta: Meta<'static>,
        text: &'static [u8],
        shared: Arc<Shared>,
        cpu: u32,
        type_ids: &[u32],
        stack_kib: u32,
    ) -> Result<Instance> {
        let name = shared.name();
        let layout = VmCtxLayout::new(meta.vmctx_counts()).ok_or(EINVAL)?;
        let reserve = stack_reserve();
        let stack_len = (stack_kib as usize * 1024 + reserve as usize) / core::mem::size_of::<StackChunk>();
        let mut vmctx = vzeroed(VmCtxChunk([0; 2]), layout.size as usize / core::mem::size_of::<VmCtxChunk>())?;
        let base = core::ptr::NonNull::new(vmctx.as_mut_ptr().cast::<u8>()).ok_or(ENOMEM)?;
        // SAFETY: `base` is the start of `vmctx`: `layout.size` zeroed bytes
        // (a multiple of 16), 16-byte aligned by `VmCtxChunk`, that live in
        // the instance next to the view. Generated code runs on it only
        // through `CpuSlot::call`, during which the instance is reached only
        // through `HOST_CTX` by the trap recorder, libcalls and host
        // functions, one at a time, while the caller holds no reference.
        let vm = unsafe { VmCtxView::new(base, layout) };
        let mut inst = Instance {
            meta,
            text,
            shared: shared.clone(),
            cpu,
            vm,
            _vmctx: vmctx,
            memory: None,
            tables: KVec::new(),
            elems: KVec::new(),
            elem_dropped: KVec::new(),
            data_dropped: KVec::new(),
            stack: vzeroed(StackChunk([0; 16]), stack_len)?,
            jmpbuf: [0; JMPBUF_SLOTS],
            trapped: false,
            trap: Trap { code: 0, func: u32::MAX },
            packet: None,
            busy: false,
        };
        let vmp = inst.vm.ptr();
        *inst.vm.header() = VmCtxHeader {
            fuel: 0,
            stack_limit: inst.stack.as_ptr() as u64 + reserve,
            trap_handler: ffi::trap_handler_addr(),
            libcalls: libcalls::table(),
            // Set by `CpuSlot::new`, once the instance has its address.
            host_ctx: core::ptr::null_mut(),
        };
        let ids = inst.vm.type_ids();
        if ids.len() != type_ids.len() {
            return Err(EINVAL);
        }
        for (t, id) in type_ids.iter().enumerate() {
            ids[t] = *id;
        }

        // Imported functions: host functions, called with our own VmCtx.
        for (i, imp) in meta.imports().iter().enumerate() {
            let code = host_code(&meta, imp.module, imp.name).ok_or(EINVAL)?;
            let slot = inst.vm.import_func(i as u32).ok_or(EINVAL)?;
            slot.code = code;
            slot.vmctx = vmp;
        }

        // Memory, preallocated.
        if let Some(r) = meta.memory().get(0) {
            if r.min > MEM_CAP_PAGES {
                pr_err!("{name}: memory of {} pages exceeds the kernel's limit of {MEM_CAP_PAGES}\n", r.min);
                return Err(E2BIG);
            }
            let want = if r.max == NONE { r.min.saturating_add(MEM_HEADROOM_PAGES) } else { r.max };
            let pages = want.min(MEM_CAP_PAGES).max(r.min);
            let mut mem = vzeroed(0u8, pages as usize * WASM_PAGE_SIZE as usize)?;
            let m = inst.vm.defined_memory().ok_or(EINVAL)?;
            m.base = mem.as_mut_ptr();
            m.length = r.min as u64 * WASM_PAGE_SIZE;
            inst.memory = Some(mem);
        }
        // Tables, preallocated.
        for (i, r) in meta.tables().iter().enumerate() {
            if r.min > TABLE_CAP {
                pr_err!("{name}: table {i} of {} elements exceeds the kernel's limit of {TABLE_CAP}\n", r.min);
                return Err(E2BIG);
            }
            let want = if r.max == NONE { r.min.saturating_add(TABLE_HEADROOM) } else { r.max };
            let cap = want.min(TABLE_CAP).max(r.min);
            let mut buf = vzeroed(0u64, cap as usize)?;
            let tb = inst.vm.defined_table(i as u32).ok_or(EINVAL)?;
            tb.base = buf.as_mut_ptr();
            tb.length = r.min as u64;
            inst.tables.push(buf, GFP_KERNEL)?;
        }

        // Function references.
        let nimp = meta.imported(kind::FUNC);
        for f in 0..meta.func_count() {
            let code = if f < nimp {
                meta.imports().get(f).and_then(|imp| host_code(&meta, imp.module, imp.name))
            } else {
                meta.funcs().get(f - nimp).and_then(|r| inst.text_ptr(r.text_off))
            }
            .ok_or(EINVAL)?;
            let type_id = *type_ids.get(meta.func_type(f).ok_or(EINVAL)? as usize).ok_or(EINVAL)?;
            let r = inst.vm.func_ref(f).ok_or(EINVAL)?;
            r.code = code;
            r.vmctx = vmp;
            r.type_id = type_id;
        }

        // Globals (each written before the next is computed, so that
        // `global.get` of an earlier one reads it back), element segments,
        // active segments: abi's rules.
        for (i, g) in meta.globals().iter().enumerate() {
            let v = instantiate::global_value(g, &inst);
            *inst.vm.defined_global(i as u32).ok_or(EINVAL)? = v;
        }
        for e in meta.elems().iter() {
            let mut items = KVec::with_capacity(e.count as usize, GFP_KERNEL)?;
            for v in instantiate::elem_items(&meta, e, &inst) {
                items.push(v, GFP_KERNEL)?;
            }
            inst.elems.push(items, GFP_KERNEL)?;
            inst.elem_dropped.push(false, GFP_KERNEL)?;
        }
        for _ in meta.datas().iter() {
            inst.data_dropped.push(false, GFP_KERNEL)?;
        }
        if let Err(t) = instantiate::init_active_segments(&meta, &mut inst) {
            pr_err!("{name}: instantiation trapped: {}\n", t.message());
            return Err(EINVAL);
        }
        for (i, e) in meta.elems().iter().enumerate() {
            inst.elem_dropped[i] = instantiate::elem_dropped_after_init(e);
        }
        for (i, d) in meta.datas().iter().enumerate() {
            inst.data_dropped[i] = instantiate::data_dropped_after_init(d);
        }
        Ok(inst)
    }

    /// The address of `off` in the program's text.
    fn text_ptr(&self, off: u32) -> Option<*const u8> {
        self.text.get(off as usize..).map(<[u8]>::as_ptr)
    }
}

/// The kernel's implementation of import `module.name` (`abi::link` has
/// checked that it is a host function of the right type).
fn host_code(meta: &Meta<'_>, module: PoolRef, name: PoolRef) -> Option<*const u8> {
    let hf = host::lookup(meta.str(module), meta.str(name))?;
    Some(libcalls::HOST_FUNCS.code(hf.id))
}

/// The instance as `abi::instantiate` (while instantiating) and
/// `abi::calls` (while generated code runs) see it.
impl InitTarget for Instance {
    /// Programs import no globals, so `g` is also the defined index.
    fn global(&self, g: u32) -> u64 {
        // SAFETY: the slot lies in this instance's `VmCtx`, which lives as
        // long as `self`; nothing writes it while `self` is borrowed:
        // instantiation holds the instance, and during a call generated code
        // is suspended in the libcall that holds it.
        self.vm.defined_global_ptr(g).map_or(0, |p| unsafe { *p })
    }

    fn func_ref(&self, f: u32) -> u64 {
        self.vm.func_ref_addr(f)
    }

    /// The items of element segment `e` (empty once dropped) and the
    /// current elements of table `t`.
    fn elem_and_table(&mut self, e: u32, t: u32) -> Option<(&[u64], &mut [u64])> {
        let len = self.table_len(t)?;
        let dropped = self.elem_dropped.get(e as usize).copied().unwrap_or(true);
        let items = match self.elems.get(e as usize) {
            Some(items) if !dropped => &items[..],
            _ => &[],
        };
        Some((items, self.tables.get_mut(t as usize)?.get_mut(..len)?))
    }

    fn memory(&mut self) -> Option<&mut [u8]> {
        self.memory.as_ref()?;
        Some(self.mem_bytes())
    }
}

/// Bytes of each wasm stack kept below `STACK_LIMIT`, on top of the
/// program's `--stack`.
///
/// Generated code stops at `STACK_LIMIT`; below it run the trap handler,
/// libcalls and the shallow host functions ([`vmctx::STACK_RESERVE`]), and
/// any hard interrupt that arrives while wasm code runs in softirq. x86-64
/// runs softirqs on the per-CPU IRQ stack and a hard interrupt that finds
/// `hardirq_stack_inuse` set stays on the current stack
/// (`call_on_irqstack_cond` in `arch/x86/include/asm/irq_stack.h`), which is
/// then the wasm stack. arm64 switches to the IRQ stack only from a task's
/// own stack (`do_interrupt_handler` in `arch/arm64/kernel/entry-common.c`
/// tests `on_thread_stack()`), so an interrupt taken on the wasm stack runs
/// its handler there too. So the reserve holds a whole IRQ stack
/// (`IRQ_STACK_SIZE`: 16 KiB, 32 KiB with KASAN, on both) as well. Host functions
/// that descend into printk and console drivers switch back to the kernel
/// stack instead (`kwasm_on_kstack`).
fn stack_reserve() -> u64 {
    ffi::kwasm_irq_stack_size() as u64 + vmctx::STACK_RESERVE
}

/// The instance of one CPU, at a fixed address (boxed) since its `VmCtx`
/// points back to it. Only its CPU runs it, with bottom halves disabled
/// (the program's `call_here`), or the loader before the program is shared
/// (`run_start`).
pub(crate) struct CpuSlot(UnsafeCell<Instance>);

// SAFETY: an instance is touched by one thread at a time: its own CPU with
// bottom halves disabled, or the loader while the program is not shared;
// what it shares with others (`Shared`, metadata) is immutable or atomic.
unsafe impl Send for CpuSlot {}
// SAFETY: as for `Send`: `&CpuSlot` gives access only through `call`,
// whose contract makes the caller the only user.
unsafe impl Sync for CpuSlot {}

impl CpuSlot {
    pub(crate) fn new(inst: Instance) -> Result<KBox<CpuSlot>> {
        let mut slot = KBox::new(CpuSlot(UnsafeCell::new(inst)), GFP_KERNEL)?;
        let me = slot.0.get();
        slot.0.get_mut().vm.header().host_ctx = me.cast();
        Ok(slot)
    }

    /// Calls `c` with `values` (arguments in, results out) and `fuel`;
    /// `packet` is what `pkt_len`/`pkt_load` see. `Err(())` when the
    /// instance is already running (a nested call on this CPU), `Ok(Err)`
    /// on a trap.
    ///
    /// # Safety
    /// The caller is the only user of this slot for the call: it is the
    /// current CPU's slot and `bh` disables bottom halves, or the program
    /// is not shared yet. `c` is a function of this instance's program.
    pub(crate) unsafe fn call(
        &self,
        bh: &BhDisabled,
        (c, values, fuel): (&Callee, &mut [u64], u64),
        packet: Option<Packet>,
    ) -> core::result::Result<core::result::Result<(), Trap>, ()> {
        let ip = self.0.get();
        if values.len() < c.nparams.max(c.nresults) {
            return Err(());
        }
        // SAFETY: per this function's contract the instance is ours; its
        // fields are accessed through the raw pointer, with no reference
        // held across `enter`, because the trap recorder, libcalls and
        // host functions reach the same instance through `HOST_CTX` while
        // generated code runs. `trapped` is read volatile for the same
        // reason. `enter`'s contract: the `VmCtx` was instantiated by
        // `Instance::new`, its `HOST_CTX` set by `CpuSlot::new`; code and
        // trampoline are offsets of the program's text (checked below);
        // `values` has room for the type's slots (checked above); the stack
        // top is the end of `stack`, 16-byte aligned by `StackChunk`, whose
        // base (plus the reserve) is `STACK_LIMIT`.
        unsafe {
            if (*ip).busy {
                return Err(());
            }
            let (Some(code), Some(tramp)) = ((*ip).text_ptr(c.code), (*ip).text_ptr(c.trampoline)) else {
                return Err(());
            };
            (*ip).vm.header().fuel = fuel.min(i64::MAX as u64) as i64;
            (*ip).trapped = false;
            (*ip).packet = packet;
            (*ip).busy = true;
            let top = (*ip).stack.as_mut_ptr_range().end.cast::<u8>();
            let vmctx = (*ip).vm.ptr();
            let jmpbuf = core::ptr::addr_of_mut!((*ip).jmpbuf).cast::<u64>();
            ffi::enter(bh, tramp, code, vmctx, values, top, jmpbuf);
            (*ip).busy = false;
            (*ip).packet = None;
            if core::ptr::read_volatile(core::ptr::addr_of!((*ip).trapped)) {
                Ok(Err((*ip).trap))
            } else {
                Ok(Ok(()))
            }
        }
    }
}

/// Recorded by the trap recorder: the trap of the running call.
pub(crate) fn record_trap(i: &mut Instance, code: u32, func: u32) -> *mut u64 {
    i.trapped = true;
    i.trap = Trap { code: if code == 0 { TrapCode::HostError as u32 } else { code }, func };
    i.jmpbuf.as_mut_ptr()
}
