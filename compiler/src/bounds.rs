//! Explicit bounds checks for linear memory.
//!
//! There are no guard pages in the kernel (a fault in softirq context cannot
//! be recovered), so every access is proven in bounds before it is made:
//! with `ea = zext64(addr) + offset`, trap with `MemoryOutOfBounds` unless
//! `ea + size <= length`. Everything is computed in 64 bits: `addr < 2^32`,
//! `offset < 2^32` and `size <= 8`, so the sum cannot overflow. When the
//! declared minimum covers `offset + size`, the compare is
//! `addr > length - (offset + size)`, as Wasmtime does: the adjusted bound
//! is loop-invariant.
//!
//! Two facts let most accesses in hot code skip the compare and branch:
//! - **Memory never shrinks**, and never starts below its declared minimum.
//!   An address whose largest possible value (from the instructions that
//!   computed it, [`max_u32`]) plus `offset + size` is within the minimum
//!   needs no check at all: a table lookup `t[x & 0xff]`, a constant
//!   address.
//! - For the same reason **a check stays true**: once `addr + e <= length`
//!   held on every path to a point, any access to `addr` ending at or below
//!   `e` is in bounds there ([`Checks`], scoped by the translator to the
//!   code the check dominates). Checks are keyed by the address's root
//!   and constant (`sp - 84` is `sp + c`), so a check of a struct's widest
//!   field covers its other fields, and a covered access reuses the
//!   check's clamped index instead of guarding its own. When only pure
//!   operators and loads lie between a check and a later access above its
//!   range, the check is widened to cover it (`Checks::widen`).
//!
//! **Speculation (DESIGN 12).** The trap branch alone does not stop a CPU
//! that mispredicts it from loading out of bounds and leaking the value
//! through the cache. With spectre guards on (the default), the native
//! address is `select_spectre_guard(oob, 0, base + ea)`, using the very
//! `icmp` the branch tests, which Cranelift lowers to a compare and a
//! conditional move (`cmov`/`csel`), not a branch. When the declared minimum
//! covers the offset, the guard clamps the wasm address to 0 (as Linux's
//! `array_index_nospec` clamps an index) and a misspeculated access reads
//! the first bytes of the program's own memory; otherwise it replaces the
//! whole native address, offset included, with 0, which is never mapped.
//! Architecturally the branch has already trapped, so the generated code
//! still never faults (DESIGN 2). An access
//! covered by an earlier check is guarded by that check's condition (a
//! compare and a `cmov`, no branch). An access proven below the minimum
//! needs no guard: its bound holds for every value the instructions can
//! produce, speculated or not. An access at `p + (x & mask) + c` is tested
//! and guarded through `p` alone when `p` leaves room for the whole mask,
//! which keeps the guard off the path from `x` to the load (hash chains:
//! `guard_the_base`), and exactly, in a cold block, when it does not.
//! Counted loops are checked once before they run ([`crate::loops`]).

use std::collections::HashMap;

use cranelift_codegen::ir::{
    BlockArg, DataFlowGraph, Inst, InstBuilder, InstructionData, Opcode, Value, ValueDef,
    condcodes::IntCC, immediates::Imm64, types,
};
use cranelift_frontend::FunctionBuilder;
use kwasm_abi::trap::TrapCode;
use wasmparser::Operator;

use crate::environ::{FuncEnv, PTR};

/// A checked native address plus the constant offset to put in the
/// load/store instruction.
pub struct HeapAddr {
    pub addr: Value,
    pub offset: i32,
}

/// One check made: `zext64(addr) + end <= length` held, and `oob` is the
/// condition the trap branch tested (false on the path that got here).
#[derive(Clone, Copy)]
struct Check {
    end: u64,
    oob: Value,
    /// The `iconst` of the adjusted bound `length - end` the compare tests,
    /// while the check may still be widened (`Checks::widen`), and the
    /// [`Checks::epoch`] it was made in.
    widen: Option<(Inst, u64)>,
    /// `select_spectre_guard(oob, 0, zext64(addr))`, when the access that
    /// made the check clamped its index (guards on, offset within the
    /// declared minimum). A covered access at `addr + d` then addresses
    /// `base + guarded + d + offset` and needs no guard of its own.
    guarded: Option<Value>,
}

