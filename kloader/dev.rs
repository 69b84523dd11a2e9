// SPDX-License-Identifier: GPL-2.0

//! `/dev/kwasm`: the ioctl dispatch (glue.c's misc device calls
//! [`kwasm_ioctl`]) and its handlers: list, stats, attach and detach,
//! invoke, map reads and writes, and bench (test runs of `filter`).

use core::fmt::Write;

use kernel::ffi::{c_long, c_uint, c_ulong};
use kernel::prelude::*;
use kernel::uaccess::UserSlice;

use crate::abi::hash::Scan;
use crate::abi::ioctl::{
    self, AttachReq, BenchReq, EventsReq, InvokeReq, ListReq, MapElemReq, MapReq, ModuleLayout, ProgInfo, Record, StatsReq,
};
use crate::abi::maps::{MapKind, MapStatus, MAX_KEY_SIZE, MAX_VALUE_SIZE};
use crate::abi::meta::kind;
use crate::abi::{self, KERNEL_ARCH};
use crate::ffi::{self, BhDisabled, ModuleRef, MsgBuf, OwnedSkb};
use crate::program::CallError;
use crate::registry::{self, find, find_mut, registry, Attach};

/// Handles an ioctl on `/dev/kwasm`; called by `glue.c`.
#[no_mangle]
pub(crate) extern "C" fn kwasm_ioctl(cmd: c_uint, arg: c_ulong) -> c_long {
    // Only MODULE_LAYOUT (the ioctl version and the module layout, which
    // `kwasm --version` and `kwasm load` read before anything else) is open
    // to everyone. Programs' names, stats and maps can hold per-flow data,
    // and per-packet timing is a side channel: reading them needs the same
    // capability as changing them.
    let r = match cmd {
        ioctl::MODULE_LAYOUT => module_layout(arg),
        ioctl::LIST
        | ioctl::STATS
        | ioctl::MAP_GET
        | ioctl::ATTACH
        | ioctl::DETACH
        | ioctl::INVOKE
        | ioctl::MAP_SET
        | ioctl::BENCH
        | ioctl::MAP_ELEM
        | ioctl::EVENTS
            if !ffi::kwasm_capable() =>
        {
            Err(EPERM)
        }
        ioctl::LIST => list(arg),
        ioctl::STATS => stats(arg),
        ioctl::MAP_GET => map_get(arg),
        ioctl::ATTACH => attach(arg),
        ioctl::DETACH => detach(arg),
        ioctl::INVOKE => invoke(arg),
        ioctl::MAP_SET => map_set(arg),
        ioctl::BENCH => bench(arg),
        ioctl::MAP_ELEM => map_elem(arg),
        ioctl::EVENTS => events(arg),
        _ => Err(ENOTTY),
    };
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno() as c_long,
    }
}

/// Copies in a request record.
fn read_req<R: Record, const N: usize>(arg: c_ulong) -> Result<R> {
    let mut buf = [0u8; N];
    UserSlice::new(arg, N).reader().read_slice(&mut buf)?;
    Ok(R::read(&buf))
}

/// Copies a record back.
fn write_req<R: Record, const N: usize>(arg: c_ulong, r: &R) -> Result {
    let mut buf = [0u8; N];
    r.write(&mut buf);
    UserSlice::new(arg, N).writer().write_slice(&buf)
}

fn module_layout(arg: c_ulong) -> Result {
    let mut l = ModuleLayout { version: ioctl::IOCTL_VERSION, arch: KERNEL_ARCH as u32, ..Default::default() };
    [l.module_size, l.name_offset, l.init_offset, l.exit_offset, l.name_len] =
        ffi::module_layout(&mut l.vermagic, &mut l.init_preamble, &mut l.exit_preamble);
    write_req::<_, { ModuleLayout::SIZE }>(arg, &l)
}

fn list(arg: c_ulong) -> Result {
    let mut req: ListReq = read_req::<_, { ListReq::SIZE }>(arg)?;
    let mut out = KVec::new();
    let count = {
        let r = registry()?.lock();
        for e in r.iter().take(req.cap as usize) {
            out.push(e.info(), GFP_KERNEL)?;
        }
        r.len() as u32
    };
    let mut w = UserSlice::new(req.buf as usize, out.len() * ProgInfo::SIZE).writer();
    let mut buf = [0u8; ProgInfo::SIZE];
    for info in out.iter() {
        info.write(&mut buf);
        w.write_slice(&buf)?;
    }
    req.count = count;
    write_req::<_, { ListReq::SIZE }>(arg, &req)
}

