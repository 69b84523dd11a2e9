//! Parse a validated module into a [`ModuleInfo`]: everything except function
//! bodies is decoded once here, in the shapes the translator and the
//! metadata writer need (abi value types, meta segment encodings).
//!
//! It also enforces kwasm's own rules on top of WebAssembly validation: host
//! imports (`kwasm.*`, `env._debug`) must match the host API table, the
//! `filter` export must be `(i32) -> i32`, the `kwasm.maps` section must be
//! well formed, and counts must fit the `VmCtx` layout.

use std::collections::HashMap;

use kwasm_abi::host::{FILTER_EXPORT, HostFunc};
use kwasm_abi::link::{self, FuncSig, Linking};
use kwasm_abi::maps::{MAPS_SECTION, MapDecl, parse_decls};
use kwasm_abi::meta::{ITEM_GLOBAL, ITEM_NULL, kind, mode};
use kwasm_abi::types::{ValType, fmt_sig};
use kwasm_abi::vmctx::{EntityCounts, MAX_ENTITIES, VmCtxCounts, VmCtxLayout};
use wasmparser::{
    ConstExpr, DataKind, ElementItems, ElementKind, ExternalKind, FunctionBody, KnownCustom, Name,
    Operator, Parser, Payload, TypeRef,
};

use crate::error::{CompileError, ErrorKind};
use crate::features::operator_uses_float;

/// A function type with abi value types.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FuncType {
    pub params: Vec<ValType>,
    pub results: Vec<ValType>,
}

impl FuncType {
    pub fn uses_float(&self) -> bool {
        self.params
            .iter()
            .chain(&self.results)
            .any(|t| t.is_float())
    }
}

/// Printed as every kwasm message prints a function type.
impl std::fmt::Display for FuncType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fmt_sig(f, self.params.iter().copied(), self.results.iter().copied())
    }
}

/// So that abi's linking rules can judge the compiler's types.
impl FuncSig for &FuncType {
    fn is(&self, params: &[ValType], results: &[ValType]) -> bool {
        self.params == params && self.results == results
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableInfo {
    pub elem: ValType,
    pub min: u32,
    pub max: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemInfo {
    pub min: u32,
    pub max: Option<u32>,
    pub imported: bool,
}

/// How a defined global is initialised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GlobalInit {
    /// Imported: no initialiser.
    Import,
    /// The value's bits (i32/f32 zero-extended).
    Const(u64),
    GlobalGet(u32),
    RefFunc(u32),
    RefNull,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalInfo {
    pub ty: ValType,
    pub mutable: bool,
    pub init: GlobalInit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportKind {
    Func(u32),
    Table(TableInfo),
    Memory(MemInfo),
    Global(GlobalInfo),
}

#[derive(Clone, Debug)]
pub struct ImportInfo<'a> {
    pub module: &'a str,
    pub name: &'a str,
    pub kind: ImportKind,
}

#[derive(Clone, Debug)]
pub struct ExportInfo<'a> {
    pub name: &'a str,
    /// `kwasm_abi::meta::kind::*`
    pub kind: u8,
    pub index: u32,
}

/// Offset of an active segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegOffset {
    Const(u32),
    Global(u32),
}

#[derive(Clone, Debug)]
pub struct ElemSeg {
    /// `kwasm_abi::meta::mode::*`
    pub mode: u8,
    pub elem: ValType,
    pub table: u32,
    pub offset: SegOffset,
    /// Items in the metadata encoding: function index, `ITEM_NULL`, or
    /// `ITEM_GLOBAL | global`.
    pub items: Vec<u32>,
}

#[derive(Clone, Debug)]
pub struct DataSeg<'a> {
    pub mode: u8,
    pub offset: SegOffset,
    pub bytes: &'a [u8],
}

