//! WebAssembly function bodies to Cranelift IR.
//!
//! One pass over the operators of a validated body, keeping a value stack
//! and a control stack ([`crate::stack`]) over a
//! [`cranelift_frontend::FunctionBuilder`], which builds SSA for locals.
//! Everything that touches the instance goes through [`FuncEnv`]; memory
//! accesses through [`crate::bounds`]; every trap condition branches to the
//! cold blocks of [`crate::traps`]. The prologue checks the stack limit and
//! charges fuel for the operators outside loops, each loop header for the
//! operators of its body ([`fuel_regions`], DESIGN 10); bulk operations and
//! host calls are charged before they run.
//!
//! The translator relies on validation: it indexes types, locals, functions
//! and the operand stack without re-checking them.

use cranelift_codegen::ir::{
    self, Block, BlockArg, InstBuilder, MemFlagsData, SourceLoc, Type, UserFuncName, Value,
    condcodes::{FloatCC, IntCC},
    types::{F32, F64, I8, I16, I32, I64},
};
use cranelift_codegen::isa::{CallConv, TargetFrontendConfig};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use kwasm_abi::fuel::{MEM_SHIFT, OpClass, TABLE_SHIFT, op_cost};
use kwasm_abi::trap::TrapCode;
use kwasm_abi::vmctx::{VmCtxLayout, libcall};
use wasmparser::{BlockType, BrTable, MemArg, Operator, OperatorsReader};

use crate::bits::popcnt_in_gprs;
use crate::bounds::{heap_addr, keeps_checks_widenable};
use crate::environ::{FuncEnv, PTR, clif_type, wasm_signature};
use crate::error::CompileError;
use crate::float::{Round, round, trunc_checked};
use crate::loops::{FastFuel, FastLoop, LoopPlan, MAX_BODY_OPS};
use crate::module_env::{ModuleInfo, val_type};
use crate::stack::{ControlFrame, ControlStack, FrameKind, ValueStack};

/// What the translator needs to know besides the module.
#[derive(Clone, Copy)]
pub struct TranslateConfig {
    pub call_conv: CallConv,
    /// Use Cranelift's `ceil`/`floor`/`trunc`/`nearest` (no libcall on
    /// this target).
    pub native_round: bool,
    /// Count bits in general registers ([`crate::bits`]): Cranelift's own
    /// `popcnt` uses the SIMD unit on this target.
    pub gpr_popcnt: bool,
    /// Bytes the stack check demands above `stack_limit`.
    pub stack_pad: u32,
    pub frontend: TargetFrontendConfig,
    /// Guard heap addresses and table indices against speculation
    /// (DESIGN 12).
    pub spectre_guards: bool,
}

/// Fuel of a body's regions (DESIGN 10, `kwasm_abi::fuel`): the sum of
/// [`op_cost`] over each region's operators.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FuelRegions {
    /// Operators outside any `loop`, charged at function entry. A loop's
    /// own `loop` and `end` count here (in the enclosing region): each runs
    /// once per entry into the loop.
    pub entry: u64,
    /// For each `loop`, in order of appearance, the operators of its body
    /// outside nested loops, charged at its header on every iteration.
    pub loops: Vec<u64>,
}

/// Count the operators of each fuel region in one cheap pass (a clone of
/// the body's reader; nothing is translated). Backward edges only reach
/// loop headers, so every operator runs at most once per charge of its
/// region, and the charges bound the operators executed from above.
pub fn fuel_regions(mut ops: OperatorsReader<'_>) -> Result<FuelRegions, CompileError> {
    let mut r = FuelRegions::default();
    // Whether each open block is a loop.
    let mut open: Vec<bool> = Vec::new();
    // The region operators are counted in (`None`: entry), and those of
    // the open loops' parents.
    let mut current: Option<usize> = None;
    let mut enclosing: Vec<Option<usize>> = Vec::new();
    while !ops.eof() {
        let op = ops.read().map_err(wp)?;
        if let Operator::End = op
            && open.pop() == Some(true)
        {
            current = enclosing.pop().flatten();
        }
        let cost = op_cost(op_class(&op));
        match current {
            None => r.entry += cost,
            Some(i) => r.loops[i] += cost,
        }
        match op {
            Operator::Loop { .. } => {
                r.loops.push(0);
                open.push(true);
                enclosing.push(current);
                current = Some(r.loops.len() - 1);
            }
            Operator::Block { .. } | Operator::If { .. } => open.push(false),
            _ => {}
        }
    }
    Ok(r)
}

/// Whether a body reads or writes linear memory or its size itself (then
/// its length is kept in a variable from entry on; see [`FuncEnv`]).
fn accesses_memory(mut ops: OperatorsReader<'_>) -> Result<bool, CompileError> {
    use Operator::*;
    while !ops.eof() {
        let op = ops.read().map_err(wp)?;
        let memory = match op {
            MemorySize { .. }
            | MemoryGrow { .. }
            | MemoryFill { .. }
            | MemoryCopy { .. }
            | MemoryInit { .. } => true,
            _ => is_heap_access(&op),
        };
        if memory {
            return Ok(true);
        }
    }
    Ok(false)
}

/// How fuel weighs an operator: memory and table accesses and calls cost
/// more than arithmetic (`kwasm_abi::fuel`).
fn op_class(op: &Operator<'_>) -> OpClass {
    use Operator::*;
    match op {
        op if is_heap_access(op) => OpClass::MemoryAccess,
        TableGet { .. } | TableSet { .. } => OpClass::MemoryAccess,
        Call { .. } | CallIndirect { .. } => OpClass::Call,
        _ => OpClass::Plain,
    }
}

/// Whether `op` loads from or stores to linear memory.
pub(crate) fn is_heap_access(op: &Operator<'_>) -> bool {
    use Operator::*;
    matches!(
        op,
        I32Load { .. }
            | I64Load { .. }
            | F32Load { .. }
            | F64Load { .. }
            | I32Load8S { .. }
            | I32Load8U { .. }
            | I32Load16S { .. }
            | I32Load16U { .. }
            | I64Load8S { .. }
            | I64Load8U { .. }
            | I64Load16S { .. }
            | I64Load16U { .. }
            | I64Load32S { .. }
            | I64Load32U { .. }
            | I32Store { .. }
            | I64Store { .. }
            | F32Store { .. }
            | F64Store { .. }
            | I32Store8 { .. }
            | I32Store16 { .. }
            | I64Store8 { .. }
            | I64Store16 { .. }
            | I64Store32 { .. }
    )
}

/// Translate defined function `defined_index` into a Cranelift function
/// named `user(0, func_index)`.
pub fn translate_function(
    module: &ModuleInfo<'_>,
    layout: VmCtxLayout,
    cfg: &TranslateConfig,
    ctx: &mut FunctionBuilderContext,
    defined_index: u32,
) -> Result<ir::Function, CompileError> {
    let func_index = module.num_imported_funcs + defined_index;
    let name = module.func_name(func_index);
    let in_func = |e: CompileError| e.in_func(func_index, name);
    let ty = module.func_type(func_index);
    let sig = wasm_signature(ty, cfg.call_conv);
    let mut func = ir::Function::with_name_signature(UserFuncName::user(0, func_index), sig);
    let body = &module.bodies[defined_index as usize];
    let shadows;
    {
        let mut b = FunctionBuilder::new(&mut func, ctx);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        b.seal_block(entry);
        let params = b.block_params(entry).to_vec();
        let vmctx = params[0];
        let ops = body.get_operators_reader().map_err(|e| in_func(wp(e)))?;
        let uses_memory = accesses_memory(ops.clone()).map_err(in_func)?;
        let env = FuncEnv::new(&mut b, module, layout, func_index, cfg, vmctx, uses_memory);
        let regions = fuel_regions(ops.clone()).map_err(in_func)?;
        let mut t = Translator {
            env,
            stack: ValueStack::default(),
            control: ControlStack::default(),
            locals: Vec::new(),
            reachable: true,
            native_round: cfg.native_round,
            gpr_popcnt: cfg.gpr_popcnt,
            loop_fuel: regions.loops.into_iter(),
            fast: None,
            shadows: Vec::new(),
        };

        // Locals: parameters, then zero-initialised declared locals.
        for (i, p) in ty.params.iter().enumerate() {
            let var = b.declare_var(clif_type(*p));
            b.def_var(var, params[i + 1]);
            t.locals.push(var);
        }
        let mut locals = body.get_locals_reader().map_err(|e| in_func(wp(e)))?;
        for _ in 0..locals.get_count() {
            let (count, wty) = locals.read().map_err(|e| in_func(wp(e)))?;
            let cty = clif_type(val_type(wty).map_err(in_func)?);
            let zero = zero_value(&mut b, cty);
            for _ in 0..count {
                let var = b.declare_var(cty);
                b.def_var(var, zero);
                t.locals.push(var);
            }
        }

        // Prologue: stack limit, then fuel for the operators outside loops.
        t.env.check_stack(&mut b, cfg.stack_pad);
        t.env.consume_fuel(&mut b, regions.entry);

        // The function body is a block whose results are the returns.
        let exit = b.create_block();
        for r in &ty.results {
            b.append_block_param(exit, clif_type(*r));
        }
        t.control.frames.push(ControlFrame {
            kind: FrameKind::Block,
            next: exit,
            height: 0,
            num_params: 0,
            num_results: ty.results.len(),
            next_reachable: false,
            checks_mark: 0,
            branch_mark: None,
        });

        let mut ops = ops;
        while !ops.eof() {
            let (op, offset) = ops.read_with_offset().map_err(|e| in_func(wp(e)))?;
            b.set_srcloc(SourceLoc::new(offset as u32));
            if let Operator::Loop {
                blockty: BlockType::Empty,
            } = op
                && t.reachable
            {
                let mut after_loop = ops.clone();
                if let Some((body, offsets)) = innermost_body(&mut after_loop)
                    && let Some(plan) = crate::loops::plan(&body)
                {
                    t.versioned_loop(&mut b, &plan, &body, &offsets)
                        .map_err(|e| in_func(e.at(offset)))?;
                    ops = after_loop;
                    continue;
                }
            }
            t.op(&mut b, &op).map_err(|e| in_func(e.at(offset)))?;
        }
        if t.reachable {
            // The final `end` switched to `exit` and pushed the results.
            let results = t.stack.pop_n(ty.results.len());
            t.env.flush_fuel(&mut b);
            b.ins().return_(&results);
        }
        t.env.traps.finish(&mut b, vmctx);
        b.seal_all_blocks();
        b.finalize(cfg.frontend);
        shadows = t.shadows;
    }
    crate::loops::keep_needed_shadows(&mut func, &shadows);
    Ok(func)
}

/// The operators of an innermost loop's body and their offsets, from the
/// one after `loop` to its matching `end`, read from `ops` (left after that
/// `end`), or `None` if it contains a loop or is longer than
/// [`MAX_BODY_OPS`] (or does not parse: the ordinary translation then
/// reports that).
type LoopBody<'a> = (Vec<Operator<'a>>, Vec<usize>);

fn innermost_body<'a>(ops: &mut OperatorsReader<'a>) -> Option<LoopBody<'a>> {
    let (mut body, mut offsets) = (Vec::new(), Vec::new());
    let mut depth = 0u32;
    while body.len() < MAX_BODY_OPS {
        let (op, offset) = ops.read_with_offset().ok()?;
        let last = matches!(op, Operator::End) && depth == 0;
        match op {
            Operator::Loop { .. } => return None,
            Operator::Block { .. } | Operator::If { .. } => depth += 1,
            Operator::End if depth > 0 => depth -= 1,
            _ => {}
        }
        body.push(op);
        offsets.push(offset);
        if last {
            return Some((body, offsets));
        }
    }
    None
}

