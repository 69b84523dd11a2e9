// SPDX-License-Identifier: GPL-2.0

//! kwasm.ko: runs ahead-of-time compiled WebAssembly programs in the kernel.
//!
//! `kwasm load` wraps a `.kw` as a module whose init stub calls the exported
//! `kwasm_register` (glue.c forwards to [`kwasm_rs_register`]): the program
//! is validated with the same `Meta::parse` as userspace (the `abi` module is
//! the `kwasm-abi` crate's sources), instantiated once per possible CPU and
//! kept in the registry. `/dev/kwasm` ioctls list, attach to netfilter,
//! invoke and read maps. `glue.c` wraps the kernel APIs without Rust
//! bindings, `entry.S` switches to the wasm stack and back.

use core::ffi::c_void;
use core::fmt::Write;
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use kernel::ffi::{c_int, c_long, c_uint, c_ulong};
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};
use kernel::uaccess::UserSlice;

#[allow(dead_code, unreachable_pub, missing_docs, unused_imports, clippy::all)]
mod abi;
mod ffi;
mod program;
mod runtime;

use abi::ioctl::{self, AttachReq, InvokeReq, ListReq, LoadConfig, MapReq, ModuleLayout, ProgInfo, Record, StatsReq};
use abi::meta::{kind, Meta};
use ffi::BhGuard;
use program::Program;

module! {
    type: Kwasm,
    name: "kwasm",
    author: "kwasm developers",
    description: "Runs ahead-of-time compiled WebAssembly programs at netfilter hooks",
    license: "GPL",
}

/// A netfilter attachment: the C `nf_hook_ops` and the program reference
/// its `priv` holds.
struct Attach {
    family: u32,
    hook: u32,
    priority: i32,
    ops: *mut c_void,
    prog: *const Program,
}

/// A registered program.
struct Entry {
    prog: Arc<Program>,
    attach: KVec<Attach>,
}

// SAFETY: the raw pointers in `Attach` are a C hook and an `Arc` reference,
// both usable from any thread; entries are only touched under the mutex.
unsafe impl Send for Entry {}

impl Entry {
    /// Unregister one attachment, wait for hooks still running it on other
    /// CPUs (`kwasm_nf_detach`), and drop its program reference.
    fn detach(a: Attach) {
        // SAFETY: `ops` came from `kwasm_nf_attach` and is detached once.
        unsafe { ffi::kwasm_nf_detach(a.ops) };
        // SAFETY: `prog` came from `Arc::into_raw` in `attach`; no hook uses
        // it any more.
        drop(unsafe { Arc::from_raw(a.prog) });
    }

    fn info(&self) -> ProgInfo {
        let mut info = self.prog.info();
        info.nattach = self.attach.len() as u32;
        for (i, a) in self.attach.iter().enumerate() {
            info.set_attachment(i, a.family, a.hook, a.priority);
        }
        info
    }
}

/// Removes and returns element `i` (`i < v.len()`), keeping the order.
fn take_at<T>(v: &mut KVec<T>, i: usize) -> T {
    let last = v.len() - 1;
    v.as_mut_slice()[i..].rotate_left(1);
    // SAFETY: `last < len`; the element is moved out and the length
    // shortened so it is not dropped twice.
    unsafe {
        let t = core::ptr::read(v.as_ptr().add(last));
        v.set_len(last);
        t
    }
}

type Registry = Mutex<KVec<Entry>>;

/// The registry, set while the module is loaded.
static REGISTRY: AtomicPtr<Registry> = AtomicPtr::new(core::ptr::null_mut());
static NEXT_ID: AtomicU32 = AtomicU32::new(1);

fn registry() -> Result<&'static Registry> {
    let p = REGISTRY.load(Ordering::Acquire);
    // SAFETY: set in `init` to a pinned allocation that lives until `drop`,
    // which clears it after no ioctl or program module can call us.
    unsafe { p.as_ref() }.ok_or(ENODEV)
}

