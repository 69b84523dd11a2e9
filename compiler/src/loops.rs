//! Loop versioning: one bounds check before an innermost counted loop
//! instead of one per access per iteration.
//!
//! Compilers for languages with bounds checks (HotSpot's range-check
//! elimination, LLVM's loop versioning) check the whole range a loop will
//! touch once, before it, and run a copy of the loop without per-access
//! checks when that check passes. kwasmc does the same for the shape LLVM
//! emits for `for i in a..b { p[i] }`: an innermost `loop` whose only
//! backward branch is a final `br_if 0` on an `i32` local `x` (the
//! *induction variable*) compared with a loop-invariant limit `k`, or one
//! tested at the top:
//!
//! | exit test (`br_if 0` taken while) | `x` at the top of every iteration |
//! |---|---|
//! | `x < k` | `v0` (its value on entry) or below `k`: `<= max(v0, k - 1)` |
//! | `x <= k` | `<= max(v0, k)` |
//! | `x != k`, `x += step` its only write | `v0, v0 + step, …, k - step` when `v0 + step <= k` and `step` divides `k - v0` (`step` a power of two) |
//! | `x != 0`, `x -= step` its only write (a counter) | `v0, v0 - step, …, step` when `step` divides `v0 != 0`: `v0 / step` iterations |
//!
//! A loop whose body *starts* by leaving unless `x < k` (or `x <= k`) may
//! have any number of backward branches: every iteration that goes on has
//! passed the test, whatever branch brought it back to the header (the
//! bound is `k - 1`, or `k`). So may one that starts by leaving when `x ==
//! k` (a Rust `for` over a slice: `ptr == end`), if `x += step` at the
//! body's top level is its only write: an iteration adds `step` once or not
//! at all, so `x` cannot pass `k`, and is `v0, v0 + step, …, k - step` in
//! the iterations that go on when `step` divides `k - v0`.
//!
//! None of the first three needs `x` to be monotonic or the adds not to
//! wrap: the back-edge is taken only with a value that passed the test. A
//! counter also bounds the loop's other *stepped* variables, the pointers
//! LLVM walks beside it: a local whose one write is `v += s` outside any
//! nested construct starts iteration `i` with `v0 + i*s`, so it stays in
//! `[v0, v0 + (n-1)*s]` (or `[v0 - (n-1)*|s|, v0]`, which must not go below
//! 0) over the `n` iterations.
//!
//! An access whose address is `v + c` or `p + v + c` (`v` one of these
//! induction variables as it was at the top of the iteration, `p` a local
//! the body never writes, `c` a sum of constants, followed through
//! `i32.add`s) is in bounds on every iteration if
//! `zext(p) + hi(v) + c + offset + size <= length` on entry, with
//! the sums in 64 bits: that bound is below 2^32, so no `i32.add` on the way
//! wrapped and the wasm address is the 64-bit sum. Memory never shrinks, so
//! the check made on entry holds for the whole loop. So is an access at
//! `p + c`, the same address on every iteration, if `zext(p) + c + offset +
//! size <= length`: an n-body step's `body[i]` in its loop over `j`, which
//! would otherwise be checked again in every iteration.
//!
//! The translator ([`crate::translate`]) translates such a loop twice: a
//! *fast* copy, in which [`FastLoop::access`] computes qualifying addresses
//! without a check, and the ordinary *slow* copy. Only after both are
//! translated does it know the qualifying accesses, so it fills the
//! pre-header last ([`FastLoop::precheck`]): one compare per base local and
//! a branch to the fast copy when all pass. When one fails (an access may
//! really be out of bounds, or the range is only conservatively too wide)
//! the slow copy runs with exact per-access checks and traps at exactly the
//! same access as before.
//!
//! **Fuel** ([`FastFuel`]). The slow copy charges its header's fuel per
//! iteration and tests it. So does the fast copy, unless nothing in the
//! loop charges fuel but its header and either
//! - the loop runs a number of iterations known on entry (a counter, or
//!   `x != k` with `x += step`) and cannot leave before its exit test: the
//!   pre-header requires `fuel >= trips * units` and charges that once; or
//! - `x` grows by a positive constant or invariant step in its one write
//!   (`x < k`, `x <= k`): the pre-header requires the fuel to cover the
//!   most iterations that can run, and the header charges without a test.
//!
//! The charges are the same, and when the fuel does not cover them the
//! slow copy runs out at exactly the iteration it did before. A
//! mispredicted fuel test needs no guard: fuel bounds time, not addresses.
//!
//! **Speculation (DESIGN 12).** A branch never bounds a speculative
//! address, and two branches are in play: the pre-check, and the loop's own
//! exit test (a mispredicted exit runs iterations past `hi`). So the fast
//! copy uses values that are bounded by data dependence alone: the bases
//! and the `hi`s are `select_spectre_guard(ok, v, 0)` in the pre-header, and
//! each induction variable is clamped to its `hi` once per iteration
//! (`select_spectre_guard(v > hi, hi, v)`, a compare and a `cmov`, shared by
//! every access of the iteration; clamping to `hi` rather than 0 needs no
//! register zeroed for it). Every value in `[0, hi]` is in bounds when the
//! pre-check passed; when it was mispredicted, the guarded `hi` and bases
//! are 0 and an access reads at `c + offset`, which [`FastLoop::access`]
//! only allows within the declared minimum, like the index clamp of
//! [`crate::bounds`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use cranelift_codegen::ir::{
    DataFlowGraph, Function, Inst, InstBuilder, InstructionData, Opcode, Value, ValueDef,
    condcodes::IntCC, types,
};
use cranelift_frontend::{FunctionBuilder, Variable};
use wasmparser::Operator;

use crate::bounds::{HeapAddr, sum_of, with_offset};
use crate::environ::{FuncEnv, PTR};
use crate::translate::is_heap_access;

/// The largest loop body (operators) translated twice.
pub const MAX_BODY_OPS: usize = 1024;

/// How deep [`affine`] follows `iadd`s behind an address.
const AFFINE_DEPTH: u32 = 6;

/// The largest induction step of a `!=` loop.
const MAX_STEP: u32 = 1 << 16;

/// A loop-invariant limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    Local(u32),
    Const(u32),
}