/// The heap checks that dominate the point being translated, by address
/// value. The translator takes a [`Checks::mark`] when it opens a `block`,
/// `loop` or `if` and [`Checks::undo_to`] it at `else` and `end`: a check
/// made inside a construct does not dominate the code after it (a branch
/// may leave the construct before reaching it), while one made before it
/// dominates everything inside. The exception is a `block`'s `end`, which
/// only its body's fall-through and branches to it reach: it keeps the
/// checks made before the first such branch (LLVM's `block … br_if 0 …
/// end`, an `if` without `else`, often checks an address that the code
/// after it accesses again).
#[derive(Default)]
pub struct Checks {
    /// Checks by the root of their address ([`root_plus_const`]), each with
    /// the constant added to the root.
    by_root: HashMap<Value, Vec<(u32, Check)>>,
    /// What each record replaced, to undo it.
    log: Vec<(Value, u32, Option<Check>)>,
    /// Advanced by every operator that may be observed between two memory
    /// accesses ([`Checks::advance`]).
    epoch: u64,
}

impl Checks {
    pub fn mark(&self) -> usize {
        self.log.len()
    }

    pub fn undo_to(&mut self, mark: usize) {
        while self.log.len() > mark {
            let Some((root, c, prev)) = self.log.pop() else {
                break;
            };
            let Some(list) = self.by_root.get_mut(&root) else {
                continue;
            };
            let at = list.iter().position(|&(k, _)| k == c);
            match (prev, at) {
                (Some(p), Some(i)) => list[i].1 = p,
                (None, Some(i)) => {
                    list.swap_remove(i);
                }
                _ => {}
            }
            if list.is_empty() {
                self.by_root.remove(&root);
            }
        }
    }

    /// A check that covers `[root + c, root + c + end)`. A check of
    /// `a1 = root + c1` with end `e1` covers it when `d = c - c1` (wrapping,
    /// as the wasm adds do) has `d + end <= e1`: then `a1 + d + end <=
    /// a1 + e1 <= length <= 2^32`, so `root + c` did not wrap past `a1` and
    /// the access lies inside the checked range. The two addresses are
    /// often separate values of one expression (`sp - 84` written twice) or
    /// fields of one struct at `sp - 84` and `sp - 76`.
    ///
    /// Returns the check and `d`.
    fn covering(&self, root: Value, c: u32, end: u64) -> Option<(Check, u64)> {
        self.by_root.get(&root)?.iter().find_map(|&(c1, check)| {
            let d = u64::from(c.wrapping_sub(c1));
            (d + end <= check.end).then_some((check, d))
        })
    }

    /// Note an operator that a trap of an earlier check could be observed
    /// not to have run: a store, a call, a branch, any other trap. Checks
    /// made before it can no longer be widened.
    pub fn advance(&mut self) {
        self.epoch += 1;
    }

    /// Widen a check of `root + c1` made in this epoch so that it covers
    /// `[root + c, root + c + end)` too, `d = c - c1` above it: its compare
    /// becomes `addr > length - (d + end)`. Between that check and this
    /// access only pure operators and loads ran (no store, call, branch or
    /// other trap), so the program cannot tell that an access which would
    /// have trapped here now traps there, with the same trap code. LLVM
    /// pops an interpreter's operands as `stack[sp - 2]`, then
    /// `stack[sp - 1]`: one check instead of two. The new end must stay
    /// within the declared minimum, so that the bound cannot wrap.
    fn widen(
        &mut self,
        dfg: &mut DataFlowGraph,
        root: Value,
        c: u32,
        end: u64,
        min: u64,
    ) -> Option<(Check, u64)> {
        let epoch = self.epoch;
        let list = self.by_root.get_mut(&root)?;
        let (c1, check) = list.iter_mut().find(|(c1, check)| {
            let d = u64::from(c.wrapping_sub(*c1));
            check.widen.is_some_and(|(_, e)| e == epoch) && d + end <= min
        })?;
        let d = u64::from(c.wrapping_sub(*c1));
        let (iconst, _) = check.widen?;
        dfg.insts[iconst] = InstructionData::UnaryImm {
            opcode: Opcode::Iconst,
            imm: Imm64::new(-((d + end) as i64)),
        };
        // The IR now checks the wider range wherever the check dominates, so
        // the record needs no undo.
        check.end = d + end;
        Some((*check, d))
    }