fn stats(arg: c_ulong) -> Result {
    let mut req: StatsReq = read_req::<_, { StatsReq::SIZE }>(arg)?;
    req.info = find(&registry()?.lock(), &req.name)?.info();
    write_req::<_, { StatsReq::SIZE }>(arg, &req)
}

/// An attach or detach request, checked.
fn point_req(arg: c_ulong) -> Result<AttachReq> {
    let req: AttachReq = read_req::<_, { AttachReq::SIZE }>(arg)?;
    let family_ok = matches!(req.family, ioctl::FAMILY_IPV4 | ioctl::FAMILY_IPV6);
    if !family_ok || req.hook as usize >= ioctl::HOOK_NAMES.len() {
        return Err(EINVAL);
    }
    Ok(req)
}

fn attach(arg: c_ulong) -> Result {
    let req = point_req(arg)?;
    let mut r = registry()?.lock();
    let e = find_mut(&mut r, &req.name)?;
    if e.prog.entry.is_none() {
        pr_info!("{}: cannot attach: no `filter` export\n", e.prog.name());
        return Err(EINVAL);
    }
    if e.attach.iter().any(|a| a.family == req.family && a.hook == req.hook) {
        return Err(EEXIST);
    }
    if e.attach.len() >= ioctl::MAX_ATTACH {
        return Err(ENOSPC);
    }
    e.attach.reserve(1, GFP_KERNEL)?;
    let a = Attach::new(&e.prog, req.family, req.hook, req.priority)?;
    // Capacity was reserved above, so this cannot fail; if it did, the
    // attachment is dropped, which detaches it.
    e.attach.push(a, GFP_ATOMIC)?;
    Ok(())
}

fn detach(arg: c_ulong) -> Result {
    let req = point_req(arg)?;
    let mut r = registry()?.lock();
    let e = find_mut(&mut r, &req.name)?;
    let pos = e.attach.iter().position(|a| a.family == req.family && a.hook == req.hook).ok_or(ENOENT)?;
    drop(registry::remove(&mut e.attach, pos));
    Ok(())
}

fn invoke(arg: c_ulong) -> Result {
    let mut req: InvokeReq = read_req::<_, { InvokeReq::SIZE }>(arg)?;
    let export = ioctl::decode_cstr(&req.export).ok_or(EINVAL)?;
    if req.fuel > abi::fuel::MAX {
        return Err(EINVAL);
    }
    // The program's metadata and code live in its module. Take a module
    // reference while the registry lock proves the module is still there
    // (its exit stub unregisters under this lock): after that, an unload
    // can only fail with EBUSY until the reference is dropped.
    let (prog, _module) = {
        let r = registry()?.lock();
        let e = find(&r, &req.name)?;
        // SAFETY: the entry is registered and we hold the registry lock, so
        // the owner module's exit stub has not completed.
        let m = unsafe { ModuleRef::get(e.prog.owner) }.ok_or(ENOENT)?;
        (e.prog.clone(), m)
    };
    let m = &prog.meta;
    let e = m.export(export).ok_or(ENOENT)?;
    if e.kind != kind::FUNC {
        return Err(EINVAL);
    }
    let c = prog.callee(e.index).ok_or(EINVAL)?;
    if req.nargs as usize != c.nparams || c.nresults > ioctl::MAX_INVOKE_VALUES || c.nparams > ioctl::MAX_INVOKE_VALUES {
        return Err(EINVAL);
    }
    // Every argument must be a value of its parameter's type; a reference
    // parameter takes only null (DESIGN decision 11).
    for (i, (ty, &raw)) in m.params(c.ty).zip(req.values.iter()).enumerate() {
        if let Err(why) = abi::types::check_external_arg(ty, raw) {
            let mut msg = MsgBuf::new();
            let _ = write!(msg, "{}: invoke {export}: argument {i} ({}) refused: {}", prog.name(), ty.name(), why.message());
            prog.report_limit.log(msg.as_bytes());
            return Err(EINVAL);
        }
    }
    let fuel = if req.fuel == 0 { prog.fuel } else { req.fuel };
    // Pins us to this CPU and keeps the hook off this CPU's instance.
    let bh = BhDisabled::new();
    let r = prog.call_here(&bh, &c, &mut req.values, fuel, None);
    drop(bh);
    match r {
        Ok(()) => {
            req.nresults = c.nresults as u32;
            req.trap = 0;
            req.trap_func = u32::MAX;
            // References are kernel addresses: they leave only as a
            // null/non-null flag.
            for (v, ty) in req.values.iter_mut().zip(m.results(c.ty)) {
                *v = abi::types::external_result(ty, *v);
            }
            for v in req.values.iter_mut().skip(c.nresults) {
                *v = 0;
            }
        }
        Err(CallError::Trap(t)) => {
            req.nresults = 0;
            req.trap = t.code;
            req.trap_func = t.func;
            req.values = [0; ioctl::MAX_INVOKE_VALUES];
        }
        Err(CallError::NoFpu | CallError::Busy) => return Err(EBUSY),
    }
    write_req::<_, { InvokeReq::SIZE }>(arg, &req)
}