/// The exit test of the loop's back-edge, on the induction variable's new
/// value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Taken while `x < limit`.
    Below(Limit),
    /// Taken while `x <= limit`.
    AtMost(Limit),
    /// Taken while `x != limit`, `x += step` being the only write of `x`.
    Stride { limit: Limit, step: u32 },
    /// Tested at the top: the body starts by leaving the loop unless
    /// `x < limit` (`x <= limit` if `inclusive`), so every iteration that
    /// goes on has that `x`, however it got back to the header.
    Top { limit: Limit, inclusive: bool },
    /// Tested at the top for equality: the body starts by leaving the
    /// loop when `x == limit`, and `x += step` (a power of two) at the
    /// body's top level is the only write of `x`. An iteration that goes on
    /// adds `step` to `x` at most once (none if it branches back before the
    /// add), so from `x0` with `step` dividing `limit - x0` the iterations
    /// that go on see `x0, x0 + step, …, limit - step` and no other value.
    /// Rust's `for` over a slice iterator is this loop.
    TopStride { limit: Limit, step: u32 },
    /// A counter: taken while `x != 0`, `x -= step` being the only write
    /// of `x`. The loop then runs `x0 / step` times when `step` divides the
    /// start `x0` and `x0 != 0`, and every other induction variable of the
    /// plan takes a known range of values.
    Count { step: u32 },
}

/// A loop the translator can version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoopPlan {
    /// The induction variable (a local) of the exit test.
    pub x: u32,
    pub exit: Exit,
    /// With [`Exit::Count`], the other induction variables: locals whose
    /// one write is `v += step` (`step` a nonzero constant) outside any
    /// nested construct, so once in every iteration that goes on.
    pub stepped: Vec<(u32, i32)>,
    /// Locals the body reads and never writes: the candidate bases.
    pub invariant: Vec<u32>,
    /// How the fast copy pays for its iterations.
    pub fuel: FastFuel,
}

/// How the fast copy of a loop charges fuel. The slow copy always charges
/// and tests it in its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FastFuel {
    /// In the header, tested, like the slow copy.
    Checked,
    /// Once, in the pre-header: the loop runs a number of iterations known
    /// on entry ([`Exit::Count`], [`Exit::Stride`], or [`Exit::TopStride`]
    /// with no way back to the header but the body's final `br 0`), nothing
    /// in it leaves early, and nothing in it charges fuel but its header (no
    /// calls, no bulk or table operations, no `memory.grow`).
    Prepaid,
    /// In the header, untested: the pre-header has made sure the fuel
    /// covers every iteration the loop can run. An [`Exit::Below`] or
    /// [`Exit::AtMost`] loop whose `x` grows by `step` (a constant or a
    /// local the body never writes) in its one write, once in every
    /// iteration that goes on, runs at most `(k - x0) / step + 1` times;
    /// nothing in it charges fuel but its header, and it may leave early
    /// (it then has charged exactly its iterations).
    Covered { step: Limit },
}

/// Decide whether the body of a `loop` with no parameters or results can
/// be versioned. `body` is its operators, from the one after `loop` to its
/// matching `end` included.
pub fn plan(body: &[Operator<'_>]) -> Option<LoopPlan> {
    let top = top_test(body);
    // A loop tested at the top ends with anything. Otherwise: the
    // back-edge, then the end of the loop, or a branch out of it that takes
    // the place of falling through.
    let ops = match body {
        [ops @ .., Operator::End] if top.is_some() => ops,
        [
            ops @ ..,
            Operator::BrIf { relative_depth: 0 },
            Operator::End,
        ] => ops,
        [
            ops @ ..,
            Operator::BrIf { relative_depth: 0 },
            Operator::Br {
                relative_depth: 1..,
            },
            Operator::End,
        ] => ops,
        _ => return None,
    };
    let mut writes: HashMap<u32, u32> = HashMap::new();
    let mut reads = BTreeSet::new();
    let mut depth = 0u32;
    let mut accesses = false;
    let mut leaves_early = false;
    let mut back_edges = 0u32;
    let mut charges_fuel = false;
    let mut steps: HashMap<u32, i32> = HashMap::new();
    let mut bumps: HashMap<u32, u32> = HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        if depth == 0
            && let Some(from) = i.checked_sub(3)
        {
            if let Some((v, step, _)) = increment(&ops[from..=i]) {
                steps.insert(v, step);
            }
            if let Some((v, by)) = bump(&ops[from..=i]) {
                bumps.insert(v, by);
            }
        }
        match op {
            Operator::Loop { .. } => return None,
            Operator::Block { .. } | Operator::If { .. } => depth += 1,
            Operator::End => depth = depth.checked_sub(1)?,
            // Any other branch back to the header would bring `x` back with
            // a value the exit test never saw (a test at the top sees them
            // all).
            Operator::Br { relative_depth } | Operator::BrIf { relative_depth }
                if *relative_depth == depth =>
            {
                top.as_ref()?;
                back_edges += 1;
            }
            Operator::BrTable { targets } => {
                let mut back = targets.default() == depth;
                for t in targets.targets() {
                    back |= t.ok()? == depth;
                }
                if back {
                    top.as_ref()?;
                    back_edges += 1;
                }
            }
            Operator::LocalGet { local_index } => {
                reads.insert(*local_index);
            }
            Operator::LocalSet { local_index } | Operator::LocalTee { local_index } => {
                *writes.entry(*local_index).or_default() += 1;
            }
            op if is_heap_access(op) => accesses = true,
            _ => {}
        }
        // The test at the top is the loop's exit, not a way out early.
        leaves_early |= leaves(op, depth) && !(top.is_some() && i == 3);
        charges_fuel |= charges(op);
    }
    if !accesses || depth != 0 {
        return None;
    }
    let invariant_limit = |op: &Operator<'_>| invariant_limit(op, &writes);
    let (x, exit) = match top {
        Some(TopTest::Below { x, k, inclusive }) => (
            x,
            Exit::Top {
                limit: invariant_limit(k)?,
                inclusive,
            },
        ),
        Some(TopTest::Equal(a, b)) => {
            // `x` is the side the body steps by a positive power of two in
            // its one write; the other is the limit.
            let stepped = |op: &Operator<'_>| match op {
                Operator::LocalGet { local_index: x } if writes.get(x) == Some(&1) => steps
                    .get(x)
                    .and_then(|s| u32::try_from(*s).ok())
                    .filter(|s| s.is_power_of_two())
                    .map(|s| (*x, s)),
                _ => None,
            };
            let ((x, step), k) = match (stepped(a), stepped(b)) {
                (Some(x), _) => (x, b),
                (None, Some(x)) => (x, a),
                (None, None) => return None,
            };
            let limit = invariant_limit(k)?;
            (x, Exit::TopStride { limit, step })
        }
        None => bottom_test(ops, &writes)?,
    };
    let invariant = reads
        .iter()
        .copied()
        .filter(|l| *l != x && !writes.contains_key(l))
        .collect();
    // `x`'s one write, unconditional: `x += c` (`c > 0`) or `x += s`.
    let step = match steps.get(&x) {
        Some(c) => u32::try_from(*c).ok().map(Limit::Const),
        None => bumps
            .get(&x)
            .filter(|s| !writes.contains_key(s))
            .map(|s| Limit::Local(*s)),
    };
    let mut stepped: Vec<(u32, i32)> = match exit {
        Exit::Count { .. } => steps
            .into_iter()
            .filter(|(v, _)| *v != x && writes.get(v) == Some(&1) && reads.contains(v))
            .collect(),
        _ => Vec::new(),
    };
    stepped.sort_unstable();
    let fuel = match (exit, step) {
        _ if charges_fuel => FastFuel::Checked,
        (Exit::Count { .. } | Exit::Stride { .. }, _) if !leaves_early => FastFuel::Prepaid,
        // Every iteration that goes on reaches the final `br 0`, and so the
        // add: `(k - x0) / step` of them, and one more entry to leave.
        (Exit::TopStride { .. }, _)
            if !leaves_early
                && back_edges == 1
                && matches!(ops.last(), Some(Operator::Br { relative_depth: 0 })) =>
        {
            FastFuel::Prepaid
        }
        (Exit::Below(_) | Exit::AtMost(_), Some(step)) if writes.get(&x) == Some(&1) => {
            FastFuel::Covered { step }
        }
        _ => FastFuel::Checked,
    };
    Some(LoopPlan {
        x,
        exit,
        stepped,
        invariant,
        fuel,
    })
}

