//! The functions generated code calls into a runtime, written once: the
//! libcalls of [`Libcalls`] and the host functions of [`HostFuncs`], as
//! `extern "C"` entry points generic over a runtime's instance type.
//!
//! A runtime implements [`Runtime`] for its instance, which owns the
//! memory, tables and segments and provides its services (a packet, a
//! clock, maps, a log), and puts [`libcalls`] and [`host_funcs`] into its
//! `VmCtx`s. abi does the rest: it finds the instance through the header's
//! `host_ctx`, checks bounds with [`bulk`], and turns a failure into a
//! libcall status or a trap. So `memory.fill` or `kwasm.map_add` cannot
//! behave differently in `kwasm.ko` and in the userspace runner.
//!
//! Like [`super::vmctx::VmCtxView`], this is audited `unsafe` code: the two
//! places where an address from generated code becomes a Rust reference or
//! a function.

#![allow(unsafe_code)]

use super::bulk;
use super::host::HostFuncs;
use super::instantiate::InitTarget;
use super::maps::{MAX_KEY_SIZE, MapSlots, MapStatus};
use super::trap::TrapCode;
use super::vmctx::{Libcalls, VmCtxHeader};
use core::sync::atomic::Ordering;

/// Two tables of one instance for `table.copy`: one table when both
/// indices name it (the same index, or one table imported twice).
pub enum TablePair<'a> {
    Same(&'a mut [u64]),
    Two { dst: &'a mut [u64], src: &'a [u64] },
}

/// A packet as `kwasm.pkt_len` and `kwasm.pkt_load` read it.
pub trait Packet {
    /// Length in bytes.
    fn length(&self) -> u32;
    /// Copy `out.len()` bytes from `off`, which the caller has checked to
    /// lie within the packet, into `out`; `false` if that failed.
    fn copy_to(&self, off: u32, out: &mut [u8]) -> bool;
}

impl Packet for [u8] {
    fn length(&self) -> u32 {
        <[u8]>::len(self).min(u32::MAX as usize) as u32
    }

    fn copy_to(&self, off: u32, out: &mut [u8]) -> bool {
        // No slicing that could panic: the kernel builds this file too,
        // and objtool flags panic paths.
        match self.get(off as usize..).and_then(|s| s.get(..out.len())) {
            Some(src) => {
                for (d, s) in out.iter_mut().zip(src) {
                    *d = *s;
                }
                true
            }
            None => false,
        }
    }
}

/// A runtime's instance, as the libcalls and host functions see it.
///
/// Every method runs on the wasm stack while generated code of this
/// instance waits for it, so it must not unwind, and should not block. The
/// [`InitTarget`] methods give the current memory and an element segment
/// with a table, as during instantiation; a dropped segment is empty.
///
/// # Safety
/// Implementing this trait promises that in every `VmCtx` whose libcall or
/// host-function table comes from [`libcalls::<Self>`](libcalls) or
/// [`host_funcs::<Self>`](host_funcs), the header's `host_ctx` points to a
/// live `Self` that the call may borrow mutably (no other reference to it
/// is in use while generated code runs), and the header's `trap_handler`
/// is an `extern "C" fn(vmctx, code: u32, func: u32) -> !` that does not
/// return into the frame that called it.
pub unsafe trait Runtime: InitTarget + Sized {
    /// How the runtime holds a packet: bytes, or the kernel's skb.
    type Packet: Packet + ?Sized;

    /// `memory.grow`: the old size in pages, or `None` when the memory
    /// cannot grow by `delta` pages (or there is none).
    fn grow_memory(&mut self, delta: u32) -> Option<u32>;
    /// The bytes of data segment `data` (empty once dropped) and the
    /// current memory, borrowed at once.
    fn data_and_memory(&mut self, data: u32) -> Option<(&[u8], &mut [u8])>;
    fn drop_data(&mut self, data: u32);
    /// The elements of table `t` (imported tables first).
    fn table(&mut self, t: u32) -> Option<&mut [u64]>;
    /// `table.grow` with new elements set to `init`: the old size, or
    /// `None`.
    fn grow_table(&mut self, t: u32, delta: u32, init: u64) -> Option<u32>;
    fn tables(&mut self, dst: u32, src: u32) -> Option<TablePair<'_>>;
    fn drop_elem(&mut self, elem: u32);