fn map_get(arg: c_ulong) -> Result {
    let mut req: MapReq = read_req::<_, { MapReq::SIZE }>(arg)?;
    let prog = find(&registry()?.lock(), &req.name)?.prog.clone();
    let map = prog.shared.map(req.map).ok_or(EINVAL)?;
    let end = req.index.checked_add(req.count).ok_or(EINVAL)?;
    if end > map.entries || map.cpus(req.cpu).is_none() || (!map.kind.is_array() && req.count > 0) {
        return Err(EINVAL);
    }
    let mut w = UserSlice::new(req.buf as usize, req.count as usize * 8).writer();
    let mut chunk = [0u8; 512];
    let mut i = req.index;
    while i < end {
        let n = (end - i).min(chunk.len() as u32 / 8);
        for k in 0..n {
            let v = map.read(i + k, req.cpu).ok_or(EINVAL)?;
            let at = 8 * k as usize;
            chunk[at..at + 8].copy_from_slice(&v.to_le_bytes());
        }
        w.write_slice(&chunk[..n as usize * 8])?;
        i += n;
    }
    req.len = map.entries;
    req.kind = map.kind as u32;
    req.copies = map.copies();
    req.key_size = map.key_size;
    req.value_size = map.value_size;
    req.used = map.used();
    write_req::<_, { MapReq::SIZE }>(arg, &req)
}

/// Buckets `ELEM_NEXT` scans per hold of a map's lock (bottom halves are
/// off meanwhile): a few microseconds.
const SCAN_CHUNK: u32 = 1024;

/// A map operation's status as the ioctl's error (`-status` is its errno).
fn errno(s: MapStatus) -> Error {
    Error::from_errno(s as i32)
}

/// A map operation's result as the ioctl's.
fn status(r: core::result::Result<(), MapStatus>) -> Result {
    r.map_err(errno)
}

fn map_elem(arg: c_ulong) -> Result {
    let mut req: MapElemReq = read_req::<_, { MapElemReq::SIZE }>(arg)?;
    let prog = find(&registry()?.lock(), &req.name)?.prog.clone();
    let map = prog.shared.map(req.map).ok_or(EINVAL)?;
    if map.kind != MapKind::Hash || (req.key_size, req.value_size) != (map.key_size, map.value_size) {
        return Err(EINVAL);
    }
    let mut kbuf = [0u8; MAX_KEY_SIZE as usize];
    let mut vbuf = [0u8; MAX_VALUE_SIZE as usize];
    let key = kbuf.get_mut(..map.key_size as usize).ok_or(EINVAL)?;
    let value = vbuf.get_mut(..map.value_size as usize).ok_or(EINVAL)?;
    let (kp, vp) = (req.key as usize, req.value as usize);
    if req.op != ioctl::ELEM_NEXT {
        UserSlice::new(kp, key.len()).reader().read_slice(key)?;
    }
    match req.op {
        ioctl::ELEM_LOOKUP => {
            status(map.lookup(0, key, value))?;
            UserSlice::new(vp, value.len()).writer().write_slice(value)
        }
        ioctl::ELEM_UPDATE => {
            UserSlice::new(vp, value.len()).reader().read_slice(value)?;
            status(map.update(0, key, value, req.flags))
        }
        ioctl::ELEM_DELETE => status(map.delete(key)),
        ioctl::ELEM_NEXT => {
            let mut at = req.cursor;
            loop {
                match map.next(at, SCAN_CHUNK, key, value).map_err(errno)? {
                    Scan::Entry(b) => {
                        UserSlice::new(kp, key.len()).writer().write_slice(key)?;
                        UserSlice::new(vp, value.len()).writer().write_slice(value)?;
                        req.cursor = b;
                        return write_req::<_, { MapElemReq::SIZE }>(arg, &req);
                    }
                    Scan::More(b) => at = b,
                    Scan::End => return Err(ENOENT),
                }
            }
        }
        _ => Err(EINVAL),
    }
}

