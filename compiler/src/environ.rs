//! Everything generated code reaches through `VmCtx`: memory, tables,
//! globals, imported functions, libcalls, fuel and the stack limit.
//!
//! The offsets come from `kwasm_abi::vmctx` (never duplicated here). Every
//! `VmCtx` access is `notrap` and tagged with an alias region, so Cranelift's
//! alias analysis can keep e.g. the memory base in a register across heap
//! stores while still reloading it after calls (which may grow memory):
//! - `heap`: linear memory contents;
//! - `memory`: the `VmMemory` length, which grows. The base never moves
//!   after instantiation (`kwasm_abi::vmctx::memory`), so it is loaded as a
//!   constant; the length lives in an SSA variable reloaded after calls
//!   that can grow memory;
//! - `table`/`elems`: the `VmTable` fields and table contents;
//! - `globals`: global slots;
//! - `fuel`: the fuel counter, read and written only around calls to other
//!   wasm functions and at returns: inside a function the count lives in an
//!   SSA variable ([`FuncEnv::consume_fuel`]), as Wasmtime keeps it;
//! - `constant`: fields that never change while code runs (trap handler,
//!   libcall table, imports, type ids, stack limit, pointers to imported
//!   entities), which are also `readonly`;
//! - `funcref`: `VmFuncRef` contents (constant after instantiation).

use std::borrow::Cow;
use std::collections::HashMap;

use cranelift_codegen::ir::{
    self, AbiParam, AliasRegion, AliasRegionData, ExtFuncData, ExternalName, InstBuilder,
    MemFlagsData, Signature, Type, UserExternalName, Value, condcodes::IntCC, types,
};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::{FunctionBuilder, Variable};
use kwasm_abi::fuel::{self, HostCost};
use kwasm_abi::trap::TrapCode;
use kwasm_abi::types::ValType;
use kwasm_abi::vmctx::{VmCtxLayout, funcref, header, import_func, libcall_sig, memory, table};

use crate::module_env::{FuncType, ModuleInfo};
use crate::traps::TrapBlocks;

/// Pointer type on both targets.
pub const PTR: Type = types::I64;

/// Cranelift type of a wasm value (references are pointers/opaque u64).
pub fn clif_type(t: ValType) -> Type {
    match t {
        ValType::I32 => types::I32,
        ValType::I64 => types::I64,
        ValType::F32 => types::F32,
        ValType::F64 => types::F64,
        ValType::FuncRef | ValType::ExternRef => PTR,
    }
}

/// `extern "C" fn(vmctx, params...) -> results`.
pub fn wasm_signature(ty: &FuncType, call_conv: CallConv) -> Signature {
    let mut sig = Signature::new(call_conv);
    sig.params.push(AbiParam::new(PTR));
    sig.params
        .extend(ty.params.iter().map(|t| AbiParam::new(clif_type(*t))));
    sig.returns
        .extend(ty.results.iter().map(|t| AbiParam::new(clif_type(*t))));
    sig
}

/// Alias regions of one function (see the module docs).
#[derive(Clone, Copy)]
pub struct Regions {
    pub heap: AliasRegion,
    pub memory: AliasRegion,
    pub table: AliasRegion,
    pub elems: AliasRegion,
    pub globals: AliasRegion,
    pub fuel: AliasRegion,
    pub constant: AliasRegion,
    pub funcref: AliasRegion,
}

impl Regions {
    fn new(func: &mut ir::Function) -> Regions {
        let mut r = |id: u32, name: &'static str| {
            func.dfg.alias_regions.insert(AliasRegionData {
                user_id: id,
                description: Cow::Borrowed(name),
            })
        };
        Regions {
            heap: r(1, "heap"),
            memory: r(2, "vmmemory"),
            table: r(3, "vmtable"),
            elems: r(4, "table elements"),
            globals: r(5, "globals"),
            fuel: r(6, "fuel"),
            constant: r(7, "vmctx constants"),
            funcref: r(8, "funcref"),
        }
    }
}

