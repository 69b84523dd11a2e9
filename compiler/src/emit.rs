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
use cranelift_codegen::isa::CallConv;
use cranelift_codegen::{Context, FinalizedRelocTarget};
use cranelift_frontend::FunctionBuilderContext;
use kwasm_abi::Arch;
use kwasm_abi::vmctx::{VmCtxLayout, X86_ENDBR64};

use crate::error::CompileError;
use crate::isa::Backend;
use crate::module_env::{FuncType, ModuleInfo};
use crate::trampoline::build_trampoline;
use crate::translate::{TranslateConfig, translate_function};
use crate::traps::SENTINEL;

/// Stack pad the first compilation assumes; recompiled when a frame is
/// larger.
pub const INITIAL_STACK_PAD: u32 = 4096;

/// [`kwasm_abi::vmctx::TEXT_ALIGN`], as a `usize`.
///
/// At 16, with the 4-byte `endbr64` in front, every function's code began
/// at 16n + 4: its 8-byte constants sat 4 bytes off their alignment, and
/// where the instruction fetcher's 32-byte windows cut a function moved
/// with every change elsewhere in the module.
/// `tests::code_is_aligned_as_cranelift_prefers` keeps it equal to
/// Cranelift's preferred function alignment.
pub const CODE_ALIGN: usize = kwasm_abi::vmctx::TEXT_ALIGN as usize;

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
    /// The trap sites Cranelift recorded (already checked).
    pub trap_sites: Vec<ir::TrapCode>,
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
    /// Trap sites of each defined function, then of each trampoline.
    pub trap_sites: Vec<Vec<ir::TrapCode>>,
}

/// Options of the code generator.
#[derive(Clone, Copy, Debug)]
pub struct EmitOptions {
    pub target: Arch,
    /// Keep Cranelift's VCode listing of each function (for tests).
    pub keep_vcode: bool,
    /// Compile functions on several threads.
    pub parallel: bool,
    /// Speculation guards on heap addresses and table indices (DESIGN 12).
    pub spectre_guards: bool,
}

fn call_conv() -> CallConv {
    CallConv::SystemV
}

