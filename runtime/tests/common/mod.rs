//! Helpers shared by the integration tests that spawn processes meant to
//! die of a signal (included with `#[path]`, as `diff/mod.rs` is).

use std::os::unix::process::CommandExt;
use std::process::Command;

/// Makes `cmd`'s process write no core file when a signal kills it: the
/// tests expect the death, and a core file per run would litter the
/// working directory (or systemd-coredump's store).
pub fn without_core_dumps(cmd: &mut Command) -> &mut Command {
    // SAFETY: the closure runs between fork and exec, where only
    // async-signal-safe calls are allowed; setrlimit is one.
    unsafe {
        cmd.pre_exec(|| {
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            Ok(())
        })
    }
}