    /// `kwasm.log`: write `len` bytes of memory at `ptr` to the log.
    fn log(&mut self, ptr: u32, len: u32) -> Result<(), TrapCode>;
    /// The current packet (empty when there is none) and the current
    /// memory, borrowed at once.
    fn packet_and_memory(&mut self) -> (&Self::Packet, Option<&mut [u8]>);
    fn time_ns(&mut self) -> i64;
    /// Map `map`'s slots and the CPU this call runs on (its copy of a
    /// per-CPU map), and the current memory, borrowed at once.
    fn map_and_memory(&mut self, map: u32) -> (Option<(MapSlots<'_>, u32)>, Option<&mut [u8]>);
    fn random_u32(&mut self) -> u32;

    /// Raise trap `code` from a host function, as generated code does; it
    /// does not return. By default through the header's `trap_handler`; a
    /// runtime may call its handler directly instead (the kernel: kCFI
    /// checks indirect calls against a type hash that an assembly handler
    /// lacks, and objtool cannot see that an indirect call never returns).
    ///
    /// # Safety
    /// `vmctx` is what generated code passed to a function of a
    /// [`host_funcs`] table of `Self`; the calling frames up to generated
    /// code hold nothing that needs dropping.
    unsafe fn raise(vmctx: *mut u8, code: TrapCode) -> ! {
        // SAFETY: the header's `trap_handler` is a function of this type
        // (the trait's contract).
        let handler: extern "C" fn(*mut u8, u32, u32) -> ! =
            unsafe { core::mem::transmute((*vmctx.cast::<VmCtxHeader>()).trap_handler) };
        handler(vmctx, code as u32, u32::MAX)
    }
}

/// The instance that `vmctx` belongs to.
///
/// # Safety
/// `vmctx` is what generated code passed to a function of a [`libcalls`]
/// or [`host_funcs`] table of `R`; see [`Runtime`].
unsafe fn instance<'a, R: Runtime>(vmctx: *mut u8) -> &'a mut R {
    // SAFETY: `vmctx` starts with the header, whose `host_ctx` is a live
    // `R` that this call may borrow mutably (`Runtime`'s contract).
    unsafe { &mut *(*vmctx.cast::<VmCtxHeader>()).host_ctx.cast::<R>() }
}

/// The libcall table of runtime `R`.
pub const fn libcalls<R: Runtime>() -> Libcalls {
    Libcalls {
        memory_grow: memory_grow::<R>,
        memory_fill: memory_fill::<R>,
        memory_copy: memory_copy::<R>,
        memory_init: memory_init::<R>,
        data_drop: data_drop::<R>,
        table_grow: table_grow::<R>,
        table_fill: table_fill::<R>,
        table_copy: table_copy::<R>,
        table_init: table_init::<R>,
        elem_drop: elem_drop::<R>,
    }
}

/// The host functions of runtime `R`.
pub const fn host_funcs<R: Runtime>() -> HostFuncs {
    HostFuncs {
        log: log::<R>,
        pkt_len: pkt_len::<R>,
        pkt_load: pkt_load::<R>,
        time_ns: time_ns::<R>,
        map_get: map_get::<R>,
        map_set: map_set::<R>,
        map_add: map_add::<R>,
        random_u32: random_u32::<R>,
        map_lookup: map_lookup::<R>,
        map_update: map_update::<R>,
        map_delete: map_delete::<R>,
        event_output: event_output::<R>,
    }
}

// ---------------------------------------------------------------------------
// Libcalls: none traps itself. Those that can fail return 0 or a trap code
// and generated code raises it, so no Rust frame is ever skipped.

/// A libcall status: 0 when a [`bulk`] operation succeeded, else `trap`.
fn status(ok: Option<bool>, trap: TrapCode) -> u32 {
    if ok == Some(true) { 0 } else { trap as u32 }
}

/// A grow result: the old size, or -1.
fn grown(old: Option<u32>) -> i32 {
    old.map_or(-1, |o| o as i32)
}

extern "C" fn memory_grow<R: Runtime>(vmctx: *mut u8, delta: u32) -> i32 {
    // SAFETY: called by generated code with its own VmCtx.
    grown(unsafe { instance::<R>(vmctx) }.grow_memory(delta))
}

extern "C" fn memory_fill<R: Runtime>(vmctx: *mut u8, dst: u32, val: u32, len: u32) -> u32 {
    // SAFETY: called by generated code with its own VmCtx.
    let m = unsafe { instance::<R>(vmctx) }.memory();
    let ok = m.map(|m| bulk::fill(m, dst, len, val as u8));
    status(ok, TrapCode::MemoryOutOfBounds)
}

extern "C" fn memory_copy<R: Runtime>(vmctx: *mut u8, dst: u32, src: u32, len: u32) -> u32 {
    // SAFETY: called by generated code with its own VmCtx.
    let m = unsafe { instance::<R>(vmctx) }.memory();
    let ok = m.map(|m| bulk::copy_within(m, dst, src, len));
    status(ok, TrapCode::MemoryOutOfBounds)
}

extern "C" fn memory_init<R: Runtime>(
    vmctx: *mut u8,
    data: u32,
    dst: u32,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: called by generated code with its own VmCtx.
    let dm = unsafe { instance::<R>(vmctx) }.data_and_memory(data);
    let ok = dm.map(|(d, m)| bulk::copy(m, dst, d, src, len));
    status(ok, TrapCode::MemoryOutOfBounds)
}

extern "C" fn data_drop<R: Runtime>(vmctx: *mut u8, data: u32) {
    // SAFETY: called by generated code with its own VmCtx.
    unsafe { instance::<R>(vmctx) }.drop_data(data)
}

extern "C" fn table_grow<R: Runtime>(vmctx: *mut u8, t: u32, init: u64, delta: u32) -> i32 {
    // SAFETY: called by generated code with its own VmCtx.
    grown(unsafe { instance::<R>(vmctx) }.grow_table(t, delta, init))
}

extern "C" fn table_fill<R: Runtime>(vmctx: *mut u8, t: u32, dst: u32, val: u64, len: u32) -> u32 {
    // SAFETY: called by generated code with its own VmCtx.
    let e = unsafe { instance::<R>(vmctx) }.table(t);
    status(
        e.map(|e| bulk::fill(e, dst, len, val)),
        TrapCode::TableOutOfBounds,
    )
}

extern "C" fn table_copy<R: Runtime>(
    vmctx: *mut u8,
    dt: u32,
    st: u32,
    dst: u32,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: called by generated code with its own VmCtx.
    let ok = unsafe { instance::<R>(vmctx) }
        .tables(dt, st)
        .map(|p| match p {
            TablePair::Same(e) => bulk::copy_within(e, dst, src, len),
            TablePair::Two { dst: d, src: s } => bulk::copy(d, dst, s, src, len),
        });
    status(ok, TrapCode::TableOutOfBounds)
}

extern "C" fn table_init<R: Runtime>(
    vmctx: *mut u8,
    t: u32,
    elem: u32,
    dst: u32,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: called by generated code with its own VmCtx.
    let et = unsafe { instance::<R>(vmctx) }.elem_and_table(elem, t);
    let ok = et.map(|(items, table)| bulk::copy(table, dst, items, src, len));
    status(ok, TrapCode::TableOutOfBounds)
}

extern "C" fn elem_drop<R: Runtime>(vmctx: *mut u8, elem: u32) {
    // SAFETY: called by generated code with its own VmCtx.
    unsafe { instance::<R>(vmctx) }.drop_elem(elem)
}

// ---------------------------------------------------------------------------
// Host functions (semantics in `super::host`). Those that can fail raise
// the trap themselves, from a frame holding only plain values.

extern "C" fn log<R: Runtime>(vmctx: *mut u8, ptr: u32, len: u32) {
    // SAFETY: called by generated code with the importer's VmCtx.
    if let Err(c) = unsafe { instance::<R>(vmctx) }.log(ptr, len) {
        // SAFETY: nothing in this frame needs dropping.
        unsafe { R::raise(vmctx, c) }
    }
}

extern "C" fn pkt_len<R: Runtime>(vmctx: *mut u8) -> i32 {
    // SAFETY: called by generated code with the importer's VmCtx.
    let (pkt, _) = unsafe { instance::<R>(vmctx) }.packet_and_memory();
    pkt.length().min(i32::MAX as u32) as i32
}

/// `pkt_load`: the number of bytes copied, or the trap for a destination
/// outside memory (checked first, whatever the packet holds).
fn pkt_load_in<R: Runtime>(i: &mut R, off: u32, dst: u32, len: u32) -> Result<i32, TrapCode> {
    let (pkt, mem) = i.packet_and_memory();
    let out = mem
        .and_then(|m| bulk::slice_mut(m, dst, len))
        .ok_or(TrapCode::MemoryOutOfBounds)?;
    let n = pkt.length().saturating_sub(off).min(len);
    let copied = n > 0
        && out
            .get_mut(..n as usize)
            .is_some_and(|o| pkt.copy_to(off, o));
    Ok(if copied { n as i32 } else { 0 })
}

extern "C" fn pkt_load<R: Runtime>(vmctx: *mut u8, off: u32, dst: u32, len: u32) -> i32 {
    // SAFETY: called by generated code with the importer's VmCtx.
    match pkt_load_in(unsafe { instance::<R>(vmctx) }, off, dst, len) {
        Ok(n) => n,
        // SAFETY: nothing in this frame needs dropping.
        Err(c) => unsafe { R::raise(vmctx, c) },
    }
}

extern "C" fn time_ns<R: Runtime>(vmctx: *mut u8) -> i64 {
    // SAFETY: called by generated code with the importer's VmCtx.
    unsafe { instance::<R>(vmctx) }.time_ns()
}

/// Run `op` on a map's slots and this CPU; a map or an index out of range
/// traps with `HostError`.
fn with_map<R: Runtime>(
    vmctx: *mut u8,
    map: u32,
    op: impl Fn(MapSlots<'_>, u32) -> Option<i64>,
) -> i64 {
    // SAFETY: called by generated code with the importer's VmCtx.
    let r = unsafe { instance::<R>(vmctx) }
        .map_and_memory(map)
        .0
        .and_then(|(m, cpu)| op(m, cpu));
    match r {
        Some(v) => v,
        // SAFETY: nothing in this frame needs dropping.
        None => unsafe { R::raise(vmctx, TrapCode::HostError) },
    }
}

extern "C" fn map_get<R: Runtime>(vmctx: *mut u8, map: u32, idx: u32) -> i64 {
    with_map::<R>(vmctx, map, |m, cpu| {
        Some(m.slot(cpu, idx)?.load(Ordering::Relaxed) as i64)
    })
}

extern "C" fn map_set<R: Runtime>(vmctx: *mut u8, map: u32, idx: u32, v: i64) {
    with_map::<R>(vmctx, map, |m, cpu| {
        m.slot(cpu, idx)?.store(v as u64, Ordering::Relaxed);
        Some(0)
    });
}

extern "C" fn map_add<R: Runtime>(vmctx: *mut u8, map: u32, idx: u32, delta: i64) -> i64 {
    with_map::<R>(vmctx, map, |m, cpu| {
        Some(m.add(cpu, idx, delta as u64)? as i64)
    })
}

/// What a map element call does once its ranges are checked.
#[derive(Clone, Copy)]
enum Elem {
    Lookup(u32),
    Update(u32, u32),
    Delete,
}

/// `map_lookup`, `map_update` and `map_delete`: the status, or the trap
/// for a key or value range outside memory. The ranges are checked, and
/// the key copied out (it may overlap the value), before the map is
/// touched, so nothing traps while a map's lock is held.
fn map_elem_in<R: Runtime>(i: &mut R, map: u32, key: u32, op: Elem) -> Result<i32, TrapCode> {
    const OOB: TrapCode = TrapCode::MemoryOutOfBounds;
    let (m, mem) = i.map_and_memory(map);
    let Some((m, cpu)) = m else {
        return Ok(MapStatus::Invalid as i32);
    };
    let mem = mem.ok_or(OOB)?;
    let mut kbuf = [0u8; MAX_KEY_SIZE as usize];
    let k = kbuf.get_mut(..m.key_size as usize).ok_or(OOB)?;
    let src = bulk::slice(mem, key, m.key_size).ok_or(OOB)?;
    for (d, s) in k.iter_mut().zip(src) {
        *d = *s;
    }
    let r = match op {
        Elem::Lookup(v) => m.lookup(cpu, k, bulk::slice_mut(mem, v, m.value_size).ok_or(OOB)?),
        Elem::Update(v, flags) => {
            m.update(cpu, k, bulk::slice(mem, v, m.value_size).ok_or(OOB)?, flags)
        }
        Elem::Delete => m.delete(k),
    };
    Ok(MapStatus::code(r))
}

fn map_elem<R: Runtime>(vmctx: *mut u8, map: u32, key: u32, op: Elem) -> i32 {
    // SAFETY: called by generated code with the importer's VmCtx.
    match map_elem_in(unsafe { instance::<R>(vmctx) }, map, key, op) {
        Ok(s) => s,
        // SAFETY: nothing in this frame needs dropping (and no lock is
        // held: `map_elem_in` has returned).
        Err(c) => unsafe { R::raise(vmctx, c) },
    }
}

extern "C" fn map_lookup<R: Runtime>(vmctx: *mut u8, map: u32, key: u32, val: u32) -> i32 {
    map_elem::<R>(vmctx, map, key, Elem::Lookup(val))
}

extern "C" fn map_update<R: Runtime>(
    vmctx: *mut u8,
    map: u32,
    key: u32,
    val: u32,
    flags: u32,
) -> i32 {
    map_elem::<R>(vmctx, map, key, Elem::Update(val, flags))
}

extern "C" fn map_delete<R: Runtime>(vmctx: *mut u8, map: u32, key: u32) -> i32 {
    map_elem::<R>(vmctx, map, key, Elem::Delete)
}

/// `event_output`: the status, or the trap for a range outside memory
/// (checked before the ring's lock is taken).
fn event_output_in<R: Runtime>(i: &mut R, map: u32, ptr: u32, len: u32) -> Result<i32, TrapCode> {
    let now = i.time_ns() as u64;
    let (m, mem) = i.map_and_memory(map);
    let Some((m, cpu)) = m else {
        return Ok(MapStatus::Invalid as i32);
    };
    let data = mem
        .and_then(|mem| bulk::slice(mem, ptr, len))
        .ok_or(TrapCode::MemoryOutOfBounds)?;
    Ok(MapStatus::code(m.output(cpu, now, data)))
}

extern "C" fn event_output<R: Runtime>(vmctx: *mut u8, map: u32, ptr: u32, len: u32) -> i32 {
    // SAFETY: called by generated code with the importer's VmCtx.
    match event_output_in(unsafe { instance::<R>(vmctx) }, map, ptr, len) {
        Ok(s) => s,
        // SAFETY: nothing in this frame needs dropping, and no lock is held.
        Err(c) => unsafe { R::raise(vmctx, c) },
    }
}

extern "C" fn random_u32<R: Runtime>(vmctx: *mut u8) -> i32 {
    // SAFETY: called by generated code with the importer's VmCtx.
    unsafe { instance::<R>(vmctx) }.random_u32() as i32
}

#[cfg(test)]
mod tests {
    use super::super::maps::{MapDecl, MapKind, MapLock};
    use super::super::{hash, ring};
    use super::*;
    use core::ptr;
    use core::sync::atomic::AtomicU64;

    /// An instance with a little of everything, in arrays.
    struct Fake {
        mem: [u8; 8],
        pages: u32,
        tables: [[u64; 4]; 2],
        seg: [u64; 2],
        seg_dropped: bool,
        data: [u8; 3],
        maps: [AtomicU64; 2],
        hash: [AtomicU64; hash::storage_words(1, 2, 2)],
        ring: [AtomicU64; ring::storage_words(64)],
        pkt: [u8; 5],
    }

    struct NoLock;
    impl MapLock for NoLock {
        fn locked(&self, f: &mut dyn FnMut()) {
            f()
        }
    }

    impl InitTarget for Fake {
        fn global(&self, _: u32) -> u64 {
            0
        }
        fn func_ref(&self, f: u32) -> u64 {
            f as u64
        }
        fn elem_and_table(&mut self, e: u32, t: u32) -> Option<(&[u64], &mut [u64])> {
            let items: &[u64] = if self.seg_dropped { &[] } else { &self.seg };
            (e == 0).then_some((items, self.tables.get_mut(t as usize)?.as_mut_slice()))
        }
        fn memory(&mut self) -> Option<&mut [u8]> {
            Some(&mut self.mem)
        }
    }

    // SAFETY: `call` below builds a header whose `host_ctx` is the fake;
    // nothing here raises a trap.
    unsafe impl Runtime for Fake {
        type Packet = [u8];
        fn grow_memory(&mut self, delta: u32) -> Option<u32> {
            let old = self.pages;
            self.pages = bulk::grow(old as u64, delta, 2)? as u32;
            Some(old)
        }
        fn data_and_memory(&mut self, data: u32) -> Option<(&[u8], &mut [u8])> {
            (data == 0).then_some((&self.data[..], &mut self.mem[..]))
        }
        fn drop_data(&mut self, _: u32) {}
        fn table(&mut self, t: u32) -> Option<&mut [u64]> {
            self.tables.get_mut(t as usize).map(|t| t.as_mut_slice())
        }
        fn grow_table(&mut self, _: u32, _: u32, _: u64) -> Option<u32> {
            None
        }
        fn tables(&mut self, dst: u32, src: u32) -> Option<TablePair<'_>> {
            let [a, b] = &mut self.tables;
            Some(match (dst, src) {
                (0, 0) => TablePair::Same(a),
                (0, 1) => TablePair::Two { dst: a, src: b },
                _ => return None,
            })
        }
        fn drop_elem(&mut self, _: u32) {
            self.seg_dropped = true;
        }
        fn log(&mut self, _: u32, _: u32) -> Result<(), TrapCode> {
            Ok(())
        }
        fn packet_and_memory(&mut self) -> (&[u8], Option<&mut [u8]>) {
            (&self.pkt, Some(&mut self.mem))
        }
        fn time_ns(&mut self) -> i64 {
            42
        }
        fn map_and_memory(&mut self, map: u32) -> (Option<(MapSlots<'_>, u32)>, Option<&mut [u8]>) {
            // Maps 0 and 1: arrays of one entry; map 2: a hash map of 2
            // one-byte keys with 2-byte values.
            let (decl, slots) = match map {
                0 | 1 => (
                    MapDecl::array(1),
                    core::slice::from_ref(&self.maps[map as usize]),
                ),
                2 => (MapDecl::hash(1, 2, 2), &self.hash[..]),
                3 => (MapDecl::ring_buf(64), &self.ring[..]),
                _ => return (None, Some(&mut self.mem)),
            };
            let m = MapSlots {
                kind: decl.kind,
                entries: decl.entries,
                key_size: decl.key_size,
                value_size: decl.value_size,
                slots,
                lock: &NoLock,
            };
            (Some((m, 0)), Some(&mut self.mem))
        }
        fn random_u32(&mut self) -> u32 {
            4
        }
    }

    fn fake() -> Fake {
        Fake {
            mem: [0; 8],
            pages: 1,
            tables: [[0; 4], [1, 2, 3, 4]],
            seg: [8, 9],
            seg_dropped: false,
            data: [5, 6, 7],
            maps: [AtomicU64::new(0), AtomicU64::new(0)],
            hash: core::array::from_fn(|_| AtomicU64::new(0)),
            ring: core::array::from_fn(|_| AtomicU64::new(0)),
            pkt: [10, 11, 12, 13, 14],
        }
    }

    /// Runs `f` with a `VmCtx` (just the header) whose instance is `inst`.
    fn call<T>(inst: &mut Fake, f: impl FnOnce(*mut u8) -> T) -> T {
        let mut h = VmCtxHeader {
            fuel: 0,
            stack_limit: 0,
            trap_handler: ptr::null(),
            libcalls: ptr::null(),
            host_ctx: ptr::from_mut(inst).cast(),
        };
        f(ptr::from_mut(&mut h).cast())
    }

    const MEM_OOB: u32 = TrapCode::MemoryOutOfBounds as u32;
    const TABLE_OOB: u32 = TrapCode::TableOutOfBounds as u32;

    #[test]
    fn libcalls_check_bounds_before_writing() {
        let l = libcalls::<Fake>();
        let mut i = fake();
        call(&mut i, |vm| {
            assert_eq!((l.memory_fill)(vm, 6, 7, 2), 0);
            assert_eq!((l.memory_fill)(vm, 7, 9, 2), MEM_OOB);
            assert_eq!((l.memory_init)(vm, 0, 0, 1, 2), 0);
            assert_eq!((l.memory_init)(vm, 0, 0, 2, 2), MEM_OOB);
            assert_eq!((l.memory_init)(vm, 1, 0, 0, 0), MEM_OOB);
            assert_eq!((l.memory_copy)(vm, 2, 0, 2), 0);
            assert_eq!((l.memory_grow)(vm, 1), 1);
            assert_eq!((l.memory_grow)(vm, 1), -1);
        });
        assert_eq!(i.mem, [6, 7, 6, 7, 0, 0, 7, 7]);
        call(&mut i, |vm| {
            assert_eq!((l.table_copy)(vm, 0, 1, 0, 2, 2), 0);
            assert_eq!((l.table_copy)(vm, 0, 0, 1, 0, 2), 0);
            assert_eq!((l.table_copy)(vm, 0, 0, 3, 0, 2), TABLE_OOB);
            assert_eq!((l.table_fill)(vm, 1, 3, 0, 1), 0);
            assert_eq!((l.table_init)(vm, 0, 0, 2, 0, 2), 0);
            (l.elem_drop)(vm, 0);
            assert_eq!((l.table_init)(vm, 0, 0, 0, 0, 1), TABLE_OOB);
            assert_eq!((l.table_grow)(vm, 0, 0, 1), -1);
        });
        assert_eq!(i.tables, [[3, 3, 8, 9], [1, 2, 3, 0]]);
    }

    #[test]
    fn host_functions_follow_the_host_api() {
        let h = host_funcs::<Fake>();
        let mut i = fake();
        call(&mut i, |vm| {
            assert_eq!((h.pkt_len)(vm), 5);
            assert_eq!((h.pkt_load)(vm, 3, 1, 4), 2, "up to the packet's end");
            assert_eq!((h.pkt_load)(vm, 9, 0, 4), 0, "past the end");
            assert_eq!((h.map_add)(vm, 1, 0, 5), 5);
            assert_eq!((h.map_add)(vm, 1, 0, -2), 3);
            (h.map_set)(vm, 0, 0, 7);
            assert_eq!((h.map_get)(vm, 0, 0), 7);
            assert_eq!((h.time_ns)(vm), 42);
            assert_eq!((h.random_u32)(vm), 4);
        });
        assert_eq!(i.mem[..4], [0, 13, 14, 0]);
    }

    #[test]
    fn map_element_calls_return_statuses_and_trap_only_on_ranges() {
        let h = host_funcs::<Fake>();
        let mut i = fake();
        i.mem = [1, 0xaa, 0xbb, 2, 0, 0, 0, 0];
        let st = |s: MapStatus| s as i32;
        call(&mut i, |vm| {
            // Hash map 2: key at 0 (1), value at 1 (aa bb).
            assert_eq!((h.map_update)(vm, 2, 0, 1, hash::UPDATE_NOEXIST), 0);
            assert_eq!(
                (h.map_update)(vm, 2, 0, 1, hash::UPDATE_NOEXIST),
                st(MapStatus::Exists)
            );
            assert_eq!((h.map_update)(vm, 2, 3, 1, 0), 0, "key 2");
            assert_eq!((h.map_update)(vm, 2, 4, 1, 0), st(MapStatus::Full), "key 0");
            assert_eq!((h.map_lookup)(vm, 2, 0, 5), 0);
            assert_eq!((h.map_delete)(vm, 2, 3), 0);
            assert_eq!((h.map_lookup)(vm, 2, 3, 5), st(MapStatus::NotFound));
            assert_eq!((h.map_update)(vm, 2, 0, 1, 99), st(MapStatus::Invalid));
            assert_eq!(
                (h.map_lookup)(vm, 7, 0, 0),
                st(MapStatus::Invalid),
                "no map 7"
            );
            // Array map 1: key 0 is a u32 at 4 (zeros), value 8 bytes.
            assert_eq!((h.map_add)(vm, 1, 0, 9), 9);
            assert_eq!((h.map_delete)(vm, 1, 4), st(MapStatus::Invalid));
        });
        assert_eq!(i.mem[5..7], [0xaa, 0xbb]);
    }

    #[test]
    fn event_output_appends_records_and_counts_drops() {
        let h = host_funcs::<Fake>();
        let mut i = fake();
        i.mem = *b"abcdefgh";
        call(&mut i, |vm| {
            assert_eq!((h.event_output)(vm, 3, 0, 3), 0);
            assert_eq!((h.event_output)(vm, 3, 3, 5), 0);
            assert_eq!(
                (h.event_output)(vm, 3, 0, 8),
                MapStatus::Full as i32,
                "full"
            );
            assert_eq!(
                (h.event_output)(vm, 2, 0, 1),
                MapStatus::Invalid as i32,
                "a hash map"
            );
            assert_eq!(
                (h.event_output)(vm, 9, 0, 1),
                MapStatus::Invalid as i32,
                "no map"
            );
        });
        let m = MapSlots {
            kind: MapKind::RingBuf,
            entries: 64,
            key_size: 0,
            value_size: 0,
            slots: &i.ring,
            lock: &NoLock,
        };
        let mut out = [0u8; 64];
        let (n, k, dropped) = m.ring_peek(&mut out).unwrap();
        assert_eq!((k, dropped), (2, 1));
        let got: [&[u8]; 2] = {
            let mut r = ring::records(&out[..n]).map(|r| r.data);
            [r.next().unwrap(), r.next().unwrap()]
        };
        assert_eq!(got, [&b"abc"[..], b"defgh"]);
        assert!(ring::records(&out[..n]).all(|r| r.time_ns == 42));
    }
}
