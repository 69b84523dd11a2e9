// SPDX-License-Identifier: GPL-2.0

//! The registry of loaded programs and the ABI of program modules.
//!
//! `kwasm load` wraps a `.kw` as a module whose init stub calls the exported
//! `kwasm_register` (glue.c forwards to [`kwasm_rs_register`]): the program
//! is validated with the same `Meta::parse` as userspace, linked and
//! instantiated once per possible CPU, and kept in the registry until its
//! exit stub calls `kwasm_unregister`. Netfilter attachments live in their
//! program's entry and hold a reference on it.

use core::ffi::c_void;
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use kernel::ffi::{c_int, c_uint};
use kernel::prelude::*;
use kernel::sync::{Arc, Mutex};

use crate::abi::ioctl::{self, LoadConfig, ProgInfo, Record, NAME_LEN};
use crate::abi::meta::{self, Meta};
use crate::abi::{self, cpu, KERNEL_ARCH};
use crate::ffi::{self, ModulePtr, NfHook, Packet};
use crate::program::Program;

/// A netfilter attachment: the hook, and the program reference its `priv`
/// stands for. Dropping it unregisters the hook and waits for running calls
/// before the reference goes.
pub(crate) struct Attach {
    pub(crate) family: u32,
    pub(crate) hook: u32,
    pub(crate) priority: i32,
    /// Declared before `_prog`: dropped (unregistered) first.
    _nf: NfHook,
    _prog: Arc<Program>,
}

impl Attach {
    pub(crate) fn new(prog: &Arc<Program>, family: u32, hook: u32, priority: i32) -> Result<Attach> {
        let prog = prog.clone();
        let data = core::ptr::from_ref::<Program>(&prog).cast::<c_void>();
        // SAFETY: `data` is the program that `prog` keeps alive, and the
        // attachment holds `prog` until after `_nf` has been unregistered.
        let nf = unsafe { NfHook::attach(data, family, hook, priority) }?;
        Ok(Attach { family, hook, priority, _nf: nf, _prog: prog })
    }
}

/// The netfilter hook of one attachment; `priv_` is its program.
#[no_mangle]
pub(crate) extern "C" fn kwasm_rs_hook(priv_: *mut c_void, skb: *mut c_void) -> c_uint {
    // SAFETY: `priv_` is the program of an `Attach`, which keeps it alive
    // until after `nf_unregister_net_hook` and `synchronize_net` have
    // waited for this call; `skb` is the packet netfilter hands this call,
    // used only until it returns.
    let (prog, pkt) = unsafe { (&*priv_.cast::<Program>(), Packet::from_hook(skb)) };
    match pkt {
        Some(pkt) => prog.run_hook(pkt),
        None => prog.default_verdict(),
    }
}

/// A registered program.
pub(crate) struct Entry {
    pub(crate) prog: Arc<Program>,
    pub(crate) attach: KVec<Attach>,
}

impl Entry {
    pub(crate) fn info(&self) -> ProgInfo {
        let mut info = self.prog.info();
        info.nattach = self.attach.len() as u32;
        for (i, a) in self.attach.iter().enumerate() {
            info.set_attachment(i, a.family, a.hook, a.priority);
        }
        info
    }
}

/// Removes and returns element `i`, keeping the order of the rest (`KVec`
/// has no `remove` in Linux 6.12). Reuses the buffer: never allocates.
pub(crate) fn remove<T>(v: &mut KVec<T>, i: usize) -> Option<T> {
    if i >= v.len() {
        return None;
    }
    v[..=i].rotate_right(1);
    let mut rest = core::mem::take(v).into_iter();
    let first = rest.next();
    *v = rest.collect(GFP_KERNEL);
    first
}

pub(crate) type Registry = Mutex<KVec<Entry>>;

/// The registry, set while the module is loaded.
static REGISTRY: AtomicPtr<Registry> = AtomicPtr::new(core::ptr::null_mut());
static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// Publishes the registry (`Some`) or withdraws it (`None`).
pub(crate) fn publish(r: Option<&Pin<KBox<Registry>>>) {
    let p = r.map_or(core::ptr::null_mut(), |r| core::ptr::from_ref::<Registry>(r).cast_mut());
    REGISTRY.store(p, Ordering::Release);
}

pub(crate) fn registry() -> Result<&'static Registry> {
    let p = REGISTRY.load(Ordering::Acquire);
    // SAFETY: `publish` stores a pinned allocation that the module owns
    // until its `drop`, which withdraws it only after `/dev/kwasm` is gone,
    // and program modules (which depend on kwasm.ko) are all unloaded.
    unsafe { p.as_ref() }.ok_or(ENODEV)
}

