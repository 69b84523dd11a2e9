//! Instantiation and invocation.

use super::artifact::Artifact;
use super::host::HostState;
use super::store::{Extern, FuncHandle, GlobalHandle, Memory, MemoryRef, Store, Table, TableRef};
use super::trampoline::{self, Activation, FAULT_CODE};
use super::values::{FuncType, Val};
use super::vm::{Owned, VmCtxMem, VmFuncRef, VmImportFunc};
use kwasm_abi::meta::{self, ImportRec, Meta, NONE, PoolRef, kind};
use kwasm_abi::trap::TrapCode;
use kwasm_abi::types::ValType;
use kwasm_abi::vmctx::{MemoryKind, VmCtxCounts, VmCtxLayout, header};
use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;
use std::sync::atomic::AtomicU64;

/// Handle of an instance in its [`Store`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InstanceId(pub(crate) usize);

/// A trap: why wasm stopped, and in which function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trap {
    pub code: TrapCode,
    /// Index of the trapping function in its module's function index space,
    /// `u32::MAX` when unknown (trampolines, host functions, instantiation).
    pub func: u32,
    /// That function's name, empty when unknown.
    pub func_name: String,
    /// Set when the "trap" was a hardware fault caught by the runtime's
    /// safety net (a bug in generated code or the runtime, never a wasm
    /// trap); `code` is then `HostError`.
    pub signal: Option<i32>,
}

impl Trap {
    pub(crate) fn new(code: TrapCode) -> Trap {
        Trap {
            code,
            func: u32::MAX,
            func_name: String::new(),
            signal: None,
        }
    }