fn map_set(arg: c_ulong) -> Result {
    let req: MapReq = read_req::<_, { MapReq::SIZE }>(arg)?;
    let prog = find(&registry()?.lock(), &req.name)?.prog.clone();
    let map = prog.shared.map(req.map).ok_or(EINVAL)?;
    map.write(req.index, req.cpu, req.value).ok_or(EINVAL)
}

fn events(arg: c_ulong) -> Result {
    let mut req: EventsReq = read_req::<_, { EventsReq::SIZE }>(arg)?;
    let prog = find(&registry()?.lock(), &req.name)?.prog.clone();
    let ring = prog.shared.ring(req.map).ok_or(EINVAL)?;
    // The ring never holds more than its size: no bigger bounce buffer.
    let len = req.buf_len.min(ioctl::EVENTS_MAX_READ).min(ring.entries) as usize;
    let mut bounce = KVVec::from_elem(0u8, len, GFP_KERNEL)?;
    let _reader = prog.shared.readers.lock();
    let (n, records, dropped) = ring.ring_peek(&mut bounce).map_err(errno)?;
    // Copy first, consume after: a fault in the copy loses nothing.
    UserSlice::new(req.buf as usize, n).writer().write_slice(bounce.get(..n).ok_or(EINVAL)?)?;
    ring.ring_consume(n).map_err(errno)?;
    req.bytes = n as u32;
    req.records = records;
    req.dropped = dropped;
    req.pending = u64::from(ring.used());
    write_req::<_, { EventsReq::SIZE }>(arg, &req)
}

fn bench(arg: c_ulong) -> Result {
    let req: BenchReq = read_req::<_, { BenchReq::SIZE }>(arg)?;
    if req.flags != 0 || req.packet_len == 0 || req.repeat == 0 || req.batch > ioctl::BENCH_MAX_BATCH {
        return Err(EINVAL);
    }
    if req.packet_len > ioctl::BENCH_MAX_PACKET || req.repeat > ioctl::BENCH_MAX_REPEAT {
        return Err(E2BIG);
    }
    // As for INVOKE: a module reference keeps the program's code mapped.
    let (prog, _module) = {
        let r = registry()?.lock();
        let e = match req.name.iter().all(|&b| b == 0) {
            true => r.iter().find(|e| e.prog.id == req.id && req.id != 0).ok_or(ENOENT)?,
            false => find(&r, &req.name)?,
        };
        // SAFETY: the entry is registered and we hold the registry lock.
        let m = unsafe { ModuleRef::get(e.prog.owner) }.ok_or(ENOENT)?;
        (e.prog.clone(), m)
    };
    if prog.entry.is_none() {
        return Err(EINVAL);
    }
    let mut data = KVVec::from_elem(0u8, req.packet_len as usize, GFP_KERNEL)?;
    UserSlice::new(req.packet as usize, data.len()).reader().read_slice(&mut data)?;
    let skb = OwnedSkb::new(&data)?;
    drop(data);
    let mut out = BenchReq {
        name: *prog.name_bytes(),
        id: prog.id,
        packet: req.packet,
        packet_len: req.packet_len,
        repeat: req.repeat,
        batch: req.batch,
        ..Default::default()
    };
    prog.bench(skb.packet(), &mut out)?;
    drop(skb);
    write_req::<_, { BenchReq::SIZE }>(arg, &out)
}