fn wp(e: wasmparser::Error) -> CompileError {
    CompileError::malformed(e.message(), e.offset())
}

fn zero_value(b: &mut FunctionBuilder<'_>, ty: Type) -> Value {
    match ty {
        F32 => b.ins().f32const(0.0),
        F64 => b.ins().f64const(0.0),
        _ => b.ins().iconst(ty, 0),
    }
}

/// Which load instruction an operator uses.
#[derive(Clone, Copy)]
enum Load {
    Plain(Type),
    U8(Type),
    S8(Type),
    U16(Type),
    S16(Type),
    U32,
    S32,
}

/// Which store instruction an operator uses.
#[derive(Clone, Copy)]
enum Store {
    Plain(u32),
    Narrow8,
    Narrow16,
    Narrow32,
}

struct Translator<'m, 'a> {
    env: FuncEnv<'m, 'a>,
    stack: ValueStack,
    control: ControlStack,
    locals: Vec<Variable>,
    reachable: bool,
    native_round: bool,
    gpr_popcnt: bool,
    /// Operator counts of the loops not yet reached ([`fuel_regions`]).
    loop_fuel: std::vec::IntoIter<u64>,
    /// While the fast copy of a versioned loop is translated
    /// ([`crate::loops`]).
    fast: Option<FastLoop>,
    /// The fast copies' reads of invariant locals
    /// ([`crate::loops::keep_needed_shadows`]).
    shadows: Vec<ir::Inst>,
}

impl Translator<'_, '_> {
    /// The fuel of the next `loop` (reachable or not, so that the counts
    /// stay in step with the loops).
    fn next_loop_fuel(&mut self) -> u64 {
        self.loop_fuel.next().unwrap_or(0)
    }

    fn block_types(&self, bt: BlockType) -> Result<(Vec<Type>, Vec<Type>), CompileError> {
        Ok(match bt {
            BlockType::Empty => (vec![], vec![]),
            BlockType::Type(t) => (vec![], vec![clif_type(val_type(t)?)]),
            BlockType::FuncType(i) => {
                let ft = &self.env.module.types[i as usize];
                (
                    ft.params.iter().map(|t| clif_type(*t)).collect(),
                    ft.results.iter().map(|t| clif_type(*t)).collect(),
                )
            }
        })
    }

    fn block_with_params(b: &mut FunctionBuilder<'_>, tys: &[Type]) -> Block {
        let blk = b.create_block();
        for t in tys {
            b.append_block_param(blk, *t);
        }
        blk
    }

    /// Jump to the frame `depth` levels out, passing the top values.
    fn branch_args(&mut self, depth: u32) -> (Block, Vec<BlockArg>) {
        let mark = self.env.checks.mark();
        let frame = self.control.frame_mut(depth);
        if !frame.is_loop() {
            frame.next_reachable = true;
            frame.branch_mark.get_or_insert(mark);
        }
        let (target, arity) = frame.branch_target();
        let args = self
            .stack
            .top(arity)
            .iter()
            .map(|v| BlockArg::Value(*v))
            .collect();
        (target, args)
    }

    /// Forget the checks made since `mark` ([`crate::bounds::Checks`]).
    /// An enclosing `block` whose first branch out came after `mark` can
    /// then keep only what is left: what it would have kept is gone.
    fn forget_checks(&mut self, mark: usize) {
        self.env.checks.undo_to(mark);
        for frame in &mut self.control.frames {
            if let Some(m) = frame.branch_mark.as_mut() {
                *m = (*m).min(mark);
            }
        }
    }

    fn push_icmp(&mut self, b: &mut FunctionBuilder<'_>, cc: IntCC) {
        let (x, y) = self.stack.pop2();
        let c = b.ins().icmp(cc, x, y);
        let r = b.ins().uextend(I32, c);
        self.stack.push(r);
    }

    fn push_fcmp(&mut self, b: &mut FunctionBuilder<'_>, cc: FloatCC) {
        let (x, y) = self.stack.pop2();
        let c = b.ins().fcmp(cc, x, y);
        let r = b.ins().uextend(I32, c);
        self.stack.push(r);
    }

    fn push_eqz(&mut self, b: &mut FunctionBuilder<'_>) {
        let x = self.stack.pop();
        let c = b.ins().icmp_imm_u(IntCC::Equal, x, 0);
        let r = b.ins().uextend(I32, c);
        self.stack.push(r);
    }

    /// `div`/`rem`, with explicit checks so that the machine division can
    /// never fault: zero divisor traps; `INT_MIN / -1` traps; `rem_s` by -1
    /// divides by 1 instead (the result is 0 either way), because x86
    /// `idiv` faults on `INT_MIN % -1`.
    fn divide(&mut self, b: &mut FunctionBuilder<'_>, signed: bool, rem: bool) {
        let (x, y) = self.stack.pop2();
        let ty = b.func.dfg.value_type(x);
        let zero = b.ins().icmp_imm_u(IntCC::Equal, y, 0);
        self.env
            .traps
            .trap_if(b, zero, TrapCode::IntegerDivisionByZero);
        let r = match (signed, rem) {
            (true, false) => {
                let min = if ty == I32 {
                    i64::from(i32::MIN)
                } else {
                    i64::MIN
                };
                let is_min = b.ins().icmp_imm_s(IntCC::Equal, x, min);
                let is_m1 = b.ins().icmp_imm_s(IntCC::Equal, y, -1);
                let ovf = b.ins().band(is_min, is_m1);
                self.env.traps.trap_if(b, ovf, TrapCode::IntegerOverflow);
                b.ins().sdiv(x, y)
            }
            (true, true) => {
                let is_m1 = b.ins().icmp_imm_s(IntCC::Equal, y, -1);
                let one = b.ins().iconst(ty, 1);
                let d = b.ins().select(is_m1, one, y);
                b.ins().srem(x, d)
            }
            (false, false) => b.ins().udiv(x, y),
            (false, true) => b.ins().urem(x, y),
        };
        self.stack.push(r);
    }

    /// The native address of a heap access: unchecked when the loop being
    /// translated covers it ([`FastLoop::access`]), checked otherwise.
    fn heap_addr(
        &mut self,
        b: &mut FunctionBuilder<'_>,
        addr: Value,
        offset: u64,
        size: u32,
    ) -> crate::bounds::HeapAddr {
        if let Some(fast) = &mut self.fast
            && let Some(h) = fast.access(&self.env, b, addr, offset, size)
        {
            return h;
        }
        heap_addr(&mut self.env, b, addr, offset, size)
    }