/// The module instance: owns the registry and `/dev/kwasm`.
struct Kwasm {
    registry: Pin<KBox<Registry>>,
}

impl kernel::Module for Kwasm {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let registry = KBox::pin_init(kernel::new_mutex!(KVec::new()), GFP_KERNEL)?;
        REGISTRY.store(
            core::ptr::from_ref::<Registry>(&registry).cast_mut(),
            Ordering::Release,
        );
        // SAFETY: no preconditions; undone in `drop`.
        let r = kernel::error::to_result(unsafe { ffi::kwasm_glue_init() });
        if let Err(e) = r {
            REGISTRY.store(core::ptr::null_mut(), Ordering::Release);
            return Err(e);
        }
        pr_info!("loaded\n");
        Ok(Kwasm { registry })
    }
}

impl Drop for Kwasm {
    fn drop(&mut self) {
        // SAFETY: `kwasm_glue_init` succeeded; called once.
        unsafe { ffi::kwasm_glue_exit() };
        // Program modules depend on us, so none is left; be tidy anyway.
        let mut reg = self.registry.lock();
        while !reg.is_empty() {
            let mut e = take_at(&mut reg, 0);
            while !e.attach.is_empty() {
                Entry::detach(take_at(&mut e.attach, 0));
            }
        }
        drop(reg);
        REGISTRY.store(core::ptr::null_mut(), Ordering::Release);
        pr_info!("unloaded\n");
    }
}

// ---------------------------------------------------------------------------
// Program modules.