/// The registered program named `name`.
pub(crate) fn find<'a>(r: &'a KVec<Entry>, name: &[u8; NAME_LEN]) -> Result<&'a Entry> {
    ioctl::decode_name(name).ok_or(EINVAL)?;
    r.iter().find(|e| e.prog.name_bytes() == name).ok_or(ENOENT)
}

/// [`find`], for changing the entry's attachments.
pub(crate) fn find_mut<'a>(r: &'a mut KVec<Entry>, name: &[u8; NAME_LEN]) -> Result<&'a mut Entry> {
    ioctl::decode_name(name).ok_or(EINVAL)?;
    r.iter_mut().find(|e| e.prog.name_bytes() == name).ok_or(ENOENT)
}

/// Registers a program; called by `kwasm_register` (glue.c) from a program
/// module's init stub. Returns 0 or a negative errno.
#[no_mangle]
pub(crate) extern "C" fn kwasm_rs_register(
    owner: *mut c_void,
    meta: *const u8,
    meta_len: usize,
    text: *const u8,
    text_len: usize,
    cfg: *const u8,
) -> c_int {
    if meta.is_null() || meta_len == 0 || text.is_null() || cfg.is_null() {
        return EINVAL.to_errno();
    }
    let Some(owner) = ModulePtr::new(owner) else { return EINVAL.to_errno() };
    // SAFETY: the init stub passes the program module's own sections, of
    // these lengths, which stay mapped and unchanged until after its exit
    // stub (`kwasm_unregister`) has run, and so outlive the program.
    let (meta, text, cfg) = unsafe {
        (
            core::slice::from_raw_parts(meta, meta_len),
            core::slice::from_raw_parts(text, text_len),
            core::slice::from_raw_parts(cfg, LoadConfig::SIZE),
        )
    };
    match register(owner, meta, text, cfg) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

fn register(owner: ModulePtr, meta_b: &'static [u8], text: &'static [u8], cfg_b: &[u8]) -> Result {
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
    if m.arch != KERNEL_ARCH {
        pr_err!(
            "{name}: code is for {}, this kernel is {}: compile it with `kwasmc --target {}`\n",
            m.arch.name(),
            KERNEL_ARCH.name(),
            KERNEL_ARCH.name()
        );
        return Err(EINVAL);
    }
    if let Some(e) = cpu::first_missing(m.cpu, ffi::cpu_has) {
        pr_err!(
            "{name}: code compiled for CPUs with {} (`kwasmc compile --cpu`), but this CPU lacks {}: recompile it without `--cpu`\n",
            cpu::Names(m.cpu),
            e.name
        );
        return Err(EINVAL);
    }
    if m.text_len as usize != text.len() {
        pr_err!("{name}: metadata describes {} bytes of code, module has {}\n", m.text_len, text.len());
        return Err(EINVAL);
    }
    if meta::text_checksum(text) != m.text_crc {
        pr_err!("{name}: code does not match its metadata (checksum mismatch)\n");
        return Err(EINVAL);
    }
    let reg = registry()?;
    if reg.lock().iter().any(|e| e.prog.name_bytes() == &cfg.name) {
        pr_err!("{name}: a program of that name is already loaded\n");
        return Err(EEXIST);
    }
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let prog = Arc::new(Program::new(owner, m, text, &cfg, id)?, GFP_KERNEL)?;
    let mut r = reg.lock();
    if r.iter().any(|e| e.prog.name_bytes() == &cfg.name) {
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
pub(crate) extern "C" fn kwasm_rs_unregister(owner: *mut c_void) {
    let (Ok(reg), Some(owner)) = (registry(), ModulePtr::new(owner)) else { return };
    let mut r = reg.lock();
    let Some(pos) = r.iter().position(|e| e.prog.owner == owner) else { return };
    // Dropping the attachments detaches them, under the lock as before.
    let Some(mut e) = remove(&mut r, pos) else { return };
    while let Some(a) = remove(&mut e.attach, 0) {
        drop(a);
    }
    drop(r);
    pr_info!("{}: unloaded\n", e.prog.name());
}

/// Drops every entry (at module unload: program modules depend on kwasm.ko,
/// so none is left, but be tidy).
pub(crate) fn clear(reg: &Registry) {
    let mut r = reg.lock();
    while let Some(mut e) = remove(&mut r, 0) {
        while let Some(a) = remove(&mut e.attach, 0) {
            drop(a);
        }
    }
}