/// Everything about a module except the translated code.
#[derive(Clone, Debug, Default)]
pub struct ModuleInfo<'a> {
    pub types: Vec<FuncType>,
    pub imports: Vec<ImportInfo<'a>>,
    /// Type index of every function, imported first.
    pub funcs: Vec<u32>,
    pub num_imported_funcs: u32,
    /// Every table, imported first.
    pub tables: Vec<TableInfo>,
    pub num_imported_tables: u32,
    pub memory: Option<MemInfo>,
    /// Every global, imported first.
    pub globals: Vec<GlobalInfo>,
    pub num_imported_globals: u32,
    pub exports: Vec<ExportInfo<'a>>,
    pub start: Option<u32>,
    pub elems: Vec<ElemSeg>,
    pub datas: Vec<DataSeg<'a>>,
    /// Bodies of the defined functions.
    pub bodies: Vec<FunctionBody<'a>>,
    /// Names from the name section, by function index.
    pub func_names: HashMap<u32, &'a str>,
    /// The maps declared in `kwasm.maps` ([`kwasm_abi::maps`]).
    pub maps: Vec<MapDecl>,
    /// Index into `exports` of the `filter` function export.
    pub entry_export: Option<u32>,
    /// Whether any f32/f64 appears anywhere in the module.
    pub uses_float: bool,
    /// The host function each imported function names, by function index
    /// (`None` for imports from other modules, which are wasm functions).
    pub host_funcs: Vec<Option<&'static HostFunc>>,
}

impl<'a> ModuleInfo<'a> {
    pub fn func_type(&self, func: u32) -> &FuncType {
        &self.types[self.funcs[func as usize] as usize]
    }

    pub fn is_imported_func(&self, func: u32) -> bool {
        func < self.num_imported_funcs
    }

    /// The host function that imported function `func` is, if any.
    pub fn host_func(&self, func: u32) -> Option<&'static HostFunc> {
        self.host_funcs.get(func as usize).copied().flatten()
    }

    pub fn func_name(&self, func: u32) -> Option<&'a str> {
        self.func_names.get(&func).copied()
    }

    pub fn num_defined_funcs(&self) -> u32 {
        self.funcs.len() as u32 - self.num_imported_funcs
    }

    /// The counts that size this module's `VmCtx`, by abi's rule (the
    /// runtimes apply the same rule to the metadata written from this
    /// module).
    pub fn vmctx_counts(&self) -> VmCtxCounts {
        let memory = |imported: bool| self.memory.is_some_and(|m| m.imported == imported) as u32;
        let imported = EntityCounts {
            funcs: self.num_imported_funcs,
            tables: self.num_imported_tables,
            memories: memory(true),
            globals: self.num_imported_globals,
        };
        let defined = EntityCounts {
            funcs: self.num_defined_funcs(),
            tables: self.tables.len() as u32 - self.num_imported_tables,
            memories: memory(false),
            globals: self.globals.len() as u32 - self.num_imported_globals,
        };
        VmCtxCounts::new(self.types.len() as u32, imported, defined)
    }

    pub fn layout(&self) -> Result<VmCtxLayout, CompileError> {
        VmCtxLayout::new(self.vmctx_counts()).ok_or_else(|| {
            CompileError::unsupported(format!(
                "implementation limit: more than {MAX_ENTITIES} types, functions, tables or globals"
            ))
        })
    }
}

/// Convert a wasmparser value type. Validation with our feature set leaves
/// only these.
pub fn val_type(t: wasmparser::ValType) -> Result<ValType, CompileError> {
    use wasmparser::ValType as W;
    Ok(match t {
        W::I32 => ValType::I32,
        W::I64 => ValType::I64,
        W::F32 => ValType::F32,
        W::F64 => ValType::F64,
        W::Ref(r) => ref_type(r)?,
        W::V128 => return Err(CompileError::unsupported("SIMD")),
    })
}

pub fn ref_type(r: wasmparser::RefType) -> Result<ValType, CompileError> {
    if r == wasmparser::RefType::FUNCREF {
        Ok(ValType::FuncRef)
    } else if r == wasmparser::RefType::EXTERNREF {
        Ok(ValType::ExternRef)
    } else {
        Err(CompileError::unsupported(format!("reference type {r}")))
    }
}

fn limit32(v: u64, what: &str) -> Result<u32, CompileError> {
    u32::try_from(v).map_err(|_| CompileError::unsupported(format!("{what} larger than 32 bits")))
}

fn check_count(n: usize, what: &str) -> Result<(), CompileError> {
    if n > MAX_ENTITIES as usize {
        Err(CompileError::unsupported(format!(
            "implementation limit: more than {MAX_ENTITIES} {what}"
        )))
    } else {
        Ok(())
    }
}