/// Registers a program; called by `kwasm_register` (glue.c) from a program
/// module's init stub. Returns 0 or a negative errno.
#[no_mangle]
pub extern "C" fn kwasm_rs_register(
    owner: *mut c_void,
    meta: *const u8,
    meta_len: usize,
    text: *const u8,
    text_len: usize,
    cfg: *const u8,
) -> c_int {
    match register(owner, meta, meta_len, text, text_len, cfg) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

fn register(
    owner: *mut c_void,
    meta: *const u8,
    meta_len: usize,
    text: *const u8,
    text_len: usize,
    cfg: *const u8,
) -> Result {
    if owner.is_null() || meta.is_null() || meta_len == 0 || text.is_null() || cfg.is_null() {
        return Err(EINVAL);
    }
    // SAFETY: the init stub passes the program module's own sections, which
    // live until after its exit stub (`kwasm_unregister`) has run.
    let (meta_b, cfg_b) = unsafe {
        (
            core::slice::from_raw_parts(meta, meta_len),
            core::slice::from_raw_parts(cfg, LoadConfig::SIZE),
        )
    };
    let cfg = LoadConfig::read(cfg_b);
    let Some(name) = ioctl::decode_name(&cfg.name) else {
        pr_err!("program module with an invalid name in its load configuration\n");
        return Err(EINVAL);
    };
    if cfg.magic != ioctl::LOAD_CONFIG_MAGIC || cfg.version != ioctl::IOCTL_VERSION {
        pr_err!("{name}: bad load configuration (magic {:#x}, version {})\n", cfg.magic, cfg.version);
        return Err(EINVAL);
    }
    if cfg.stack_kib != 0 && !(ioctl::MIN_STACK_KIB..=ioctl::MAX_STACK_KIB).contains(&cfg.stack_kib) {
        pr_err!("{name}: stack of {} KiB outside {}..={} KiB\n", cfg.stack_kib, ioctl::MIN_STACK_KIB, ioctl::MAX_STACK_KIB);
        return Err(EINVAL);
    }
    if cfg.fuel > abi::fuel::MAX {
        pr_err!("{name}: fuel {} is above the ceiling of {}\n", cfg.fuel, abi::fuel::MAX);
        return Err(EINVAL);
    }
    if cfg.flags & !(ioctl::PROG_USES_FLOAT | ioctl::PROG_DROP_ON_TRAP) != 0 {
        pr_err!("{name}: unknown flags {:#x}\n", cfg.flags);
        return Err(EINVAL);
    }
    let m = match Meta::parse(meta_b) {
        Ok(m) => m,
        Err(e) => {
            pr_err!("{name}: invalid metadata: {e}\n");
            return Err(EINVAL);
        }
    };
    if m.arch != abi::Arch::X86_64 {
        pr_err!("{name}: code is for {}, this kernel is x86_64\n", m.arch.name());
        return Err(EINVAL);
    }
    if m.text_len as usize != text_len {
        pr_err!("{name}: metadata describes {} bytes of code, module has {text_len}\n", m.text_len);
        return Err(EINVAL);
    }
    // SAFETY: as above, `text` is the program module's `.text` of `text_len`
    // bytes, mapped for as long as the module lives.
    let code = unsafe { core::slice::from_raw_parts(text, text_len) };
    if abi::meta::text_checksum(code) != m.text_crc {
        pr_err!("{name}: code does not match its metadata (checksum mismatch)\n");
        return Err(EINVAL);
    }
    let reg = registry()?;
    if reg.lock().iter().any(|e| e.prog.name == cfg.name) {
        pr_err!("{name}: a program of that name is already loaded\n");
        return Err(EEXIST);
    }
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let prog = Arc::new(Program::new(owner, m, text, &cfg, id)?, GFP_KERNEL)?;
    prog.bind();
    prog.run_start()?;
    let mut r = reg.lock();
    if r.iter().any(|e| e.prog.name == cfg.name) {
        return Err(EEXIST);
    }
    r.push(Entry { prog, attach: KVec::new() }, GFP_KERNEL)?;
    drop(r);
    pr_info!("{name}: loaded ({} functions, {} bytes of code)\n", m.func_count(), m.text_len);
    Ok(())
}

/// Unregisters the program of `owner`; called by `kwasm_unregister`
/// (glue.c) from a program module's exit stub.
#[no_mangle]
pub extern "C" fn kwasm_rs_unregister(owner: *mut c_void) {
    let Ok(reg) = registry() else { return };
    let mut r = reg.lock();
    let Some(pos) = r.iter().position(|e| e.prog.owner == owner) else { return };
    let mut e = take_at(&mut r, pos);
    while !e.attach.is_empty() {
        Entry::detach(take_at(&mut e.attach, 0));
    }
    drop(r);
    pr_info!("{}: unloaded\n", e.prog.name());
}

/// The netfilter hook of one attachment; `priv_` is the `Arc<Program>`
/// reference the attachment holds.
#[no_mangle]
pub extern "C" fn kwasm_rs_hook(priv_: *mut c_void, skb: *mut c_void) -> c_uint {
    // SAFETY: the attachment keeps its reference until after
    // `nf_unregister_net_hook` has waited for running hooks.
    let prog = unsafe { &*priv_.cast::<Program>() };
    prog.run_hook(skb)
}

// ---------------------------------------------------------------------------
// /dev/kwasm.

/// Handles an ioctl on `/dev/kwasm`; called by `glue.c`.
#[no_mangle]
pub extern "C" fn kwasm_ioctl(cmd: c_uint, arg: c_ulong) -> c_long {
    // Only MODULE_LAYOUT (the ioctl version and the module layout, which
    // `kwasm --version` and `kwasm load` read before anything else) is open
    // to everyone. Programs' names, stats and maps can hold per-flow data,
    // and per-packet timing is a side channel: reading them needs the same
    // capability as changing them.
    let r = match cmd {
        ioctl::MODULE_LAYOUT => module_layout(arg),
        ioctl::LIST | ioctl::STATS | ioctl::MAP_GET | ioctl::ATTACH | ioctl::DETACH | ioctl::INVOKE | ioctl::MAP_SET => {
            // SAFETY: no preconditions.
            if !unsafe { ffi::kwasm_capable() } {
                Err(EPERM)
            } else {
                match cmd {
                    ioctl::LIST => list(arg),
                    ioctl::STATS => stats(arg),
                    ioctl::MAP_GET => map_get(arg),
                    ioctl::ATTACH => attach(arg),
                    ioctl::DETACH => detach(arg),
                    ioctl::INVOKE => invoke(arg),
                    _ => map_set(arg),
                }
            }
        }
        _ => Err(ENOTTY),
    };
    match r {
        Ok(()) => 0,
        Err(e) => e.to_errno() as c_long,
    }
}

/// Copy in a request record.
fn read_req<R: Record, const N: usize>(arg: c_ulong) -> Result<R> {
    let mut buf = [0u8; N];
    UserSlice::new(arg, N).reader().read_slice(&mut buf)?;
    Ok(R::read(&buf))
}

/// Copy a record back.
fn write_req<R: Record, const N: usize>(arg: c_ulong, r: &R) -> Result {
    let mut buf = [0u8; N];
    r.write(&mut buf);
    UserSlice::new(arg, N).writer().write_slice(&buf)
}

fn find<'a>(r: &'a KVec<Entry>, name: &[u8; ioctl::NAME_LEN]) -> Result<&'a Entry> {
    ioctl::decode_name(name).ok_or(EINVAL)?;
    r.iter().find(|e| &e.prog.name == name).ok_or(ENOENT)
}

