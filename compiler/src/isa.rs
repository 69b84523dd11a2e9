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
//! - x86-64: baseline ISA (SSE2 only, no AVX) unless `--cpu` names
//!   extensions ([`kwasm_abi::cpu`]), so that by default the code runs on
//!   every x86-64 CPU including QEMU's default model. The extensions asked
//!   for are exactly the ones enabled here and recorded in the metadata,
//!   which the runtimes check against the CPU. Integer-only code uses no
//!   XMM registers (DESIGN 7, tested in `emit`). Cranelift 0.135 has no
//!   setting for IBT landing pads, so [`crate::emit`] prefixes every entry
//!   point with `endbr64` itself (DESIGN 8).
//! - aarch64: `use_bti`, so that function entries are BTI landing pads, and
//!   `use_csdb`, so that a speculation guard (`select_spectre_guard`,
//!   DESIGN 12) is a `csel` followed by the `csdb` barrier, as Linux's own
//!   `array_index_mask_nospec` does on arm64. Only the guards use it.

use std::str::FromStr;

use cranelift_codegen::isa::{self, OwnedTargetIsa, TargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use kwasm_abi::{Arch, cpu};
use target_lexicon::Triple;

use crate::OptLevel;
use crate::error::CompileError;

fn set(b: &mut dyn Configurable, name: &str, value: &str) -> Result<(), CompileError> {
    b.set(name, value)
        .map_err(|e| CompileError::codegen(format!("Cranelift setting {name}={value}: {e}")))
}

/// The Cranelift ISA setting that enables an extension.
fn setting(e: &cpu::Extension) -> &'static str {
    match e.bit {
        cpu::POPCNT => "has_popcnt",
        cpu::LZCNT => "has_lzcnt",
        cpu::BMI1 => "has_bmi1",
        cpu::BMI2 => "has_bmi2",
        cpu::SSE41 => "has_sse41",
        cpu::SSE42 => "has_sse42",
        cpu::AVX => "has_avx",
        _ => unreachable!("extension {} has no Cranelift setting", e.name),
    }
}

/// Build the Cranelift ISA for a target, with the [`cpu`] extensions of
/// `extensions` (all of them `target`'s) and no others.
pub fn build_isa(
    target: Arch,
    opt: OptLevel,
    extensions: u32,
) -> Result<OwnedTargetIsa, CompileError> {
    cpu::check(extensions, target).map_err(|e| CompileError::codegen(e.to_string()))?;
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
    for e in cpu::in_mask(extensions) {
        set(&mut builder, setting(e), "true")?;
    }
    builder
        .finish(settings::Flags::new(flags))
        .map_err(|e| CompileError::codegen(format!("Cranelift ISA: {e}")))
}

/// The two Cranelift configurations a compile uses.
///
/// At `--opt speed` a function is optimised by Cranelift's egraph pass,
/// rescheduled by [`crate::schedule`], and only then lowered. The lowering
/// ISA is built with `opt_level=none`, because Cranelift runs the egraph as
/// part of every compile at `speed` (the level gates nothing else), and a
/// second run would undo the schedule.
pub struct Backend {
    lower: OwnedTargetIsa,
    optimize: Option<OwnedTargetIsa>,
}

impl Backend {
    /// The backend for `target` at `opt`, with the [`cpu`] extensions of
    /// `extensions` (see [`build_isa`]).
    pub fn new(target: Arch, opt: OptLevel, extensions: u32) -> Result<Self, CompileError> {
        Ok(Backend {
            lower: build_isa(target, OptLevel::None, extensions)?,
            optimize: match opt {
                OptLevel::None => None,
                OptLevel::Speed => Some(build_isa(target, OptLevel::Speed, extensions)?),
            },
        })
    }

    /// The ISA that lowers the code: its settings are the code's.
    pub fn isa(&self) -> &dyn TargetIsa {
        &*self.lower
    }

    /// The ISA whose egraph pass optimises the IR, if the level asks for it.
    pub fn optimizer(&self) -> Option<&dyn TargetIsa> {
        self.optimize.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every extension `--cpu` accepts for a target turns on its setting,
    /// and no other is on: the metadata's mask must be exactly what the
    /// code may use.
    #[test]
    fn extensions_map_to_exactly_their_settings() {
        for target in Arch::ALL {
            let base = build_isa(target, OptLevel::Speed, 0).unwrap();
            for e in cpu::of_arch(target) {
                let isa = build_isa(target, OptLevel::Speed, e.bit).unwrap();
                for v in isa.isa_flags() {
                    let was = base.isa_flags().into_iter().find(|b| b.name == v.name);
                    let now = v.as_bool();
                    if v.name == setting(e) {
                        assert_eq!(now, Some(true), "{}", e.name);
                        assert_eq!(was.and_then(|b| b.as_bool()), Some(false), "{}", v.name);
                    } else {
                        assert_eq!(
                            now,
                            was.and_then(|b| b.as_bool()),
                            "{} with {}",
                            v.name,
                            e.name
                        );
                    }
                }
            }
        }
        assert!(build_isa(Arch::Aarch64, OptLevel::Speed, cpu::BMI2).is_err());
        assert!(build_isa(Arch::X86_64, OptLevel::Speed, 1 << 31).is_err());
    }

    /// The code uses what `--cpu` allows, and the baseline does not: the
    /// instructions a CPU without the extension cannot run.
    #[test]
    fn code_uses_the_extensions_it_records() {
        let wat = r#"(module
            (func (param i32 i64) (result i32)
                (i32.add (i32.popcnt (local.get 0)) (i32.clz (local.get 0))))
            (func (param i32) (result i32) (i32.ctz (local.get 0)))
            (func (param i32 i32) (result i32) (i32.rotl (local.get 0) (i32.const 7)))
            (func (param f32) (result f32) (f32.floor (local.get 0))))"#;
        let all = cpu::known(Arch::X86_64);
        let marks = ["popcnt", "lzcnt", "tzcnt", "rorx", "vround"];
        for (mask, present) in [(0, false), (all, true)] {
            let opts = crate::CompileOptions {
                target: Arch::X86_64,
                cpu: mask,
                ..crate::CompileOptions::default()
            };
            let (kw, linked) = crate::compile_with(wat.as_bytes(), &opts, true).unwrap();
            let code: String = linked.vcode.iter().flatten().cloned().collect();
            for m in marks {
                assert_eq!(
                    code.contains(m),
                    present,
                    "{m} with --cpu {}",
                    cpu::Names(mask)
                );
            }
            use object::{Object, ObjectSection};
            let file = object::File::parse(&*kw).unwrap();
            let blob = file.section_by_name(kwasm_abi::meta::SECTION_NAME).unwrap();
            let meta = kwasm_abi::meta::Meta::parse(blob.data().unwrap()).unwrap();
            assert_eq!(meta.cpu, mask, "the metadata records the extensions");
        }
    }
}