/// `v += s` in four operators, `s` a local: `local.get v; local.get s;
/// i32.add` (either order) then `local.set v` or `local.tee v`. `v` and `s`.
fn bump(ops: &[Operator<'_>]) -> Option<(u32, u32)> {
    let [
        Operator::LocalGet { local_index: a },
        Operator::LocalGet { local_index: b },
        Operator::I32Add,
        Operator::LocalSet { local_index: v } | Operator::LocalTee { local_index: v },
    ] = ops
    else {
        return None;
    };
    if a == v && b != v {
        Some((*v, *b))
    } else if b == v && a != v {
        Some((*v, *a))
    } else {
        None
    }
}

/// Whether `op`, at nesting `depth` inside a loop's body, may leave the loop
/// before its exit test does: the loop's fuel is then not a known multiple
/// of its header's charge.
fn leaves(op: &Operator<'_>, depth: u32) -> bool {
    use Operator as O;
    match op {
        O::Br { relative_depth } | O::BrIf { relative_depth } => *relative_depth > depth,
        O::BrTable { targets } => {
            targets.default() > depth || targets.targets().any(|t| t.map_or(true, |t| t > depth))
        }
        O::Return => true,
        _ => false,
    }
}

/// Whether `op` charges fuel of its own (or, calling wasm, spends it): the
/// fuel left during a loop then depends on more than its header's charges.
fn charges(op: &Operator<'_>) -> bool {
    use Operator as O;
    matches!(
        op,
        O::Call { .. }
            | O::CallIndirect { .. }
            | O::ReturnCall { .. }
            | O::ReturnCallIndirect { .. }
            | O::MemoryGrow { .. }
            | O::MemoryFill { .. }
            | O::MemoryCopy { .. }
            | O::MemoryInit { .. }
            | O::TableGrow { .. }
            | O::TableFill { .. }
            | O::TableCopy { .. }
            | O::TableInit { .. }
    )
}

/// The induction variable and exit of a loop tested at the bottom: `ops`
/// is its body up to the final `br_if 0`.
fn bottom_test(ops: &[Operator<'_>], writes: &HashMap<u32, u32>) -> Option<(u32, Exit)> {
    let invariant_limit = |op: &Operator<'_>| invariant_limit(op, writes);
    // The value the exit test compares must be what `x` holds when the
    // back-edge is taken: a `local.tee x` or `local.get x` right before.
    let holds_x = |op: &Operator<'_>| match op {
        Operator::LocalGet { local_index } | Operator::LocalTee { local_index } => {
            Some(*local_index)
        }
        _ => None,
    };
    // `x += step` teed for the test, the only write of `x`.
    let update = |u: &[Operator<'_>]| match increment(u) {
        Some((x, step, true))
            if writes.get(&x) == Some(&1) && step.unsigned_abs().is_power_of_two() =>
        {
            Some((x, step))
        }
        _ => None,
    };
    let n = ops.len();
    let before_end = |back: usize| n.checked_sub(back);
    // A counter: `br_if 0 (local.tee x (x - step))`.
    if let Some((x, step)) = before_end(4).and_then(|i| update(&ops[i..]))
        && step < 0
    {
        let step = step.unsigned_abs();
        return Some((x, Exit::Count { step }));
    }
    // `x != k` right after `x += step`, the limit on either side.
    if let [.., Operator::I32Ne] = ops {
        for (u, k) in [(6, n.wrapping_sub(2)), (5, n.wrapping_sub(6))] {
            if let Some(i) = before_end(u)
                && let Some((x, step)) = update(&ops[i..i + 4])
                && step > 0
                && let Some(k) = ops.get(k)
            {
                let limit = invariant_limit(k)?;
                return Some((
                    x,
                    Exit::Stride {
                        limit,
                        step: step as u32,
                    },
                ));
            }
        }
    }
    Some(match ops {
        [.., v, k, cmp @ (Operator::I32LtU | Operator::I32LeU)] => {
            let limit = invariant_limit(k)?;
            let x = holds_x(v)?;
            match cmp {
                Operator::I32LtU => (x, Exit::Below(limit)),
                _ => (x, Exit::AtMost(limit)),
            }
        }
        [.., k, v, cmp @ (Operator::I32GtU | Operator::I32GeU)] => {
            let limit = invariant_limit(k)?;
            let x = holds_x(v)?;
            match cmp {
                Operator::I32GtU => (x, Exit::Below(limit)),
                _ => (x, Exit::AtMost(limit)),
            }
        }
        _ => return None,
    })
}

/// `v += step` in four operators, `local.get v; i32.const step; i32.add;`
/// then `local.set v` or `local.tee v`: `v`, `step` (nonzero, at most
/// [`MAX_STEP`] either way) and whether it is a `tee`.
fn increment(ops: &[Operator<'_>]) -> Option<(u32, i32, bool)> {
    let [
        Operator::LocalGet { local_index: v0 },
        Operator::I32Const { value: step },
        Operator::I32Add,
        write,
    ] = ops
    else {
        return None;
    };
    let (v, tee) = match write {
        Operator::LocalSet { local_index } => (*local_index, false),
        Operator::LocalTee { local_index } => (*local_index, true),
        _ => return None,
    };
    (*v0 == v && *step != 0 && step.unsigned_abs() <= MAX_STEP).then_some((v, *step, tee))
}

/// The test a loop's body starts with, leaving the loop when it holds.
enum TopTest<'o, 'a> {
    /// Unless `x < k` (`x <= k` if `inclusive`).
    Below {
        x: u32,
        k: &'o Operator<'a>,
        inclusive: bool,
    },
    /// When `a == b`, in either order: which one is `x` is for the body to
    /// say ([`plan`]).
    Equal(&'o Operator<'a>, &'o Operator<'a>),
}

/// The test that starts a loop's body, if it leaves the loop on an
/// unsigned compare or an equality of two operands.
fn top_test<'o, 'a>(body: &'o [Operator<'a>]) -> Option<TopTest<'o, 'a>> {
    let [
        a,
        b,
        cmp,
        Operator::BrIf {
            relative_depth: 1..,
        },
        ..,
    ] = body
    else {
        return None;
    };
    let below = |x: &u32, k, inclusive| {
        Some(TopTest::Below {
            x: *x,
            k,
            inclusive,
        })
    };
    match (a, b, cmp) {
        // Leaves when `x >= k` / `x > k`.
        (Operator::LocalGet { local_index: x }, k, Operator::I32GeU) => below(x, k, false),
        (Operator::LocalGet { local_index: x }, k, Operator::I32GtU) => below(x, k, true),
        // Leaves when `k <= x` / `k < x`.
        (k, Operator::LocalGet { local_index: x }, Operator::I32LeU) => below(x, k, false),
        (k, Operator::LocalGet { local_index: x }, Operator::I32LtU) => below(x, k, true),
        (a, b, Operator::I32Eq) => Some(TopTest::Equal(a, b)),
        _ => None,
    }
}

/// `op` as a limit that holds for the whole loop: a constant, or a local
/// the body never writes.
fn invariant_limit(op: &Operator<'_>, writes: &HashMap<u32, u32>) -> Option<Limit> {
    match op {
        Operator::LocalGet { local_index } if !writes.contains_key(local_index) => {
            Some(Limit::Local(*local_index))
        }
        Operator::I32Const { value } => Some(Limit::Const(*value as u32)),
        _ => None,
    }
}

/// `v` as a sum of at most two non-constant terms and a constant (the
/// constants' `u32` values added in 64 bits), following `iadd`s.
fn affine(b: &FunctionBuilder<'_>, v: Value) -> Option<(Vec<Value>, u64)> {
    let (terms, consts) = sum_of(&b.func.dfg, v, AFFINE_DEPTH)?;
    Some((terms, consts.into_iter().map(|k| u64::from(k as u32)).sum()))
}

/// An induction variable of the fast copy.
struct Iv {
    /// Its value at the top of the iteration.
    start: Value,
    /// `zext(start)`, clamped to `hi` when guards are on.
    index: Value,
    /// Its largest value at the top of an iteration (i64), defined in the
    /// pre-header.
    hi: Variable,
}

/// The translator's state while it translates the fast copy of a loop.
pub struct FastLoop {
    /// The plan's `x`, then its `stepped` in order.
    ivs: Vec<Iv>,
    /// The SSA value of each invariant local in the body.
    invariant: HashMap<Value, u32>,
    /// The variable the fast copy reads each invariant local through
    /// ([`FastLoop::local`]), defined in the pre-header.
    shadows: BTreeMap<u32, Variable>,
    /// For each base local used, the native pointer `memory + zext(p)` (`p`
    /// guarded), defined in the pre-header.
    bases: BTreeMap<u32, Variable>,
    /// For each induction variable and base, the furthest byte accessed
    /// past `base + v`: the largest `c + offset + size`. No base: the
    /// address is `v + c` alone; no induction variable: `base + c`, the
    /// same on every iteration (one of them is always there).
    reach: BTreeMap<(Option<usize>, Option<u32>), u64>,
    /// The plan's [`LoopPlan::fuel`].
    fuel: FastFuel,
    /// The fuel the header charges per iteration, which the pre-header
    /// charges or makes sure of for every iteration.
    units: u64,
}

impl FastLoop {
    /// Start the fast copy: called in its (empty) header block.
    pub fn enter(
        b: &mut FunctionBuilder<'_>,
        plan: &LoopPlan,
        locals: &[Variable],
        spectre_guards: bool,
    ) -> Self {
        let ivs = std::iter::once(plan.x)
            .chain(plan.stepped.iter().map(|(v, _)| *v))
            .map(|l| {
                let start = b.use_var(locals[l as usize]);
                let hi = b.declare_var(types::I64);
                let v64 = b.ins().uextend(types::I64, start);
                let index = if spectre_guards {
                    let limit = b.use_var(hi);
                    let past = b.ins().icmp(IntCC::UnsignedGreaterThan, v64, limit);
                    b.ins().select_spectre_guard(past, limit, v64)
                } else {
                    v64
                };
                Iv { start, index, hi }
            })
            .collect();
        let shadows: BTreeMap<u32, Variable> = plan
            .invariant
            .iter()
            .map(|&l| {
                let v = b.use_var(locals[l as usize]);
                let ty = b.func.dfg.value_type(v);
                (l, b.declare_var(ty))
            })
            .collect();
        let invariant = shadows
            .iter()
            .map(|(&l, &var)| (b.use_var(var), l))
            .collect();
        FastLoop {
            ivs,
            invariant,
            shadows,
            bases: BTreeMap::new(),
            reach: BTreeMap::new(),
            fuel: plan.fuel,
            units: 0,
        }
    }

    /// The variable a `local.get` of `l` reads in the fast copy, if `l` is
    /// loop-invariant.
    pub fn local(&self, l: u32) -> Option<Variable> {
        self.shadows.get(&l).copied()
    }

    /// How the fast copy's header charges its `units` of fuel.
    pub fn header_fuel(&mut self, units: u64) -> FastFuel {
        self.units = units;
        self.fuel
    }

    /// The native address of an access at `addr + offset` of `size` bytes
    /// if the loop's pre-check covers it, recording what the pre-check must
    /// then test; `None` for an ordinary checked access.
    pub fn access(
        &mut self,
        env: &FuncEnv<'_, '_>,
        b: &mut FunctionBuilder<'_>,
        addr: Value,
        offset: u64,
        size: u32,
    ) -> Option<HeapAddr> {
        let (terms, c) = affine(b, addr)?;
        let reach = c.checked_add(offset)?.checked_add(u64::from(size))?;
        // Misspeculated, the access is at `c + offset`: keep that within
        // the memory every run has.
        if reach > env.min_memory_bytes() {
            return None;
        }
        let iv_of = |v: &Value| self.ivs.iter().position(|iv| iv.start == *v);
        let (iv, base) = match terms.as_slice() {
            [v] if iv_of(v).is_some() => (iv_of(v), None),
            // Loop-invariant: the same address on every iteration.
            [p] => (None, Some(*self.invariant.get(p)?)),
            [v, p] | [p, v] if iv_of(v).is_some() => (iv_of(v), Some(*self.invariant.get(p)?)),
            _ => return None,
        };
        let widest = self.reach.entry((iv, base)).or_default();
        *widest = (*widest).max(reach);

        // `base + v + c`: with the native base pointer in a register, one
        // addressing mode (`[p + v + c + offset]`).
        let pointer = match base {
            Some(l) => {
                let var = *self.bases.entry(l).or_insert_with(|| b.declare_var(PTR));
                b.use_var(var)
            }
            None => env.memory_base(b),
        };
        let native = match iv {
            Some(iv) => b.ins().iadd(pointer, self.ivs[iv].index),
            None => pointer,
        };
        Some(with_offset(b, native, c + offset))
    }

    /// Fill the pre-header: test every recorded range against the memory
    /// length and define the ranges, the bases and the invariant locals
    /// the fast copy uses (pushing the guards of the latter to `shadows`,
    /// for [`keep_needed_shadows`]).
    /// Returns the condition to enter the fast copy, or `None` when no
    /// access qualified (then the fast copy is dead).
    pub fn precheck(
        &self,
        plan: &LoopPlan,
        env: &mut FuncEnv<'_, '_>,
        b: &mut FunctionBuilder<'_>,
        locals: &[Variable],
        shadows: &mut Vec<Inst>,
    ) -> Option<Value> {
        let local64 = |b: &mut FunctionBuilder<'_>, l: u32| {
            let v = b.use_var(locals[l as usize]);
            b.ins().uextend(types::I64, v)
        };
        let limit64 = |b: &mut FunctionBuilder<'_>, k: Limit| match k {
            Limit::Local(l) => local64(b, l),
            Limit::Const(c) => b.ins().iconst(types::I64, i64::from(c)),
        };
        let mut valid: Vec<Value> = Vec::new();
        let v0 = local64(b, plan.x);
        // The iterations the loop runs, where the exit says.
        let mut trips = None;
        let mut his = vec![match plan.exit {
            Exit::Below(k) => {
                // `k - 1` is -1 for k = 0 (the back-edge is never taken):
                // the signed max then gives `v0`.
                let k = limit64(b, k);
                let below = b.ins().iadd_imm_s(k, -1);
                b.ins().smax(v0, below)
            }
            Exit::AtMost(k) => {
                let k = limit64(b, k);
                b.ins().umax(v0, k)
            }
            Exit::Stride { limit, step } | Exit::TopStride { limit, step } => {
                let k = limit64(b, limit);
                let first = b.ins().iadd_imm_u(v0, i64::from(step));
                valid.push(b.ins().icmp(IntCC::UnsignedLessThanOrEqual, first, k));
                let distance = b.ins().isub(k, v0);
                let rest = b.ins().band_imm_u(distance, i64::from(step - 1));
                valid.push(b.ins().icmp_imm_u(IntCC::Equal, rest, 0));
                trips = Some(
                    b.ins()
                        .ushr_imm_u(distance, i64::from(step.trailing_zeros())),
                );
                b.ins().iadd_imm_s(k, -i64::from(step))
            }
            Exit::Top { limit, inclusive } => {
                let k = limit64(b, limit);
                if inclusive {
                    k
                } else {
                    // Not below 0: with `k = 0` no iteration goes on, and the
                    // clamp must still hold speculated ones at 0.
                    let below = b.ins().iadd_imm_s(k, -1);
                    let zero = b.ins().iconst(types::I64, 0);
                    b.ins().smax(below, zero)
                }
            }
            Exit::Count { step } => {
                // `x0, x0 - step, ..., step`: `x0 / step` iterations.
                let rest = b.ins().band_imm_u(v0, i64::from(step - 1));
                valid.push(b.ins().icmp_imm_u(IntCC::Equal, rest, 0));
                valid.push(b.ins().icmp_imm_u(IntCC::NotEqual, v0, 0));
                trips = Some(b.ins().ushr_imm_u(v0, i64::from(step.trailing_zeros())));
                v0
            }
        }];
        if let (Exit::Count { .. }, Some(trips)) = (plan.exit, trips) {
            // Iteration `i` (from 0 to `trips - 1`) starts with `v0 + i*s`.
            let last = b.ins().iadd_imm_s(trips, -1);
            for &(v, s) in &plan.stepped {
                let v0 = local64(b, v);
                let span = b.ins().imul_imm_u(last, i64::from(s.unsigned_abs()));
                his.push(if s > 0 {
                    b.ins().iadd(v0, span)
                } else {
                    // Going down, the start is the largest, and the smallest
                    // must not wrap below 0.
                    valid.push(b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, v0, span));
                    v0
                });
            }
        }
        let spectre_guards = env.spectre_guards;
        if self.reach.is_empty() {
            // The fast copy is dead; its variables still need definitions.
            for (iv, hi) in self.ivs.iter().zip(&his) {
                b.def_var(iv.hi, *hi);
            }
            for (&l, &var) in &self.shadows {
                let v = b.use_var(locals[l as usize]);
                b.def_var(var, v);
            }
            return None;
        }
        let len = env.memory_len(b);
        let mut base_values = BTreeMap::new();
        for (&(iv, base), &reach) in &self.reach {
            let mut end = match iv {
                Some(iv) => b.ins().iadd_imm_u(his[iv], reach as i64),
                None => b.ins().iconst(types::I64, reach as i64),
            };
            if let Some(l) = base {
                let p = local64(b, l);
                base_values.insert(l, p);
                end = b.ins().iadd(end, p);
            }
            valid.push(b.ins().icmp(IntCC::UnsignedLessThanOrEqual, end, len));
        }
        // A body's charge is at most `MAX_BODY_OPS` operators' worth: far
        // below 2^20.
        let units = i64::try_from(self.units).unwrap_or(i64::MAX);
        let prepaid = match (self.fuel, trips) {
            // Fuel for every iteration, charged now: `trips < 2^32`, so the
            // product fits.
            (FastFuel::Prepaid, Some(trips)) if units > 0 => {
                // A loop tested at the top enters its header once more than
                // it iterates, to leave.
                let entries = match plan.exit {
                    Exit::TopStride { .. } => b.ins().iadd_imm_u(trips, 1),
                    _ => trips,
                };
                let cost = b.ins().imul_imm_u(entries, units);
                let have = env.fuel_left(b);
                valid.push(b.ins().icmp(IntCC::SignedGreaterThanOrEqual, have, cost));
                Some(cost)
            }
            (FastFuel::Covered { step }, _) if units > 0 => {
                // `x` goes `x0, x0 + s, ...` while it is at most `k'`, never
                // wrapping (`hi + s < 2^32`): `(k' - x0) / s + 1` iterations,
                // or 1 if `x0 > k'`; at most `(max(k' - x0, 0) + s) / s`.
                // That times `units` is at most the fuel if
                // `(max(k' - x0, 0) + s) * units <= min(fuel, 2^31) * s`,
                // a test with no division and no overflow (`s < 2^32`).
                let last = match plan.exit {
                    Exit::Below(k) => {
                        let k = limit64(b, k);
                        b.ins().iadd_imm_s(k, -1)
                    }
                    Exit::AtMost(k) => limit64(b, k),
                    _ => unreachable!("only `<` and `<=` loops are covered"),
                };
                let s = limit64(b, step);
                valid.push(b.ins().icmp_imm_u(IntCC::NotEqual, s, 0));
                let past = b.ins().iadd(his[0], s);
                valid.push(b.ins().icmp_imm_u(
                    IntCC::UnsignedLessThanOrEqual,
                    past,
                    i64::from(u32::MAX),
                ));
                let span = b.ins().isub(last, v0);
                let zero = b.ins().iconst(types::I64, 0);
                let span = b.ins().smax(span, zero);
                let span = b.ins().iadd(span, s);
                let need = b.ins().imul_imm_u(span, units);
                let have = env.fuel_left(b);
                let cap = b.ins().iconst(types::I64, 1 << 31);
                let have = b.ins().umin(have, cap);
                let have = b.ins().imul(have, s);
                valid.push(b.ins().icmp(IntCC::UnsignedLessThanOrEqual, need, have));
                None
            }
            _ => None,
        };
        let ok = valid
            .into_iter()
            .reduce(|a, c| b.ins().band(a, c))
            .expect("a range was recorded");
        if let Some(cost) = prepaid {
            env.charge_if(b, ok, cost);
        }
        let guard = |b: &mut FunctionBuilder<'_>, v: Value| {
            if spectre_guards {
                let zero = b.ins().iconst(types::I64, 0);
                b.ins().select_spectre_guard(ok, v, zero)
            } else {
                v
            }
        };
        for (iv, hi) in self.ivs.iter().zip(his) {
            let hi = guard(b, hi);
            b.def_var(iv.hi, hi);
        }
        for (&l, &var) in &self.shadows {
            let v = b.use_var(locals[l as usize]);
            let ty = b.func.dfg.value_type(v);
            let v = if ty.is_int() {
                // What defines `v` is only known once the enclosing loops
                // are sealed: [`keep_needed_shadows`] decides.
                let zero = b.ins().iconst(ty, 0);
                let opaque = b.ins().select_spectre_guard(ok, v, zero);
                shadows.push(b.func.dfg.value_def(opaque).unwrap_inst());
                opaque
            } else {
                v
            };
            b.def_var(var, v);
        }
        let memory = env.memory_base(b);
        for (l, var) in &self.bases {
            let p = guard(b, base_values[l]);
            let pointer = b.ins().iadd(memory, p);
            b.def_var(*var, pointer);
        }
        Some(ok)
    }
}

