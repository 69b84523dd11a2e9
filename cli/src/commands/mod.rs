//! The commands of `kwasm`, one module per family:
//!
//! - [`run`]: run a `.kw` in userspace (`kwasm-runtime`);
//! - [`prog`]: programs in the kernel: load, unload, list, stats, attach,
//!   detach, invoke;
//! - [`map`]: read and write a loaded program's maps;
//! - [`bench`]: time a program's `filter` per packet, in the kernel or in
//!   userspace, beside eBPF; [`hook`]: its cost on the real hook path.
//!
//! What they print goes through [`crate::output`].

pub mod bench;
pub mod events;
pub mod exporter;
pub mod hook;
pub mod map;
pub mod new;
pub mod prog;
pub mod run;
pub mod source;

use anyhow::{Context, Result};
use kwasm_runtime::{Artifact, FuncType};
use std::fmt::Display;
use std::path::Path;

/// A failure and its exit status: 1 for usage, load and link errors, 2 when
/// the program trapped.
pub struct Failure {
    pub status: u8,
    /// Printed to stderr as it is (nothing when empty).
    pub message: String,
}

/// Exit status of `kwasm run` and `kwasm invoke` when the call trapped.
pub const TRAP_STATUS: u8 = 2;

impl Failure {
    /// The program trapped: `message` names the trap.
    pub fn trap(message: impl Display) -> Failure {
        Failure {
            status: TRAP_STATUS,
            message: message.to_string(),
        }
    }
}

/// `kwasm: <file>: <reason>`, status 1.
pub fn fail(file: &Path, reason: impl Display) -> Failure {
    Failure {
        status: 1,
        message: format!("kwasm: {}: {reason}", file.display()),
    }
}

/// Any other error: `kwasm: <what went wrong and what to do>`, status 1.
impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        Failure {
            status: 1,
            message: format!("kwasm: {e:#}"),
        }
    }
}

/// The type of the exported function `name`.
pub fn export_type(art: &Artifact, name: &str) -> Option<FuncType> {
    art.exported_funcs()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| t)
}

/// Why `got` arguments do not fit `name: ty`, if they do not.
pub fn arity_error(name: &str, ty: &FuncType, got: usize) -> Option<String> {
    (got != ty.params.len()).then(|| {
        format!(
            "`{name}` has type {ty}: expected {} arguments, got {got}",
            ty.params.len()
        )
    })
}

/// Parse an unsigned integer in decimal or `0x` hex (a negative decimal is
/// taken as its two's complement).
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
