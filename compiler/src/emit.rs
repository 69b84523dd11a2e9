//! Code generation and linking.
//!
//! Every defined function and one trampoline per distinct signature are
//! compiled with Cranelift, checked, and laid out in a single `.text`:
//! functions first, then trampolines, each 16-byte aligned (x86-64 entries
//! get an `endbr64` prefix because Cranelift 0.135 cannot emit IBT landing
//! pads). Direct calls are the only relocations Cranelift may produce; they
//! are resolved here, so `.text` needs no relocations at load time.
//!
//! Checks after Cranelift:
//! - the trap sites in each buffer are only our sentinel (after a trap
//!   handler call that never returns) and the x86 `div`/`idiv` sites that the
//!   explicit guards make unreachable; anything else would be a path where
//!   generated code faults;
//! - every frame is at most the stack pad the prologues check for. The pad
//!   is module-wide: a function that passes its check at `limit + pad`
//!   leaves `pad` bytes for the frame of any callee, so when a callee's
//!   check fails its frame (and any spill done before the check) still lies
//!   above `limit`, and the trap handler has the whole `STACK_RESERVE`. When
//!   a frame is bigger than the pad, everything is recompiled with a larger
//!   one.

use std::collections::HashMap;

use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{self, ExternalName};
use cranelift_codegen::isa::{CallConv, TargetIsa};
use cranelift_codegen::{Context, FinalizedRelocTarget};
use cranelift_frontend::FunctionBuilderContext;
use kwasm_abi::vmctx::VmCtxLayout;

use crate::Target;
use crate::error::CompileError;
use crate::module_env::{FuncType, ModuleInfo};
use crate::trampoline::build_trampoline;
use crate::translate::{TranslateConfig, translate_function};
use crate::traps::SENTINEL;

/// `endbr64`, the IBT landing pad.
pub const ENDBR64: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfa];

/// Stack pad the first compilation assumes; recompiled when a frame is
/// larger.
pub const INITIAL_STACK_PAD: u32 = 4096;

/// Code alignment of every function and trampoline.
pub const CODE_ALIGN: usize = 16;

/// A direct-call relocation, resolved at link time.
#[derive(Clone, Debug)]
pub struct CallReloc {
    /// Offset in the function's code (Cranelift's, before any prefix).
    pub offset: u32,
    pub kind: Reloc,
    /// Callee, in the module's function index space.
    pub target: u32,
    pub addend: i64,
}

/// One compiled function or trampoline.
#[derive(Clone, Debug)]
pub struct CompiledCode {
    pub code: Vec<u8>,
    pub relocs: Vec<CallReloc>,
    /// Bytes the function's frame takes below the caller's stack pointer,
    /// including the return address and saved frame pointer.
    pub frame_size: u32,
    /// Cranelift's final VCode listing, when requested (tests).
    pub vcode: Option<String>,
}

/// The linked `.text` and where everything is in it.
#[derive(Clone, Debug, Default)]
pub struct Linked {
    pub text: Vec<u8>,
    /// `(offset, length)` of each defined function.
    pub funcs: Vec<(u32, u32)>,
    /// `(offset, length)` of the trampoline of each type index.
    pub trampolines: Vec<(u32, u32)>,
    /// The stack pad the prologues check.
    pub stack_pad: u32,
    /// Listings of the defined functions, when requested.
    pub vcode: Vec<Option<String>>,
}

/// Options of the code generator.
#[derive(Clone, Copy, Debug)]
pub struct EmitOptions {
    pub target: Target,
    /// Keep Cranelift's VCode listing of each function (for tests).
    pub keep_vcode: bool,
    /// Compile functions on several threads.
    pub parallel: bool,
}

fn call_conv() -> CallConv {
    CallConv::SystemV
}