    /// The message, as the spec test suite words it.
    pub fn message(&self) -> &'static str {
        self.code.message()
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.signal {
            Some(sig) => write!(f, "trap: fault (signal {sig}) in generated code")?,
            None => write!(f, "trap: {}", self.code.message())?,
        }
        if self.func != u32::MAX {
            write!(f, " in function {}", self.func)?;
            if !self.func_name.is_empty() {
                write!(f, " ({})", self.func_name)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Trap {}

/// Why an import could not be satisfied. The messages start with the spec
/// test suite's wording ("unknown import", "incompatible import type").
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("unknown import: `{module}`.`{name}` is not defined")]
    UnknownImport { module: String, name: String },
    #[error("incompatible import type for `{module}`.`{name}`: {reason}")]
    Incompatible {
        module: String,
        name: String,
        reason: String,
    },
}

/// Why instantiation failed.
#[derive(Debug, thiserror::Error)]
pub enum InstantiateError {
    #[error(transparent)]
    Link(#[from] LinkError),
    /// Segment initialisation or the start function trapped.
    #[error("{0}")]
    Trap(Trap),
    #[error("{0}")]
    Resource(String),
}

/// Why an invocation failed.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("{0}")]
    Trap(Trap),
    #[error("no export named `{0}`")]
    NoSuchExport(String),
    #[error("export `{0}` is a {1}, not a function")]
    NotAFunction(String, &'static str),
    #[error("export `{0}` is a {1}, not a global")]
    NotAGlobal(String, &'static str),
    #[error("`{name}` has type {ty}, got {got} arguments")]
    ArgCount {
        name: String,
        ty: FuncType,
        got: usize,
    },
    #[error("argument {index} of `{name}` must be {expected}, got {got}")]
    ArgType {
        name: String,
        index: usize,
        expected: &'static str,
        got: &'static str,
    },
    #[error("no trampoline for function type {0}")]
    NoTrampoline(u32),
    #[error("{0}")]
    Resource(String),
}

/// An element segment's resolved items; a dropped segment is empty.
pub(crate) struct ElemSeg {
    items: Box<[u64]>,
    dropped: Cell<bool>,
}

impl ElemSeg {
    pub fn items(&self) -> &[u64] {
        if self.dropped.get() { &[] } else { &self.items }
    }

    pub fn drop_items(&self) {
        self.dropped.set(true);
    }
}

/// A data segment: its bytes in the metadata pool; a dropped one is empty.
pub(crate) struct DataSeg {
    bytes: PoolRef,
    dropped: Cell<bool>,
}

/// A module instance. It lives at a fixed address (owned by the store
/// through a raw pointer) because its `VmCtx` points back to it.
pub struct Instance {
    pub(crate) artifact: Rc<Artifact>,
    pub(crate) vmctx: VmCtxMem,
    pub(crate) layout: VmCtxLayout,
    pub(crate) memory: Option<*mut Memory>,
    pub(crate) tables: Vec<*mut Table>,
    pub(crate) globals: Vec<GlobalHandle>,
    pub(crate) elems: Vec<ElemSeg>,
    pub(crate) datas: Vec<DataSeg>,
    pub(crate) maps: Vec<Box<[AtomicU64]>>,
    pub(crate) host: Rc<HostState>,
    pub(crate) exports: HashMap<String, Extern>,
}

impl Instance {
    /// The instance whose `VmCtx` is `vmctx`.
    ///
    /// # Safety
    /// `vmctx` must be the `VmCtx` of a live instance (the only kind of
    /// pointer generated code passes to libcalls and host functions).
    pub(crate) unsafe fn from_vmctx<'a>(vmctx: *mut u8) -> &'a Instance {
        // SAFETY: per the contract, HOST_CTX holds the owning instance.
        unsafe {
            &*(*vmctx
                .add(header::HOST_CTX as usize)
                .cast::<*const Instance>())
        }
    }

    pub(crate) fn meta(&self) -> Meta<'_> {
        self.artifact.meta()
    }

    /// Bytes of data segment `i` (empty once dropped), or `None`.
    pub(crate) fn data(&self, i: u32) -> Option<&[u8]> {
        let d = self.datas.get(i as usize)?;
        if d.dropped.get() {
            return Some(&[]);
        }
        self.artifact.meta().pool_bytes(d.bytes)
    }

    pub(crate) fn drop_data(&self, i: u32) {
        if let Some(d) = self.datas.get(i as usize) {
            d.dropped.set(true);
        }
    }

    /// Address of the `VmFuncRef` of function `f`.
    pub(crate) fn func_ref(&self, f: u32) -> u64 {
        self.vmctx.ptr() as u64 + self.layout.func_ref(f) as u64
    }

    /// The artifact this instance runs.
    pub fn artifact(&self) -> &Rc<Artifact> {
        &self.artifact
    }

    /// Exported names, sorted.
    pub fn export_names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.exports.keys().map(|s| s.as_str()).collect();
        v.sort_unstable();
        v
    }
}

fn limits_str(min: u32, max: Option<u32>) -> String {
    match max {
        Some(m) => format!("{{min {min}, max {m}}}"),
        None => format!("{{min {min}, no max}}"),
    }
}

fn opt(max: u32) -> Option<u32> {
    (max != NONE).then_some(max)
}

/// The spec's limits matching: actual `{min, max}` (current size, declared
/// maximum) against the import's.
fn limits_match(cur: u32, max: Option<u32>, imp_min: u32, imp_max: Option<u32>) -> bool {
    cur >= imp_min
        && match imp_max {
            None => true,
            Some(im) => max.is_some_and(|m| m <= im),
        }
}

impl Store {
    /// Check an import against what the store resolved it to.
    fn check_import(
        &mut self,
        artifact: &Artifact,
        imp: &ImportRec,
        ext: &Extern,
    ) -> Result<(), String> {
        // SAFETY (all derefs below): externs point at entities owned by this
        // store, which outlive it.
        match (imp.kind, ext) {
            (kind::FUNC, Extern::Func(h)) => {
                let want = artifact
                    .types
                    .get(imp.index as usize)
                    .ok_or("bad type index")?;
                let want_id = self.type_id(want);
                if want_id != h.type_id {
                    let have = self
                        .func_type(h.type_id)
                        .map(|t| t.to_string())
                        .unwrap_or_default();
                    return Err(format!("expected function {want}, found {have}"));
                }
                Ok(())
            }
            (kind::TABLE, Extern::Table(TableRef(t))) => {
                // SAFETY: see above.
                let t = unsafe { &**t };
                let want = ValType::from_u8(imp.ty).ok_or("bad element type")?;
                if t.elem != want {
                    return Err(format!(
                        "expected table of {}, found table of {}",
                        want.name(),
                        t.elem.name()
                    ));
                }
                if !limits_match(t.len(), t.declared_max, imp.min, opt(imp.max)) {
                    return Err(format!(
                        "table limits {} do not match {}",
                        limits_str(t.len(), t.declared_max),
                        limits_str(imp.min, opt(imp.max))
                    ));
                }
                Ok(())
            }
            (kind::MEMORY, Extern::Memory(MemoryRef(m))) => {
                // SAFETY: see above.
                let m = unsafe { &**m };
                if !limits_match(m.pages(), m.declared_max, imp.min, opt(imp.max)) {
                    return Err(format!(
                        "memory limits {} do not match {}",
                        limits_str(m.pages(), m.declared_max),
                        limits_str(imp.min, opt(imp.max))
                    ));
                }
                Ok(())
            }
            (kind::GLOBAL, Extern::Global(g)) => {
                let want = ValType::from_u8(imp.ty).ok_or("bad global type")?;
                let want_mut = imp.mutable != 0;
                if g.ty != want || g.mutable != want_mut {
                    let m = |b: bool| if b { "mut " } else { "" };
                    return Err(format!(
                        "expected global {}{}, found global {}{}",
                        m(want_mut),
                        want.name(),
                        m(g.mutable),
                        g.ty.name()
                    ));
                }
                Ok(())
            }
            (k, e) => {
                let want = match k {
                    kind::FUNC => "function",
                    kind::TABLE => "table",
                    kind::MEMORY => "memory",
                    _ => "global",
                };
                Err(format!("expected a {want}, found a {}", e.kind_name()))
            }
        }
    }

