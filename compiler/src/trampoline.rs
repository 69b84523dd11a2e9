//! Array-call trampolines: how a runtime enters wasm code.
//!
//! Runtimes cannot call a wasm function of an arbitrary signature directly
//! (Rust and C have no way to spell "any number of arguments of these
//! types"), so for every function type the compiler emits
//! `extern "C" fn(vmctx, code, values: *mut u64)` that loads the parameters
//! from `values` (the `RawVal` slot encoding), calls `code(vmctx, params...)`
//! and stores the results back into `values`. Only Cranelift code is ever on
//! either side of a multi-value return, so the callee's return convention
//! needs no description beyond the signature.

use cranelift_codegen::ir::{
    self, AbiParam, InstBuilder, MemFlagsData, Signature, UserFuncName,
    types::{F32, F64, I32, I64},
};
use cranelift_codegen::isa::{CallConv, TargetFrontendConfig};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use kwasm_abi::types::ValType;

use crate::environ::{PTR, clif_type, wasm_signature};
use crate::module_env::FuncType;

/// Cranelift namespace of trampoline function names (functions use 0).
pub const TRAMPOLINE_NAMESPACE: u32 = 1;

/// Build the trampoline for `ty`; `index` only names it.
pub fn build_trampoline(
    ty: &FuncType,
    index: u32,
    call_conv: CallConv,
    frontend: TargetFrontendConfig,
    ctx: &mut FunctionBuilderContext,
) -> ir::Function {
    let mut sig = Signature::new(call_conv);
    for _ in 0..3 {
        sig.params.push(AbiParam::new(PTR));
    }
    let mut func =
        ir::Function::with_name_signature(UserFuncName::user(TRAMPOLINE_NAMESPACE, index), sig);
    let mut b = FunctionBuilder::new(&mut func, ctx);
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let (vmctx, code, values) = {
        let p = b.block_params(entry);
        (p[0], p[1], p[2])
    };
    let flags = MemFlagsData::trusted();
    let mut args = vec![vmctx];
    for (i, t) in ty.params.iter().enumerate() {
        let raw = b.ins().load(I64, flags, values, (i * 8) as i32);
        let v = match t {
            ValType::I32 => b.ins().ireduce(I32, raw),
            ValType::F32 => {
                let bits = b.ins().ireduce(I32, raw);
                b.ins().bitcast(F32, MemFlagsData::new(), bits)
            }
            ValType::F64 => b.ins().bitcast(F64, MemFlagsData::new(), raw),
            ValType::I64 | ValType::FuncRef | ValType::ExternRef => raw,
        };
        debug_assert_eq!(b.func.dfg.value_type(v), clif_type(*t));
        args.push(v);
    }
    let callee_sig = b.import_signature(wasm_signature(ty, call_conv));
    let call = b.ins().call_indirect(callee_sig, code, &args);
    let results = b.inst_results(call).to_vec();
    for (j, (t, v)) in ty.results.iter().zip(results).enumerate() {
        // Store whole slots so that the upper bits of narrow values are zero.
        let raw = match t {
            ValType::I32 => b.ins().uextend(I64, v),
            ValType::F32 => {
                let bits = b.ins().bitcast(I32, MemFlagsData::new(), v);
                b.ins().uextend(I64, bits)
            }
            ValType::F64 => b.ins().bitcast(I64, MemFlagsData::new(), v),
            ValType::I64 | ValType::FuncRef | ValType::ExternRef => v,
        };
        b.ins().store(flags, raw, values, (j * 8) as i32);
    }
    b.ins().return_(&[]);
    b.finalize(frontend);
    func
}