fn wp(e: wasmparser::Error) -> CompileError {
    CompileError::malformed(e.message(), e.offset())
}

fn const_value(e: &ConstExpr<'_>) -> Result<GlobalInit, CompileError> {
    let mut r = e.get_operators_reader();
    let (op, offset) = r.read_with_offset().map_err(wp)?;
    let v = match op {
        Operator::I32Const { value } => GlobalInit::Const(u64::from(value as u32)),
        Operator::I64Const { value } => GlobalInit::Const(value as u64),
        Operator::F32Const { value } => GlobalInit::Const(u64::from(value.bits())),
        Operator::F64Const { value } => GlobalInit::Const(value.bits()),
        Operator::RefNull { .. } => GlobalInit::RefNull,
        Operator::RefFunc { function_index } => GlobalInit::RefFunc(function_index),
        Operator::GlobalGet { global_index } => GlobalInit::GlobalGet(global_index),
        _ => return Err(CompileError::unsupported("extended constant expressions").at(offset)),
    };
    match r.read_with_offset().map_err(wp)? {
        (Operator::End, _) => Ok(v),
        (_, offset) => Err(CompileError::unsupported("extended constant expressions").at(offset)),
    }
}

fn seg_offset(e: &ConstExpr<'_>, offset: usize) -> Result<SegOffset, CompileError> {
    match const_value(e)? {
        GlobalInit::Const(v) => Ok(SegOffset::Const(v as u32)),
        GlobalInit::GlobalGet(g) => Ok(SegOffset::Global(g)),
        _ => Err(CompileError::invalid(
            "segment offset is not an i32",
            offset,
        )),
    }
}