/// Compile and link a module.
pub fn compile_module(
    module: &ModuleInfo<'_>,
    backend: &Backend,
    opts: EmitOptions,
) -> Result<Linked, CompileError> {
    let layout = module.layout()?;
    let mut pad = INITIAL_STACK_PAD;
    let mut funcs;
    let mut attempts = 0;
    loop {
        funcs = compile_functions(module, layout, backend, opts, pad)?;
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
                let f = build_trampoline(
                    ty,
                    t as u32,
                    call_conv(),
                    backend.isa().frontend_config(),
                    &mut fctx,
                );
                let code = compile_one(&mut ctx, backend, f, opts.keep_vcode).map_err(|e| {
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
    linked.trap_sites = funcs
        .iter()
        .chain(&tramp_code)
        .map(|f| f.trap_sites.clone())
        .collect();
    linked.vcode = funcs.into_iter().map(|f| f.vcode).collect();
    Ok(linked)
}

fn compile_functions(
    module: &ModuleInfo<'_>,
    layout: VmCtxLayout,
    backend: &Backend,
    opts: EmitOptions,
    stack_pad: u32,
) -> Result<Vec<CompiledCode>, CompileError> {
    let isa = backend.isa();
    let cfg = TranslateConfig {
        call_conv: call_conv(),
        // x86-64 rounds in one instruction only with SSE4.1 (`--cpu`).
        native_round: opts.target == Arch::Aarch64 || isa.has_round(),
        gpr_popcnt: opts.target == Arch::Aarch64,
        stack_pad,
        frontend: isa.frontend_config(),
        spectre_guards: opts.spectre_guards,
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
                compile_one(&mut ctx, backend, f, opts.keep_vcode)
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
    backend: &Backend,
    func: ir::Function,
    keep_vcode: bool,
) -> Result<CompiledCode, CompileError> {
    ctx.clear();
    ctx.func = func;
    ctx.set_disasm(keep_vcode);
    if let Some(opt) = backend.optimizer() {
        if let Err(e) = ctx.optimize(opt, &mut ControlPlane::default()) {
            return Err(CompileError::codegen(format!("Cranelift: {e}")));
        }
        // The egraph pass left the dominator tree current; the loops are
        // recomputed because its branch folding may have changed them.
        ctx.compute_loop_analysis();
        crate::schedule::reduce_pressure(&mut ctx.func, &ctx.domtree, &ctx.loop_analysis);
    }
    if let Err(e) = ctx.compile(backend.isa(), &mut ControlPlane::default()) {
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
        trap_sites: buf.traps().iter().map(|t| t.code).collect(),
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

/// Pads `text` so that `prefix` bytes from now are aligned to
/// [`CODE_ALIGN`]: that is where the next function's generated code starts.
fn align(text: &mut Vec<u8>, target: Arch, prefix: usize) {
    // int3 between x86 functions; zeros (udf) on aarch64.
    let fill = if target == Arch::X86_64 { 0xcc } else { 0 };
    while !(text.len() + prefix).is_multiple_of(CODE_ALIGN) {
        text.push(fill);
    }
}

/// The bytes in front of every function's and trampoline's generated code:
/// x86's `endbr64` landing pad (DESIGN 8), nothing on aarch64. A symbol or
/// `text_off` points at them; Cranelift's code follows on [`CODE_ALIGN`].
pub fn entry_prefix(target: Arch) -> &'static [u8] {
    match target {
        Arch::X86_64 => &X86_ENDBR64,
        Arch::Aarch64 => &[],
    }
}

fn too_big() -> CompileError {
    CompileError::unsupported("implementation limit: more than 4 GiB of code")
}

/// Lay out functions and trampolines and resolve direct calls.
fn link(
    module: &ModuleInfo<'_>,
    target: Arch,
    funcs: &[CompiledCode],
    trampolines: &[CompiledCode],
    type_tramp: &[usize],
) -> Result<Linked, CompileError> {
    let prefix = entry_prefix(target);
    let mut text = Vec::new();
    let place = |text: &mut Vec<u8>, c: &CompiledCode| -> Result<(u32, u32), CompileError> {
        align(text, target, prefix.len());
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
    align(&mut text, target, 0);
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
        trap_sites: Vec::new(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CompileOptions, OptLevel, compile_with};

    /// Every instruction that can trap, in one module.
    const TRAPPING: &str = r#"(module
        (type $t (func (param i32) (result i32)))
        (table 2 funcref)
        (table $ext 2 externref)
        (memory 1)
        (data "xyz")
        (elem func 0)
        (func (param i32 i32 i64 i64 f32 f64) (result i32)
            (drop (i32.div_s (local.get 0) (local.get 1)))
            (drop (i32.div_u (local.get 0) (local.get 1)))
            (drop (i32.rem_s (local.get 0) (local.get 1)))
            (drop (i32.rem_u (local.get 0) (local.get 1)))
            (drop (i64.div_s (local.get 2) (local.get 3)))
            (drop (i64.div_u (local.get 2) (local.get 3)))
            (drop (i64.rem_s (local.get 2) (local.get 3)))
            (drop (i64.rem_u (local.get 2) (local.get 3)))
            (drop (i32.trunc_f32_s (local.get 4)))
            (drop (i32.trunc_f32_u (local.get 4)))
            (drop (i32.trunc_f64_s (local.get 5)))
            (drop (i32.trunc_f64_u (local.get 5)))
            (drop (i64.trunc_f32_s (local.get 4)))
            (drop (i64.trunc_f32_u (local.get 4)))
            (drop (i64.trunc_f64_s (local.get 5)))
            (drop (i64.trunc_f64_u (local.get 5)))
            (drop (f32.nearest (local.get 4)))
            (drop (f64.ceil (local.get 5)))
            (drop (i32.load (local.get 0)))
            (drop (i64.load8_s offset=0xffffffff (local.get 0)))
            (i32.store16 (local.get 0) (local.get 1))
            (drop (memory.grow (local.get 0)))
            (memory.fill (local.get 0) (local.get 1) (local.get 0))
            (memory.copy (local.get 0) (local.get 1) (local.get 0))
            (memory.init 0 (local.get 0) (local.get 1) (local.get 0))
            (data.drop 0)
            (drop (table.get 0 (local.get 0)))
            (table.set $ext (local.get 0) (ref.null extern))
            (drop (table.grow 0 (ref.null func) (local.get 0)))
            (table.fill 0 (local.get 0) (ref.func 0) (local.get 1))
            (table.copy 0 0 (local.get 0) (local.get 1) (local.get 0))
            (table.init 0 0 (local.get 0) (local.get 1) (local.get 0))
            (elem.drop 0)
            (drop (call_indirect (type $t) (local.get 1) (local.get 0)))
            (if (local.get 0) (then unreachable))
            (i32.const 0)))"#;

    fn opts(target: Arch) -> CompileOptions {
        CompileOptions {
            target,
            opt: OptLevel::Speed,
            ..CompileOptions::default()
        }
    }

    #[test]
    fn only_sentinel_and_guarded_division_trap_sites() {
        for target in [Arch::X86_64, Arch::Aarch64] {
            let (_, linked) = compile_with(TRAPPING.as_bytes(), &opts(target), false)
                .unwrap_or_else(|e| panic!("{e}"));
            let sites: Vec<_> = linked.trap_sites.iter().flatten().collect();
            assert!(sites.contains(&&SENTINEL), "{target:?}: no sentinel");
            for code in sites {
                assert!(
                    *code == SENTINEL
                        || *code == ir::TrapCode::INTEGER_DIVISION_BY_ZERO
                        || *code == ir::TrapCode::INTEGER_OVERFLOW,
                    "{target:?}: unexpected trap site {code}"
                );
            }
        }
    }

    #[test]
    fn check_rejects_other_trap_sites() {
        assert!(check_trap_sites([(0, SENTINEL)].into_iter()).is_ok());
        let e = check_trap_sites([(4, ir::TrapCode::HEAP_OUT_OF_BOUNDS)].into_iter()).unwrap_err();
        assert!(e.to_string().contains("hardware trap site"), "{e}");
    }

    fn vcode_of(wat: &str, target: Arch) -> String {
        let (_, linked) =
            compile_with(wat.as_bytes(), &opts(target), true).unwrap_or_else(|e| panic!("{e}"));
        linked
            .vcode
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Whether a VCode listing names a floating-point or vector register:
    /// x86-64 `%xmm0`, aarch64 `v0`, `q0`, `d0`, `s0`, `h0` or `b0`.
    fn names_fp_register(vcode: &str, target: Arch) -> bool {
        match target {
            Arch::X86_64 => vcode.contains("xmm"),
            Arch::Aarch64 => vcode.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| {
                let mut cs = w.chars();
                matches!(cs.next(), Some('v' | 'q' | 'd' | 's' | 'h' | 'b'))
                    && !cs.as_str().is_empty()
                    && cs.all(|c| c.is_ascii_digit())
            }),
        }
    }

    /// DESIGN 7: integer-only programs run without `kernel_fpu_begin`
    /// (`kernel_neon_begin` on arm64), so their code must not touch the
    /// FP/SIMD registers: on x86-64 the XMM registers, on aarch64 the V
    /// registers, which Cranelift's own `popcnt` lowering uses (`cnt` on a
    /// vector). We inspect Cranelift's final (register-allocated) VCode,
    /// which names every register each instruction uses.
    #[test]
    fn integer_code_uses_no_fp_registers() {
        let int_only = r#"(module
            (memory 1)
            (table 1 funcref)
            (global $g (mut i64) (i64.const 0))
            (func $f (param i32 i64) (result i64 i32)
                (local i32)
                (local.set 2 (i32.div_s (local.get 0) (i32.const 7)))
                (memory.fill (i32.const 0) (i32.const 1) (i32.const 100))
                (i64.store (local.get 0) (i64.mul (local.get 1) (global.get $g)))
                (block (loop
                    (br_if 1 (i32.eqz (local.get 2)))
                    (local.set 2 (i32.sub (local.get 2) (i32.const 1)))
                    (br_table 0 1 0 (local.get 2))))
                (i64.popcnt (local.get 1))
                (i32.clz (local.get 2)))
            (func (param i32) (result i64 i32)
                (call $f (local.get 0) (i64.extend_i32_s (local.get 0))))
            (type $many (func (param i64) (result i64 i64 i64 i64 i64 i64)))
            (func $many (type $many)
                (i64.ctz (local.get 0)) (i64.rotl (local.get 0) (i64.const 3))
                (i64.extend8_s (local.get 0)) (i64.rem_u (local.get 0) (i64.const 7))
                (i64.div_s (local.get 0) (local.get 0)) (i64.shr_s (local.get 0) (i64.const 1)))
            (func (param i32 i64) (result i64)
                (table.set 0 (local.get 0) (ref.func $many))
                (drop (table.grow 0 (ref.null func) (local.get 0)))
                (call_indirect (type $many) (local.get 1) (local.get 0))
                (drop) (drop) (drop) (drop) (drop))
            (elem declare func $many))"#;
        for target in [Arch::X86_64, Arch::Aarch64] {
            let vcode = vcode_of(int_only, target);
            assert!(
                vcode.contains("%r") || vcode.contains("x0"),
                "no listing: {vcode}"
            );
            assert!(
                !names_fp_register(&vcode, target),
                "{target:?} integer code uses FP registers:\n{vcode}"
            );
            // The check is meaningful: float code does show them.
            let float = vcode_of(
                "(module (func (param f64) (result f64) (f64.sqrt (local.get 0))))",
                target,
            );
            assert!(names_fp_register(&float, target), "{float}");
        }
    }

    /// DESIGN 12: the guarded heap address and table index are a compare and
    /// a conditional move (x86-64 `cmov`; aarch64 `csel` + `csdb`), never a
    /// branch, and `spectre_guards: false` leaves them out.
    #[test]
    fn spectre_guards_are_conditional_moves() {
        let wat = r#"(module (memory 1) (type $t (func)) (table 1 funcref)
            (func (param i32) (result i32) (i32.load offset=8 (local.get 0)))
            (func (param i32) (call_indirect (type $t) (local.get 0)))
            (func (param i32 i32) (table.set 0 (local.get 0) (table.get 0 (local.get 1)))))"#;
        for (target, mark) in [(Arch::X86_64, "cmov"), (Arch::Aarch64, "csdb")] {
            for guards in [true, false] {
                let o = CompileOptions {
                    spectre_guards: guards,
                    ..opts(target)
                };
                let (_, linked) =
                    compile_with(wat.as_bytes(), &o, true).unwrap_or_else(|e| panic!("{e}"));
                for (i, v) in linked.vcode.iter().enumerate() {
                    let v = v.as_deref().unwrap();
                    let n = v.matches(mark).count();
                    let want = if !guards {
                        0
                    } else if i == 2 {
                        2
                    } else {
                        1
                    };
                    assert_eq!(n, want, "{target:?} guards={guards} function {i}:\n{v}");
                }
            }
        }
    }

    #[test]
    fn frames_fit_the_stack_pad() {
        // Many simultaneously live values force a big frame.
        let mut body = String::new();
        for i in 0..600 {
            body.push_str(&format!("(i64.mul (local.get 0) (i64.const {i}))\n"));
        }
        for _ in 0..599 {
            body.push_str("i64.add\n");
        }
        let wat = format!("(module (func (param i64) (result i64) {body}))");
        let (_, linked) = compile_with(wat.as_bytes(), &opts(Arch::X86_64), false).unwrap();
        assert!(
            linked.stack_pad > INITIAL_STACK_PAD,
            "pad {}",
            linked.stack_pad
        );
        assert_eq!(linked.stack_pad % 4096, 0);
    }

    #[test]
    fn calls_are_linked() {
        let wat = r#"(module
            (func $a (result i32) (call $b))
            (func $b (result i32) (i32.const 7)))"#;
        for target in [Arch::X86_64, Arch::Aarch64] {
            let (_, linked) = compile_with(wat.as_bytes(), &opts(target), false).unwrap();
            let (a_off, a_len) = linked.funcs[0];
            let (b_off, _) = linked.funcs[1];
            let code = &linked.text[a_off as usize..(a_off + a_len) as usize];
            let found = match target {
                Arch::X86_64 => code.windows(5).enumerate().any(|(i, w)| {
                    w[0] == 0xe8 && {
                        let rel = i32::from_le_bytes([w[1], w[2], w[3], w[4]]);
                        (a_off as i64 + i as i64 + 5 + rel as i64) == b_off as i64
                    }
                }),
                Arch::Aarch64 => code.chunks_exact(4).enumerate().any(|(i, w)| {
                    let insn = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
                    insn >> 26 == 0b100101 && {
                        let imm = ((insn & 0x03ff_ffff) << 6) as i32 >> 6;
                        a_off as i64 + 4 * i as i64 + 4 * imm as i64 == b_off as i64
                    }
                }),
            };
            assert!(found, "{target:?}: no call to $b");
            if target == Arch::X86_64 {
                assert_eq!(
                    &linked.text[a_off as usize..a_off as usize + 4],
                    &X86_ENDBR64
                );
                for (off, _) in &linked.trampolines {
                    assert_eq!(&linked.text[*off as usize..*off as usize + 4], &X86_ENDBR64);
                }
            }
        }
    }

    /// Every function's and trampoline's generated code starts where
    /// Cranelift assumed it would: on its preferred alignment, past the
    /// x86 `endbr64`. At 16 with the prefix, x86 code began at 16n + 4.
    #[test]
    fn code_is_aligned_as_cranelift_prefers() {
        let wat = r#"(module
            (type $t (func (param i32) (result i32)))
            (table 1 funcref)
            (func (result i32) (i32.const 1))
            (func (param f64) (result f64) (f64.mul (local.get 0) (f64.const 1.5)))
            (func (param i32) (result i32)
                (call_indirect (type $t) (local.get 0) (i32.const 0))))"#;
        for target in [Arch::X86_64, Arch::Aarch64] {
            let isa = crate::isa::build_isa(target, OptLevel::Speed, 0).unwrap();
            assert_eq!(
                isa.function_alignment().preferred as usize,
                CODE_ALIGN,
                "{target:?}"
            );
            let prefix = entry_prefix(target).len();
            let (_, linked) = compile_with(wat.as_bytes(), &opts(target), false).unwrap();
            assert!(!linked.trampolines.is_empty());
            for (off, _) in linked.funcs.iter().chain(&linked.trampolines) {
                assert_eq!(
                    (*off as usize + prefix) % CODE_ALIGN,
                    0,
                    "{target:?} {off:#x}"
                );
            }
            assert_eq!(linked.text.len() % CODE_ALIGN, 0);
        }
    }
}
