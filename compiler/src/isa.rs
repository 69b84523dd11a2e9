//! Cranelift target configuration.
//!
//! - `preserve_frame_pointers`: kernel stack traces walk frame pointers.
//! - `enable_probestack` off: stack exhaustion is checked explicitly in every
//!   prologue against `VmCtx.stack_limit` (probestack would be a call).
//! - `is_pic` off: direct calls are PC-relative anyway and we link them
//!   ourselves; nothing else may be relocated.
//! - `enable_multi_ret_implicit_sret`: multi-value functions may return more
//!   values than there are return registers; caller and callee are both
//!   Cranelift code, so the implicit return area is fine.
//! - x86-64: baseline ISA (SSE2 only, no AVX), so the code runs on every
//!   x86-64 CPU including QEMU's default model; integer-only code uses no
//!   XMM registers (DESIGN 7, tested in `emit`). Cranelift 0.135 has no
//!   setting for IBT landing pads, so [`crate::emit`] prefixes every entry
//!   point with `endbr64` itself (DESIGN 8).
//! - aarch64: `use_bti`, so that function entries are BTI landing pads, and
//!   `use_csdb`, so that a speculation guard (`select_spectre_guard`,
//!   DESIGN 12) is a `csel` followed by the `csdb` barrier, as Linux's own
//!   `array_index_mask_nospec` does on arm64. Only the guards use it.

use std::str::FromStr;

use cranelift_codegen::isa::{self, OwnedTargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use kwasm_abi::Arch;
use target_lexicon::Triple;

use crate::OptLevel;
use crate::error::CompileError;

fn set(b: &mut dyn Configurable, name: &str, value: &str) -> Result<(), CompileError> {
    b.set(name, value)
        .map_err(|e| CompileError::codegen(format!("Cranelift setting {name}={value}: {e}")))
}

/// Build the Cranelift ISA for a target.
pub fn build_isa(target: Arch, opt: OptLevel) -> Result<OwnedTargetIsa, CompileError> {
    let mut flags = settings::builder();
    set(
        &mut flags,
        "opt_level",
        match opt {
            OptLevel::None => "none",
            OptLevel::Speed => "speed",
        },
    )?;
    set(
        &mut flags,
        "enable_verifier",
        if cfg!(debug_assertions) {
            "true"
        } else {
            "false"
        },
    )?;
    set(&mut flags, "preserve_frame_pointers", "true")?;
    set(&mut flags, "enable_probestack", "false")?;
    set(&mut flags, "is_pic", "false")?;
    set(&mut flags, "enable_multi_ret_implicit_sret", "true")?;
    set(&mut flags, "unwind_info", "false")?;
    set(&mut flags, "enable_alias_analysis", "true")?;

    let triple = match target {
        Arch::X86_64 => "x86_64-unknown-linux-gnu",
        Arch::Aarch64 => "aarch64-unknown-linux-gnu",
    };
    let triple = Triple::from_str(triple).map_err(|e| CompileError::codegen(e.to_string()))?;
    let mut builder = isa::lookup(triple).map_err(|e| CompileError::codegen(e.to_string()))?;
    if target == Arch::Aarch64 {
        set(&mut builder, "use_bti", "true")?;
        set(&mut builder, "use_csdb", "true")?;
    }
    builder
        .finish(settings::Flags::new(flags))
        .map_err(|e| CompileError::codegen(format!("Cranelift ISA: {e}")))
}