    /// Instantiate `artifact`, resolving its imports by (module, name) from
    /// what was [`Store::define`]d or [`Store::register`]ed.
    pub fn instantiate(&mut self, artifact: &Rc<Artifact>) -> Result<InstanceId, InstantiateError> {
        let meta = artifact.meta();
        let externs: Vec<Option<Extern>> = meta
            .imports()
            .iter()
            .map(|imp| self.lookup(meta.str(imp.module), meta.str(imp.name)))
            .collect();
        self.instantiate_resolved(artifact, externs)
    }

    /// Instantiate `artifact`, resolving each import with
    /// `resolver(module, name)` instead of the store's namespace. The
    /// externs it returns must belong to this store.
    pub fn instantiate_with(
        &mut self,
        artifact: &Rc<Artifact>,
        mut resolver: impl FnMut(&str, &str) -> Option<Extern>,
    ) -> Result<InstanceId, InstantiateError> {
        let meta = artifact.meta();
        let externs = meta
            .imports()
            .iter()
            .map(|imp| resolver(meta.str(imp.module), meta.str(imp.name)))
            .collect();
        self.instantiate_resolved(artifact, externs)
    }

    fn instantiate_resolved(
        &mut self,
        artifact: &Rc<Artifact>,
        externs: Vec<Option<Extern>>,
    ) -> Result<InstanceId, InstantiateError> {
        let meta = artifact.meta();

        // 1. Check imports before allocating anything.
        let mut resolved = Vec::new();
        for (imp, ext) in meta.imports().iter().zip(externs) {
            let module = meta.str(imp.module);
            let name = meta.str(imp.name);
            let ext = ext.ok_or_else(|| LinkError::UnknownImport {
                module: module.into(),
                name: name.into(),
            })?;
            if !self.owns(&ext) {
                return Err(LinkError::Incompatible {
                    module: module.into(),
                    name: name.into(),
                    reason: "the extern belongs to another store".into(),
                }
                .into());
            }
            self.check_import(artifact, &imp, &ext)
                .map_err(|reason| LinkError::Incompatible {
                    module: module.into(),
                    name: name.into(),
                    reason,
                })?;
            resolved.push(ext);
        }
        let type_ids: Vec<u32> = artifact.types.iter().map(|t| self.type_id(t)).collect();

        // 2. VmCtx.
        let memory_kind = if meta.imported(kind::MEMORY) > 0 {
            MemoryKind::Imported
        } else if !meta.memory().is_empty() {
            MemoryKind::Defined
        } else {
            MemoryKind::None
        };
        let counts = VmCtxCounts {
            types: meta.types().len(),
            imported_funcs: meta.imported(kind::FUNC),
            funcs: meta.func_count(),
            imported_tables: meta.imported(kind::TABLE),
            defined_tables: meta.tables().len(),
            memory: memory_kind,
            imported_globals: meta.imported(kind::GLOBAL),
            defined_globals: meta.globals().len(),
        };
        let layout = VmCtxLayout::new(counts)
            .ok_or_else(|| InstantiateError::Resource("module has too many entities".into()))?;
        let vmctx = VmCtxMem::new(layout.size)
            .ok_or_else(|| InstantiateError::Resource("cannot allocate VmCtx".into()))?;
        let vm = vmctx.ptr();

        let owned = Owned::new(Instance {
            artifact: artifact.clone(),
            vmctx,
            layout,
            memory: None,
            tables: Vec::new(),
            globals: Vec::new(),
            elems: Vec::new(),
            datas: Vec::new(),
            maps: Vec::new(),
            host: self.host.clone(),
            exports: HashMap::new(),
        });
        let ip = owned.ptr();
        // Kept even if a later step fails: segment initialisation may have
        // stored this instance's funcrefs into imported tables.
        self.instances.push(owned);
        let id = InstanceId(self.instances.len() - 1);
        // SAFETY: freshly allocated, owned by the store, not yet shared with
        // any code; we hold the only reference while initialising.
        let inst = unsafe { &mut *ip };

        // SAFETY (the header and table writes below): every offset comes
        // from `layout`, which sized the allocation, with the field types
        // abi documents.
        unsafe {
            *inst.vmctx.at::<i64>(header::FUEL) = self.config.fuel.min(i64::MAX as u64) as i64;
            *inst.vmctx.at::<u64>(header::STACK_LIMIT) =
                self.stack.as_ref().map_or(u64::MAX, |s| s.limit());
            *inst.vmctx.at::<usize>(header::TRAP_HANDLER) = trampoline::trap_handler_addr();
            *inst.vmctx.at::<usize>(header::LIBCALLS) = super::libcalls::table_addr();
            *inst.vmctx.at::<*mut Instance>(header::HOST_CTX) = ip;
            for (t, &cid) in type_ids.iter().enumerate() {
                *inst.vmctx.at::<u32>(layout.type_id(t as u32)) = cid;
            }
        }

        // 3. Imports.
        let mut import_funcs: Vec<(*const u8, *mut u8)> = Vec::new();
        for ext in &resolved {
            // SAFETY: as above; resolved entities are owned by the store.
            unsafe {
                match *ext {
                    Extern::Func(h) => {
                        let cx = if h.vmctx.is_null() { vm } else { h.vmctx };
                        let slot = inst
                            .vmctx
                            .at::<VmImportFunc>(layout.imported_func(import_funcs.len() as u32));
                        (*slot).code = h.code;
                        (*slot).vmctx = cx;
                        import_funcs.push((h.code, cx));
                    }
                    Extern::Table(TableRef(t)) => {
                        let i = inst.tables.len() as u32;
                        *inst.vmctx.at(layout.imported_table(i)) = (*t).vm;
                        inst.tables.push(t);
                    }
                    Extern::Memory(MemoryRef(m)) => {
                        *inst.vmctx.at(layout.imported_memory) = (*m).vm;
                        inst.memory = Some(m);
                    }
                    Extern::Global(g) => {
                        let i = inst.globals.len() as u32;
                        *inst.vmctx.at(layout.imported_global(i)) = g.ptr;
                        inst.globals.push(g);
                    }
                }
            }
        }

        // 4. Defined memory and tables.
        if let Some(m) = meta.memory().get(0) {
            let mem = Memory::new(
                inst.vmctx.at(layout.defined_memory),
                m.min,
                opt(m.max),
                self.config.max_memory_pages,
            )
            .map_err(InstantiateError::Resource)?;
            let o = Owned::new(mem);
            inst.memory = Some(o.ptr());
            self.memories.push(o);
        }
        for (i, t) in meta.tables().iter().enumerate() {
            let elem = ValType::from_u8(t.elem).unwrap_or(ValType::FuncRef);
            let table = Table::new(
                inst.vmctx.at(layout.defined_table(i as u32)),
                elem,
                t.min,
                opt(t.max),
                self.config.max_table_elems,
            )
            .map_err(InstantiateError::Resource)?;
            let o = Owned::new(table);
            inst.tables.push(o.ptr());
            self.tables.push(o);
        }

        // 5. Function references (imports take their code and context from
        // the import).
        let nimp = import_funcs.len() as u32;
        for f in 0..meta.func_count() {
            let (code, cx) = if f < nimp {
                import_funcs[f as usize]
            } else {
                let rec = meta.funcs().get(f - nimp).unwrap_or_default();
                (artifact.code.at(rec.text_off), vm)
            };
            let ty = meta.func_type(f).unwrap_or(0);
            // SAFETY: offset from `layout`.
            unsafe {
                let r = inst.vmctx.at::<VmFuncRef>(layout.func_ref(f));
                (*r).code = code;
                (*r).vmctx = cx;
                (*r).type_id = type_ids.get(ty as usize).copied().unwrap_or(u32::MAX);
            }
        }

        // 6. Defined globals.
        for (i, g) in meta.globals().iter().enumerate() {
            let ty = ValType::from_u8(g.ty).unwrap_or(ValType::I64);
            let bits = match g.init_kind {
                meta::init::CONST => g.init,
                meta::init::GLOBAL_GET => inst
                    .globals
                    .get(g.init as usize)
                    // SAFETY: global slots are valid while the store lives.
                    .map_or(0, |h| unsafe { *h.ptr }),
                meta::init::REF_FUNC => inst.func_ref(g.init as u32),
                _ => 0,
            };
            let bits = match ty {
                ValType::I32 | ValType::F32 => bits & 0xffff_ffff,
                _ => bits,
            };
            let ptr = inst.vmctx.at::<u64>(layout.defined_global(i as u32));
            // SAFETY: offset from `layout`.
            unsafe { *ptr = bits };
            inst.globals.push(GlobalHandle {
                ptr,
                ty,
                mutable: g.mutable != 0,
            });
        }

        // 7. Exports, maps, segments.
        for e in meta.exports().iter() {
            let ext = match e.kind {
                kind::FUNC => {
                    // SAFETY: func_refs were initialised above.
                    let r = unsafe { &*inst.vmctx.at::<VmFuncRef>(layout.func_ref(e.index)) };
                    Extern::Func(FuncHandle {
                        code: r.code,
                        vmctx: r.vmctx,
                        type_id: r.type_id,
                    })
                }
                kind::TABLE => Extern::Table(TableRef(inst.tables[e.index as usize])),
                kind::MEMORY => match inst.memory {
                    Some(m) => Extern::Memory(MemoryRef(m)),
                    None => continue,
                },
                _ => Extern::Global(inst.globals[e.index as usize]),
            };
            inst.exports.insert(meta.str(e.name).to_string(), ext);
        }
        inst.maps = meta
            .maps()
            .iter()
            .map(|m| (0..m.entries).map(|_| AtomicU64::new(0)).collect())
            .collect();
        for e in meta.elems().iter() {
            let items = meta
                .elem_items(e)
                .map(|item| {
                    if item == meta::ITEM_NULL {
                        0
                    } else if item & meta::ITEM_GLOBAL != 0 {
                        inst.globals
                            .get((item & !meta::ITEM_GLOBAL) as usize)
                            // SAFETY: global slots are valid while the store lives.
                            .map_or(0, |h| unsafe { *h.ptr })
                    } else {
                        inst.func_ref(item)
                    }
                })
                .collect();
            inst.elems.push(ElemSeg {
                items,
                dropped: Cell::new(false),
            });
        }
        for d in meta.datas().iter() {
            inst.datas.push(DataSeg {
                bytes: d.bytes,
                dropped: Cell::new(false),
            });
        }

        // 8. Active segments, in order; a failure traps instantiation (what
        // was written before stays written).
        let offset_value = |inst: &Instance, kind: u8, v: u32| -> u32 {
            if kind == meta::offset::GLOBAL_GET {
                // SAFETY: global slots are valid while the store lives.
                inst.globals
                    .get(v as usize)
                    .map_or(0, |h| unsafe { *h.ptr } as u32)
            } else {
                v
            }
        };
        for (i, e) in meta.elems().iter().enumerate() {
            if e.mode != meta::mode::ACTIVE {
                continue;
            }
            let off = offset_value(inst, e.offset_kind, e.offset) as usize;
            // SAFETY: tables are owned by the store; no other reference to
            // this one is live during instantiation.
            let table = unsafe { &mut *inst.tables[e.table as usize] };
            let items = inst.elems[i].items();
            let dst = table.elems_mut();
            if off
                .checked_add(items.len())
                .is_none_or(|end| end > dst.len())
            {
                return Err(InstantiateError::Trap(Trap::new(
                    TrapCode::TableOutOfBounds,
                )));
            }
            dst[off..off + items.len()].copy_from_slice(items);
        }
        for (i, d) in meta.datas().iter().enumerate() {
            if d.mode != meta::mode::ACTIVE {
                continue;
            }
            let off = offset_value(inst, d.offset_kind, d.offset) as u64;
            let bytes = inst.data(i as u32).unwrap_or(&[]);
            let Some(mem) = inst.memory else {
                return Err(InstantiateError::Trap(Trap::new(
                    TrapCode::MemoryOutOfBounds,
                )));
            };
            // SAFETY: memories are owned by the store; no other reference to
            // this one is live during instantiation.
            let mem = unsafe { &mut *mem };
            match mem.slice_mut(off, bytes.len() as u64) {
                Some(dst) => dst.copy_from_slice(bytes),
                None => {
                    return Err(InstantiateError::Trap(Trap::new(
                        TrapCode::MemoryOutOfBounds,
                    )));
                }
            }
        }
        for (i, e) in meta.elems().iter().enumerate() {
            if e.mode != meta::mode::PASSIVE {
                inst.elems[i].drop_items();
            }
        }
        for (i, d) in meta.datas().iter().enumerate() {
            if d.mode == meta::mode::ACTIVE {
                inst.drop_data(i as u32);
            }
        }

        // 9. Start function.
        if meta.start_func != NONE {
            let f = meta.start_func;
            let ty = meta.func_type(f).unwrap_or(0);
            // SAFETY: func_refs were initialised above.
            let (code, cx) = unsafe {
                let r = &*inst.vmctx.at::<VmFuncRef>(layout.func_ref(f));
                (r.code, r.vmctx)
            };
            let mut values = [0u64; 1];
            match self.call_raw(id, ty, code, cx, &mut values) {
                Ok(()) => {}
                Err(InvokeError::Trap(t)) => return Err(InstantiateError::Trap(t)),
                Err(e) => return Err(InstantiateError::Resource(e.to_string())),
            }
        }
        Ok(id)
    }