/// Per-function access to the module's `VmCtx`.
pub struct FuncEnv<'m, 'a> {
    pub module: &'m ModuleInfo<'a>,
    pub layout: VmCtxLayout,
    /// Index of the function being translated (module index space).
    pub func_index: u32,
    pub call_conv: CallConv,
    pub vmctx: Value,
    pub regions: Regions,
    pub traps: TrapBlocks,
    /// Guard checked heap addresses and table indices against speculative
    /// out-of-bounds use (DESIGN 12; see [`crate::bounds`]).
    pub spectre_guards: bool,
    /// Heap checks already made on the current path ([`crate::bounds`]).
    pub checks: crate::bounds::Checks,
    /// Fuel left. Flushed to `VmCtx` before calls to wasm functions and
    /// before returns (the only code that reads it there is another wasm
    /// function), reloaded after those calls. Traps need no flush: nothing
    /// reads the counter after one.
    fuel: Variable,
    /// The memory's current length, when the body accesses memory:
    /// reloaded after every call that can grow it.
    mem_len: Option<Variable>,
    wasm_sigs: HashMap<u32, ir::SigRef>,
    libcall_sigs: HashMap<u32, ir::SigRef>,
    direct: HashMap<u32, ir::FuncRef>,
}

impl<'m, 'a> FuncEnv<'m, 'a> {
    pub fn new(
        builder: &mut FunctionBuilder<'_>,
        module: &'m ModuleInfo<'a>,
        layout: VmCtxLayout,
        func_index: u32,
        cfg: &crate::translate::TranslateConfig,
        vmctx: Value,
        uses_memory: bool,
    ) -> Self {
        let (call_conv, spectre_guards) = (cfg.call_conv, cfg.spectre_guards);
        let fuel = builder.declare_var(types::I64);
        let mem_len =
            (uses_memory && module.memory.is_some()).then(|| builder.declare_var(types::I64));
        let mut env = FuncEnv {
            module,
            layout,
            func_index,
            call_conv,
            vmctx,
            regions: Regions::new(builder.func),
            traps: TrapBlocks::new(func_index, call_conv),
            spectre_guards,
            checks: crate::bounds::Checks::default(),
            fuel,
            mem_len,
            wasm_sigs: HashMap::new(),
            libcall_sigs: HashMap::new(),
            direct: HashMap::new(),
        };
        env.reload_fuel_and_length(builder);
        env
    }

    pub fn flags(&self, region: AliasRegion) -> MemFlagsData {
        MemFlagsData::trusted().with_alias_region(Some(region))
    }

    /// Fields that never change while code runs. `can_move` lets the
    /// optimiser treat their loads as pure: merge repeats and hoist them
    /// out of loops (`VmCtx` is valid for the whole call).
    pub fn constant_flags(&self) -> MemFlagsData {
        self.flags(self.regions.constant)
            .with_readonly()
            .with_can_move()
    }

    /// Linear memory accesses: in bounds by construction, maybe unaligned.
    pub fn heap_flags(&self) -> MemFlagsData {
        MemFlagsData::new()
            .with_notrap()
            .with_alias_region(Some(self.regions.heap))
    }

    fn load_constant(&self, b: &mut FunctionBuilder<'_>, ty: Type, offset: u32) -> Value {
        b.ins()
            .load(ty, self.constant_flags(), self.vmctx, offset as i32)
    }

    // ---- memory -------------------------------------------------------

    /// Pointer to the `VmMemory` and the offset of it from that pointer.
    fn memory_def(&self, b: &mut FunctionBuilder<'_>) -> (Value, u32) {
        match self.module.memory {
            Some(m) if m.imported => (self.load_constant(b, PTR, self.layout.imported_memory), 0),
            _ => (self.vmctx, self.layout.defined_memory),
        }
    }

    /// The base of linear memory: a constant (it never moves).
    pub fn memory_base(&self, b: &mut FunctionBuilder<'_>) -> Value {
        let (p, off) = self.memory_def(b);
        b.ins()
            .load(PTR, self.constant_flags(), p, (off + memory::BASE) as i32)
    }

    /// The current length of linear memory: the variable, or a load in a
    /// body that does not access memory itself (a host call's charge).
    pub fn memory_len(&mut self, b: &mut FunctionBuilder<'_>) -> Value {
        match self.mem_len {
            Some(v) => b.use_var(v),
            None => self.load_memory_len(b),
        }
    }

    fn load_memory_len(&self, b: &mut FunctionBuilder<'_>) -> Value {
        let (p, off) = self.memory_def(b);
        let f = self.flags(self.regions.memory);
        b.ins()
            .load(types::I64, f, p, (off + memory::LENGTH) as i32)
    }