    fn record(&mut self, root: Value, c: u32, check: Check) {
        let list = self.by_root.entry(root).or_default();
        let prev = match list.iter_mut().find(|(k, _)| *k == c) {
            Some((_, slot)) => Some(std::mem::replace(slot, check)),
            None => {
                list.push((c, check));
                None
            }
        };
        self.log.push((root, c, prev));
    }
}

/// How deep [`root_plus_const`] follows adds of constants.
const ROOT_DEPTH: u32 = 4;

/// The i32 `addr` as `root + c` (wrapping), following `iadd` and `isub`
/// with a constant: the key under which [`Checks`] records a check, so
/// that checks of `root + c1` and `root + c2` can cover each other.
fn root_plus_const(dfg: &DataFlowGraph, addr: Value) -> (Value, u32) {
    let constant = |x: Value| match dfg.value_def(dfg.resolve_aliases(x)) {
        ValueDef::Result(i, 0) => match dfg.insts[i] {
            InstructionData::UnaryImm {
                opcode: Opcode::Iconst,
                imm,
            } => Some(imm.bits() as u32),
            _ => None,
        },
        _ => None,
    };
    let (mut v, mut c) = (dfg.resolve_aliases(addr), 0u32);
    for _ in 0..ROOT_DEPTH {
        let ValueDef::Result(inst, 0) = dfg.value_def(v) else {
            break;
        };
        let (next, k) = match dfg.insts[inst] {
            InstructionData::Binary {
                opcode: Opcode::Iadd,
                args: [x, y],
            } => match (constant(x), constant(y)) {
                (_, Some(k)) => (x, k),
                (Some(k), None) => (y, k),
                _ => break,
            },
            InstructionData::Binary {
                opcode: Opcode::Isub,
                args: [x, y],
            } => match constant(y) {
                Some(k) => (x, k.wrapping_neg()),
                None => break,
            },
            _ => break,
        };
        v = dfg.resolve_aliases(next);
        c = c.wrapping_add(k);
    }
    (v, c)
}

/// Whether `op` leaves a check made before it widenable (`Checks::widen`):
/// it neither writes anything the program or its host can see, nor
/// branches, calls or traps other than out of bounds. Everything else
/// calls [`Checks::advance`].
pub fn keeps_checks_widenable(op: &Operator<'_>) -> bool {
    use Operator as O;
    matches!(
        op,
        O::Nop
            | O::Drop
            | O::Select
            | O::LocalGet { .. }
            | O::LocalSet { .. }
            | O::LocalTee { .. }
            | O::GlobalGet { .. }
            | O::I32Const { .. }
            | O::I64Const { .. }
            | O::I32Load { .. }
            | O::I64Load { .. }
            | O::I32Load8S { .. }
            | O::I32Load8U { .. }
            | O::I32Load16S { .. }
            | O::I32Load16U { .. }
            | O::I64Load8S { .. }
            | O::I64Load8U { .. }
            | O::I64Load16S { .. }
            | O::I64Load16U { .. }
            | O::I64Load32S { .. }
            | O::I64Load32U { .. }
            | O::I32Add
            | O::I32Sub
            | O::I32Mul
            | O::I32And
            | O::I32Or
            | O::I32Xor
            | O::I32Shl
            | O::I32ShrS
            | O::I32ShrU
            | O::I32Eqz
            | O::I32Eq
            | O::I32Ne
            | O::I32LtS
            | O::I32LtU
            | O::I32GtS
            | O::I32GtU
            | O::I32LeS
            | O::I32LeU
            | O::I32GeS
            | O::I32GeU
            | O::I64Add
            | O::I64Sub
            | O::I64Mul
            | O::I64And
            | O::I64Or
            | O::I64Xor
            | O::I64Shl
            | O::I64ShrS
            | O::I64ShrU
            | O::I32WrapI64
            | O::I64ExtendI32S
            | O::I64ExtendI32U
    )
}

/// How deep [`max_u32`] looks through the instructions behind a value.
const RANGE_DEPTH: u32 = 6;

