//! The kernel-facing subcommands of `kwasm` (everything that talks to
//! `kwasm.ko` through `/dev/kwasm` and the module syscalls), and the hidden
//! test tools the in-VM checks use.

pub mod kernel;
pub mod spec_kernel;
pub mod tools;

use anyhow::{Context, Result, bail};
use kwasm_cli::device::Device;

/// What every kernel command gets: how to open the device.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ctx {
    /// Drop to this uid/gid right after opening `/dev/kwasm` (hidden
    /// `--as-uid`, for testing the kernel's permission checks: the open file
    /// stays usable, so the ioctl's own capability check is what answers).
    pub as_uid: Option<u32>,
}

impl Ctx {
    /// Open `/dev/kwasm`, then drop privileges if asked.
    pub fn device(&self) -> Result<Device> {
        let dev = Device::open()?;
        self.drop_privileges()?;
        Ok(dev)
    }

    /// setgroups([]), setgid, setuid to `as_uid` (no-op without it).
    pub fn drop_privileges(&self) -> Result<()> {
        let Some(uid) = self.as_uid else {
            return Ok(());
        };
        // SAFETY: plain syscalls without pointers except the empty group list.
        let rc = unsafe {
            if libc::getuid() == uid && libc::geteuid() == uid {
                return Ok(());
            }
            let r = libc::setgroups(0, std::ptr::null());
            if r != 0 {
                r
            } else if libc::setgid(uid) != 0 {
                -1
            } else {
                libc::setuid(uid)
            }
        };
        if rc != 0 {
            bail!(
                "--as-uid {uid}: cannot drop privileges: {}",
                std::io::Error::last_os_error()
            );
        }
        Ok(())
    }
}

/// Parse an unsigned integer in decimal or `0x` hex.
pub fn parse_u64(s: &str) -> Result<u64> {
    let t = s.replace('_', "");
    let r = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => t.parse::<u64>(),
    };
    match r {
        Ok(v) => Ok(v),
        Err(_) => t
            .parse::<i64>()
            .map(|v| v as u64)
            .with_context(|| format!("`{s}` is not an integer (decimal or 0x-hex)")),
    }
}

/// Like [`parse_u64`], limited to 32 bits.
pub fn parse_u32(s: &str) -> Result<u32> {
    let v = parse_u64(s)?;
    u32::try_from(v).with_context(|| format!("`{s}` does not fit in 32 bits"))
}