    /// The declared minimum size of memory in bytes: a lower bound on its
    /// length for the whole run (memory never shrinks, and an imported
    /// memory is at least as large as the import declares).
    pub fn min_memory_bytes(&self) -> u64 {
        self.module
            .memory
            .map_or(0, |m| u64::from(m.min) * kwasm_abi::vmctx::WASM_PAGE_SIZE)
    }

    // ---- tables -------------------------------------------------------

    fn table_def(&self, b: &mut FunctionBuilder<'_>, t: u32) -> (Value, u32) {
        let nimp = self.module.num_imported_tables;
        if t < nimp {
            (self.load_constant(b, PTR, self.layout.imported_table(t)), 0)
        } else {
            (self.vmctx, self.layout.defined_table(t - nimp))
        }
    }

    pub fn table_len(&self, b: &mut FunctionBuilder<'_>, t: u32) -> Value {
        let (p, off) = self.table_def(b, t);
        let f = self.flags(self.regions.table);
        b.ins().load(types::I64, f, p, (off + table::LENGTH) as i32)
    }

    /// Address of element `index` (an i32) of table `t`, after checking it is
    /// in bounds (else trap with `code`). With spectre guards the index is
    /// `select_spectre_guard(oob, 0, index)` on the compare the trap branch
    /// tests (a `cmov`), so a misspeculated access reads element 0 (the
    /// table's base), never past the end.
    pub fn table_elem_addr(
        &mut self,
        b: &mut FunctionBuilder<'_>,
        t: u32,
        index: Value,
        code: TrapCode,
    ) -> Value {
        let (p, off) = self.table_def(b, t);
        let f = self.flags(self.regions.table);
        let len = b.ins().load(types::I64, f, p, (off + table::LENGTH) as i32);
        let idx = b.ins().uextend(types::I64, index);
        let oob = b.ins().icmp(IntCC::UnsignedGreaterThanOrEqual, idx, len);
        self.traps.trap_if(b, oob, code);
        let idx = if self.spectre_guards {
            let zero = b.ins().iconst(types::I64, 0);
            b.ins().select_spectre_guard(oob, zero, idx)
        } else {
            idx
        };
        let base = b.ins().load(PTR, f, p, (off + table::BASE) as i32);
        let scaled = b.ins().ishl_imm_u(idx, 3);
        b.ins().iadd(base, scaled)
    }

    pub fn elem_flags(&self) -> MemFlagsData {
        self.flags(self.regions.elems)
    }

    // ---- globals ------------------------------------------------------

    /// Pointer and offset of global `g`'s slot.
    fn global_addr(&self, b: &mut FunctionBuilder<'_>, g: u32) -> (Value, i32) {
        let nimp = self.module.num_imported_globals;
        if g < nimp {
            (
                self.load_constant(b, PTR, self.layout.imported_global(g)),
                0,
            )
        } else {
            (self.vmctx, self.layout.defined_global(g - nimp) as i32)
        }
    }

    pub fn global_get(&self, b: &mut FunctionBuilder<'_>, g: u32) -> Value {
        let ty = clif_type(self.module.globals[g as usize].ty);
        let (p, off) = self.global_addr(b, g);
        b.ins().load(ty, self.flags(self.regions.globals), p, off)
    }

    pub fn global_set(&self, b: &mut FunctionBuilder<'_>, g: u32, v: Value) {
        let (p, off) = self.global_addr(b, g);
        b.ins().store(self.flags(self.regions.globals), v, p, off);
    }

    // ---- functions ----------------------------------------------------

    fn wasm_sig(&mut self, b: &mut FunctionBuilder<'_>, type_index: u32) -> ir::SigRef {
        if let Some(s) = self.wasm_sigs.get(&type_index) {
            return *s;
        }
        let sig = wasm_signature(&self.module.types[type_index as usize], self.call_conv);
        let s = b.import_signature(sig);
        self.wasm_sigs.insert(type_index, s);
        s
    }

    /// `ref.func f`: the address of this instance's `VmFuncRef` for `f`.
    pub fn func_ref(&self, b: &mut FunctionBuilder<'_>, f: u32) -> Value {
        b.ins()
            .iadd_imm_u(self.vmctx, i64::from(self.layout.func_ref(f)))
    }