    /// Translate an innermost loop twice, a fast copy whose covered
    /// accesses are unchecked and the ordinary slow copy, behind one
    /// pre-check ([`crate::loops`]). The current block jumps to the
    /// pre-header, which is filled last: what it tests depends on what the
    /// fast copy's accesses turned out to be.
    fn versioned_loop(
        &mut self,
        b: &mut FunctionBuilder<'_>,
        plan: &LoopPlan,
        body: &[Operator<'_>],
        offsets: &[usize],
    ) -> Result<(), CompileError> {
        // Branches and fuel checks: no check made before can be widened past
        // the loop (`Checks::widen`), and none inside it (`loop_copy` runs
        // its body's operators through `op`, whose `loop` advances again).
        self.env.checks.advance();
        let pre = b.create_block();
        let fast = b.create_block();
        let slow = b.create_block();
        let after = b.create_block();
        b.ins().jump(pre, &[]);
        b.seal_block(pre);
        let height = self.stack.len();
        let fuel = self.loop_fuel.clone();

        b.switch_to_block(fast);
        self.fast = Some(FastLoop::enter(
            b,
            plan,
            &self.locals,
            self.env.spectre_guards,
        ));
        self.loop_copy(b, fast, after, body, offsets)?;
        let fast_loop = self.fast.take();

        self.loop_fuel = fuel;
        self.stack.truncate(height);
        self.reachable = true;
        b.switch_to_block(slow);
        self.loop_copy(b, slow, after, body, offsets)?;
        let reaches_after = self.reachable;

        b.switch_to_block(pre);
        match fast_loop
            .and_then(|f| f.precheck(plan, &mut self.env, b, &self.locals, &mut self.shadows))
        {
            Some(ok) => b.ins().brif(ok, fast, &[], slow, &[]),
            None => b.ins().jump(slow, &[]),
        };
        b.seal_block(fast);
        b.seal_block(slow);
        b.seal_block(after);
        b.switch_to_block(after);
        self.reachable = reaches_after;
        Ok(())
    }

    /// One copy of a versioned loop, from its header (already current) to
    /// a jump to `after`. Like `loop` and `end`, except that the header is
    /// not sealed: the pre-header's branch to it comes later.
    fn loop_copy(
        &mut self,
        b: &mut FunctionBuilder<'_>,
        header: Block,
        after: Block,
        body: &[Operator<'_>],
        offsets: &[usize],
    ) -> Result<(), CompileError> {
        self.env.checks.advance();
        let checks_mark = self.env.checks.mark();
        let units = self.next_loop_fuel();
        // The fast copy's pre-header may have charged or made sure of the
        // fuel for every iteration (`FastLoop::precheck`).
        match self.fast.as_mut().map(|f| f.header_fuel(units)) {
            Some(FastFuel::Prepaid) => {}
            Some(FastFuel::Covered { .. }) => {
                self.env.charge_unchecked(b, units);
            }
            Some(FastFuel::Checked) | None => self.env.consume_fuel(b, units),
        }
        let next = b.create_block();
        self.control.frames.push(ControlFrame {
            kind: FrameKind::Loop { header },
            next,
            height: self.stack.len(),
            num_params: 0,
            num_results: 0,
            next_reachable: false,
            checks_mark,
            branch_mark: None,
        });
        let n = body.len().saturating_sub(1);
        for (op, offset) in body[..n].iter().zip(offsets) {
            b.set_srcloc(SourceLoc::new(*offset as u32));
            self.op(b, op).map_err(|e| e.at(*offset))?;
        }
        // The loop's own `end` (the body is balanced, so it is the
        // construct's, reachable or not): nothing branches to the header
        // any more, and closing the loop as a block leaves it unsealed.
        self.control.frame_mut(0).kind = FrameKind::Block;
        self.op_end(b);
        // The other copy, and the code after both, do not run this one.
        self.forget_checks(checks_mark);
        if self.reachable {
            b.ins().jump(after, &[]);
        }
        Ok(())
    }

    fn load(&mut self, b: &mut FunctionBuilder<'_>, m: &MemArg, kind: Load) {
        let size = match kind {
            Load::Plain(t) => t.bytes(),
            Load::U8(_) | Load::S8(_) => 1,
            Load::U16(_) | Load::S16(_) => 2,
            Load::U32 | Load::S32 => 4,
        };
        let addr = self.stack.pop();
        let h = self.heap_addr(b, addr, m.offset, size);
        let f = self.env.heap_flags();
        let v = match kind {
            Load::Plain(t) => b.ins().load(t, f, h.addr, h.offset),
            Load::U8(t) => b.ins().uload8(t, f, h.addr, h.offset),
            Load::S8(t) => b.ins().sload8(t, f, h.addr, h.offset),
            Load::U16(t) => b.ins().uload16(t, f, h.addr, h.offset),
            Load::S16(t) => b.ins().sload16(t, f, h.addr, h.offset),
            Load::U32 => b.ins().uload32(f, h.addr, h.offset),
            Load::S32 => b.ins().sload32(f, h.addr, h.offset),
        };
        self.stack.push(v);
    }

    fn store(&mut self, b: &mut FunctionBuilder<'_>, m: &MemArg, kind: Store) {
        let size = match kind {
            Store::Plain(n) => n,
            Store::Narrow8 => 1,
            Store::Narrow16 => 2,
            Store::Narrow32 => 4,
        };
        let (addr, v) = self.stack.pop2();
        let h = self.heap_addr(b, addr, m.offset, size);
        let f = self.env.heap_flags();
        // A narrow store is a plain store of the value reduced to its
        // width, not `istore8`/`16`/`32`: the same instruction for a
        // register, but Cranelift folds a reduced constant and stores an
        // immediate (`mov byte [p], 1`) where `istore8` has no such rule and
        // materialises the constant in a register, once per iteration in a
        // loop (the sieve's marking loop).
        let v = match kind {
            Store::Plain(_) => v,
            Store::Narrow8 => b.ins().ireduce(I8, v),
            Store::Narrow16 => b.ins().ireduce(I16, v),
            Store::Narrow32 => b.ins().ireduce(I32, v),
        };
        b.ins().store(f, v, h.addr, h.offset);
    }

    fn call_results(&mut self, results: Vec<Value>) {
        for r in results {
            self.stack.push(r);
        }
    }

    /// Lower `br_table` to a balanced tree of compares over runs of equal
    /// targets. We do not use Cranelift's `br_table`: its indirect jump would
    /// need `endbr64` landing pads under IBT (DESIGN 8).
    fn br_table(
        &mut self,
        b: &mut FunctionBuilder<'_>,
        table: &BrTable<'_>,
    ) -> Result<(), CompileError> {
        let index = self.stack.pop();
        let default = table.default();
        let mut runs: Vec<(u32, u32)> = Vec::new();
        let mut len = 0u32;
        for (i, depth) in table.targets().enumerate() {
            let depth = depth.map_err(wp)?;
            if runs.last().map(|r| r.1) != Some(depth) {
                runs.push((i as u32, depth));
            }
            len = i as u32 + 1;
        }
        if runs.is_empty() || runs.iter().all(|r| r.1 == default) {
            let (target, args) = self.branch_args(default);
            b.ins().jump(target, &args);
            return Ok(());
        }
        // The default is one more run, from `len` up, searched with the
        // others: one compare fewer per dispatch than testing `len` first,
        // and none when the last target is the default already.
        if runs.last().map(|r| r.1) != Some(default) {
            runs.push((len, default));
        }
        self.br_tree(b, index, &runs);
        Ok(())
    }

    fn br_tree(&mut self, b: &mut FunctionBuilder<'_>, index: Value, runs: &[(u32, u32)]) {
        if let [(_, depth)] = runs {
            let (target, args) = self.branch_args(*depth);
            b.ins().jump(target, &args);
            return;
        }
        let mid = runs.len() / 2;
        let (lo, hi) = (b.create_block(), b.create_block());
        let below = b
            .ins()
            .icmp_imm_u(IntCC::UnsignedLessThan, index, i64::from(runs[mid].0));
        b.ins().brif(below, lo, &[], hi, &[]);
        b.seal_block(lo);
        b.seal_block(hi);
        b.switch_to_block(lo);
        self.br_tree(b, index, &runs[..mid]);
        b.switch_to_block(hi);
        self.br_tree(b, index, &runs[mid..]);
    }

    /// Handle `else`/`end`/nesting while the code is unreachable.
    fn dead_op(&mut self, b: &mut FunctionBuilder<'_>, op: &Operator<'_>) {
        match op {
            Operator::Loop { .. } => {
                self.next_loop_fuel();
                self.control.dead_depth += 1;
            }
            Operator::Block { .. } | Operator::If { .. } => {
                self.control.dead_depth += 1;
            }
            Operator::Else if self.control.dead_depth == 0 => self.op_else(b),
            Operator::End if self.control.dead_depth == 0 => self.op_end(b),
            Operator::End => self.control.dead_depth -= 1,
            _ => {}
        }
    }

    fn op_else(&mut self, b: &mut FunctionBuilder<'_>) {
        let frame = self.control.frame_mut(0);
        let FrameKind::If {
            else_block,
            ref params,
            ref mut has_else,
        } = frame.kind
        else {
            return;
        };
        *has_else = true;
        let params = params.clone();
        let mark = frame.checks_mark;
        let (next, nres, height) = (frame.next, frame.num_results, frame.height);
        if self.reachable {
            frame.next_reachable = true;
            let args: Vec<BlockArg> = self
                .stack
                .top(nres)
                .iter()
                .map(|v| BlockArg::Value(*v))
                .collect();
            b.ins().jump(next, &args);
        }
        self.forget_checks(mark);
        self.stack.truncate(height);
        self.stack.values.extend(params);
        b.switch_to_block(else_block);
        self.reachable = true;
    }

    fn op_end(&mut self, b: &mut FunctionBuilder<'_>) {
        let Some(mut frame) = self.control.frames.pop() else {
            return;
        };
        let keep = match frame.kind {
            FrameKind::Block => frame.branch_mark.unwrap_or(self.env.checks.mark()),
            FrameKind::Loop { .. } | FrameKind::If { .. } => frame.checks_mark,
        };
        self.forget_checks(keep);
        if self.reachable {
            let args: Vec<BlockArg> = self
                .stack
                .top(frame.num_results)
                .iter()
                .map(|v| BlockArg::Value(*v))
                .collect();
            b.ins().jump(frame.next, &args);
            frame.next_reachable = true;
        }
        match &frame.kind {
            FrameKind::If {
                else_block,
                params,
                has_else: false,
            } => {
                // No `else`: the false arm passes the parameters through.
                b.switch_to_block(*else_block);
                let args: Vec<BlockArg> = params.iter().map(|v| BlockArg::Value(*v)).collect();
                b.ins().jump(frame.next, &args);
                frame.next_reachable = true;
            }
            FrameKind::Loop { header } => b.seal_block(*header),
            _ => {}
        }
        self.stack.truncate(frame.height);
        b.seal_block(frame.next);
        if frame.next_reachable {
            b.switch_to_block(frame.next);
            let results = b.block_params(frame.next).to_vec();
            self.stack.values.extend(results);
            self.reachable = true;
        } else {
            self.reachable = false;
        }
    }

    /// Translate one operator. One that may be observed (a store, a call, a
    /// branch, a trap of its own) ends the stretch in which earlier checks
    /// can be widened, both before it and after it: a store's own check
    /// must not be widened to cover a load after the store.
    fn op(&mut self, b: &mut FunctionBuilder<'_>, op: &Operator<'_>) -> Result<(), CompileError> {
        let observable = !keeps_checks_widenable(op);
        if observable {
            self.env.checks.advance();
        }
        let r = self.op_inner(b, op);
        if observable {
            self.env.checks.advance();
        }
        r
    }

    fn op_inner(
        &mut self,
        b: &mut FunctionBuilder<'_>,
        op: &Operator<'_>,
    ) -> Result<(), CompileError> {
        if !self.reachable {
            self.dead_op(b, op);
            return Ok(());
        }
        macro_rules! bin {
            ($m:ident) => {{
                let (x, y) = self.stack.pop2();
                let r = b.ins().$m(x, y);
                self.stack.push(r);
            }};
        }
        macro_rules! un {
            ($m:ident) => {{
                let x = self.stack.pop();
                let r = b.ins().$m(x);
                self.stack.push(r);
            }};
        }
        macro_rules! conv {
            ($m:ident, $ty:expr) => {{
                let x = self.stack.pop();
                let r = b.ins().$m($ty, x);
                self.stack.push(r);
            }};
        }
        macro_rules! sext {
            ($from:expr, $to:expr) => {{
                let x = self.stack.pop();
                let n = b.ins().ireduce($from, x);
                let r = b.ins().sextend($to, n);
                self.stack.push(r);
            }};
        }
        macro_rules! rnd {
            ($op:expr) => {{
                let x = self.stack.pop();
                let r = round(b, $op, x, self.native_round);
                self.stack.push(r);
            }};
        }
        macro_rules! trunc {
            ($to:expr, $signed:expr) => {{
                let x = self.stack.pop();
                let r = trunc_checked(b, &mut self.env.traps, x, $to, $signed);
                self.stack.push(r);
            }};
        }
        macro_rules! bitcast {
            ($to:expr) => {{
                let x = self.stack.pop();
                let r = b.ins().bitcast($to, MemFlagsData::new(), x);
                self.stack.push(r);
            }};
        }

        use Operator as O;
        match op {
            // ---- control ------------------------------------------------
            O::Unreachable => {
                self.env.traps.trap(b, TrapCode::Unreachable);
                self.reachable = false;
            }
            O::Nop => {}
            O::Block { blockty } => {
                let checks_mark = self.env.checks.mark();
                let (params, results) = self.block_types(*blockty)?;
                let next = Self::block_with_params(b, &results);
                self.control.frames.push(ControlFrame {
                    kind: FrameKind::Block,
                    next,
                    height: self.stack.len() - params.len(),
                    num_params: params.len(),
                    num_results: results.len(),
                    next_reachable: false,
                    checks_mark,
                    branch_mark: None,
                });
            }
            O::Loop { blockty } => {
                let checks_mark = self.env.checks.mark();
                let (params, results) = self.block_types(*blockty)?;
                let header = Self::block_with_params(b, &params);
                let next = Self::block_with_params(b, &results);
                let args: Vec<BlockArg> = self
                    .stack
                    .pop_n(params.len())
                    .into_iter()
                    .map(BlockArg::Value)
                    .collect();
                b.ins().jump(header, &args);
                b.switch_to_block(header);
                let height = self.stack.len();
                self.stack.values.extend_from_slice(b.block_params(header));
                let units = self.next_loop_fuel();
                self.env.consume_fuel(b, units);
                self.control.frames.push(ControlFrame {
                    kind: FrameKind::Loop { header },
                    next,
                    height,
                    num_params: params.len(),
                    num_results: results.len(),
                    next_reachable: false,
                    checks_mark,
                    branch_mark: None,
                });
            }
            O::If { blockty } => {
                let checks_mark = self.env.checks.mark();
                let cond = self.stack.pop();
                let (params, results) = self.block_types(*blockty)?;
                let then_block = b.create_block();
                let else_block = b.create_block();
                let next = Self::block_with_params(b, &results);
                b.ins().brif(cond, then_block, &[], else_block, &[]);
                b.seal_block(then_block);
                b.seal_block(else_block);
                b.switch_to_block(then_block);
                self.control.frames.push(ControlFrame {
                    kind: FrameKind::If {
                        else_block,
                        params: self.stack.top(params.len()).to_vec(),
                        has_else: false,
                    },
                    next,
                    height: self.stack.len() - params.len(),
                    num_params: params.len(),
                    num_results: results.len(),
                    next_reachable: false,
                    checks_mark,
                    branch_mark: None,
                });
            }
            O::Else => self.op_else(b),
            O::End => self.op_end(b),
            O::Br { relative_depth } => {
                let (target, args) = self.branch_args(*relative_depth);
                b.ins().jump(target, &args);
                self.reachable = false;
            }
            O::BrIf { relative_depth } => {
                let cond = self.stack.pop();
                let (target, args) = self.branch_args(*relative_depth);
                let cont = b.create_block();
                if self.control.leaves_loop(*relative_depth) {
                    // Leaving a loop: through a block of its own, so that
                    // the edge is never critical. Cranelift places the
                    // block it splits a critical edge with right after the
                    // branch, and a loop tested at the top would then jump
                    // over it into its body on every iteration; this block
                    // goes after the body, and the loop falls through.
                    let exit = b.create_block();
                    b.ins().brif(cond, exit, &[], cont, &[]);
                    b.seal_block(exit);
                    b.switch_to_block(exit);
                    b.ins().jump(target, &args);
                } else {
                    b.ins().brif(cond, target, &args, cont, &[]);
                }
                b.seal_block(cont);
                b.switch_to_block(cont);
            }
            O::BrTable { targets } => {
                self.br_table(b, targets)?;
                self.reachable = false;
            }
            O::Return => {
                let n = self.control.frames[0].num_results;
                let results = self.stack.top(n).to_vec();
                self.env.flush_fuel(b);
                b.ins().return_(&results);
                self.reachable = false;
            }
            O::Call { function_index } => {
                let n = self.env.module.func_type(*function_index).params.len();
                let args = self.stack.pop_n(n);
                let results = self.env.call(b, *function_index, &args);
                self.call_results(results);
            }
            O::CallIndirect {
                type_index,
                table_index,
            } => {
                let index = self.stack.pop();
                let n = self.env.module.types[*type_index as usize].params.len();
                let args = self.stack.pop_n(n);
                let results = self
                    .env
                    .call_indirect(b, *type_index, *table_index, index, &args);
                self.call_results(results);
            }
            O::Drop => {
                self.stack.pop();
            }
            O::Select | O::TypedSelect { .. } => {
                let (x, y, c) = self.stack.pop3();
                let r = b.ins().select(c, x, y);
                self.stack.push(r);
            }

            // ---- variables ----------------------------------------------
            O::LocalGet { local_index } => {
                let var = match self.fast.as_ref().and_then(|f| f.local(*local_index)) {
                    Some(shadow) => shadow,
                    None => self.locals[*local_index as usize],
                };
                let v = b.use_var(var);
                self.stack.push(v);
            }
            O::LocalSet { local_index } => {
                let v = self.stack.pop();
                b.def_var(self.locals[*local_index as usize], v);
            }
            O::LocalTee { local_index } => {
                let v = self.stack.peek();
                b.def_var(self.locals[*local_index as usize], v);
            }
            O::GlobalGet { global_index } => {
                let v = self.env.global_get(b, *global_index);
                self.stack.push(v);
            }
            O::GlobalSet { global_index } => {
                let v = self.stack.pop();
                self.env.global_set(b, *global_index, v);
            }

            // ---- memory -------------------------------------------------
            O::I32Load { memarg } => self.load(b, memarg, Load::Plain(I32)),
            O::I64Load { memarg } => self.load(b, memarg, Load::Plain(I64)),
            O::F32Load { memarg } => self.load(b, memarg, Load::Plain(F32)),
            O::F64Load { memarg } => self.load(b, memarg, Load::Plain(F64)),
            O::I32Load8S { memarg } => self.load(b, memarg, Load::S8(I32)),
            O::I32Load8U { memarg } => self.load(b, memarg, Load::U8(I32)),
            O::I32Load16S { memarg } => self.load(b, memarg, Load::S16(I32)),
            O::I32Load16U { memarg } => self.load(b, memarg, Load::U16(I32)),
            O::I64Load8S { memarg } => self.load(b, memarg, Load::S8(I64)),
            O::I64Load8U { memarg } => self.load(b, memarg, Load::U8(I64)),
            O::I64Load16S { memarg } => self.load(b, memarg, Load::S16(I64)),
            O::I64Load16U { memarg } => self.load(b, memarg, Load::U16(I64)),
            O::I64Load32S { memarg } => self.load(b, memarg, Load::S32),
            O::I64Load32U { memarg } => self.load(b, memarg, Load::U32),
            O::I32Store { memarg } | O::F32Store { memarg } => {
                self.store(b, memarg, Store::Plain(4))
            }
            O::I64Store { memarg } | O::F64Store { memarg } => {
                self.store(b, memarg, Store::Plain(8))
            }
            O::I32Store8 { memarg } | O::I64Store8 { memarg } => {
                self.store(b, memarg, Store::Narrow8)
            }
            O::I32Store16 { memarg } | O::I64Store16 { memarg } => {
                self.store(b, memarg, Store::Narrow16)
            }
            O::I64Store32 { memarg } => self.store(b, memarg, Store::Narrow32),
            O::MemorySize { .. } => {
                let len = self.env.memory_len(b);
                let pages = b.ins().ushr_imm_u(len, 16);
                let r = b.ins().ireduce(I32, pages);
                self.stack.push(r);
            }
            O::MemoryGrow { .. } => {
                let delta = self.stack.pop();
                let r = self.env.libcall(b, libcall::MEMORY_GROW, &[delta]);
                self.call_results(r);
            }
            O::MemoryFill { .. } => {
                let (dst, val, len) = self.stack.pop3();
                let bound = self.env.memory_len(b);
                self.env.charge_bulk(b, len, bound, MEM_SHIFT);
                self.env
                    .libcall_checked(b, libcall::MEMORY_FILL, &[dst, val, len]);
            }
            O::MemoryCopy { .. } => {
                let (dst, src, len) = self.stack.pop3();
                let bound = self.env.memory_len(b);
                self.env.charge_bulk(b, len, bound, MEM_SHIFT);
                self.env
                    .libcall_checked(b, libcall::MEMORY_COPY, &[dst, src, len]);
            }
            O::MemoryInit { data_index, .. } => {
                let (dst, src, len) = self.stack.pop3();
                let bound = self.env.memory_len(b);
                self.env.charge_bulk(b, len, bound, MEM_SHIFT);
                let seg = b.ins().iconst(I32, i64::from(*data_index));
                self.env
                    .libcall_checked(b, libcall::MEMORY_INIT, &[seg, dst, src, len]);
            }
            O::DataDrop { data_index } => {
                let seg = b.ins().iconst(I32, i64::from(*data_index));
                self.env.libcall(b, libcall::DATA_DROP, &[seg]);
            }

            // ---- tables and references ----------------------------------
            O::TableGet { table } => {
                let index = self.stack.pop();
                let addr = self
                    .env
                    .table_elem_addr(b, *table, index, TrapCode::TableOutOfBounds);
                let v = b.ins().load(PTR, self.env.elem_flags(), addr, 0);
                self.stack.push(v);
            }
            O::TableSet { table } => {
                let (index, v) = self.stack.pop2();
                let addr = self
                    .env
                    .table_elem_addr(b, *table, index, TrapCode::TableOutOfBounds);
                b.ins().store(self.env.elem_flags(), v, addr, 0);
            }
            O::TableSize { table } => {
                let len = self.env.table_len(b, *table);
                let r = b.ins().ireduce(I32, len);
                self.stack.push(r);
            }
            O::TableGrow { table } => {
                let (init, delta) = self.stack.pop2();
                let t = b.ins().iconst(I32, i64::from(*table));
                let r = self.env.libcall(b, libcall::TABLE_GROW, &[t, init, delta]);
                if let [old] = r[..] {
                    self.env.charge_table_grow(b, old, delta);
                }
                self.call_results(r);
            }
            O::TableFill { table } => {
                let (dst, val, len) = self.stack.pop3();
                let bound = self.env.table_len(b, *table);
                self.env.charge_bulk(b, len, bound, TABLE_SHIFT);
                let t = b.ins().iconst(I32, i64::from(*table));
                self.env
                    .libcall_checked(b, libcall::TABLE_FILL, &[t, dst, val, len]);
            }
            O::TableCopy {
                dst_table,
                src_table,
            } => {
                let (dst, src, len) = self.stack.pop3();
                let bound = self.env.table_len(b, *dst_table);
                self.env.charge_bulk(b, len, bound, TABLE_SHIFT);
                let dt = b.ins().iconst(I32, i64::from(*dst_table));
                let st = b.ins().iconst(I32, i64::from(*src_table));
                self.env
                    .libcall_checked(b, libcall::TABLE_COPY, &[dt, st, dst, src, len]);
            }
            O::TableInit { elem_index, table } => {
                let (dst, src, len) = self.stack.pop3();
                let bound = self.env.table_len(b, *table);
                self.env.charge_bulk(b, len, bound, TABLE_SHIFT);
                let t = b.ins().iconst(I32, i64::from(*table));
                let e = b.ins().iconst(I32, i64::from(*elem_index));
                self.env
                    .libcall_checked(b, libcall::TABLE_INIT, &[t, e, dst, src, len]);
            }
            O::ElemDrop { elem_index } => {
                let e = b.ins().iconst(I32, i64::from(*elem_index));
                self.env.libcall(b, libcall::ELEM_DROP, &[e]);
            }
            O::RefNull { .. } => {
                let v = b.ins().iconst(PTR, 0);
                self.stack.push(v);
            }
            O::RefIsNull => self.push_eqz(b),
            O::RefFunc { function_index } => {
                let v = self.env.func_ref(b, *function_index);
                self.stack.push(v);
            }

            // ---- constants ----------------------------------------------
            O::I32Const { value } => {
                let v = b.ins().iconst(I32, i64::from(*value as u32));
                self.stack.push(v);
            }
            O::I64Const { value } => {
                let v = b.ins().iconst(I64, *value);
                self.stack.push(v);
            }
            O::F32Const { value } => {
                let v = b
                    .ins()
                    .f32const(ir::immediates::Ieee32::with_bits(value.bits()));
                self.stack.push(v);
            }
            O::F64Const { value } => {
                let v = b
                    .ins()
                    .f64const(ir::immediates::Ieee64::with_bits(value.bits()));
                self.stack.push(v);
            }

            // ---- integer ------------------------------------------------
            O::I32Eqz | O::I64Eqz => self.push_eqz(b),
            O::I32Eq | O::I64Eq => self.push_icmp(b, IntCC::Equal),
            O::I32Ne | O::I64Ne => self.push_icmp(b, IntCC::NotEqual),
            O::I32LtS | O::I64LtS => self.push_icmp(b, IntCC::SignedLessThan),
            O::I32LtU | O::I64LtU => self.push_icmp(b, IntCC::UnsignedLessThan),
            O::I32GtS | O::I64GtS => self.push_icmp(b, IntCC::SignedGreaterThan),
            O::I32GtU | O::I64GtU => self.push_icmp(b, IntCC::UnsignedGreaterThan),
            O::I32LeS | O::I64LeS => self.push_icmp(b, IntCC::SignedLessThanOrEqual),
            O::I32LeU | O::I64LeU => self.push_icmp(b, IntCC::UnsignedLessThanOrEqual),
            O::I32GeS | O::I64GeS => self.push_icmp(b, IntCC::SignedGreaterThanOrEqual),
            O::I32GeU | O::I64GeU => self.push_icmp(b, IntCC::UnsignedGreaterThanOrEqual),
            O::I32Clz | O::I64Clz => un!(clz),
            O::I32Ctz | O::I64Ctz => un!(ctz),
            O::I32Popcnt | O::I64Popcnt if self.gpr_popcnt => {
                let x = self.stack.pop();
                let r = popcnt_in_gprs(b, x);
                self.stack.push(r);
            }
            O::I32Popcnt | O::I64Popcnt => un!(popcnt),
            O::I32Add | O::I64Add => bin!(iadd),
            O::I32Sub | O::I64Sub => bin!(isub),
            O::I32Mul | O::I64Mul => bin!(imul),
            O::I32DivS | O::I64DivS => self.divide(b, true, false),
            O::I32DivU | O::I64DivU => self.divide(b, false, false),
            O::I32RemS | O::I64RemS => self.divide(b, true, true),
            O::I32RemU | O::I64RemU => self.divide(b, false, true),
            O::I32And | O::I64And => bin!(band),
            O::I32Or | O::I64Or => bin!(bor),
            O::I32Xor | O::I64Xor => bin!(bxor),
            O::I32Shl | O::I64Shl => bin!(ishl),
            O::I32ShrS | O::I64ShrS => bin!(sshr),
            O::I32ShrU | O::I64ShrU => bin!(ushr),
            O::I32Rotl | O::I64Rotl => bin!(rotl),
            O::I32Rotr | O::I64Rotr => bin!(rotr),
            O::I32WrapI64 => conv!(ireduce, I32),
            O::I64ExtendI32S => conv!(sextend, I64),
            O::I64ExtendI32U => conv!(uextend, I64),
            O::I32Extend8S => sext!(I8, I32),
            O::I32Extend16S => sext!(I16, I32),
            O::I64Extend8S => sext!(I8, I64),
            O::I64Extend16S => sext!(I16, I64),
            O::I64Extend32S => sext!(I32, I64),

            // ---- float --------------------------------------------------
            O::F32Eq | O::F64Eq => self.push_fcmp(b, FloatCC::Equal),
            O::F32Ne | O::F64Ne => self.push_fcmp(b, FloatCC::NotEqual),
            O::F32Lt | O::F64Lt => self.push_fcmp(b, FloatCC::LessThan),
            O::F32Gt | O::F64Gt => self.push_fcmp(b, FloatCC::GreaterThan),
            O::F32Le | O::F64Le => self.push_fcmp(b, FloatCC::LessThanOrEqual),
            O::F32Ge | O::F64Ge => self.push_fcmp(b, FloatCC::GreaterThanOrEqual),
            O::F32Abs | O::F64Abs => un!(fabs),
            O::F32Neg | O::F64Neg => un!(fneg),
            O::F32Sqrt | O::F64Sqrt => un!(sqrt),
            O::F32Ceil | O::F64Ceil => rnd!(Round::Ceil),
            O::F32Floor | O::F64Floor => rnd!(Round::Floor),
            O::F32Trunc | O::F64Trunc => rnd!(Round::Trunc),
            O::F32Nearest | O::F64Nearest => rnd!(Round::Nearest),
            O::F32Add | O::F64Add => bin!(fadd),
            O::F32Sub | O::F64Sub => bin!(fsub),
            O::F32Mul | O::F64Mul => bin!(fmul),
            O::F32Div | O::F64Div => bin!(fdiv),
            O::F32Min | O::F64Min => bin!(fmin),
            O::F32Max | O::F64Max => bin!(fmax),
            O::F32Copysign | O::F64Copysign => bin!(fcopysign),
            O::I32TruncF32S | O::I32TruncF64S => trunc!(I32, true),
            O::I32TruncF32U | O::I32TruncF64U => trunc!(I32, false),
            O::I64TruncF32S | O::I64TruncF64S => trunc!(I64, true),
            O::I64TruncF32U | O::I64TruncF64U => trunc!(I64, false),
            O::I32TruncSatF32S | O::I32TruncSatF64S => conv!(fcvt_to_sint_sat, I32),
            O::I32TruncSatF32U | O::I32TruncSatF64U => conv!(fcvt_to_uint_sat, I32),
            O::I64TruncSatF32S | O::I64TruncSatF64S => conv!(fcvt_to_sint_sat, I64),
            O::I64TruncSatF32U | O::I64TruncSatF64U => conv!(fcvt_to_uint_sat, I64),
            O::F32ConvertI32S | O::F32ConvertI64S => conv!(fcvt_from_sint, F32),
            O::F32ConvertI32U | O::F32ConvertI64U => conv!(fcvt_from_uint, F32),
            O::F64ConvertI32S | O::F64ConvertI64S => conv!(fcvt_from_sint, F64),
            O::F64ConvertI32U | O::F64ConvertI64U => conv!(fcvt_from_uint, F64),
            O::F32DemoteF64 => conv!(fdemote, F32),
            O::F64PromoteF32 => conv!(fpromote, F64),
            O::I32ReinterpretF32 => bitcast!(I32),
            O::I64ReinterpretF64 => bitcast!(I64),
            O::F32ReinterpretI32 => bitcast!(F32),
            O::F64ReinterpretI64 => bitcast!(F64),

            other => {
                let feature = crate::features::operator_feature(other)
                    .unwrap_or("an operator kwasm does not implement");
                return Err(CompileError::unsupported(feature));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isa::build_isa;
    use crate::{Arch, OptLevel};
    use kwasm_abi::fuel::{CALL, MEMORY_ACCESS, PER_OP};

    /// Translate every defined function of `wat` and return the CLIF text.
    fn clif(wat: &str) -> Vec<String> {
        clif_with(wat, true)
    }

    fn clif_with(wat: &str, spectre_guards: bool) -> Vec<String> {
        let wasm: &'static [u8] = Box::leak(wat::parse_str(wat).unwrap().into_boxed_slice());
        crate::validate::validate(wasm).unwrap();
        let module = Box::leak(Box::new(crate::module_env::parse(wasm).unwrap()));
        let isa = build_isa(Arch::X86_64, OptLevel::Speed, 0).unwrap();
        let cfg = TranslateConfig {
            call_conv: CallConv::SystemV,
            native_round: false,
            gpr_popcnt: false,
            stack_pad: 4096,
            frontend: isa.frontend_config(),
            spectre_guards,
        };
        let mut ctx = FunctionBuilderContext::new();
        (0..module.num_defined_funcs())
            .map(|i| {
                let f = translate_function(module, module.layout().unwrap(), &cfg, &mut ctx, i)
                    .unwrap();
                cranelift_codegen::verify_function(&f, &*isa)
                    .unwrap_or_else(|e| panic!("{e}\n{}", f.display()));
                f.display().to_string()
            })
            .collect()
    }

    fn count(hay: &str, needle: &str) -> usize {
        hay.matches(needle).count()
    }

    /// The lines of `f` that contain every one of `parts`.
    fn lines_with<'f>(f: &'f str, parts: &[&str]) -> Vec<&'f str> {
        f.lines()
            .filter(|l| parts.iter().all(|p| l.contains(p)))
            .collect()
    }

    /// Where the first line containing every one of `parts` starts.
    fn pos(f: &str, parts: &[&str]) -> usize {
        let l = lines_with(f, parts)
            .first()
            .copied()
            .unwrap_or_else(|| panic!("no line with {parts:?}:\n{f}"));
        f.find(l).unwrap()
    }

    /// The value a line like `v7 = op ...` defines.
    fn defined(line: &str) -> &str {
        let l = line.trim();
        // Drop the source location (`@0029`).
        let l = if l.starts_with('@') {
            l.split_once(' ').unwrap().1.trim()
        } else {
            l
        };
        l.split(" = ").next().unwrap()
    }

    /// The operands of the line's instruction `op` (`v1, v2` -> `[v1, v2]`).
    fn operands<'l>(line: &'l str, op: &str) -> Vec<&'l str> {
        let rest = line.split(op).nth(1).unwrap();
        let rest = rest.split(';').next().unwrap();
        rest.split(',').map(str::trim).collect()
    }

    /// `(position, constant)` of every `op` with a constant second operand,
    /// in order: the builder's `_imm` forms print as `v9 = iadd v7, v8  ;
    /// v8 = -9`.
    fn with_imm(f: &str, op: &str) -> Vec<(usize, i64)> {
        let mut at = 0;
        let mut out = Vec::new();
        for l in f.split_inclusive('\n') {
            if (l.contains(&format!(" = {op} ")) || l.contains(&format!(" = {op}.")))
                && let Some((_, c)) = l.trim_end().rsplit_once(" = ")
                && let Ok(c) = c.parse::<i64>()
            {
                out.push((at, c));
            }
            at += l.len();
        }
        out
    }

    /// Stores of the fuel variable to `VmCtx` (alias region 6, `fuel`).
    fn fuel_stores(f: &str) -> usize {
        f.lines()
            .filter(|l| l.contains("store") && l.contains("region5 "))
            .count()
    }

    /// The constant fuel charges (`fuel + -units`), in order.
    fn charges(f: &str) -> Vec<u64> {
        with_imm(f, "iadd")
            .into_iter()
            .filter(|(_, c)| *c < 0)
            .map(|(_, c)| c.unsigned_abs())
            .collect()
    }

    fn regions(wat: &str) -> FuelRegions {
        let wasm = wat::parse_str(wat).unwrap();
        let module = crate::module_env::parse(&wasm).unwrap();
        let ops = module.bodies[0].get_operators_reader().unwrap();
        fuel_regions(ops).unwrap()
    }

    #[test]
    fn prologue_checks_stack_then_fuel() {
        let f = &clif("(module (func))")[0];
        let sp = f.find("get_stack_pointer").unwrap();
        let (fuel, _) = with_imm(f, "iadd")
            .into_iter()
            .find(|(_, c)| *c < 0)
            .unwrap();
        assert!(sp < fuel, "{f}");
        assert!(f.contains("icmp ult"), "{f}");
        assert!(f.contains("iconst.i32 9"), "StackOverflow code:\n{f}");
        assert!(f.contains("iconst.i32 10"), "OutOfFuel code:\n{f}");
        assert!(f.contains("trap user1"), "{f}");
        assert!(f.contains("cold"), "{f}");
    }

    #[test]
    fn loops_consume_fuel() {
        let f = &clif("(module (func (loop (br 0))))")[0];
        // Fuel stays in a variable: the loop never returns or calls, so
        // nothing stores it.
        assert_eq!(fuel_stores(f), 0, "{f}");
        // Entry: `loop` and the two `end`s; the loop: its `br`.
        assert_eq!(charges(f), [3 * PER_OP, PER_OP], "{f}");
    }

    #[test]
    fn memory_accesses_and_calls_weigh_more() {
        let r = regions(
            "(module (memory 1)
               (func (param i32)
                 (loop (call $f) (i32.store (local.get 0) (i32.load (local.get 0))) (br 0)))
               (func $f))",
        );
        // The loop's body: call, local.get, local.get, i32.load, i32.store, br.
        assert_eq!(r.loops, vec![CALL + 3 * PER_OP + 2 * MEMORY_ACCESS]);
    }