/// Parse a module that has passed [`crate::validate::validate`].
pub fn parse(wasm: &[u8]) -> Result<ModuleInfo<'_>, CompileError> {
    let mut m = ModuleInfo::default();
    let mut defined_func_types = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(wp)? {
            Payload::TypeSection(s) => {
                check_count(s.count() as usize, "types")?;
                for ty in s.into_iter_with_offsets() {
                    let (offset, group) = ty.map_err(wp)?;
                    for sub in group.types() {
                        let f = match &sub.composite_type.inner {
                            wasmparser::CompositeInnerType::Func(f) => f,
                            _ => return Err(CompileError::unsupported("GC").at(offset)),
                        };
                        let params = f
                            .params()
                            .iter()
                            .map(|t| val_type(*t))
                            .collect::<Result<_, _>>()?;
                        let results = f
                            .results()
                            .iter()
                            .map(|t| val_type(*t))
                            .collect::<Result<_, _>>()?;
                        let ft = FuncType { params, results };
                        if ft.params.len() > u16::MAX as usize
                            || ft.results.len() > u16::MAX as usize
                        {
                            return Err(CompileError::unsupported(
                                "implementation limit: too many parameters or results",
                            )
                            .at(offset));
                        }
                        m.types.push(ft);
                    }
                }
            }
            Payload::ImportSection(s) => {
                let offset = s.range().start;
                for imp in s.into_imports() {
                    let imp = imp.map_err(wp)?;
                    let kind = match imp.ty {
                        TypeRef::Func(t) => {
                            m.funcs.push(t);
                            m.num_imported_funcs += 1;
                            ImportKind::Func(t)
                        }
                        TypeRef::Table(t) => {
                            let info = TableInfo {
                                elem: ref_type(t.element_type)?,
                                min: limit32(t.initial, "table size")?,
                                max: t.maximum.map(|x| limit32(x, "table size")).transpose()?,
                            };
                            m.tables.push(info);
                            m.num_imported_tables += 1;
                            ImportKind::Table(info)
                        }
                        TypeRef::Memory(mt) => {
                            let info = MemInfo {
                                min: limit32(mt.initial, "memory size")?,
                                max: mt.maximum.map(|x| limit32(x, "memory size")).transpose()?,
                                imported: true,
                            };
                            m.memory = Some(info);
                            ImportKind::Memory(info)
                        }
                        TypeRef::Global(g) => {
                            let info = GlobalInfo {
                                ty: val_type(g.content_type)?,
                                mutable: g.mutable,
                                init: GlobalInit::Import,
                            };
                            m.globals.push(info);
                            m.num_imported_globals += 1;
                            ImportKind::Global(info)
                        }
                        _ => return Err(CompileError::unsupported("exception handling").at(offset)),
                    };
                    m.imports.push(ImportInfo {
                        module: imp.module,
                        name: imp.name,
                        kind,
                    });
                }
            }
            Payload::FunctionSection(s) => {
                for t in s {
                    defined_func_types.push(t.map_err(wp)?);
                }
                m.funcs.extend_from_slice(&defined_func_types);
            }
            Payload::TableSection(s) => {
                for t in s.into_iter_with_offsets() {
                    let (offset, t) = t.map_err(wp)?;
                    if !matches!(t.init, wasmparser::TableInit::RefNull) {
                        return Err(CompileError::unsupported(
                            "typed function references (table initializer)",
                        )
                        .at(offset));
                    }
                    m.tables.push(TableInfo {
                        elem: ref_type(t.ty.element_type)?,
                        min: limit32(t.ty.initial, "table size")?,
                        max: t.ty.maximum.map(|x| limit32(x, "table size")).transpose()?,
                    });
                }
            }
            Payload::MemorySection(s) => {
                for mt in s {
                    let mt = mt.map_err(wp)?;
                    m.memory = Some(MemInfo {
                        min: limit32(mt.initial, "memory size")?,
                        max: mt.maximum.map(|x| limit32(x, "memory size")).transpose()?,
                        imported: false,
                    });
                }
            }
            Payload::GlobalSection(s) => {
                for g in s {
                    let g = g.map_err(wp)?;
                    m.globals.push(GlobalInfo {
                        ty: val_type(g.ty.content_type)?,
                        mutable: g.ty.mutable,
                        init: const_value(&g.init_expr)?,
                    });
                }
            }
            Payload::ExportSection(s) => {
                for e in s {
                    let e = e.map_err(wp)?;
                    let k = match e.kind {
                        ExternalKind::Func | ExternalKind::FuncExact => kind::FUNC,
                        ExternalKind::Table => kind::TABLE,
                        ExternalKind::Memory => kind::MEMORY,
                        ExternalKind::Global => kind::GLOBAL,
                        ExternalKind::Tag => {
                            return Err(CompileError::unsupported("exception handling"));
                        }
                    };
                    m.exports.push(ExportInfo {
                        name: e.name,
                        kind: k,
                        index: e.index,
                    });
                }
            }
            Payload::StartSection { func, .. } => m.start = Some(func),
            Payload::ElementSection(s) => {
                for e in s.into_iter_with_offsets() {
                    let (offset, e) = e.map_err(wp)?;
                    let (mode, table, seg_off) = match &e.kind {
                        ElementKind::Active {
                            table_index,
                            offset_expr,
                        } => (
                            mode::ACTIVE,
                            table_index.unwrap_or(0),
                            seg_offset(offset_expr, offset)?,
                        ),
                        ElementKind::Passive => (mode::PASSIVE, 0, SegOffset::Const(0)),
                        ElementKind::Declared => (mode::DECLARED, 0, SegOffset::Const(0)),
                    };
                    let (elem, items) = match e.items {
                        ElementItems::Functions(fs) => {
                            let items = fs
                                .into_iter()
                                .collect::<Result<Vec<u32>, _>>()
                                .map_err(wp)?;
                            (ValType::FuncRef, items)
                        }
                        ElementItems::Expressions(ty, exprs) => {
                            let mut items = Vec::new();
                            for expr in exprs {
                                let expr = expr.map_err(wp)?;
                                items.push(match const_value(&expr)? {
                                    GlobalInit::RefFunc(f) => f,
                                    GlobalInit::RefNull => ITEM_NULL,
                                    GlobalInit::GlobalGet(g) => ITEM_GLOBAL | g,
                                    _ => {
                                        return Err(CompileError::invalid(
                                            "element item is not a reference",
                                            offset,
                                        ));
                                    }
                                });
                            }
                            (ref_type(ty)?, items)
                        }
                    };
                    m.elems.push(ElemSeg {
                        mode,
                        elem,
                        table,
                        offset: seg_off,
                        items,
                    });
                }
            }
            Payload::DataSection(s) => {
                for d in s.into_iter_with_offsets() {
                    let (offset, d) = d.map_err(wp)?;
                    let (mode, seg_off) = match &d.kind {
                        DataKind::Passive => (mode::PASSIVE, SegOffset::Const(0)),
                        DataKind::Active { offset_expr, .. } => {
                            (mode::ACTIVE, seg_offset(offset_expr, offset)?)
                        }
                    };
                    m.datas.push(DataSeg {
                        mode,
                        offset: seg_off,
                        bytes: d.data,
                    });
                }
            }
            Payload::CodeSectionEntry(body) => m.bodies.push(body),
            Payload::CustomSection(c) => {
                if c.name() == MAPS_SECTION {
                    parse_maps(&mut m, c.data(), c.data_offset())?;
                } else if let KnownCustom::Name(names) = c.as_known() {
                    // The name section is advisory: ignore it if it is broken.
                    for name in names.into_iter().flatten() {
                        if let Name::Function(map) = name {
                            for naming in map.into_iter().flatten() {
                                m.func_names.entry(naming.index).or_insert(naming.name);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    check_count(m.funcs.len(), "functions")?;
    check_count(m.tables.len(), "tables")?;
    check_count(m.globals.len(), "globals")?;
    check_count(m.elems.len(), "element segments")?;
    check_count(m.datas.len(), "data segments")?;
    check_count(m.exports.len(), "exports")?;
    check_count(m.imports.len(), "imports")?;
    if m.bodies.len() != defined_func_types.len() {
        return Err(CompileError::malformed(
            "function and code section have inconsistent lengths",
            0,
        ));
    }
    m.host_funcs = check_host_imports(&m)?;
    check_host_func_refs(&m)?;
    m.entry_export = find_entry(&m)?;
    m.uses_float = compute_uses_float(&m)?;
    Ok(m)
}

fn parse_maps(m: &mut ModuleInfo<'_>, data: &[u8], offset: usize) -> Result<(), CompileError> {
    let bad = |msg: String| CompileError::invalid(format!("{MAPS_SECTION} section: {msg}"), offset);
    if !m.maps.is_empty() {
        return Err(bad("appears more than once".into()));
    }
    parse_decls(data, |d| m.maps.push(d)).map_err(|e| bad(e.to_string()))
}

/// Imports must follow abi's linking rules (`kwasm_abi::link`), the ones
/// `kwasm.ko` and `kwasm load` apply to the `.kw`: an import from the host
/// API names a host function with its exact signature. Imports from other
/// modules are left to the runtime (the userspace runner links spec-test
/// modules; the kernel rejects them). Returns the host function of each
/// imported function (the compiler charges its fuel cost at every call).
fn check_host_imports(m: &ModuleInfo<'_>) -> Result<Vec<Option<&'static HostFunc>>, CompileError> {
    let mut funcs = Vec::with_capacity(m.num_imported_funcs as usize);
    for imp in &m.imports {
        let func = match imp.kind {
            ImportKind::Func(t) => Some(&m.types[t as usize]),
            _ => None,
        };
        let host = link::check_import(imp.module, imp.name, func, Linking::Any)
            .map_err(|e| CompileError::new(ErrorKind::Invalid, e.to_string()))?;
        if func.is_some() {
            funcs.push(host);
        }
    }
    Ok(funcs)
}

/// Refuses a reference to a host function: its fuel cost is charged at each
/// direct `call` (DESIGN 10), which `call_indirect` through a table, or a
/// call from outside through an export, would bypass. Validation only lets
/// code take `ref.func` of functions declared in an element segment, an
/// export or a global's initialiser, so checking those covers every way to
/// make such a reference.
fn check_host_func_refs(m: &ModuleInfo<'_>) -> Result<(), CompileError> {
    let host = |f: u32| -> Option<&'static HostFunc> {
        m.host_funcs
            .get(usize::try_from(f).ok()?)
            .copied()
            .flatten()
    };
    let refuse = |f: u32, hf: &HostFunc, how: &str| {
        CompileError::new(
            ErrorKind::Invalid,
            format!(
                "function {f} ({}.{}) is a host function and cannot be {how}: host calls \
                 are charged fuel at the call site, so only direct `call`s may reach \
                 them; wrap it in a wasm function and use that instead",
                hf.module, hf.name
            ),
        )
    };
    for e in &m.exports {
        if e.kind == kind::FUNC
            && let Some(hf) = host(e.index)
        {
            return Err(refuse(e.index, hf, "exported"));
        }
    }
    for seg in &m.elems {
        for &item in &seg.items {
            if item & ITEM_GLOBAL == 0
                && item != ITEM_NULL
                && let Some(hf) = host(item)
            {
                return Err(refuse(item, hf, "put in an element segment"));
            }
        }
    }
    for g in &m.globals {
        if let GlobalInit::RefFunc(f) = g.init
            && let Some(hf) = host(f)
        {
            return Err(refuse(f, hf, "referenced by a global"));
        }
    }
    Ok(())
}

/// The `filter` export, by abi's entry rule: a function of type
/// `(i32) -> (i32)`. Returns its index in `exports`.
fn find_entry(m: &ModuleInfo<'_>) -> Result<Option<u32>, CompileError> {
    let Some((i, e)) = m
        .exports
        .iter()
        .enumerate()
        .find(|(_, e)| e.name == FILTER_EXPORT)
    else {
        return Ok(None);
    };
    let func = (e.kind == kind::FUNC).then(|| m.func_type(e.index));
    link::check_entry(func).map_err(|e| CompileError::new(ErrorKind::Invalid, e.to_string()))?;
    Ok(Some(i as u32))
}

fn compute_uses_float(m: &ModuleInfo<'_>) -> Result<bool, CompileError> {
    if m.types.iter().any(FuncType::uses_float) || m.globals.iter().any(|g| g.ty.is_float()) {
        return Ok(true);
    }
    for body in &m.bodies {
        let mut locals = body.get_locals_reader().map_err(wp)?;
        for _ in 0..locals.get_count() {
            let (_, t) = locals.read().map_err(wp)?;
            if matches!(t, wasmparser::ValType::F32 | wasmparser::ValType::F64) {
                return Ok(true);
            }
        }
        let mut ops = body.get_operators_reader().map_err(wp)?;
        while !ops.eof() {
            if operator_uses_float(&ops.read().map_err(wp)?) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Best-effort lookup of a function's name for error messages (the name
/// section comes after the code, so errors found while validating code need
/// a separate pass).
pub fn function_name(wasm: &[u8], func: u32) -> Option<String> {
    for payload in Parser::new(0).parse_all(wasm) {
        let Ok(Payload::CustomSection(c)) = payload else {
            if payload.is_err() {
                return None;
            }
            continue;
        };
        if let KnownCustom::Name(names) = c.as_known() {
            for name in names.into_iter().flatten() {
                if let Name::Function(map) = name {
                    for naming in map.into_iter().flatten() {
                        if naming.index == func {
                            return Some(naming.name.to_string());
                        }
                    }
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use kwasm_abi::host;

    fn info(wat: &str) -> Result<ModuleInfo<'static>, CompileError> {
        let wasm: &'static [u8] = Box::leak(wat::parse_str(wat).unwrap().into_boxed_slice());
        crate::validate::validate(wasm)?;
        parse(wasm)
    }

    #[test]
    fn host_functions_cannot_be_referenced() {
        let log = r#"(import "kwasm" "log" (func $log (param i32 i32)))"#;
        for (body, how) in [
            (
                "(table 1 funcref) (elem (i32.const 0) func $log)",
                "element segment",
            ),
            (
                "(elem declare func $log) (func (drop (ref.func $log)))",
                "element segment",
            ),
            ("(global funcref (ref.func $log))", "global"),
            (r#"(export "log" (func $log))"#, "exported"),
        ] {
            let Err(e) = info(&format!("(module {log} {body})")) else {
                panic!("accepted: {body}");
            };
            assert!(
                e.to_string().contains("kwasm.log) is a host function"),
                "{e}"
            );
            assert!(e.to_string().contains(how), "{e}");
        }
        // Direct calls are fine, and so are references to wasm imports.
        info(&format!(
            "(module {log} (func (call $log (i32.const 0) (i32.const 0))))"
        ))
        .unwrap();
        info(r#"(module (import "m" "f" (func $f)) (elem declare func $f))"#).unwrap();
    }

    #[test]
    fn parses_everything() {
        let m = info(
            r#"(module
                (import "kwasm" "pkt_len" (func (result i32)))
                (import "env" "g" (global i32))
                (import "env" "fr" (global funcref))
                (table 2 10 funcref)
                (memory 1 2)
                (global (mut i64) (i64.const -1))
                (global funcref (ref.func 1))
                (func $f (export "filter") (param i32) (result i32) local.get 0)
                (elem (i32.const 0) func 1)
                (elem funcref (ref.null func) (global.get 1))
                (data (global.get 0) "hi")
                (data "passive")
                (@custom "kwasm.maps" "\04\00\00\00\10\00\00\00\01\00\4d\4b\04\00\00\00\08\00\00\00\03\00\00\00"))"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.num_imported_funcs, 1);
        assert_eq!(m.host_func(0).unwrap().id, host::HostFuncId::PktLen);
        assert!(m.host_func(1).is_none());
        assert_eq!(m.funcs.len(), 2);
        assert_eq!(m.func_name(1), Some("f"));
        assert_eq!(m.tables[0].max, Some(10));
        assert_eq!(m.globals[2].init, GlobalInit::Const(u64::MAX));
        assert_eq!(m.globals[3].init, GlobalInit::RefFunc(1));
        assert_eq!(m.elems[0].items, vec![1]);
        assert_eq!(m.elems[1].items, vec![ITEM_NULL, ITEM_GLOBAL | 1]);
        assert_eq!(m.datas[0].offset, SegOffset::Global(0));
        assert_eq!(m.datas[1].mode, mode::PASSIVE);
        // Two v1 records and a v2 one (a per-CPU array), as a linker
        // concatenates them.
        assert_eq!(
            m.maps,
            vec![
                MapDecl::array(4),
                MapDecl::array(16),
                MapDecl::per_cpu_array(3)
            ]
        );
        assert_eq!(m.entry_export, Some(0));
        assert!(!m.uses_float);
    }

    #[test]
    fn kwasm_rules() {
        let e = info(r#"(module (import "kwasm" "pkt_len" (func (result i64))))"#).unwrap_err();
        assert!(
            e.to_string()
                .contains("`kwasm`.`pkt_len` has type () -> (i64)"),
            "{e}"
        );
        let e = info(r#"(module (import "kwasm" "nope" (func)))"#).unwrap_err();
        assert!(e.to_string().contains("unknown import"), "{e}");
        let e = info(r#"(module (func (export "filter")))"#).unwrap_err();
        assert!(e.to_string().contains("filter"), "{e}");
        // The kernel refuses a `filter` that is not a function; so does the
        // compiler, by the same rule.
        let e = info(r#"(module (global (export "filter") i32 (i32.const 0)))"#).unwrap_err();
        assert!(e.to_string().contains("must be a function"), "{e}");
        let e = info(r#"(module (@custom "kwasm.maps" "\01"))"#).unwrap_err();
        assert!(e.to_string().contains("kwasm.maps"), "{e}");
        let e = info(
            r#"(module (@custom "kwasm.maps" "\09\00\4d\4b\04\00\00\00\08\00\00\00\03\00\00\00"))"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("map 0: unknown kind 9"), "{e}");
        let m = info(
            r#"(module (import "spectest" "print" (func)) (import "env" "_debug" (func (param i32 i32))))"#,
        )
        .unwrap();
        assert!(m.host_func(0).is_none());
        assert_eq!(m.host_func(1).unwrap().id, host::HostFuncId::Log);
    }

    #[test]
    fn detects_floats() {
        assert!(
            info("(module (func (drop (f32.const 1))))")
                .unwrap()
                .uses_float
        );
        assert!(info("(module (func (local f64)))").unwrap().uses_float);
        assert!(
            info("(module (global f32 (f32.const 0)))")
                .unwrap()
                .uses_float
        );
        assert!(
            !info("(module (func (drop (i32.const 1))))")
                .unwrap()
                .uses_float
        );
    }
}