    /// `call f`: direct for defined functions (the linker resolves the
    /// relocation), through the import slot for imported ones.
    pub fn call(&mut self, b: &mut FunctionBuilder<'_>, f: u32, args: &[Value]) -> Vec<Value> {
        let type_index = self.module.funcs[f as usize];
        let sig = self.wasm_sig(b, type_index);
        let mut full = Vec::with_capacity(args.len() + 1);
        let host = self.module.host_func(f);
        if let Some(hf) = host {
            self.charge_host_call(b, hf.cost, args);
        } else {
            self.flush_fuel(b);
        }
        let inst = if self.module.is_imported_func(f) {
            let off = self.layout.imported_func(f);
            let code = self.load_constant(b, PTR, off + import_func::CODE);
            let callee_vmctx = self.load_constant(b, PTR, off + import_func::VMCTX);
            full.push(callee_vmctx);
            full.extend_from_slice(args);
            b.ins().call_indirect(sig, code, &full)
        } else {
            let fref = match self.direct.get(&f) {
                Some(r) => *r,
                None => {
                    let name = b
                        .func
                        .declare_imported_user_function(UserExternalName::new(0, f));
                    let r = b.import_function(ExtFuncData {
                        name: ExternalName::user(name),
                        signature: sig,
                        colocated: true,
                        patchable: false,
                    });
                    self.direct.insert(f, r);
                    r
                }
            };
            full.push(self.vmctx);
            full.extend_from_slice(args);
            b.ins().call(fref, &full)
        };
        let results = b.inst_results(inst).to_vec();
        // Host functions neither grow memory nor touch the fuel counter
        // (their cost was charged above).
        if host.is_none() {
            self.reload_fuel_and_length(b);
        }
        results
    }

    /// `call_indirect (type t) (table x)` with the checks of the contract.
    pub fn call_indirect(
        &mut self,
        b: &mut FunctionBuilder<'_>,
        type_index: u32,
        t: u32,
        index: Value,
        args: &[Value],
    ) -> Vec<Value> {
        let addr = self.table_elem_addr(b, t, index, TrapCode::UndefinedElement);
        let elem = b.ins().load(PTR, self.elem_flags(), addr, 0);
        let null = b.ins().icmp_imm_u(IntCC::Equal, elem, 0);
        self.traps.trap_if(b, null, TrapCode::IndirectCallToNull);
        let ff = self.flags(self.regions.funcref).with_readonly();
        let actual = b.ins().load(types::I32, ff, elem, funcref::TYPE_ID as i32);
        let expected = self.load_constant(b, types::I32, self.layout.type_id(type_index));
        let bad = b.ins().icmp(IntCC::NotEqual, actual, expected);
        self.traps.trap_if(b, bad, TrapCode::BadSignature);
        let code = b.ins().load(PTR, ff, elem, funcref::CODE as i32);
        let callee_vmctx = b.ins().load(PTR, ff, elem, funcref::VMCTX as i32);
        let sig = self.wasm_sig(b, type_index);
        let mut full = Vec::with_capacity(args.len() + 1);
        full.push(callee_vmctx);
        full.extend_from_slice(args);
        self.flush_fuel(b);
        let inst = b.ins().call_indirect(sig, code, &full);
        let results = b.inst_results(inst).to_vec();
        self.reload_fuel_and_length(b);
        results
    }

    /// Call libcall `index` (`kwasm_abi::vmctx::libcall`) with `args`
    /// (vmctx is added).
    pub fn libcall(
        &mut self,
        b: &mut FunctionBuilder<'_>,
        index: u32,
        args: &[Value],
    ) -> Vec<Value> {
        let sig = match self.libcall_sigs.get(&index) {
            Some(s) => *s,
            None => {
                // abi's table, which the runtimes' `Libcalls` fields match.
                let (params, results) = libcall_sig(index).unwrap_or((&[], &[]));
                let mut sig = Signature::new(self.call_conv);
                sig.params.push(AbiParam::new(PTR));
                sig.params
                    .extend(params.iter().map(|t| AbiParam::new(clif_type(*t))));
                sig.returns
                    .extend(results.iter().map(|t| AbiParam::new(clif_type(*t))));
                let s = b.import_signature(sig);
                self.libcall_sigs.insert(index, s);
                s
            }
        };
        let table = self.load_constant(b, PTR, header::LIBCALLS);
        let f = b
            .ins()
            .load(PTR, self.constant_flags(), table, (index * 8) as i32);
        let mut full = Vec::with_capacity(args.len() + 1);
        full.push(self.vmctx);
        full.extend_from_slice(args);
        let inst = b.ins().call_indirect(sig, f, &full);
        let results = b.inst_results(inst).to_vec();
        // Libcalls never run wasm code or read the fuel counter (bulk
        // operations are charged before the call); only `memory.grow`
        // changes the memory's length.
        if index == kwasm_abi::vmctx::libcall::MEMORY_GROW {
            self.reload_length(b);
        }
        results
    }