    #[test]
    fn entry_charges_the_operator_count() {
        // local.get, i32.const, i32.add, local.get, i32.mul, end: 6 operators.
        let f = &clif(
            "(module (func (param i32) (result i32)
                (i32.mul (i32.add (local.get 0) (i32.const 1)) (local.get 0))))",
        )[0];
        assert_eq!(charges(f), [6 * PER_OP], "{f}");
        // The count is stored once, at the return.
        assert_eq!(fuel_stores(f), 1, "{f}");
    }

    #[test]
    fn loop_header_charges_its_body() {
        let f = &clif(
            "(module (func (param i32)
                (loop (br_if 0 (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))))",
        )[0];
        // Entry: loop, end, end. Body: local.get, i32.const, i32.sub,
        // local.tee, br_if.
        assert_eq!(charges(f), [3 * PER_OP, 5 * PER_OP], "{f}");
        // The second charge is in the loop header: the block that the back
        // edge (`br_if`'s `brif`) targets.
        let mut block = "";
        let mut header = None;
        for l in f.lines() {
            let t = l.trim();
            if t.starts_with("block") && t.ends_with(':') {
                block = t.trim_end_matches(':').split('(').next().unwrap();
            } else if t.ends_with(&format!(" = -{}", 5 * PER_OP)) {
                header = Some(block);
            }
        }
        let header = header.unwrap_or_else(|| panic!("no loop charge:\n{f}"));
        let back = f.lines().filter(|l| {
            l.contains("brif")
                && (l.contains(&format!(" {header}(")) || l.contains(&format!(" {header},")))
        });
        assert_eq!(back.count(), 1, "{f}");
    }

    #[test]
    fn fuel_regions_nest() {
        let r = regions(
            "(module (func (param i32)
                (block (loop                         ;; loop 0
                    (loop (br_if 0 (local.get 0)))   ;; loop 1: local.get, br_if
                    (if (local.get 0) (then (loop (nop)))) ;; loop 2: nop
                    (br 1)))
                (return)
                (loop (br 0))))", // loop 3, dead code: br
        );
        // Entry: block, loop, end (loop 0), end (block), return, loop, end,
        // end (function).
        assert_eq!(r.entry, 8);
        // Loop 0: loop, end (loop 1), local.get, if, loop, end (loop 2),
        // end (if), br.
        assert_eq!(r.loops, vec![8, 2, 1, 1]);
        // A loop in dead code is skipped in step: the live loop after it
        // gets its own count (i32.const, br_if), not the dead one's (br).
        let f = &clif(
            "(module (func
                (block (br 0) (loop (br 0)))
                (loop (br_if 0 (i32.const 0)))))",
        )[0];
        assert_eq!(charges(f), [8 * PER_OP, 2 * PER_OP], "{f}");
    }

    #[test]
    fn bulk_operations_charge_by_length_before_the_libcall() {
        let f = &clif(
            "(module (memory 1) (table 4 funcref)
                (func (param i32)
                    (memory.fill (i32.const 0) (i32.const 7) (local.get 0))
                    (table.fill (i32.const 0) (ref.null func) (local.get 0))))",
        )[0];
        // bulk_cost(len, shift) = (zext(len) >> shift) + PER_OP, subtracted
        // from the fuel before the libcall is even loaded.
        let shifts = with_imm(f, "ushr");
        let shifts: Vec<i64> = shifts.iter().map(|(_, c)| *c).collect();
        assert_eq!(
            shifts,
            [i64::from(MEM_SHIFT), i64::from(TABLE_SHIFT)],
            "{f}"
        );
        let shr = with_imm(f, "ushr")[0].0;
        let plus = with_imm(f, "iadd")
            .into_iter()
            .find(|(p, c)| *p > shr && *c == PER_OP as i64)
            .unwrap_or_else(|| panic!("no + PER_OP:\n{f}"))
            .0;
        let sub = pos(f, &["isub"]);
        let call = pos(f, &["call_indirect"]);
        assert!(shr < plus && plus < sub && sub < call, "{f}");
        // The shifted value is the zero-extended length parameter.
        let uext = lines_with(f, &["uextend.i64 v1"]);
        assert_eq!(uext.len(), 2, "{f}");
        // The same formula as the abi's.
        use kwasm_abi::fuel::bulk_cost;
        assert_eq!(bulk_cost(100, MEM_SHIFT), (100 >> MEM_SHIFT) + PER_OP);
    }

    #[test]
    fn host_calls_charge_their_cost() {
        let log = kwasm_abi::host::lookup("kwasm", "log").unwrap().cost;
        assert_eq!(log.len_param, Some(1));
        let fs = clif(
            r#"(module (import "kwasm" "log" (func $log (param i32 i32)))
                (import "kwasm" "time_ns" (func $t (result i64)))
                (import "spectest" "print" (func $p))
                (func (param i32 i32) (call $log (local.get 0) (local.get 1)))
                (func (drop (call $t)))
                (func (call $p)))"#,
        );
        // log: base + (len >> MEM_SHIFT), from the length argument (the
        // function's second parameter, v2), before the call.
        let f = &fs[0];
        assert_eq!(lines_with(f, &["uextend.i64 v2"]).len(), 1, "{f}");
        let shr = with_imm(f, "ushr");
        assert_eq!(shr.len(), 1, "{f}");
        assert_eq!(shr[0].1, i64::from(MEM_SHIFT), "{f}");
        let base = with_imm(f, "iadd")
            .into_iter()
            .find(|(_, c)| *c == i64::from(log.base))
            .unwrap_or_else(|| panic!("no + base:\n{f}"))
            .0;
        assert!(shr[0].0 < base, "{f}");
        assert!(base < pos(f, &["isub"]), "{f}");
        assert!(pos(f, &["isub"]) < pos(f, &["call_indirect"]), "{f}");
        // time_ns: the entry charge (call, drop, end), then its base alone,
        // as a constant, before the call.
        let time = kwasm_abi::host::lookup("kwasm", "time_ns").unwrap().cost;
        let f = &fs[1];
        assert_eq!(charges(f), [CALL + 2 * PER_OP, u64::from(time.base)], "{f}");
        let charge = with_imm(f, "iadd")[1].0;
        assert!(charge < pos(f, &["call_indirect"]), "{f}");
        // A wasm import is charged by its own body, not here.
        assert_eq!(charges(&fs[2]), [CALL + PER_OP], "{}", fs[2]);
    }

    #[test]
    fn heap_addresses_go_through_a_spectre_guard() {
        // The minimum covers offset 16: the wasm address is clamped.
        let wat = "(module (memory 1)
            (func (param i32) (result i32) (i32.load offset=16 (local.get 0))))";
        let f = &clif(wat)[0];
        let guard = lines_with(f, &["select_spectre_guard"]);
        assert_eq!(guard.len(), 1, "{f}");
        // The guard tests the very compare the trap branch tests...
        let args = operands(guard[0], "select_spectre_guard");
        let (cond, zero, index) = (args[0], args[1], args[2]);
        assert_eq!(
            lines_with(f, &[&format!("{cond} = icmp ugt")]).len(),
            1,
            "{f}"
        );
        assert_eq!(lines_with(f, &[&format!("brif {cond},")]).len(), 1, "{f}");
        assert_eq!(
            lines_with(f, &[&format!("{zero} = iconst.i64 0")]).len(),
            1,
            "{f}"
        );
        // ...on the zero-extended wasm address, and the load adds the
        // clamped address to the base, the offset in the instruction.
        assert_eq!(
            lines_with(f, &[&format!("{index} = uextend.i64")]).len(),
            1,
            "{f}"
        );
        let clamped = defined(guard[0]);
        let add = lines_with(f, &["= iadd", &format!(", {clamped}")]);
        assert_eq!(add.len(), 1, "{f}");
        let load = lines_with(f, &["load.i32 notrap"]);
        assert_eq!(load.len(), 1, "{f}");
        assert!(
            load[0]
                .trim()
                .ends_with(&format!(" {}+16", defined(add[0]))),
            "{f}"
        );

        // An offset past the minimum: the whole native address, offset
        // folded in, is replaced by 0.
        let f = &clif(
            "(module (memory 1)
               (func (param i32) (result i32) (i32.load offset=65530 (local.get 0))))",
        )[0];
        let guard = lines_with(f, &["select_spectre_guard"]);
        assert_eq!(guard.len(), 1, "{f}");
        let addr = defined(guard[0]);
        let load = lines_with(f, &["load.i32 notrap"]);
        assert!(load[0].trim().ends_with(&format!(" {addr}")), "{f}");
        assert!(f.contains("iconst.i64 0xfffa"), "{f}");

        // Without the guards: the plain address, the offset in the load.
        let f = &clif_with(wat, false)[0];
        assert!(!f.contains("select_spectre_guard"), "{f}");
        assert!(f.contains("+16"), "{f}");
    }

    #[test]
    fn addresses_below_the_minimum_memory_are_not_checked() {
        // `x & 255` scaled by 4 plus 1024 ends below 64 KiB: no compare, no
        // guard, the offset in the load.
        let f = &clif(
            "(module (memory 1)
               (func (param i32) (result i32)
                 (i32.load offset=1024 (i32.shl (i32.and (local.get 0) (i32.const 255))
                                                (i32.const 2)))))",
        )[0];
        assert_eq!(count(f, "icmp ugt"), 0, "{f}");
        assert!(!f.contains("select_spectre_guard"), "{f}");
        assert!(f.contains("+1024"), "{f}");
        // The same past the minimum (or with no minimum) is checked.
        for wat in [
            "(module (memory 1) (func (param i32) (result i32)
               (i32.load offset=64513 (i32.shl (i32.and (local.get 0) (i32.const 255))
                                                (i32.const 2)))))",
            "(module (memory 0 1) (func (result i32) (i32.load (i32.const 0))))",
        ] {
            let f = &clif(wat)[0];
            assert_eq!(count(f, "icmp ugt"), 1, "{f}");
            assert_eq!(count(f, "select_spectre_guard"), 1, "{f}");
        }
    }

    #[test]
    fn a_check_covers_the_same_root_at_a_higher_constant() {
        // `sp - 16` checked for 8 bytes covers `sp - 12` for 4 bytes and a
        // second, separately computed `sp - 16`: one compare, one guard.
        let f = &clif(
            "(module (memory 1) (func (param i32) (result i32)
               (drop (i64.load (i32.sub (local.get 0) (i32.const 16))))
               (i32.add (i32.load (i32.sub (local.get 0) (i32.const 12)))
                        (i32.load (i32.add (local.get 0) (i32.const -16))))))",
        )[0];
        assert_eq!(count(f, "icmp ugt"), 1, "{f}");
        assert_eq!(count(f, "select_spectre_guard"), 1, "{f}");
        // Below the checked address is checked again, and so is past its
        // end when a store lies between (`Checks::widen`).
        for wat in [
            "(module (memory 1) (func (param i32) (result i32)
               (drop (i64.load (i32.sub (local.get 0) (i32.const 16))))
               (i32.load (i32.sub (local.get 0) (i32.const 20)))))",
            "(module (memory 1) (func (param i32) (result i32)
               (drop (i64.load (i32.sub (local.get 0) (i32.const 16))))
               (i32.store (i32.const 0) (i32.const 1))
               (i32.load (i32.sub (local.get 0) (i32.const 10)))))",
        ] {
            let f = &clif(wat)[0];
            assert_eq!(count(f, "icmp ugt"), 2, "{f}");
        }
    }

    #[test]
    fn a_dominating_check_covers_narrower_accesses() {
        let f = &clif(
            "(module (memory 1) (func (param i32) (result i32)
               (i32.add (i32.load offset=8 (local.get 0)) (i32.load offset=4 (local.get 0)))))",
        )[0];
        // One compare and branch, and one guard on its condition: the
        // second access reuses the clamped index.
        let cmp = lines_with(f, &["icmp ugt"]);
        assert_eq!(cmp.len(), 1, "{f}");
        let cond = defined(cmp[0]);
        let guards = lines_with(f, &["select_spectre_guard"]);
        assert_eq!(guards.len(), 1, "{f}");
        assert_eq!(operands(guards[0], "select_spectre_guard")[0], cond, "{f}");
        // An access after an `if` whose arm checked is checked again.
        let f = &clif(
            "(module (memory 1) (func (param i32 i32) (result i32)
               (if (local.get 1) (then (drop (i32.load (local.get 0)))))
               (i32.load (local.get 0))))",
        )[0];
        assert_eq!(count(f, "icmp ugt"), 2, "{f}");
    }

    #[test]
    fn a_check_widens_to_a_later_access_when_nothing_observable_lies_between() {
        // `i32.load offset=4` then `offset=8`, only pure operators between:
        // the first check tests `length - 12`, and the second access reuses
        // its clamped index.
        let f = &clif(
            "(module (memory 1) (func (param i32) (result i32)
               (i32.add (i32.load offset=4 (local.get 0))
                        (i32.load offset=8 (i32.add (local.get 0) (i32.const 0))))))",
        )[0];
        assert_eq!(count(f, "icmp ugt"), 1, "{f}");
        assert_eq!(count(f, "select_spectre_guard"), 1, "{f}");
        assert!(f.contains("iconst.i64 -12"), "{f}");
        // A store's own check is not widened to a later load: the store
        // must have happened when the load traps.
        let f = &clif(
            "(module (memory 1) (func (param i32) (result i32)
               (i32.store offset=4 (local.get 0) (i32.const 1))
               (i32.load offset=8 (local.get 0))))",
        )[0];
        assert_eq!(count(f, "icmp ugt"), 2, "{f}");
        // A store, a call, a possible trap of another kind or a branch
        // between the two keeps them apart.
        for between in [
            "(i32.store (i32.const 0) (i32.const 1))",
            "(call $f)",
            "(drop (i32.div_u (local.get 1) (local.get 1)))",
            "(block (br_if 0 (local.get 1)))",
            "(global.set $g (i32.const 1))",
        ] {
            let wat = format!(
                "(module (memory 1) (global $g (mut i32) (i32.const 0)) (func $f)
                   (func (param i32 i32) (result i32)
                     (local.set 1 (i32.load offset=4 (local.get 0)))
                     {between}
                     (i32.add (local.get 1) (i32.load offset=8 (local.get 0)))))"
            );
            let fs = clif(&wat);
            assert_eq!(count(&fs[1], "icmp ugt"), 2, "{between}: {}", fs[1]);
        }
    }

    #[test]
    fn a_block_keeps_the_checks_made_before_its_first_branch() {
        // LLVM's `if (x) grow(v);` as `block … br_if 0 … end`: the check of
        // `v` before the `br_if` holds after the `end` on both paths.
        let kept = &clif(
            "(module (memory 1) (func $g (param i32))
               (func (param i32 i32) (result i32)
               (block
                 (br_if 0 (i32.load offset=8 (local.get 0)))
                 (call $g (local.get 0)))
               (i32.load offset=4 (local.get 0))))",
        )[1];
        assert_eq!(count(kept, "icmp ugt"), 1, "{kept}");
        // Not when the check follows a branch to the block, is inside a
        // nested construct, or is made in a loop or an `if`.
        for wat in [
            "(module (memory 1) (func (param i32 i32) (result i32)
               (block
                 (br_if 0 (local.get 1))
                 (drop (i32.load offset=8 (local.get 0))))
               (i32.load offset=4 (local.get 0))))",
            "(module (memory 1) (func (param i32 i32) (result i32)
               (block
                 (block (br_if 1 (local.get 1)) (drop (i32.load offset=8 (local.get 0))))
                 (drop (i32.load offset=8 (local.get 1))))
               (i32.load offset=4 (local.get 0))))",
            "(module (memory 1) (func (param i32 i32) (result i32)
               (block
                 (if (local.get 1) (then (br 1)))
                 (drop (i32.load offset=8 (local.get 0))))
               (i32.load offset=4 (local.get 0))))",
            // The branch out comes after a check its `if` forgets: the
            // check made later in the check log's place does not hold on
            // that path.
            "(module (memory 1) (func (param i32 i32) (result i32)
               (block
                 (if (local.get 1) (then (drop (i32.load offset=8 (local.get 0))) (br 1)))
                 (drop (i32.load offset=8 (local.get 1))))
               (i32.load offset=4 (local.get 1))))",
            "(module (memory 1) (func (param i32 i32) (result i32)
               (loop (br_if 0 (i32.load offset=8 (local.get 0))))
               (if (local.get 1) (then (drop (i32.load offset=8 (local.get 0)))))
               (i32.load offset=4 (local.get 0))))",
        ] {
            let f = &clif(wat)[0];
            assert!(count(f, "icmp ugt") >= 2, "{f}");
        }
    }

    #[test]
    fn table_indices_go_through_a_spectre_guard() {
        let wat = r#"(module (type $t (func)) (table 1 funcref)
            (func (param i32) (call_indirect (type $t) (local.get 0)))
            (func (param i32) (result funcref) (table.get 0 (local.get 0))))"#;
        for f in &clif(wat) {
            let guard = lines_with(f, &["select_spectre_guard"]);
            assert_eq!(guard.len(), 1, "{f}");
            let args = operands(guard[0], "select_spectre_guard");
            let (cond, zero, idx) = (args[0], args[1], args[2]);
            assert_eq!(
                lines_with(f, &[&format!("{cond} = icmp uge {idx},")]).len(),
                1,
                "{f}"
            );
            assert_eq!(lines_with(f, &[&format!("brif {cond},")]).len(), 1, "{f}");
            assert_eq!(
                lines_with(f, &[&format!("{zero} = iconst.i64 0")]).len(),
                1,
                "{f}"
            );
            // The guarded index is what gets scaled.
            let guarded = defined(guard[0]);
            assert_eq!(
                lines_with(f, &[&format!("ishl {guarded},")]).len(),
                1,
                "{f}"
            );
        }
        for f in &clif_with(wat, false) {
            assert!(!f.contains("select_spectre_guard"), "{f}");
        }
    }

    #[test]
    fn bounds_check_shape() {
        let wat = "(module (memory 1) (func (param i32) (result i32) (i32.load offset=16 (local.get 0))))";
        let f = &clif(wat)[0];
        // The zero-extended address compared in 64 bits with the length
        // less offset 16 + size 4 (the minimum covers them)...
        assert!(f.contains("uextend.i64"), "{f}");
        assert!(f.contains("iconst.i64 -20"), "offset 16 + size 4:\n{f}");
        // ...compared with the length, out of bounds goes to the trap block...
        assert!(f.contains("icmp ugt"), "{f}");
        assert!(f.contains("iconst.i32 2"), "MemoryOutOfBounds code:\n{f}");
        // ...and the access itself cannot trap.
        assert!(f.contains("load.i32 notrap"), "{f}");
        // The offset stays in the load, with or without guards.
        assert!(f.contains("+16"), "{f}");
        assert!(clif_with(wat, false)[0].contains("+16"), "{f}");
        // Without a minimum to cover them, `ea + size` is compared instead.
        let f = &clif(
            "(module (memory 0) (func (param i32) (result i32) (i32.load offset=16 (local.get 0))))",
        )[0];
        assert!(f.contains("iconst.i64 20"), "offset 16 + size 4:\n{f}");
        assert!(f.contains("icmp ugt"), "{f}");
    }

    #[test]
    fn division_guards() {
        let fs = clif(
            r#"(module
                (func (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
                (func (param i64 i64) (result i64) (i64.rem_s (local.get 0) (local.get 1))))"#,
        );
        let div = &fs[0];
        assert!(div.contains("iconst.i32 7"), "div by zero code:\n{div}");
        assert!(div.contains("iconst.i32 6"), "overflow code:\n{div}");
        assert!(div.contains("band"), "{div}");
        let rem = &fs[1];
        assert!(rem.contains("select"), "rem_s by -1 divides by 1:\n{rem}");
        assert!(
            !rem.contains("iconst.i32 6"),
            "rem_s never traps on overflow:\n{rem}"
        );
    }

    #[test]
    fn call_indirect_checks() {
        let f = &clif(
            r#"(module (type $t (func)) (table 1 funcref)
                (func (param i32) (call_indirect (type $t) (local.get 0))))"#,
        )[0];
        for code in [12, 4, 5] {
            assert!(
                f.contains(&format!("iconst.i32 {code}")),
                "trap {code}:\n{f}"
            );
        }
        assert!(f.contains("call_indirect"), "{f}");
    }

    #[test]
    fn br_table_has_no_jump_table() {
        let f = &clif(
            r#"(module (func (param i32) (result i32)
                (block (block (block (br_table 0 1 2 1 0 0 (local.get 0)))
                    (return (i32.const 10))) (return (i32.const 11))) (i32.const 12)))"#,
        )[0];
        assert!(!f.contains("br_table"), "{f}");
        assert!(!f.contains("jump_table"), "{f}");
    }

    /// The default is searched as one more run: `n` runs take
    /// `ceil(log2(n))` compares on a path, with no separate bounds test,
    /// and a default equal to the last target adds no run at all.
    #[test]
    fn br_table_default_is_one_more_run() {
        let compares = |targets: &str| {
            let f = &clif(&format!(
                r#"(module (func (param i32) (result i32)
                    (block (block (block (block (br_table {targets} (local.get 0)))
                    (return (i32.const 10))) (return (i32.const 11)))
                    (return (i32.const 12))) (i32.const 13)))"#
            ))[0];
            lines_with(f, &["icmp.i32 ult v1,"]).len()
        };
        // Runs 0, 1, 2 and the default 3: two levels.
        assert_eq!(compares("0 1 2 3"), 3);
        // The default is the last target's: runs 0, 1, 2.
        assert_eq!(compares("0 1 2 2"), 2);
        // Runs 0 and 1, default 2 (was: the bounds test, then one compare).
        assert_eq!(compares("0 0 1 2"), 2);
    }

    #[test]
    fn multi_value_blocks_and_unreachable_code() {
        let fs = clif(
            r#"(module
                (func (param i32) (result i32 i64)
                    (local.get 0)
                    (block (param i32) (result i32 i64)
                        (i64.const 2)
                        (br_if 0 (local.get 0))
                        (drop) (drop)
                        (i32.const 3) (i64.const 4))
                    (return)
                    (drop (i32.const 9)))
                (func (param i32) (result i32)
                    (if (result i32) (local.get 0)
                        (then (unreachable) (i32.add))
                        (else (i32.const 1))))
                (func (result f32)
                    (i32.const 5) (loop (param i32) (result f32) (drop) (f32.const 1))))"#,
        );
        assert_eq!(fs.len(), 3);
    }

    #[test]
    fn counted_loops_are_versioned() {
        // The sieve's inner loop: `table[m] = 1; m += p; while m <= n`.
        let wat =
            "(module (memory 1) (func (param $t i32) (param $m i32) (param $p i32) (param $n i32)
               (loop
                 (i32.store8 (i32.add (local.get $t) (local.get $m)) (i32.const 1))
                 (br_if 0 (i32.le_u (local.tee $m (i32.add (local.get $m) (local.get $p)))
                                    (local.get $n))))))";
        let f = &clif(wat)[0];
        // Two copies of the body, one pre-check of the whole range
        // (`t + max(m, n) + 1 <= length`) choosing between them.
        assert_eq!(count(f, "ireduce.i8"), 2, "{f}");
        assert_eq!(count(f, "umax"), 1, "{f}");
        // Three tests of the range, two of the fuel (`FastFuel::Covered`:
        // `m + p` does not wrap, and the fuel covers every iteration).
        assert_eq!(count(f, "icmp ule"), 5, "{f}");
        // Guards: `hi` and the base in the pre-header, `m` clamped to `hi`
        // in the fast header, and the slow copy's own.
        assert_eq!(count(f, "select_spectre_guard"), 4, "{f}");
        // Without guards, the fast copy has no compare of its own: only the
        // slow copy checks (`icmp ugt`).
        let f = &clif_with(wat, false)[0];
        assert_eq!(count(f, "select_spectre_guard"), 0, "{f}");
        assert_eq!(count(f, "icmp ugt"), 1, "{f}");
        assert_eq!(count(f, "ireduce.i8"), 2, "{f}");
    }

    #[test]
    fn narrow_stores_of_constants_store_an_immediate() {
        let f = &clif(
            "(module (memory 1) (func (param i32)
               (i32.store8 (local.get 0) (i32.const 1))
               (i64.store16 offset=2 (local.get 0) (i64.const 2))
               (i64.store32 offset=4 (local.get 0) (i64.const 3))))",
        )[0];
        // A plain `store` of the reduced value: x64 has a rule for a
        // constant `store`, none for `istore8`.
        assert_eq!(count(f, "istore"), 0, "{f}");
        for ty in ["i8", "i16", "i32"] {
            assert_eq!(lines_with(f, &["ireduce.", ty]).len(), 1, "{f}");
        }
    }

    #[test]
    fn the_fast_copy_keeps_an_invariant_sum_in_a_register() {
        // `m <= n - 1`: Cranelift would compute `n - 1` again in every
        // iteration; the fast copy reads it through a guard in the
        // pre-header instead. `t` and `p` are read directly.
        let wat =
            "(module (memory 1) (func (param $t i32) (param $m i32) (param $p i32) (param $n i32)
               (local.set $n (i32.sub (local.get $n) (i32.const 1)))
               (loop
                 (i32.store8 (i32.add (local.get $t) (local.get $m)) (i32.const 1))
                 (br_if 0 (i32.le_u (local.tee $m (i32.add (local.get $m) (local.get $p)))
                                    (local.get $n))))))";
        for guards in [true, false] {
            let f = &clif_with(wat, guards)[0];
            let shadow = lines_with(f, &["select_spectre_guard"])
                .into_iter()
                .find(|l| l.contains(".i32"))
                .unwrap_or_else(|| panic!("{f}"));
            // The exit test compares with it, or with an alias of it.
            let shadow = defined(shadow);
            let alias = format!(" -> {shadow}");
            let names: Vec<&str> = std::iter::once(shadow)
                .chain(
                    lines_with(f, &[&alias])
                        .iter()
                        .map(|l| l.trim().split(' ').next().unwrap()),
                )
                .collect();
            let exit = lines_with(f, &["icmp ule"])
                .into_iter()
                .filter(|l| names.contains(&operands(l, "icmp ule")[1]))
                .count();
            assert_eq!(exit, 1, "{f}");
            assert_eq!(count(f, "bor"), 2, "{f}");
        }
    }

    #[test]
    fn a_pointer_plus_a_masked_index_is_guarded_through_the_pointer() {
        // `prev[h & 0x7ffe]`: the guard clamps `zext(p)`, not the sum, and
        // the exact check sits in a cold block.
        let f = &clif(
            "(module (memory 1) (func (param $p i32) (param $h i32) (result i32)
               (i32.load16_u (i32.add (local.get $p) (i32.and (local.get $h) (i32.const 0x7ffe))))))",
        )[0];
        let p64 = defined(
            f.lines()
                .find(|l| l.trim_end().ends_with("uextend.i64 v1"))
                .expect(f),
        );
        let guards = lines_with(f, &["select_spectre_guard"]);
        assert_eq!(guards.len(), 2, "{f}");
        assert_eq!(operands(guards[0], "select_spectre_guard")[2], p64, "{f}");
        // The second guard, on the exact address, is in a cold block.
        let (first, second) = (f.find(guards[0]).unwrap(), f.find(guards[1]).unwrap());
        assert!(f[first..second].contains(" cold:"), "{f}");
        // The bound leaves room for the whole mask: `len - (0x7ffe + 2)`.
        assert!(f.contains("= -32768"), "{f}");
    }

    /// A loop storing to `a + i`, with `extra` in its body, that goes on
    /// while `test` holds for `i += step` and the limit `n`.
    fn store_loop(test: &str, step: &str, extra: &str) -> String {
        format!(
            "(module (memory 1)
               (func $f (param $a i32) (param $i i32) (param $n i32) (param $s i32)
                 (loop
                   (i32.store (i32.add (local.get $a) (local.get $i)) (i32.const 0))
                   {extra}
                   (br_if 0 ({test} (local.tee $i (i32.add (local.get $i) {step}))
                                    (local.get $n))))))"
        )
    }

    /// A loop run `(n - i) / 4` times, with `extra` in its body.
    fn stride_loop(extra: &str) -> String {
        store_loop("i32.ne", "(i32.const 4)", extra)
    }

    #[test]
    fn loops_with_a_known_trip_count_prepay_their_fuel() {
        let wat = stride_loop("");
        let f = &clif(&wat)[0];
        let units = regions(&wat).loops[0];
        // Only the slow copy's header charges per iteration; the pre-header
        // tests `fuel >= trips * units` and charges it when the fast copy
        // runs.
        let per_iteration = charges(f).into_iter().filter(|c| *c == units).count();
        assert_eq!(per_iteration, 1, "{f}");
        assert_eq!(count(f, " sge "), 1, "{f}");
        assert!(f.contains(&format!("iconst.i64 {units}")), "{f}");
        // With a call in the body, both copies charge per iteration.
        let wat =
            stride_loop("(call $f (local.get $a) (local.get $i) (local.get $n) (local.get $s))");
        let f = &clif(&wat)[0];
        let units = regions(&wat).loops[0];
        let per_iteration = charges(f).into_iter().filter(|c| *c == units).count();
        assert_eq!(per_iteration, 2, "{f}");
        assert_eq!(count(f, " sge "), 0, "{f}");
    }

    /// `for &c in &t[i..n] { s += c }` unless `t` is 0: the loop leaves
    /// when `i == n` at the top, for `$out`, which the branch before the
    /// loop reaches too.
    const SLICE_SUM: &str = "(module (memory 1)
           (func (param $t i32) (param $i i32) (param $n i32) (result i32) (local $s i32)
             (block $out
               (br_if $out (i32.eqz (local.get $t)))
               (loop $top
                 (br_if $out (i32.eq (local.get $i) (local.get $n)))
                 (local.set $s (i32.add (local.get $s)
                   (i32.load8_u (i32.add (local.get $t) (local.get $i)))))
                 (local.set $i (i32.add (local.get $i) (i32.const 1)))
                 (br $top)))
             (local.get $s)))";

    #[test]
    fn slice_iterators_are_versioned_and_prepaid() {
        let wat = SLICE_SUM;
        let f = &clif(wat)[0];
        let units = regions(wat).loops[0];
        // Two copies of the body; only the slow one charges per iteration,
        // the pre-header tests `fuel >= (trips + 1) * units`.
        assert_eq!(count(f, "uload8"), 2, "{f}");
        let per_iteration = charges(f).into_iter().filter(|c| *c == units).count();
        assert_eq!(per_iteration, 1, "{f}");
        assert_eq!(count(f, " sge "), 1, "{f}");
        // The pre-check: `i + 1 <= n`, and the range in memory.
        assert_eq!(count(f, "icmp ule"), 2, "{f}");
        // Without guards, only the slow copy compares the address.
        let f = &clif_with(wat, false)[0];
        assert_eq!(count(f, "icmp ugt"), 1, "{f}");
        assert_eq!(count(f, "uload8"), 2, "{f}");
    }

    #[test]
    fn branches_out_of_a_loop_go_through_a_block_of_their_own() {
        let wat = SLICE_SUM;
        let f = &clif(wat)[0];
        // The source location of the loop's `br_if`, the second one.
        let wasm = wat::parse_str(wat).unwrap();
        let mut br_ifs = Vec::new();
        for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
            if let wasmparser::Payload::CodeSectionEntry(body) = payload.unwrap() {
                let mut ops = body.get_operators_reader().unwrap();
                while !ops.eof() {
                    let (op, offset) = ops.read_with_offset().unwrap();
                    if matches!(op, Operator::BrIf { .. }) {
                        br_ifs.push(offset);
                    }
                }
            }
        }
        let srcloc = format!("@{:04x} ", br_ifs[1]);
        let exits: Vec<&str> = f
            .lines()
            .filter(|l| l.trim_start().starts_with(&srcloc) && l.contains("brif "))
            .collect();
        // The fast copy's and the slow copy's.
        assert_eq!(exits.len(), 2, "{f}");
        for exit in exits {
            // Taken, it goes to a block of its own: no parameters, no other
            // predecessor.
            let taken = exit.split(", ").nth(1).unwrap();
            assert!(!taken.contains('('), "{exit}\n{f}");
            let branches_to =
                |l: &&str| l.contains(" jump ") || l.contains(" brif ") || l.contains(" br_table ");
            let preds = f
                .lines()
                .filter(branches_to)
                .filter(|l| l.split([' ', ',', '(', '[', ']']).any(|w| w == taken))
                .count();
            assert_eq!(preds, 1, "{taken}\n{f}");
        }
    }

    #[test]
    fn bounded_loops_charge_fuel_without_a_test() {
        // `i += s` while `i < n`: both copies charge per iteration, but only
        // the slow copy tests the fuel left (`icmp slt`, besides the
        // prologue's), the pre-header having made sure it covers the loop.
        let wat = &store_loop("i32.lt_u", "(local.get $s)", "");
        let f = &clif(wat)[0];
        let units = regions(wat).loops[0];
        let per_iteration = charges(f).into_iter().filter(|c| *c == units).count();
        assert_eq!(per_iteration, 2, "{f}");
        assert_eq!(count(f, "icmp slt"), 2, "{f}");
        assert!(f.contains(&format!("iconst.i64 {units}")), "{f}");
    }

    #[test]
    fn loops_without_a_covered_access_run_the_checked_copy() {
        // The address is not affine in the induction variable: nothing for
        // the pre-check to test, and the pre-header jumps to the slow copy.
        let f = &clif(
            "(module (memory 1) (func (param $a i32) (param $i i32) (param $n i32)
               (loop
                 (i32.store (i32.mul (local.get $i) (local.get $i)) (local.get $a))
                 (br_if 0 (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                                    (local.get $n))))))",
        )[0];
        assert_eq!(count(f, "smax"), 1, "{f}");
        assert_eq!(count(f, "icmp ule"), 0, "{f}");
    }

    #[test]
    fn loop_invariant_accesses_are_checked_once_in_the_pre_header() {
        // `$a` never changes in the loop: one range test before it, and the
        // fast copy's store carries no check of its own.
        let f = &clif(
            "(module (memory 1) (func (param $a i32) (param $i i32) (param $n i32)
               (loop
                 (i32.store (local.get $a) (local.get $i))
                 (br_if 0 (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                                    (local.get $n))))))",
        )[0];
        // One test of the range, two of the fuel (`FastFuel::Covered`).
        assert_eq!(count(f, "icmp ule"), 3, "{f}");
        // A checked 4-byte access compares against `length - 4`: only the
        // slow copy has one.
        assert_eq!(count(f, "iconst.i64 -4"), 1, "{f}");
    }
}