    /// Call `code` with context `cx` through the trampoline of type `ty` of
    /// instance `id`'s module. `values` holds the arguments and receives the
    /// results.
    fn call_raw(
        &mut self,
        id: InstanceId,
        ty: u32,
        code: *const u8,
        cx: *mut u8,
        values: &mut [u64],
    ) -> Result<(), InvokeError> {
        let inst = self
            .instance(id)
            .ok_or_else(|| InvokeError::Resource("no such instance".into()))?;
        let tr = inst.meta().types().get(ty).map_or(NONE, |t| t.trampoline);
        if tr == NONE {
            return Err(InvokeError::NoTrampoline(ty));
        }
        let tramp = inst.artifact.code.at(tr);
        let fuel = self.config.fuel.min(i64::MAX as u64) as i64;
        let limit = self
            .stack()
            .map_err(|e| InvokeError::Resource(format!("cannot allocate the wasm stack: {e}")))?
            .limit();
        for o in &self.instances {
            // SAFETY: instances are live; writing the header fields of their
            // VmCtx while no wasm runs.
            unsafe {
                let i = &*o.ptr();
                *i.vmctx.at::<i64>(header::FUEL) = fuel;
                *i.vmctx.at::<u64>(header::STACK_LIMIT) = limit;
            }
        }
        let stack = self.stack.as_ref().expect("created above");
        // SAFETY: `tramp` is the trampoline of `code`'s type (`ty` is the
        // callee's type in this module, and canonical types match across
        // modules), `cx` its initialised VmCtx whose stack limit was just set
        // to this stack, and `values` has room for params and results.
        let act = unsafe { trampoline::enter(tramp, cx, code, values.as_mut_ptr(), stack) };
        match act {
            Activation::Returned => Ok(()),
            Activation::Fault { signal } => Err(InvokeError::Trap(Trap {
                signal: Some(signal),
                ..Trap::new(TrapCode::HostError)
            })),
            Activation::Trap { code, func, vmctx } => {
                let tc = if code == FAULT_CODE {
                    TrapCode::HostError
                } else {
                    TrapCode::from_u32(code).unwrap_or(TrapCode::HostError)
                };
                let func_name = self
                    .instances
                    .iter()
                    // SAFETY: instances are live.
                    .map(|o| unsafe { &*o.ptr() })
                    .find(|i| i.vmctx.ptr() as u64 == vmctx)
                    .map(|i| i.meta().func_name(func).to_string())
                    .unwrap_or_default();
                Err(InvokeError::Trap(Trap {
                    code: tc,
                    func,
                    func_name,
                    signal: None,
                }))
            }
        }
    }