    /// Call a libcall that returns a status, trapping with it when non-zero.
    pub fn libcall_checked(&mut self, b: &mut FunctionBuilder<'_>, index: u32, args: &[Value]) {
        let status = self.libcall(b, index, args);
        if let Some(&s) = status.first() {
            self.traps.trap_if_status(b, s);
        }
    }

    // ---- fuel and stack -----------------------------------------------

    /// Subtract `units` of fuel (a constant: a region's summed
    /// `kwasm_abi::fuel::op_cost`, or a host call's base); trap with
    /// `OutOfFuel` when it goes negative. Nothing is emitted for zero units.
    pub fn consume_fuel(&mut self, b: &mut FunctionBuilder<'_>, units: u64) {
        if units == 0 {
            return;
        }
        let left = self.charge_unchecked(b, units);
        self.trap_if_out_of_fuel(b, left);
    }

    /// Charge `(min(zext64(len), bound) >> shift) + extra` units, `len` an
    /// i32 computed at run time and `bound` (an i64, if any) the most items
    /// the operation can touch: [`kwasm_abi::fuel::bulk_cost`] for bulk
    /// operations (`extra` = `PER_OP`), the byte part of a host call's
    /// [`HostCost`] (`extra` = its base). The charge precedes the operation
    /// it pays for. Bounding by the memory's or table's current length
    /// charges exactly what an in-bounds operation touches, and lets an
    /// out-of-bounds one (which touches nothing) trap as the spec says
    /// rather than run out of fuel first.
    pub fn consume_fuel_for_len(
        &mut self,
        b: &mut FunctionBuilder<'_>,
        len: Value,
        bound: Option<Value>,
        shift: u32,
        extra: u64,
    ) {
        let len = b.ins().uextend(types::I64, len);
        let len = match bound {
            Some(bound) => b.ins().umin(len, bound),
            None => len,
        };
        let scaled = b.ins().ushr_imm_u(len, i64::from(shift));
        // `extra` is a host function's base cost or `PER_OP`: small.
        let extra = i64::try_from(extra).unwrap_or(i64::MAX);
        let units = b.ins().iadd_imm_s(scaled, extra);
        // fuel >= 0 and units < 2^33 before the subtraction: no overflow.
        self.subtract_fuel(b, |b, have| b.ins().isub(have, units));
    }

    /// Charge a bulk operation over `len` (an i32) items at `shift`
    /// (`fuel::MEM_SHIFT` or `fuel::TABLE_SHIFT`), of a memory or table of
    /// `bound` items: [`kwasm_abi::fuel::bulk_cost`]`(min(len, bound),
    /// shift)`, before the libcall.
    pub fn charge_bulk(
        &mut self,
        b: &mut FunctionBuilder<'_>,
        len: Value,
        bound: Value,
        shift: u32,
    ) {
        self.consume_fuel_for_len(b, len, Some(bound), shift, fuel::PER_OP);
    }

    /// `table.grow`'s charge, after the libcall: the `delta` elements it
    /// initialised if it succeeded (`old` is not -1), else nothing beyond
    /// the operator. Growth is bounded by the table's capacity, so the work
    /// done before the charge is bounded too.
    pub fn charge_table_grow(&mut self, b: &mut FunctionBuilder<'_>, old: Value, delta: Value) {
        let failed = b.ins().icmp_imm_s(IntCC::Equal, old, -1);
        let zero = b.ins().iconst(types::I32, 0);
        let n = b.ins().select(failed, zero, delta);
        self.consume_fuel_for_len(b, n, None, fuel::TABLE_SHIFT, fuel::PER_OP);
    }