/// An upper bound on the i32 `v` read as unsigned, from the instructions
/// that computed it, or `None` when nothing better than `u32::MAX` is known
/// (block parameters, for example: a loop variable).
pub fn max_u32(dfg: &DataFlowGraph, v: Value) -> Option<u64> {
    bound(dfg, v, RANGE_DEPTH).filter(|&m| m < u64::from(u32::MAX))
}

fn bound(dfg: &DataFlowGraph, v: Value, depth: u32) -> Option<u64> {
    const FULL: u64 = u32::MAX as u64;
    if depth == 0 || dfg.value_type(v) != types::I32 {
        return None;
    }
    let ValueDef::Result(inst, 0) = dfg.value_def(v) else {
        return None;
    };
    let of = |x: Value| bound(dfg, x, depth - 1);
    let constant = |x: Value| match dfg.value_def(x) {
        ValueDef::Result(i, 0) => match dfg.insts[i] {
            InstructionData::UnaryImm {
                opcode: Opcode::Iconst,
                imm,
            } => Some(imm.bits() as u64 & FULL),
            _ => None,
        },
        _ => None,
    };
    let b = match dfg.insts[inst] {
        InstructionData::UnaryImm {
            opcode: Opcode::Iconst,
            imm,
        } => imm.bits() as u64 & FULL,
        InstructionData::Load { opcode, .. } => match opcode {
            Opcode::Uload8 => 0xff,
            Opcode::Uload16 => 0xffff,
            _ => return None,
        },
        InstructionData::Binary {
            opcode,
            args: [x, y],
        } => match opcode {
            Opcode::Band => match (of(x), of(y)) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b)?,
            },
            // Or and xor never set a bit above the highest of either side.
            Opcode::Bor | Opcode::Bxor => {
                let m = of(x)?.max(of(y)?);
                (m + 1).next_power_of_two() - 1
            }
            Opcode::Iadd => of(x)? + of(y)?,
            // Shift counts are taken modulo 32, as in wasm.
            Opcode::Ushr => of(x).unwrap_or(FULL) >> (constant(y)? & 31),
            Opcode::Ishl => of(x)? << (constant(y)? & 31),
            Opcode::Udiv => of(x).unwrap_or(FULL) / constant(y)?.max(1),
            Opcode::Urem => match (of(x), constant(y)) {
                (Some(a), Some(c)) if c > 0 => a.min(c - 1),
                (None, Some(c)) if c > 0 => c - 1,
                (a, _) => a?,
            },
            _ => return None,
        },
        InstructionData::Ternary {
            opcode: Opcode::Select,
            args: [_, x, y],
        } => of(x)?.max(of(y)?),
        _ => return None,
    };
    // Anything past 32 bits wrapped (an add or shift overflowed): unknown.
    (b <= FULL).then_some(b)
}

/// Check `[addr + offset, addr + offset + size)` against the memory length
/// and return the native address to access.
pub fn heap_addr(
    env: &mut FuncEnv<'_, '_>,
    b: &mut FunctionBuilder<'_>,
    addr: Value,
    offset: u64,
    size: u32,
) -> HeapAddr {
    // `offset + size` fits comfortably: offset <= u32::MAX after validation.
    let end_off = offset.saturating_add(u64::from(size));
    let base = env.memory_base(b);
    let addr64 = b.ins().uextend(types::I64, addr);

    if max_u32(&b.func.dfg, addr).is_some_and(|m| m + end_off <= env.min_memory_bytes()) {
        let native = b.ins().iadd(base, addr64);
        return with_offset(b, native, offset);
    }

    let (root, k) = root_plus_const(&b.func.dfg, addr);
    if let Some((check, d)) = env.checks.covering(root, k, end_off) {
        // Reusing the clamped index is safe when speculation clamps it to 0:
        // the access is then at `d + offset`, which must end within the
        // declared minimum.
        if let Some(guarded) = check.guarded
            && d + end_off <= env.min_memory_bytes()
        {
            let native = b.ins().iadd(base, guarded);
            return with_offset(b, native, d + offset);
        }
        return checked(env, b, check.oob, base, addr64, offset).0;
    }
    let min = env.min_memory_bytes();
    if let Some((check, d)) = env.checks.widen(&mut b.func.dfg, root, k, end_off, min) {
        if let Some(guarded) = check.guarded {
            let native = b.ins().iadd(base, guarded);
            return with_offset(b, native, d + offset);
        }
        return checked(env, b, check.oob, base, addr64, offset).0;
    }

    if env.spectre_guards
        && offset.saturating_add(8) <= env.min_memory_bytes()
        && let Some(split) = base_plus_bounded(&b.func.dfg, addr)
        && split.m + end_off <= env.min_memory_bytes()
    {
        return guard_the_base(env, b, split, base, addr64, offset, end_off);
    }

    let (oob, bound) = out_of_bounds(env, b, addr64, end_off);
    env.traps.trap_if(b, oob, TrapCode::MemoryOutOfBounds);
    let (heap_addr, guarded) = checked(env, b, oob, base, addr64, offset);
    let check = Check {
        end: end_off,
        oob,
        widen: bound.map(|iconst| (iconst, env.checks.epoch)),
        guarded,
    };
    env.checks.record(root, k, check);
    heap_addr
}