    /// Call the exported function `name` of `id` with `args`.
    pub fn invoke(
        &mut self,
        id: InstanceId,
        name: &str,
        args: &[Val],
    ) -> Result<Vec<Val>, InvokeError> {
        let inst = self
            .instance(id)
            .ok_or_else(|| InvokeError::Resource("no such instance".into()))?;
        let meta = inst.meta();
        let exp = meta
            .export(name)
            .ok_or_else(|| InvokeError::NoSuchExport(name.into()))?;
        if exp.kind != kind::FUNC {
            let k = inst.exports.get(name).map_or("?", |e| e.kind_name());
            return Err(InvokeError::NotAFunction(name.into(), k));
        }
        let ty_idx = meta.func_type(exp.index).unwrap_or(0);
        let ty = inst
            .artifact
            .types
            .get(ty_idx as usize)
            .cloned()
            .ok_or(InvokeError::NoTrampoline(ty_idx))?;
        if args.len() != ty.params.len() {
            return Err(InvokeError::ArgCount {
                name: name.into(),
                ty,
                got: args.len(),
            });
        }
        for (i, (a, t)) in args.iter().zip(ty.params.iter()).enumerate() {
            if a.ty() != *t {
                return Err(InvokeError::ArgType {
                    name: name.into(),
                    index: i,
                    expected: t.name(),
                    got: a.ty().name(),
                });
            }
        }
        // SAFETY: func_refs are initialised for every function.
        let (code, cx) = unsafe {
            let r = &*inst.vmctx.at::<VmFuncRef>(inst.layout.func_ref(exp.index));
            (r.code, r.vmctx)
        };
        let mut values = vec![0u64; ty.params.len().max(ty.results.len()).max(1)];
        for (slot, a) in values.iter_mut().zip(args) {
            *slot = a.to_raw();
        }
        self.call_raw(id, ty_idx, code, cx, &mut values)?;
        Ok(ty
            .results
            .iter()
            .zip(values)
            .map(|(t, raw)| Val::from_raw(raw, *t))
            .collect())
    }