    /// A host call's [`HostCost`], before the call: its base plus, when it
    /// has a length parameter, one unit per `1 << MEM_SHIFT` bytes of it,
    /// at most the memory's length (the bytes are in linear memory).
    fn charge_host_call(&mut self, b: &mut FunctionBuilder<'_>, cost: HostCost, args: &[Value]) {
        let base = u64::from(cost.base);
        match cost.len_param.and_then(|i| args.get(usize::from(i))) {
            Some(&len) => {
                let bound = if self.module.memory.is_some() {
                    self.memory_len(b)
                } else {
                    b.ins().iconst(types::I64, 0)
                };
                self.consume_fuel_for_len(b, len, Some(bound), fuel::MEM_SHIFT, base)
            }
            None => self.consume_fuel(b, base),
        }
    }

    /// One subtraction and one branch on the fuel variable.
    fn subtract_fuel(
        &mut self,
        b: &mut FunctionBuilder<'_>,
        sub: impl FnOnce(&mut FunctionBuilder<'_>, Value) -> Value,
    ) {
        let left = self.spend(b, sub);
        self.trap_if_out_of_fuel(b, left);
    }

    /// Define the fuel variable as `sub(fuel)`, returning the new value.
    fn spend(
        &mut self,
        b: &mut FunctionBuilder<'_>,
        sub: impl FnOnce(&mut FunctionBuilder<'_>, Value) -> Value,
    ) -> Value {
        let have = b.use_var(self.fuel);
        let left = sub(b, have);
        b.def_var(self.fuel, left);
        left
    }

    /// Trap with `OutOfFuel` if `left` (the fuel after a charge) is negative.
    fn trap_if_out_of_fuel(&mut self, b: &mut FunctionBuilder<'_>, left: Value) {
        let out = b.ins().icmp_imm_s(IntCC::SignedLessThan, left, 0);
        self.traps.trap_if(b, out, TrapCode::OutOfFuel);
    }

    /// The fuel left (an i64, never negative where it is read).
    pub fn fuel_left(&mut self, b: &mut FunctionBuilder<'_>) -> Value {
        b.use_var(self.fuel)
    }

    /// Charge `units` with no test (the caller has made sure the fuel
    /// covers them, or tests what is left), returning the fuel left.
    pub fn charge_unchecked(&mut self, b: &mut FunctionBuilder<'_>, units: u64) -> Value {
        // At most a body's size times the largest op cost: far below `i64::MAX`.
        let units = i64::try_from(units).unwrap_or(i64::MAX);
        self.spend(b, |b, have| b.ins().iadd_imm_s(have, -units))
    }

    /// Charge `cost` if `taken`, without a test: the caller has made
    /// `taken` imply that [`Self::fuel_left`] covers `cost`.
    pub fn charge_if(&mut self, b: &mut FunctionBuilder<'_>, taken: Value, cost: Value) {
        self.spend(b, |b, have| {
            let left = b.ins().isub(have, cost);
            b.ins().select(taken, left, have)
        });
    }

    /// Store the fuel variable to `VmCtx`, where a called wasm function (or
    /// the caller, after a return) takes it from.
    pub fn flush_fuel(&mut self, b: &mut FunctionBuilder<'_>) {
        let f = self.flags(self.regions.fuel);
        let left = b.use_var(self.fuel);
        b.ins().store(f, left, self.vmctx, header::FUEL as i32);
    }

    /// Load the fuel counter and the memory's length into their variables:
    /// at entry, and after a call to a wasm function (which spends fuel and
    /// may grow memory).
    fn reload_fuel_and_length(&mut self, b: &mut FunctionBuilder<'_>) {
        let f = self.flags(self.regions.fuel);
        let fuel = b.ins().load(types::I64, f, self.vmctx, header::FUEL as i32);
        b.def_var(self.fuel, fuel);
        self.reload_length(b);
    }

    /// Load the memory's length into its variable, if the body keeps one.
    fn reload_length(&mut self, b: &mut FunctionBuilder<'_>) {
        if let Some(v) = self.mem_len {
            let len = self.load_memory_len(b);
            b.def_var(v, len);
        }
    }

    /// Trap with `StackOverflow` unless `sp >= stack_limit + pad`.
    pub fn check_stack(&mut self, b: &mut FunctionBuilder<'_>, pad: u32) {
        let sp = b.ins().get_stack_pointer(PTR);
        let limit = self.load_constant(b, PTR, header::STACK_LIMIT);
        let need = b.ins().iadd_imm_u(limit, i64::from(pad));
        let low = b.ins().icmp(IntCC::UnsignedLessThan, sp, need);
        self.traps.trap_if(b, low, TrapCode::StackOverflow);
    }
}
