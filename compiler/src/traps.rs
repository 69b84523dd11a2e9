//! Cold trap blocks.
//!
//! Generated code must never fault (a fault in softirq context is a kernel
//! oops), so every trap condition is an explicit branch to a cold block that
//! calls the trap handler stored in `VmCtx` with the trap code and the
//! function index. The handler never returns; the block still ends in
//! Cranelift's `trap` with the sentinel user code [`SENTINEL`] because a
//! block needs a terminator. Each function gets one block per trap code
//! (branch sites just jump there) plus one for codes only known at run time
//! (libcall statuses).

use std::collections::BTreeMap;

use cranelift_codegen::ir::{
    self, AbiParam, Block, BlockArg, InstBuilder, MemFlagsData, Signature, Value, types,
};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::FunctionBuilder;
use kwasm_abi::trap::TrapCode;
use kwasm_abi::vmctx::header;

use crate::environ::PTR;

/// The only Cranelift trap code our own IR uses, after the handler call.
pub const SENTINEL: ir::TrapCode = ir::TrapCode::unwrap_user(1);

/// The trap blocks of one function.
pub struct TrapBlocks {
    func_index: u32,
    call_conv: CallConv,
    blocks: BTreeMap<u32, Block>,
    dynamic: Option<Block>,
}

impl TrapBlocks {
    pub fn new(func_index: u32, call_conv: CallConv) -> Self {
        TrapBlocks {
            func_index,
            call_conv,
            blocks: BTreeMap::new(),
            dynamic: None,
        }
    }

    fn block(&mut self, b: &mut FunctionBuilder<'_>, code: TrapCode) -> Block {
        *self.blocks.entry(code as u32).or_insert_with(|| {
            let blk = b.create_block();
            b.set_cold_block(blk);
            blk
        })
    }

    /// Branch to the trap block for `code` when `cond` is non-zero, and
    /// continue in a fresh block otherwise.
    pub fn trap_if(&mut self, b: &mut FunctionBuilder<'_>, cond: Value, code: TrapCode) {
        let trap = self.block(b, code);
        let cont = b.create_block();
        b.ins().brif(cond, trap, &[], cont, &[]);
        b.seal_block(cont);
        b.switch_to_block(cont);
    }

    /// Unconditionally trap (ends the current block).
    pub fn trap(&mut self, b: &mut FunctionBuilder<'_>, code: TrapCode) {
        let trap = self.block(b, code);
        b.ins().jump(trap, &[]);
    }

    /// Trap with `status` (an i32 trap code) when it is non-zero.
    pub fn trap_if_status(&mut self, b: &mut FunctionBuilder<'_>, status: Value) {
        let trap = *self.dynamic.get_or_insert_with(|| {
            let blk = b.create_block();
            b.set_cold_block(blk);
            b.append_block_param(blk, types::I32);
            blk
        });
        let cont = b.create_block();
        b.ins()
            .brif(status, trap, &[BlockArg::Value(status)], cont, &[]);
        b.seal_block(cont);
        b.switch_to_block(cont);
    }

    /// Fill in the trap blocks: `handler(vmctx, code, func_index); trap`.
    pub fn finish(&mut self, b: &mut FunctionBuilder<'_>, vmctx: Value) {
        let mut sig = Signature::new(self.call_conv);
        sig.params.push(AbiParam::new(PTR));
        sig.params.push(AbiParam::new(types::I32));
        sig.params.push(AbiParam::new(types::I32));
        let sig = b.import_signature(sig);
        let blocks: Vec<(Option<u32>, Block)> = self
            .blocks
            .iter()
            .map(|(c, blk)| (Some(*c), *blk))
            .chain(self.dynamic.map(|blk| (None, blk)))
            .collect();
        for (code, blk) in blocks {
            b.switch_to_block(blk);
            b.seal_block(blk);
            let code = match code {
                Some(c) => b.ins().iconst(types::I32, i64::from(c)),
                None => b.block_params(blk)[0],
            };
            let flags = MemFlagsData::trusted().with_readonly();
            let handler = b.ins().load(PTR, flags, vmctx, header::TRAP_HANDLER as i32);
            let index = b.ins().iconst(types::I32, i64::from(self.func_index));
            b.ins().call_indirect(sig, handler, &[vmctx, code, index]);
            b.ins().trap(SENTINEL);
        }
    }
}