/// Compile and link a module.
pub fn compile_module(
    module: &ModuleInfo<'_>,
    isa: &dyn TargetIsa,
    opts: EmitOptions,
) -> Result<Linked, CompileError> {
    let layout = module.layout()?;
    let mut pad = INITIAL_STACK_PAD;
    let mut funcs;
    let mut attempts = 0;
    loop {
        funcs = compile_functions(module, layout, isa, opts, pad)?;
        let max = funcs.iter().map(|f| f.frame_size).max().unwrap_or(0);
        if max <= pad {
            break;
        }
        attempts += 1;
        if attempts > 4 {
            return Err(CompileError::codegen(format!(
                "stack frame size does not converge (frame {max} bytes, pad {pad})"
            )));
        }
        pad = max.div_ceil(4096) * 4096;
    }

    // One trampoline per distinct signature.
    let mut tramp_of_sig: HashMap<&FuncType, usize> = HashMap::new();
    let mut tramp_code = Vec::new();
    let mut type_tramp = Vec::with_capacity(module.types.len());
    let mut ctx = Context::new();
    let mut fctx = FunctionBuilderContext::new();
    for (t, ty) in module.types.iter().enumerate() {
        let idx = match tramp_of_sig.get(ty) {
            Some(i) => *i,
            None => {
                let f =
                    build_trampoline(ty, t as u32, call_conv(), isa.frontend_config(), &mut fctx);
                let code = compile_one(&mut ctx, isa, f, opts.keep_vcode).map_err(|e| {
                    CompileError::codegen(format!("trampoline of type {t}: {}", e.message))
                })?;
                tramp_code.push(code);
                tramp_of_sig.insert(ty, tramp_code.len() - 1);
                tramp_code.len() - 1
            }
        };
        type_tramp.push(idx);
    }

    let mut linked = link(module, opts.target, &funcs, &tramp_code, &type_tramp)?;
    linked.stack_pad = pad;
    linked.vcode = funcs.into_iter().map(|f| f.vcode).collect();
    Ok(linked)
}

fn compile_functions(
    module: &ModuleInfo<'_>,
    layout: VmCtxLayout,
    isa: &dyn TargetIsa,
    opts: EmitOptions,
    stack_pad: u32,
) -> Result<Vec<CompiledCode>, CompileError> {
    let cfg = TranslateConfig {
        call_conv: call_conv(),
        native_round: opts.target == Target::Aarch64,
        stack_pad,
        frontend: isa.frontend_config(),
    };
    let n = module.num_defined_funcs() as usize;
    let threads = if opts.parallel {
        std::thread::available_parallelism()
            .map(|p| p.get())
            .unwrap_or(1)
            .min(8)
            .min(n.div_ceil(8))
            .max(1)
    } else {
        1
    };
    let work = |first: usize| -> Vec<(usize, Result<CompiledCode, CompileError>)> {
        let mut ctx = Context::new();
        let mut fctx = FunctionBuilderContext::new();
        let mut out = Vec::new();
        for i in (first..n).step_by(threads) {
            let func_index = module.num_imported_funcs + i as u32;
            let r = translate_function(module, layout, &cfg, &mut fctx, i as u32).and_then(|f| {
                compile_one(&mut ctx, isa, f, opts.keep_vcode)
                    .map_err(|e| e.in_func(func_index, module.func_name(func_index)))
            });
            let failed = r.is_err();
            out.push((i, r));
            if failed {
                break;
            }
        }
        out
    };
    let mut results: Vec<(usize, Result<CompiledCode, CompileError>)> = if threads == 1 {
        work(0)
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads).map(|t| s.spawn(move || work(t))).collect();
            handles
                .into_iter()
                .flat_map(|h| match h.join() {
                    Ok(v) => v,
                    Err(p) => std::panic::resume_unwind(p),
                })
                .collect()
        })
    };
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Run Cranelift on one function and check the result.
pub fn compile_one(
    ctx: &mut Context,
    isa: &dyn TargetIsa,
    func: ir::Function,
    keep_vcode: bool,
) -> Result<CompiledCode, CompileError> {
    ctx.clear();
    ctx.func = func;
    ctx.set_disasm(keep_vcode);
    if let Err(e) = ctx.compile(isa, &mut ControlPlane::default()) {
        return Err(CompileError::codegen(format!("Cranelift: {}", e.inner)));
    }
    let compiled = ctx
        .compiled_code()
        .ok_or_else(|| CompileError::codegen("Cranelift produced no code"))?;
    let buf = &compiled.buffer;
    check_trap_sites(buf.traps().iter().map(|t| (t.offset, t.code)))?;
    let mut relocs = Vec::new();
    for r in buf.relocs() {
        let target = match &r.target {
            FinalizedRelocTarget::ExternalName(ExternalName::User(name)) => {
                let n = &ctx.func.params.user_named_funcs()[*name];
                if n.namespace != 0 {
                    return Err(CompileError::codegen(format!(
                        "relocation to unexpected name {n:?}"
                    )));
                }
                n.index
            }
            other => {
                return Err(CompileError::codegen(format!(
                    "unexpected relocation target {other:?} at {:#x}",
                    r.offset
                )));
            }
        };
        match r.kind {
            Reloc::X86CallPCRel4 | Reloc::X86PCRel4 | Reloc::Arm64Call => {}
            k => {
                return Err(CompileError::codegen(format!(
                    "unexpected relocation {k:?} at {:#x}",
                    r.offset
                )));
            }
        }
        relocs.push(CallReloc {
            offset: r.offset,
            kind: r.kind,
            target,
            addend: r.addend,
        });
    }
    let frame = buf
        .frame_layout()
        .ok_or_else(|| CompileError::codegen("Cranelift reported no frame layout"))?;
    // Below the frame pointer, plus the saved frame pointer and the return
    // address (x86-64) or link register (aarch64).
    let frame_size = frame.frame_to_fp_offset + 16;
    Ok(CompiledCode {
        code: buf.data().to_vec(),
        relocs,
        frame_size,
        vcode: compiled.vcode.clone(),
    })
}