/// [`find`], for changing the entry's attachments.
fn find_mut<'a>(r: &'a mut KVec<Entry>, name: &[u8; ioctl::NAME_LEN]) -> Result<&'a mut Entry> {
    ioctl::decode_name(name).ok_or(EINVAL)?;
    r.iter_mut().find(|e| &e.prog.name == name).ok_or(ENOENT)
}

fn module_layout(arg: c_ulong) -> Result {
    let mut l = ModuleLayout { version: ioctl::IOCTL_VERSION, arch: abi::Arch::X86_64 as u32, ..Default::default() };
    let mut out = [0u32; 5];
    // SAFETY: `out` has 5 slots, `vermagic` VERMAGIC_LEN bytes, each
    // preamble CFI_PREAMBLE_LEN bytes.
    unsafe {
        ffi::kwasm_module_layout(
            out.as_mut_ptr(),
            l.vermagic.as_mut_ptr().cast(),
            ioctl::VERMAGIC_LEN,
            l.init_preamble.as_mut_ptr(),
            l.exit_preamble.as_mut_ptr(),
            ioctl::CFI_PREAMBLE_LEN,
        )
    };
    [l.module_size, l.name_offset, l.init_offset, l.exit_offset, l.name_len] = out;
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

fn valid_point(family: u32, hook: u32) -> bool {
    matches!(family, ioctl::FAMILY_IPV4 | ioctl::FAMILY_IPV6) && (hook as usize) < ioctl::HOOK_NAMES.len()
}

fn attach(arg: c_ulong) -> Result {
    let req: AttachReq = read_req::<_, { AttachReq::SIZE }>(arg)?;
    if !valid_point(req.family, req.hook) {
        return Err(EINVAL);
    }
    let reg = registry()?;
    let mut r = reg.lock();
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
    let prog = Arc::into_raw(e.prog.clone());
    // SAFETY: `prog` stays valid until `Entry::detach` takes it back.
    let ops = unsafe { ffi::kwasm_nf_attach(prog.cast_mut().cast(), req.family, req.hook, req.priority) };
    if kernel::error::from_err_ptr(ops).is_err() || ops.is_null() {
        // SAFETY: the hook was not registered; take the reference back.
        drop(unsafe { Arc::from_raw(prog) });
        return Err(kernel::error::from_err_ptr(ops).err().unwrap_or(ENOMEM));
    }
    let a = || Attach { family: req.family, hook: req.hook, priority: req.priority, ops, prog };
    // Capacity was reserved above, so this cannot fail; if it did, undo.
    if e.attach.push(a(), GFP_ATOMIC).is_err() {
        Entry::detach(a());
        return Err(ENOMEM);
    }
    Ok(())
}

fn detach(arg: c_ulong) -> Result {
    let req: AttachReq = read_req::<_, { AttachReq::SIZE }>(arg)?;
    if !valid_point(req.family, req.hook) {
        return Err(EINVAL);
    }
    let reg = registry()?;
    let mut r = reg.lock();
    let e = find_mut(&mut r, &req.name)?;
    let pos = e.attach.iter().position(|a| a.family == req.family && a.hook == req.hook).ok_or(ENOENT)?;
    Entry::detach(take_at(&mut e.attach, pos));
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
        let m = unsafe { ffi::ModuleRef::get(e.prog.owner) }.ok_or(ENOENT)?;
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
            let mut msg = ffi::MsgBuf::new();
            let _ = write!(msg, "{}: invoke {export}: argument {i} ({}) refused: {}", prog.name(), ty.name(), why.message());
            prog.report_limit.log(msg.as_bytes());
            return Err(EINVAL);
        }
    }
    let fuel = if req.fuel == 0 { prog.fuel } else { req.fuel };
    let r = {
        // Pins us to this CPU and keeps the hook off this CPU's instance.
        let bh = BhGuard::new();
        match prog.instances.get(bh.cpu()) {
            // SAFETY: bottom halves are disabled, so no call can start on
            // this CPU's instance meanwhile; reading its flag is race-free.
            Some(&ip) if !unsafe { (*ip).busy } => {
                // SAFETY: no preconditions.
                if prog.uses_float() && !unsafe { ffi::kwasm_fpu_usable() } {
                    Err(EBUSY)
                } else {
                    // SAFETY: the instance is ours (bottom halves disabled,
                    // not busy); `values` has MAX_INVOKE_VALUES >=
                    // max(params, results) slots (checked above).
                    Ok(unsafe { prog.call_on(ip, &c, &mut req.values, fuel) })
                }
            }
            _ => Err(EBUSY),
        }
    };
    match r? {
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
        Err(t) => {
            req.nresults = 0;
            req.trap = t.code;
            req.trap_func = t.func;
            req.values = [0; ioctl::MAX_INVOKE_VALUES];
        }
    }
    write_req::<_, { InvokeReq::SIZE }>(arg, &req)
}