/// Undo the shadows ([`FastLoop::local`]) that the finished function does
/// not need: `shadows` are the `select_spectre_guard(ok, v, 0)` the
/// pre-headers read loop-invariant locals through.
///
/// Cranelift computes an integer add or subtract with a constant again
/// inside every loop that uses it rather than keep it in a register (its
/// rematerialisation rules): a limit `n - 1` costs two instructions an
/// iteration (`mov`, `sub`) that the loop's exit test waits for. Read
/// through the guard, which is `v` wherever the fast copy runs (`ok` holds
/// there) and opaque to rematerialisation, it stays in a register. Any
/// other value goes back to being read directly (`bor v, v`, which the
/// optimiser folds to `v`), so constants still fold into the instructions
/// that use them.
pub fn keep_needed_shadows(func: &mut Function, shadows: &[Inst]) {
    for &inst in shadows {
        let v = func.dfg.inst_args(inst)[1];
        if !recomputed_in_loops(&func.dfg, v) {
            func.dfg.insts[inst] = InstructionData::Binary {
                opcode: Opcode::Bor,
                args: [v, v],
            };
        }
    }
}

/// Whether `v` is an add or subtract with a constant operand.
fn recomputed_in_loops(dfg: &DataFlowGraph, v: Value) -> bool {
    let v = dfg.resolve_aliases(v);
    let ValueDef::Result(inst, 0) = dfg.value_def(v) else {
        return false;
    };
    let is_const = |x: Value| {
        matches!(
            dfg.value_def(dfg.resolve_aliases(x)),
            ValueDef::Result(i, 0) if dfg.insts[i].opcode() == Opcode::Iconst
        )
    };
    match dfg.insts[inst] {
        InstructionData::Binary {
            opcode: Opcode::Iadd | Opcode::Isub,
            args: [x, y],
        } => is_const(x) || is_const(y),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::{Exit, FastFuel, Limit, LoopPlan, plan};
    use wasmparser::{Operator, OperatorsReader};

    /// The plan for the first `loop` of `(func ...)` given as WAT.
    fn plan_of(func: &str) -> Option<LoopPlan> {
        let wasm = wat::parse_str(format!("(module (memory 1) {func})")).unwrap();
        for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
            if let wasmparser::Payload::CodeSectionEntry(body) = payload.unwrap() {
                let mut ops: OperatorsReader<'_> = body.get_operators_reader().unwrap();
                while !matches!(ops.read().unwrap(), Operator::Loop { .. }) {}
                let mut body = Vec::new();
                let mut depth = 0;
                loop {
                    let op = ops.read().unwrap();
                    match op {
                        Operator::Block { .. } | Operator::If { .. } | Operator::Loop { .. } => {
                            depth += 1
                        }
                        Operator::End if depth == 0 => {
                            body.push(op);
                            break;
                        }
                        Operator::End => depth -= 1,
                        _ => {}
                    }
                    body.push(op);
                }
                return plan(&body);
            }
        }
        unreachable!("no code section")
    }

    #[test]
    fn sieve_shape_is_bounded_by_its_limit() {
        // table[m] = 1; m += p; while m <= limit
        let p = plan_of(
            "(func (param $t i32) (param $m i32) (param $p i32) (param $n i32)
               (loop
                 (i32.store8 (i32.add (local.get $t) (local.get $m)) (i32.const 1))
                 (br_if 0 (i32.le_u (local.tee $m (i32.add (local.get $m) (local.get $p)))
                                    (local.get $n)))))",
        );
        assert_eq!(
            p,
            Some(LoopPlan {
                x: 1,
                exit: Exit::AtMost(Limit::Local(3)),
                stepped: vec![],
                invariant: vec![0, 2, 3],
                fuel: FastFuel::Covered {
                    step: Limit::Local(2)
                },
            })
        );
    }

    #[test]
    fn strided_shape_needs_a_power_of_two_step() {
        let body = |step: i32| {
            format!(
                "(func (param $a i32) (local $i i32)
                   (loop
                     (f64.store (i32.add (local.get $a) (local.get $i)) (f64.const 1))
                     (br_if 0 (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const {step})))
                                      (i32.const 1024)))))"
            )
        };
        assert_eq!(
            plan_of(&body(16)).map(|p| p.exit),
            Some(Exit::Stride {
                limit: Limit::Const(1024),
                step: 16
            })
        );
        assert_eq!(plan_of(&body(12)), None);
        assert_eq!(plan_of(&body(-8)), None);
    }

    #[test]
    fn limit_first_and_a_branch_out_after_the_back_edge() {
        // `n != (i += 4)`, as LLVM writes it when the limit is computed
        // first, then `br` out instead of falling through.
        let p = plan_of(
            "(func (param $a i32) (param $i i32) (param $n i32)
               (block
                 (loop
                   (i32.store (i32.add (local.get $a) (local.get $i)) (i32.const 0))
                   (br_if 0 (i32.ne (local.get $n)
                                    (local.tee $i (i32.add (local.get $i) (i32.const 4)))))
                   (br 1))))",
        );
        assert_eq!(
            p.map(|p| (p.x, p.exit)),
            Some((
                1,
                Exit::Stride {
                    limit: Limit::Local(2),
                    step: 4
                }
            ))
        );
    }

    #[test]
    fn fuel_is_prepaid_for_known_trip_counts_and_covered_for_bounded_ones() {
        use FastFuel::{Checked, Covered, Prepaid};
        // `inner` goes in the body of a loop inside a `block`, tested with
        // `test` on the new `i` and the limit `n`, `i` growing by `step`.
        let fuel = |test: &str, step: &str, inner: &str| {
            plan_of(&format!(
                "(func $f (param $a i32) (param $i i32) (param $n i32) (param $s i32)
                   (block
                     (loop
                       (i32.store (i32.add (local.get $a) (local.get $i)) (i32.const 0))
                       {inner}
                       (br_if 0 ({test} (local.tee $i (i32.add (local.get $i) {step}))
                                        (local.get $n))))))"
            ))
            .map(|p| p.fuel)
        };
        let stride = |inner: &str| fuel("i32.ne", "(i32.const 4)", inner);
        assert_eq!(stride(""), Some(Prepaid));
        // Branches that stay inside the loop.
        assert_eq!(stride("(block (br_if 0 (local.get $a)))"), Some(Prepaid));
        assert_eq!(
            stride("(block (block (br_table 0 1 (local.get $a))))"),
            Some(Prepaid)
        );
        // Leaving early: the trip count is only a bound.
        assert_eq!(stride("(br_if 1 (local.get $a))"), Some(Checked));
        assert_eq!(
            stride("(block (br_table 0 2 (local.get $a)))"),
            Some(Checked)
        );
        assert_eq!(stride("(if (local.get $a) (then (return)))"), Some(Checked));
        // Charging fuel inside the loop.
        let call = "(call $f (local.get $a) (local.get $i) (local.get $n) (local.get $s))";
        assert_eq!(stride(call), Some(Checked));
        let fill = "(memory.fill (local.get $a) (i32.const 0) (i32.const 4))";
        assert_eq!(stride(fill), Some(Checked));
        assert_eq!(stride("(drop (memory.grow (i32.const 0)))"), Some(Checked));

        // `<` and `<=` loops growing by a positive constant or an invariant
        // local: a bound on the iterations, early exits or not.
        let by_s = "(local.get $s)";
        for test in ["i32.lt_u", "i32.le_u"] {
            assert_eq!(
                fuel(test, "(i32.const 4)", ""),
                Some(Covered {
                    step: Limit::Const(4)
                })
            );
            let covered = Some(Covered {
                step: Limit::Local(3),
            });
            assert_eq!(fuel(test, by_s, ""), covered);
            assert_eq!(fuel(test, by_s, "(br_if 1 (local.get $a))"), covered);
            assert_eq!(fuel(test, by_s, call), Some(Checked));
            assert_eq!(fuel(test, "(i32.const -4)", ""), Some(Checked));
            // The step changes in the loop, or `i` has another write.
            let s_written = "(local.set $s (i32.const 1))";
            assert_eq!(fuel(test, by_s, s_written), Some(Checked));
            let i_written = "(local.set $i (local.get $a))";
            assert_eq!(fuel(test, by_s, i_written), Some(Checked));
        }
    }

    #[test]
    fn counters_bring_their_stepped_variables() {
        // `do { *p = 0; p += 4; q -= 8 } while (--c)`: `c` counts the
        // iterations, `p` and `q` step once in each; `r` steps inside an
        // `if` (not every iteration) and `a` is only read.
        let p = plan_of(
            "(func (param $a i32) (param $p i32) (param $q i32) (param $c i32) (param $r i32)
               (loop
                 (i32.store (i32.add (local.get $a) (local.get $p)) (local.get $q))
                 (local.set $p (i32.add (local.get $p) (i32.const 4)))
                 (local.set $q (i32.add (local.get $q) (i32.const -8)))
                 (if (local.get $a) (then (local.set $r (i32.add (local.get $r) (i32.const 1)))))
                 (br_if 0 (local.tee $c (i32.add (local.get $c) (i32.const -1))))))",
        );
        assert_eq!(
            p,
            Some(LoopPlan {
                x: 3,
                exit: Exit::Count { step: 1 },
                stepped: vec![(1, 4), (2, -8)],
                invariant: vec![0],
                fuel: FastFuel::Prepaid,
            })
        );
        // Counting up to 0 is not a counter kwasmc bounds.
        assert_eq!(
            plan_of(
                "(func (param $a i32) (param $c i32)
                   (loop
                     (i32.store (local.get $a) (i32.const 0))
                     (br_if 0 (local.tee $c (i32.add (local.get $c) (i32.const 1))))))"
            ),
            None
        );
    }

    #[test]
    fn a_test_at_the_top_bounds_every_iteration() {
        // `while (i < n) { a[i] = 0; i += 1; if (i & 1) continue; ... }`:
        // two ways back to the header, both through the test.
        let body = |test: &str| {
            format!(
                "(func (param $a i32) (param $i i32) (param $n i32)
                   (block $out
                     (loop $top
                       (br_if $out {test})
                       (i32.store8 (i32.add (local.get $a) (local.get $i)) (i32.const 0))
                       (local.set $i (i32.add (local.get $i) (i32.const 1)))
                       (br_if $top (i32.and (local.get $i) (i32.const 1)))
                       (br $top))))"
            )
        };
        let exit = |test: &str| plan_of(&body(test)).map(|p| (p.x, p.exit));
        let below = Exit::Top {
            limit: Limit::Local(2),
            inclusive: false,
        };
        let at_most = Exit::Top {
            limit: Limit::Local(2),
            inclusive: true,
        };
        assert_eq!(
            exit("(i32.ge_u (local.get $i) (local.get $n))"),
            Some((1, below))
        );
        assert_eq!(
            exit("(i32.le_u (local.get $n) (local.get $i))"),
            Some((1, below))
        );
        assert_eq!(
            exit("(i32.gt_u (local.get $i) (local.get $n))"),
            Some((1, at_most))
        );
        assert_eq!(
            exit("(i32.lt_u (local.get $n) (local.get $i))"),
            Some((1, at_most))
        );
        // Leaving when `i < n` bounds nothing; neither does a signed test.
        assert_eq!(exit("(i32.lt_u (local.get $i) (local.get $n))"), None);
        assert_eq!(exit("(i32.ge_s (local.get $i) (local.get $n))"), None);
    }

    #[test]
    fn a_slice_iterator_is_a_stride_tested_at_the_top() {
        // `for &c in &t[i..n] { s += c }` as LLVM writes it: leave when
        // `i == n`, `i += 1` once, back to the header at the end; `inner`
        // goes after the add.
        let body = |test: &str, step: i32, inner: &str| {
            format!(
                "(func $f (param $t i32) (param $i i32) (param $n i32) (result i32) (local $s i32)
                   (block $out
                     (loop $top
                       (br_if $out {test})
                       (local.set $s (i32.add (local.get $s)
                         (i32.load8_u (i32.add (local.get $t) (local.get $i)))))
                       (local.set $i (i32.add (local.get $i) (i32.const {step})))
                       {inner}
                       (br $top)))
                   (local.get $s))"
            )
        };
        let eq = "(i32.eq (local.get $i) (local.get $n))";
        let stride = |step| Exit::TopStride {
            limit: Limit::Local(2),
            step,
        };
        let p = plan_of(&body(eq, 1, "")).unwrap();
        assert_eq!((p.x, p.exit, p.fuel), (1, stride(1), FastFuel::Prepaid));
        assert_eq!(p.invariant, vec![0, 2]);
        // The limit first, a step of 8.
        let p = plan_of(&body("(i32.eq (local.get $n) (local.get $i))", 8, "")).unwrap();
        assert_eq!((p.x, p.exit), (1, stride(8)));
        // A second way back skips the add in some iterations: `i` still
        // cannot pass `n`, but the iterations are not known on entry.
        let p = plan_of(&body(eq, 1, "(br_if $top (local.get $s))")).unwrap();
        assert_eq!((p.exit, p.fuel), (stride(1), FastFuel::Checked));
        // Leaving another way, or calling: the fuel is tested as it goes.
        let p = plan_of(&body(eq, 1, "(br_if $out (local.get $s))")).unwrap();
        assert_eq!(p.fuel, FastFuel::Checked);
        let call = "(drop (call $f (local.get $t) (local.get $i) (local.get $n)))";
        assert_eq!(plan_of(&body(eq, 1, call)).unwrap().fuel, FastFuel::Checked);
        // Steps that could jump over `n`, or wrap: not bounded.
        for step in [3, -1, -4] {
            assert_eq!(plan_of(&body(eq, step, "")), None, "step {step}");
        }
        // A second write of `i`, a limit the body writes, and a test of
        // anything but `i` against its limit.
        let written = "(local.set $i (local.get $s))";
        assert_eq!(plan_of(&body(eq, 1, written)), None);
        let moved = "(local.set $n (local.get $s))";
        assert_eq!(plan_of(&body(eq, 1, moved)), None);
        let other = "(i32.eq (local.get $s) (local.get $n))";
        assert_eq!(plan_of(&body(other, 1, "")), None);
    }

    #[test]
    fn loops_that_cannot_be_bounded_are_left_alone() {
        for wat in [
            // The limit changes in the body.
            "(func (param $a i32) (param $n i32)
                   (loop
                     (i32.store (local.get $a) (i32.const 0))
                     (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                     (br_if 0 (i32.lt_u (local.tee $a (i32.add (local.get $a) (i32.const 4)))
                                        (local.get $n)))))",
            // A second back-edge.
            "(func (param $a i32) (param $n i32)
                   (loop
                     (i32.store (local.get $a) (i32.const 0))
                     (br_if 0 (i32.eqz (local.get $n)))
                     (br_if 0 (i32.lt_u (local.tee $a (i32.add (local.get $a) (i32.const 4)))
                                        (local.get $n)))))",
            // `x` written twice in a `!=` loop: its values are not a stride.
            "(func (param $a i32) (local $i i32)
                   (loop
                     (local.set $i (i32.load (local.get $i)))
                     (br_if 0 (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 4)))
                                      (i32.const 64)))))",
            // Signed compares say nothing about the unsigned address.
            "(func (param $a i32) (param $n i32)
                   (loop
                     (i32.store (local.get $a) (i32.const 0))
                     (br_if 0 (i32.lt_s (local.tee $a (i32.add (local.get $a) (i32.const 4)))
                                        (local.get $n)))))",
            // No memory access: nothing to gain.
            "(func (param $a i32) (param $n i32)
                   (loop
                     (br_if 0 (i32.lt_u (local.tee $a (i32.add (local.get $a) (i32.const 4)))
                                        (local.get $n)))))",
        ] {
            assert_eq!(plan_of(wat), None, "{wat}");
        }
    }
}