/// Whether `[addr64, addr64 + end_off)` leaves memory, and the `iconst`
/// of `-end_off` when the compare is `addr64 > length - end_off`.
fn out_of_bounds(
    env: &mut FuncEnv<'_, '_>,
    b: &mut FunctionBuilder<'_>,
    addr64: Value,
    end_off: u64,
) -> (Value, Option<Inst>) {
    let len = env.memory_len(b);
    if end_off <= env.min_memory_bytes() {
        // `addr + end_off > len` as `addr > len - end_off`, which cannot
        // wrap (`len >= min >= end_off`). The adjusted bound depends on the
        // length alone, so one register holds it for every access of that
        // size in a loop, and each check is a compare and a branch.
        // The constant is its own instruction, so that widening the check
        // can change it.
        let minus_end = b.ins().iconst(PTR, -(end_off as i64));
        let bound = b.ins().iadd(len, minus_end);
        let oob = b.ins().icmp(IntCC::UnsignedGreaterThan, addr64, bound);
        let iconst = b.func.dfg.value_def(minus_end).unwrap_inst();
        (oob, Some(iconst))
    } else {
        let end = b.ins().iadd_imm_u(addr64, end_off as i64);
        (b.ins().icmp(IntCC::UnsignedGreaterThan, end, len), None)
    }
}

/// A wasm address `p + t + c` (an `i32` sum, wrapping) where `t` is at
/// most `m` by [`max_u32`] and `p` is unknown: `prev[h & 0x7fff]` with
/// `prev` a pointer.
struct Split {
    p: Value,
    t: Value,
    c: i64,
    m: u64,
}

/// `v` as a sum of at most two non-constant terms and constants, following
/// `iadd`s `depth` deep: the terms, and the constants' bit patterns (each
/// caller adds them as it needs, zero- or sign-extended). `None` for more
/// than two terms.
pub(crate) fn sum_of(dfg: &DataFlowGraph, v: Value, depth: u32) -> Option<(Vec<Value>, Vec<i32>)> {
    let (mut terms, mut consts) = (Vec::new(), Vec::new());
    let mut work = vec![(v, depth)];
    while let Some((v, depth)) = work.pop() {
        let v = dfg.resolve_aliases(v);
        let def = match dfg.value_def(v) {
            ValueDef::Result(inst, 0) => Some(&dfg.insts[inst]),
            _ => None,
        };
        match def {
            Some(InstructionData::UnaryImm {
                opcode: Opcode::Iconst,
                imm,
            }) => consts.push(imm.bits() as i32),
            Some(InstructionData::Binary {
                opcode: Opcode::Iadd,
                args: [x, y],
            }) if depth > 0 => {
                work.push((*y, depth - 1));
                work.push((*x, depth - 1));
            }
            _ if terms.len() == 2 => return None,
            _ => terms.push(v),
        }
    }
    Some((terms, consts))
}

/// `addr` as `p + t + c` ([`Split`]), following at most two `iadd`s.
fn base_plus_bounded(dfg: &DataFlowGraph, addr: Value) -> Option<Split> {
    let (terms, consts) = sum_of(dfg, addr, 2)?;
    let c = consts.into_iter().map(i64::from).sum();
    let [x, y] = terms[..] else {
        return None;
    };
    match (max_u32(dfg, x), max_u32(dfg, y)) {
        (None, Some(m)) => Some(Split { p: x, t: y, c, m }),
        (Some(m), None) => Some(Split { p: y, t: x, c, m }),
        _ => None,
    }
}

