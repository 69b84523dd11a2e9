//! Loading a program (wrap it as a kernel module, `init_module(2)`) and
//! unloading it (`delete_module(2)`), with errors that say what to do.

use crate::Ctx;
use crate::device::{self, Device};
use crate::kmod::{self, ModuleParts};
use anyhow::{Result, anyhow};
use kwasm_abi::ioctl::{self, LoadConfig};
use std::fmt::Write as _;
use std::io;

/// The load configuration of program `name` (already encoded, see
/// [`device::prog_name`]).
pub fn load_config(
    name: [u8; ioctl::NAME_LEN],
    fuel: u64,
    stack_kib: u32,
    flags: u32,
) -> LoadConfig {
    LoadConfig {
        magic: ioctl::LOAD_CONFIG_MAGIC,
        version: ioctl::IOCTL_VERSION,
        name,
        fuel,
        stack_kib,
        flags,
    }
}

/// Messages the kernel logged recently that mention `needle` (best effort:
/// needs read access to /dev/kmsg).
fn kernel_messages(needle: &str) -> Vec<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let Ok(mut f) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/kmsg")
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut buf = vec![0u8; 8192];
    // Each read returns one record; stop at EAGAIN (end of buffer).
    while let Ok(n) = f.read(&mut buf) {
        if n == 0 {
            break;
        }
        let rec = String::from_utf8_lossy(&buf[..n]);
        if let Some((_, msg)) = rec.split_once(';') {
            let msg = msg.lines().next().unwrap_or("").trim();
            if msg.contains(needle) {
                out.push(msg.to_string());
            }
        }
    }
    let keep = out.len().saturating_sub(3);
    out.split_off(keep)
}

/// Load a program module: wrap `text`/`meta` and call `init_module(2)`.
/// With `unchecked` the metadata is not validated first (tests the kernel's
/// own validation). Privileges are dropped (see [`Ctx`]) just before the
/// syscall.
pub fn load_program(
    dev: &Device,
    ctx: &Ctx,
    name: &str,
    text: &[u8],
    meta: &[u8],
    config: LoadConfig,
    unchecked: bool,
) -> Result<()> {
    let layout = dev.module_layout()?;
    let parts = ModuleParts {
        name,
        text,
        meta,
        config,
    };
    let image = if unchecked {
        kmod::wrap_unchecked(&parts, &layout)?
    } else {
        kmod::wrap(&parts, &layout)?
    };
    ctx.drop_privileges()?;
    if let Err(e) = device::init_module(&image) {
        return Err(explain_init_module(name, e));
    }
    Ok(())
}

fn explain_init_module(name: &str, e: io::Error) -> anyhow::Error {
    match e.raw_os_error() {
        Some(libc::EEXIST) => anyhow!(
            "a program named {name} is already loaded: `kwasm unload {name}` first, or choose another --name"
        ),
        Some(libc::EPERM) | Some(libc::EACCES) => {
            anyhow!("loading a program needs CAP_SYS_MODULE: run as root ({e})")
        }
        Some(libc::ENOEXEC) | Some(libc::EINVAL) => {
            let msgs = kernel_messages(&format!("{name}:"));
            let mut s = format!("the kernel rejected the program ({e})");
            if msgs.is_empty() {
                s.push_str(": see dmesg");
            } else {
                let _ = write!(s, ": {} (dmesg)", msgs.join("; "));
            }
            anyhow!(s)
        }
        Some(libc::ENOENT) => anyhow!(
            "the kernel could not link the program module ({e}): is kwasm.ko loaded? (see dmesg)"
        ),
        Some(libc::EKEYREJECTED) => {
            anyhow!("the kernel requires signed modules; program modules are unsigned ({e})")
        }
        _ => anyhow!("init_module failed: {e} (see dmesg)"),
    }
}

/// `delete_module` of a program's module, with a clear error.
pub fn unload_module(name: &str) -> Result<()> {
    device::delete_module(&kmod::module_name(name)).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOENT) => anyhow!("no program named {name} is loaded (see `kwasm list`)"),
        Some(libc::EPERM) => anyhow!("unloading needs CAP_SYS_MODULE: run as root ({e})"),
        Some(libc::EWOULDBLOCK) => {
            anyhow!("{name} is in use right now (an INVOKE is running): try again ({e})")
        }
        _ => anyhow!("delete_module({}) failed: {e}", kmod::module_name(name)),
    })
}