/// Only our sentinel and the guarded division sites may appear.
pub fn check_trap_sites(
    sites: impl Iterator<Item = (u32, ir::TrapCode)>,
) -> Result<(), CompileError> {
    for (offset, code) in sites {
        if code != SENTINEL
            && code != ir::TrapCode::INTEGER_DIVISION_BY_ZERO
            && code != ir::TrapCode::INTEGER_OVERFLOW
        {
            return Err(CompileError::codegen(format!(
                "generated code has a hardware trap site ({code}) at {offset:#x}"
            )));
        }
    }
    Ok(())
}

fn align(text: &mut Vec<u8>, target: Target) {
    // int3 between x86 functions; zeros (udf) on aarch64.
    let fill = if target == Target::X86_64 { 0xcc } else { 0 };
    while !text.len().is_multiple_of(CODE_ALIGN) {
        text.push(fill);
    }
}

fn too_big() -> CompileError {
    CompileError::unsupported("implementation limit: more than 4 GiB of code")
}

/// Lay out functions and trampolines and resolve direct calls.
fn link(
    module: &ModuleInfo<'_>,
    target: Target,
    funcs: &[CompiledCode],
    trampolines: &[CompiledCode],
    type_tramp: &[usize],
) -> Result<Linked, CompileError> {
    let prefix: &[u8] = if target == Target::X86_64 {
        &ENDBR64
    } else {
        &[]
    };
    let mut text = Vec::new();
    let place = |text: &mut Vec<u8>, c: &CompiledCode| -> Result<(u32, u32), CompileError> {
        align(text, target);
        let off = u32::try_from(text.len()).map_err(|_| too_big())?;
        text.extend_from_slice(prefix);
        text.extend_from_slice(&c.code);
        let len = u32::try_from(text.len()).map_err(|_| too_big())? - off;
        Ok((off, len))
    };
    let mut func_pos = Vec::with_capacity(funcs.len());
    for f in funcs {
        func_pos.push(place(&mut text, f)?);
    }
    let mut tramp_pos = Vec::with_capacity(trampolines.len());
    for t in trampolines {
        tramp_pos.push(place(&mut text, t)?);
    }
    align(&mut text, target);
    u32::try_from(text.len()).map_err(|_| too_big())?;

    for (f, (off, _)) in funcs.iter().zip(&func_pos) {
        let code_start = *off as u64 + prefix.len() as u64;
        for r in &f.relocs {
            let callee = r
                .target
                .checked_sub(module.num_imported_funcs)
                .and_then(|d| func_pos.get(d as usize))
                .ok_or_else(|| {
                    CompileError::codegen(format!(
                        "direct call to non-defined function {}",
                        r.target
                    ))
                })?;
            let at = (code_start + u64::from(r.offset)) as usize;
            let value = i64::from(callee.0) + r.addend - at as i64;
            patch(&mut text, at, r.kind, value)?;
        }
    }

    Ok(Linked {
        text,
        funcs: func_pos,
        trampolines: type_tramp.iter().map(|i| tramp_pos[*i]).collect(),
        stack_pad: 0,
        vcode: Vec::new(),
    })
}

/// Apply one PC-relative relocation.
fn patch(text: &mut [u8], at: usize, kind: Reloc, value: i64) -> Result<(), CompileError> {
    let bad = || CompileError::codegen(format!("relocation {kind:?} at {at:#x} out of range"));
    let slot = text.get_mut(at..at + 4).ok_or_else(bad)?;
    match kind {
        Reloc::X86CallPCRel4 | Reloc::X86PCRel4 => {
            let v = i32::try_from(value).map_err(|_| bad())?;
            slot.copy_from_slice(&v.to_le_bytes());
        }
        Reloc::Arm64Call => {
            if value % 4 != 0 || !(-(1 << 27)..(1 << 27)).contains(&value) {
                return Err(bad());
            }
            let insn = u32::from_le_bytes([slot[0], slot[1], slot[2], slot[3]]);
            let imm26 = ((value >> 2) as u32) & 0x03ff_ffff;
            let insn = (insn & 0xfc00_0000) | imm26;
            slot.copy_from_slice(&insn.to_le_bytes());
        }
        _ => return Err(bad()),
    }
    Ok(())
}