fn map_get(arg: c_ulong) -> Result {
    let mut req: MapReq = read_req::<_, { MapReq::SIZE }>(arg)?;
    let prog = find(&registry()?.lock(), &req.name)?.prog.clone();
    let map = prog.map(req.map).ok_or(EINVAL)?;
    let end = req.index as usize + req.count as usize;
    if end > map.len() {
        return Err(EINVAL);
    }
    let mut w = UserSlice::new(req.buf as usize, req.count as usize * 8).writer();
    let mut chunk = [0u8; 512];
    let mut i = req.index as usize;
    while i < end {
        let n = (end - i).min(chunk.len() / 8);
        for k in 0..n {
            chunk[8 * k..8 * k + 8].copy_from_slice(&map[i + k].load(Ordering::Relaxed).to_le_bytes());
        }
        w.write_slice(&chunk[..n * 8])?;
        i += n;
    }
    req.len = map.len() as u32;
    write_req::<_, { MapReq::SIZE }>(arg, &req)
}

fn map_set(arg: c_ulong) -> Result {
    let req: MapReq = read_req::<_, { MapReq::SIZE }>(arg)?;
    let prog = find(&registry()?.lock(), &req.name)?.prog.clone();
    let map = prog.map(req.map).ok_or(EINVAL)?;
    map.get(req.index as usize).ok_or(EINVAL)?.store(req.value, Ordering::Relaxed);
    Ok(())
}