    /// Value of the exported global `name` of `id`.
    pub fn get_global(&self, id: InstanceId, name: &str) -> Result<Val, InvokeError> {
        let inst = self
            .instance(id)
            .ok_or_else(|| InvokeError::Resource("no such instance".into()))?;
        match inst.exports.get(name) {
            // SAFETY: global slots are valid while the store lives.
            Some(Extern::Global(g)) => Ok(Val::from_raw(unsafe { *g.ptr }, g.ty)),
            Some(e) => Err(InvokeError::NotAGlobal(name.into(), e.kind_name())),
            None => Err(InvokeError::NoSuchExport(name.into())),
        }
    }

    /// The type of exported function `name` of `id`.
    pub fn export_func_type(&self, id: InstanceId, name: &str) -> Option<FuncType> {
        let inst = self.instance(id)?;
        let meta = inst.meta();
        let e = meta.export(name)?;
        if e.kind != kind::FUNC {
            return None;
        }
        inst.artifact.func_type(e.index).cloned()
    }

    /// An export of instance `id`.
    pub fn export(&self, id: InstanceId, name: &str) -> Option<Extern> {
        self.instance(id)?.exports.get(name).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The slot contract of trampolines (`kwasm_abi::types::RawVal`), below
    /// what [`Store::invoke`] can express: the upper halves of i32/f32
    /// argument slots are ignored (a kernel caller may leave anything
    /// there), and i32/f32 results are stored zero-extended, through ten
    /// results of a wasm-to-wasm call.
    #[test]
    fn narrow_slots_ignore_upper_bits_and_results_are_zero_extended() {
        const WAT: &str = r#"(module
            (func $many (param i32 f32 i64 f64)
                (result i32 f32 i64 f64 i32 f32 i64 f64 i32 i64)
                (local.get 0) (local.get 1) (local.get 2) (local.get 3)
                (i32.add (local.get 0) (i32.const 1))
                (f32.add (local.get 1) (f32.const 1))
                (i64.add (local.get 2) (i64.const 1))
                (f64.add (local.get 3) (f64.const 1))
                (i32.const -1) (i64.const -1))
            (func (export "many") (param i32 f32 i64 f64)
                (result i32 f32 i64 f64 i32 f32 i64 f64 i32 i64)
                (call $many (local.get 0) (local.get 1) (local.get 2) (local.get 3))))"#;
        for opt in [
            kwasm_compiler::OptLevel::None,
            kwasm_compiler::OptLevel::Speed,
        ] {
            let opts = kwasm_compiler::CompileOptions {
                opt,
                ..Default::default()
            };
            let kw = kwasm_compiler::compile(WAT.as_bytes(), &opts).unwrap();
            let a = Rc::new(Artifact::from_bytes("many.kw", &kw).unwrap());
            let mut s = Store::default();
            let id = s.instantiate(&a).unwrap();
            let (ty, code, cx) = {
                let inst = s.instance(id).unwrap();
                let exp = inst.meta().export("many").unwrap();
                let ty = inst.meta().func_type(exp.index).unwrap();
                // SAFETY: func_refs are initialised for every function.
                let r = unsafe { &*inst.vmctx.at::<VmFuncRef>(inst.layout.func_ref(exp.index)) };
                (ty, r.code, r.vmctx)
            };
            let mut values = [0x5555_5555_5555_5555u64; 10];
            values[..4].copy_from_slice(&[
                0xdead_beef_0000_0005,
                0xffff_ffff_0000_0000 | u64::from(2.5f32.to_bits()),
                7,
                4.25f64.to_bits(),
            ]);
            s.call_raw(id, ty, code, cx, &mut values).unwrap();
            assert_eq!(
                values,
                [
                    5,
                    u64::from(2.5f32.to_bits()),
                    7,
                    4.25f64.to_bits(),
                    6,
                    u64::from(3.5f32.to_bits()),
                    8,
                    5.25f64.to_bits(),
                    0xffff_ffff,
                    u64::MAX
                ],
                "{opt:?}"
            );
        }
    }
}
