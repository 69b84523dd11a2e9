//! The library half of `kwasm`: what the operator's CLI and the VM test
//! tools (`kwasm-tools`) both need to talk to `kwasm.ko`.
//!
//! - [`device`]: the `/dev/kwasm` client (typed ioctls, the module syscalls);
//! - [`packet`]: the benches' IPv4/UDP and DNS packets;
//! - [`kmod`]: wrapping a `.kw`'s code and metadata as a kernel module;
//! - [`program`]: loading and unloading programs, with errors that say what
//!   to do;
//! - [`batches`]: the bench batching the userspace-driven runners share;
//! - `bpf` (cargo feature `bpf`): eBPF reference programs for `kwasm bench`;
//! - [`native`]: the client of `native_bench.ko`, the native C baseline of
//!   `kwasm bench`;
//! - [`Ctx`]: how a command opens the device (and drops privileges, for the
//!   permission tests).
//!
//! Nothing here links the compiler: `kwasm load|run prog.wasm` compile in
//! the binary (`commands::source`), so kwasm-tools does not carry Cranelift.

pub mod batches;
#[cfg(feature = "bpf")]
pub mod bpf;
pub mod device;
pub mod kmod;
pub mod native;
pub mod packet;
pub mod program;

use anyhow::{Result, bail};
use device::Device;
use std::ffi::OsString;
use std::process::ExitCode;

/// Parses a command line with clap. `Err` is the exit status to end with
/// after clap has printed: 0 after `--help` or `--version`, 1 after a usage
/// error.
pub fn parse_args<P: clap::Parser>(
    argv: impl IntoIterator<Item = OsString>,
) -> Result<P, ExitCode> {
    P::try_parse_from(argv).map_err(|e| {
        let _ = e.print();
        if e.use_stderr() {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    })
}

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