/// Check and guard `p + t + c` through its unknown part alone, when that
/// is enough: with `q = zext(p) + c` (64 bits), `q <= length - (m + end)`
/// puts every `q + t` in bounds, and then the wasm sum did not wrap. The
/// guard clamps `q`, which is ready long before `t` in the code this is
/// for: hash chains, where `t` comes from the previous load, so the
/// chain's latency loses the compare and `cmov` on the full address.
/// Misspeculated, the access is at `t + offset`, below the declared
/// minimum. When the test fails, a cold block makes the exact check (and
/// traps as ever) and computes the pointer the fast path would have.
fn guard_the_base(
    env: &mut FuncEnv<'_, '_>,
    b: &mut FunctionBuilder<'_>,
    split: Split,
    base: Value,
    addr64: Value,
    offset: u64,
    end_off: u64,
) -> HeapAddr {
    let Split { p, t, c, m } = split;
    let len = env.memory_len(b);
    let p64 = b.ins().uextend(types::I64, p);
    let q = if c == 0 {
        p64
    } else {
        b.ins().iadd_imm_s(p64, c)
    };
    let bound = b.ins().iadd_imm_s(len, -((m + end_off) as i64));
    let beyond = b.ins().icmp(IntCC::UnsignedGreaterThan, q, bound);
    let zero = b.ins().iconst(PTR, 0);
    let q_guarded = b.ins().select_spectre_guard(beyond, zero, q);
    let fast = b.ins().iadd(base, q_guarded);
    let t64 = b.ins().uextend(types::I64, t);

    let exact = b.create_block();
    let join = b.create_block();
    b.append_block_param(join, PTR);
    b.ins()
        .brif(beyond, exact, &[], join, &[BlockArg::Value(fast)]);
    b.seal_block(exact);
    b.set_cold_block(exact);
    b.switch_to_block(exact);
    let (oob, _) = out_of_bounds(env, b, addr64, end_off);
    env.traps.trap_if(b, oob, TrapCode::MemoryOutOfBounds);
    let index = b.ins().select_spectre_guard(oob, zero, addr64);
    let at = b.ins().iadd(base, index);
    let pointer = b.ins().isub(at, t64);
    b.ins().jump(join, &[BlockArg::Value(pointer)]);
    b.seal_block(join);
    b.switch_to_block(join);

    let pointer = b.block_params(join)[0];
    let native = b.ins().iadd(pointer, t64);
    with_offset(b, native, offset)
}

/// The address of an access whose check tested `oob`, guarded against
/// speculation past it when guards are on:
/// - when `offset + size` is within the declared minimum, the index is
///   clamped, `base + select_spectre_guard(oob, 0, addr) + offset`, as
///   Linux's `array_index_nospec` clamps an index to 0: a misspeculated
///   access reads the memory's own first bytes, and the add folds into the
///   load's addressing mode;
/// - otherwise `select_spectre_guard(oob, 0, base + addr + offset)`, the
///   offset folded in so that a misspeculated access is at exactly 0.
///
/// Also returns the clamped index, when there is one.
fn checked(
    env: &FuncEnv<'_, '_>,
    b: &mut FunctionBuilder<'_>,
    oob: Value,
    base: Value,
    addr64: Value,
    offset: u64,
) -> (HeapAddr, Option<Value>) {
    if !env.spectre_guards {
        let native = b.ins().iadd(base, addr64);
        return (with_offset(b, native, offset), None);
    }
    let zero = b.ins().iconst(PTR, 0);
    if offset.saturating_add(8) <= env.min_memory_bytes() {
        let index = b.ins().select_spectre_guard(oob, zero, addr64);
        let native = b.ins().iadd(base, index);
        return (with_offset(b, native, offset), Some(index));
    }
    let native = b.ins().iadd(base, addr64);
    let ea = if offset == 0 {
        native
    } else {
        b.ins().iadd_imm_u(native, offset as i64)
    };
    let addr = b.ins().select_spectre_guard(oob, zero, ea);
    (HeapAddr { addr, offset: 0 }, None)
}

