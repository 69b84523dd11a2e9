//! Register-pressure scheduling after Cranelift's egraph pass.
//!
//! Cranelift's egraph pass takes every pure instruction out of the layout
//! and puts it back ("elaborates" it) just before the first instruction
//! that is not pure and needs its value. Loads are not pure, so they stay
//! where the wasm had them; the arithmetic that combines their results
//! moves down to wherever the combined value is first needed.
//!
//! That is the right place for an instruction that computes one value from
//! values that stay live anyway (an address from a base, a shifted index),
//! but the wrong one for an instruction that *retires* its operands. LLVM
//! emits crc32fast's slice-by-16 loop, for example, as `load; xor` pairs,
//! and the egraph turned each iteration (64 bytes) into 48 table loads
//! followed by 48 `xor`s: more loaded values live at once than x86-64's
//! 14 allocatable registers (the frame pointer is kept) can hold. The loop
//! spilt nearly all of them to the stack.
//!
//! This pass moves such an instruction back up, to just after the last of
//! its operands is defined, when at least two of its operands have no other
//! use: there it ends two live ranges and starts one. The definition may
//! be in a dominating block (the egraph had put a test function's `xor`s
//! in the block after its fuel check), but only one in the same loop, so
//! that nothing moves into a loop body, and never out of a cold block.
//! Nothing else moves, so the order of loads, stores, calls and traps
//! stays as the egraph left it; and since every operand is defined before
//! the new place, which dominates the old one, so does every value. Where
//! the chain's result is not shared, Cranelift's lowering can then also
//! fold each load into its user (`xor r32, [mem]`); docs/performance.md,
//! "What is left", says why crc32's are not.

use cranelift_codegen::dominator_tree::DominatorTree;
use cranelift_codegen::entity::SecondaryMap;
use cranelift_codegen::ir::{Block, Function, Inst, Opcode, Value, ValueDef};
use cranelift_codegen::loop_analysis::LoopAnalysis;

/// Whether `op` only computes its result: no memory access, no trap, no
/// control flow and no other effect, so it may be placed anywhere its
/// operands are available.
fn is_pure(op: Opcode) -> bool {
    !(op.is_call()
        || op.is_branch()
        || op.is_terminator()
        || op.is_return()
        || op.can_trap()
        || op.can_load()
        || op.can_store()
        || op.other_side_effects())
}

/// Where a value becomes available: after an instruction, or at the top of
/// a block (a block parameter).
#[derive(Clone, Copy)]
struct Def {
    block: Block,
    inst: Option<Inst>,
}

impl Def {
    fn of(func: &Function, v: Value) -> Option<Def> {
        match func.dfg.value_def(v) {
            ValueDef::Result(inst, _) => Some(Def {
                block: func.layout.inst_block(inst)?,
                inst: Some(inst),
            }),
            ValueDef::Param(block, _) => Some(Def { block, inst: None }),
            _ => None,
        }
    }

    /// Whether `self` comes after `other`, both of them dominating the
    /// same use, so that one block dominates the other.
    fn after(self, other: Def, func: &Function, domtree: &DominatorTree) -> bool {
        if self.block != other.block {
            return domtree.block_dominates(other.block, self.block);
        }
        match (self.inst, other.inst) {
            (Some(a), Some(b)) => func.layout.pp_cmp(a, b).is_gt(),
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    /// The instruction to insert before, to place one right after `self`.
    fn insertion_point(self, func: &Function) -> Option<Inst> {
        match self.inst {
            Some(inst) => func.layout.next_inst(inst),
            None => func.layout.first_inst(self.block),
        }
    }
}

/// Move pure instructions that retire two or more single-use operands up
/// to where their operands become available. See the module comment.
/// `domtree` and `loops` must be up to date for `func`.
pub fn reduce_pressure(func: &mut Function, domtree: &DominatorTree, loops: &LoopAnalysis) {
    let mut uses: SecondaryMap<Value, u32> = SecondaryMap::new();
    for block in func.layout.blocks() {
        for inst in func.layout.block_insts(block) {
            for v in func.dfg.inst_values(inst) {
                uses[v] += 1;
            }
        }
    }

    let blocks: Vec<_> = func.layout.blocks().collect();
    let mut insts = Vec::new();
    for block in blocks {
        insts.clear();
        insts.extend(func.layout.block_insts(block));
        for &inst in &insts {
            if !is_pure(func.dfg.insts[inst].opcode()) || func.dfg.inst_results(inst).len() != 1 {
                continue;
            }
            let args = func.dfg.inst_args(inst);
            if args.iter().filter(|&&a| uses[a] == 1).count() < 2 {
                continue;
            }
            let mut last: Option<Def> = None;
            for &a in args {
                let Some(d) = Def::of(func, a) else { continue };
                if last.is_none_or(|l| d.after(l, func, domtree)) {
                    last = Some(d);
                }
            }
            let Some(last) = last else { continue };
            if last.block != block
                && (loops.innermost_loop(last.block) != loops.innermost_loop(block)
                    || func.layout.is_cold(block) && !func.layout.is_cold(last.block))
            {
                continue;
            }
            let Some(before) = last.insertion_point(func) else {
                continue;
            };
            if before == inst {
                continue;
            }
            func.layout.remove_inst(inst);
            func.layout.insert_inst(inst, before);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Arch, CompileOptions, OptLevel, compile_with};

    /// `n` loads from a statically in-bounds window (no checks, so one
    /// block), combined by a chain of `xor`s, as LLVM writes a table-driven
    /// hash. The wasm interleaves them; the egraph would not.
    fn xor_of_loads(n: u32) -> String {
        let load = |i: u32| format!("(i32.load offset={} (local.get $w))", i * 4);
        let mut e = load(0);
        for i in 1..n {
            e = format!("(i32.xor {e} {})", load(i));
        }
        format!(
            r#"(module (memory 1)
                (func (export "f") (param $p i32) (result i32) (local $w i32)
                    (local.set $w (i32.and (local.get $p) (i32.const 0xff00)))
                    {e}))"#
        )
    }

    fn vcode(wat: &str, target: Arch) -> String {
        let opts = CompileOptions {
            target,
            opt: OptLevel::Speed,
            spectre_guards: true,
            cpu: 0,
        };
        let (_, linked) = compile_with(wat.as_bytes(), &opts, true).unwrap();
        linked.vcode[0].clone().unwrap()
    }

    /// Each `xor` follows the load it retires, so no loaded value waits in a
    /// register for the others, and nothing is spilt. Without the pass the
    /// 32 loads come first and both targets spill.
    #[test]
    fn combining_ops_follow_their_operands_and_nothing_spills() {
        let wat = xor_of_loads(32);
        for target in [Arch::Aarch64, Arch::X86_64] {
            let code = vcode(&wat, target);
            // Spill slots are addressed from the stack pointer; x86-64's
            // listing marks them, aarch64's are the `[sp, #n]` that are not
            // the prologue's and epilogue's pairs.
            let spills = code
                .lines()
                .filter(|l| match target {
                    Arch::X86_64 => l.contains("<offset:1>"),
                    Arch::Aarch64 => {
                        l.contains("[sp, #") && !l.contains("stp") && !l.contains("ldp")
                    }
                })
                .count();
            assert_eq!(spills, 0, "{target:?}:\n{code}");
        }
    }
}