/// `native` with `offset` in the instruction when it fits.
pub(crate) fn with_offset(b: &mut FunctionBuilder<'_>, native: Value, offset: u64) -> HeapAddr {
    match i32::try_from(offset) {
        Ok(off) => HeapAddr {
            addr: native,
            offset: off,
        },
        Err(_) => HeapAddr {
            addr: b.ins().iadd_imm_u(native, offset as i64),
            offset: 0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::max_u32;
    use cranelift_codegen::ir::{
        AbiParam, Function, InstBuilder, MemFlagsData, Signature, UserFuncName, Value, types,
    };
    use cranelift_codegen::isa::CallConv;
    use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};

    /// Build one block with an unknown `x: i32` and a pointer `p`, let `f`
    /// compute values from them, and return `max_u32` of each.
    fn bounds(
        f: impl FnOnce(&mut FunctionBuilder<'_>, Value, Value) -> Vec<Value>,
    ) -> Vec<Option<u64>> {
        let mut sig = Signature::new(CallConv::SystemV);
        sig.params.push(AbiParam::new(types::I32));
        sig.params.push(AbiParam::new(types::I64));
        let mut func = Function::with_name_signature(UserFuncName::user(0, 0), sig);
        let mut ctx = FunctionBuilderContext::new();
        let mut b = FunctionBuilder::new(&mut func, &mut ctx);
        let block = b.create_block();
        b.append_block_params_for_function_params(block);
        b.switch_to_block(block);
        let (x, p) = (b.block_params(block)[0], b.block_params(block)[1]);
        let vs = f(&mut b, x, p);
        let out = vs.iter().map(|v| max_u32(&b.func.dfg, *v)).collect();
        b.ins().return_(&[]);
        b.seal_all_blocks();
        let isa =
            crate::isa::build_isa(kwasm_abi::Arch::X86_64, crate::OptLevel::Speed, 0).unwrap();
        b.finalize(isa.frontend_config());
        out
    }

    #[test]
    fn bounds_follow_the_instructions() {
        let got = bounds(|b, x, p| {
            let c255 = b.ins().iconst(types::I32, 255);
            let masked = b.ins().band(x, c255);
            let c2 = b.ins().iconst(types::I32, 2);
            let scaled = b.ins().ishl(masked, c2);
            let c1024 = b.ins().iconst(types::I32, 1024);
            let table = b.ins().iadd(scaled, c1024);
            let c24 = b.ins().iconst(types::I32, 24);
            let top = b.ins().ushr(x, c24);
            let c10 = b.ins().iconst(types::I32, 10);
            let rem = b.ins().urem(x, c10);
            let byte = b.ins().uload8(types::I32, MemFlagsData::trusted(), p, 0);
            let either = b.ins().select(x, masked, byte);
            let or = b.ins().bor(masked, rem);
            vec![c255, masked, scaled, table, top, rem, byte, either, or, x]
        });
        assert_eq!(
            got,
            [
                Some(255),
                Some(255),
                Some(1020),
                Some(2044),
                Some(255),
                Some(9),
                Some(255),
                Some(255),
                Some(255),
                None,
            ]
        );
    }

    #[test]
    fn wrapping_arithmetic_is_unbounded() {
        let got = bounds(|b, x, _| {
            let big = b.ins().iconst(types::I32, 0x8000_0000);
            let c1 = b.ins().iconst(types::I32, 1);
            let masked = b.ins().band(x, big);
            // 0x8000_0000 << 1 and 0x8000_0000 + 0x8000_0000 wrap.
            let shifted = b.ins().ishl(masked, c1);
            let sum = b.ins().iadd(masked, masked);
            // A shift by 33 is a shift by 1 in wasm and in Cranelift.
            let c33 = b.ins().iconst(types::I32, 33);
            let byte = b.ins().band(x, c1);
            let by33 = b.ins().ishl(byte, c33);
            // `x + 1` knows nothing.
            let plus = b.ins().iadd(x, c1);
            vec![shifted, sum, by33, plus]
        });
        assert_eq!(got, [None, None, Some(2), None]);
    }
}
