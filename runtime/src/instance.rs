//! Instantiation and invocation.

use super::artifact::Artifact;
use super::host::HostState;
use super::store::{Extern, FuncHandle, GlobalHandle, Memory, MemoryRef, Store, Table, TableRef};
use super::trampoline::{self, Activation, FAULT_CODE};
use super::values::{FuncType, Val};
use super::vm::{Owned, VmCtxMem};
use kwasm_abi::instantiate::{self, InitTarget};
use kwasm_abi::link::{self, Linking};
use kwasm_abi::maps;
use kwasm_abi::meta::{ImportRec, MapRec, Meta, MetaSig, NONE, PoolRef, kind};
use kwasm_abi::trap::TrapCode;
use kwasm_abi::types::ValType;
use kwasm_abi::vmctx::{VmCtxHeader, VmCtxLayout, VmFuncRef, VmImportFunc};
use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::rc::Rc;
use std::sync::Mutex;
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
    #[error("unknown import: `{module}`.`{name}` is not defined{}", hint(.module, .name))]
    UnknownImport { module: String, name: String },
    #[error("incompatible import type for `{module}`.`{name}`: {reason}")]
    Incompatible {
        module: String,
        name: String,
        reason: String,
    },
}

/// What to change, for an import from a language toolchain's runtime
/// (`kwasm_abi::link::toolchain_hint`).
fn hint(module: &str, name: &str) -> String {
    kwasm_abi::link::toolchain_hint(module, name)
        .map(|h| format!(": {h}"))
        .unwrap_or_default()
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

impl DataSeg {
    pub fn drop_bytes(&self) {
        self.dropped.set(true);
    }
}

/// A module instance. It lives at a fixed address (owned by the store
/// through a raw pointer) because its `VmCtx` points back to it.
/// A map's slots ([`kwasm_abi::maps`]). The runner is one CPU: a per-CPU
/// map has one copy of each entry.
pub(crate) type MapStore = maps::MapStore<Box<[AtomicU64]>, MapMutex>;

/// A map's lock in the runner: a mutex, so that a store shared between
/// threads would still be safe (the runner itself is single-threaded).
pub(crate) struct MapMutex(Mutex<()>);

impl maps::MapLock for MapMutex {
    fn locked(&self, f: &mut dyn FnMut()) {
        let _g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f()
    }
}

/// Zeroed slots for a map record that `Meta::parse` accepted, and a hash
/// key from std's per-process random keys.
fn new_map(rec: &MapRec) -> MapStore {
    let decl = rec.decl().expect("validated map record");
    let len = maps::storage_len(&decl, 1).expect("validated entry count");
    let seed = [0u64, 1].map(|i| RandomState::new().hash_one(i));
    MapStore::new(
        &decl,
        (0..len).map(|_| AtomicU64::new(0)).collect(),
        MapMutex(Mutex::new(())),
        seed,
    )
}

pub struct Instance {
    pub(crate) artifact: Rc<Artifact>,
    pub(crate) vmctx: VmCtxMem,
    pub(crate) memory: Option<*mut Memory>,
    pub(crate) tables: Vec<*mut Table>,
    pub(crate) globals: Vec<GlobalHandle>,
    pub(crate) elems: Vec<ElemSeg>,
    pub(crate) datas: Vec<DataSeg>,
    pub(crate) maps: Vec<MapStore>,
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
        // SAFETY: per the contract, `vmctx` starts with the header, whose
        // `host_ctx` holds the owning instance.
        unsafe { &*(*vmctx.cast::<VmCtxHeader>()).host_ctx.cast::<Instance>() }
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

    /// Function `f` of the index space as its `VmFuncRef` says: what a
    /// call or an export of it uses.
    pub(crate) fn func(&self, f: u32) -> Option<FuncHandle> {
        let addr = self.vmctx.func_ref_addr(f) as *const VmFuncRef;
        // SAFETY: a non-null `func_ref_addr` is the in-bounds `VmFuncRef` of
        // `f`, written during instantiation; reading it creates no reference
        // that outlives this call.
        (!addr.is_null()).then(|| unsafe {
            let r = addr.read();
            FuncHandle {
                code: r.code,
                vmctx: r.vmctx,
                type_id: r.type_id,
            }
        })
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

/// The instance under construction, as abi's instantiation rules see it.
impl InitTarget for Instance {
    fn global(&self, g: u32) -> u64 {
        // SAFETY: global slots are valid while the store lives.
        self.globals
            .get(g as usize)
            .map_or(0, |h| unsafe { *h.ptr })
    }

    fn func_ref(&self, f: u32) -> u64 {
        self.vmctx.func_ref_addr(f)
    }

    fn elem_and_table(&mut self, elem: u32, table: u32) -> Option<(&[u64], &mut [u64])> {
        let items = self.elems.get(elem as usize)?.items();
        let table = *self.tables.get(table as usize)?;
        // SAFETY: tables are owned by the store, apart from this instance's
        // segments, and nothing else refers to them during instantiation.
        Some((items, unsafe { (*table).elems_mut() }))
    }

    fn memory(&mut self) -> Option<&mut [u8]> {
        // SAFETY: as for tables.
        self.memory.map(|m| unsafe { (*m).bytes_mut() })
    }
}

/// abi's host-import rule, in the runtime's error type: a name the host API
/// does not have is unknown, a host function of another type (or a
/// non-function under a host name) incompatible.
fn host_link_error(e: link::LinkError<'_, MetaSig<'_>>) -> LinkError {
    use link::LinkError as L;
    let (module, name) = match e {
        L::UnknownImport { module, name } => {
            return LinkError::UnknownImport {
                module: module.into(),
                name: name.into(),
            };
        }
        L::NotAFunction { module, name } | L::ImportType { module, name, .. } => (module, name),
        L::EntryNotAFunction | L::EntryType { .. } => ("", ""),
    };
    LinkError::Incompatible {
        module: module.into(),
        name: name.into(),
        reason: e.to_string(),
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
fn check_limits(what: &str, cur: u32, max: Option<u32>, imp: &ImportRec) -> Result<(), String> {
    let (imp_min, imp_max) = (imp.min, opt(imp.max));
    let ok = cur >= imp_min
        && match imp_max {
            None => true,
            Some(im) => max.is_some_and(|m| m <= im),
        };
    if ok {
        return Ok(());
    }
    Err(format!(
        "{what} limits {} do not match {}",
        limits_str(cur, max),
        limits_str(imp_min, imp_max)
    ))
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
                check_limits("table", t.len(), t.declared_max, imp)
            }
            (kind::MEMORY, Extern::Memory(MemoryRef(m))) => {
                // SAFETY: see above.
                let m = unsafe { &**m };
                check_limits("memory", m.pages(), m.declared_max, imp)
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

        // 1. Check imports before allocating anything: first abi's rule for
        // the host API (the one the compiler and the kernel apply), then
        // each extern against its import.
        link::check_imports(&meta, Linking::Any).map_err(host_link_error)?;
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

        // 2. VmCtx, sized by abi's counts for this metadata.
        let layout = VmCtxLayout::new(meta.vmctx_counts())
            .ok_or_else(|| InstantiateError::Resource("module has too many entities".into()))?;
        let vmctx = VmCtxMem::new(layout)
            .ok_or_else(|| InstantiateError::Resource("cannot allocate VmCtx".into()))?;
        let vm = vmctx.ptr();

        let owned = Owned::new(Instance {
            artifact: artifact.clone(),
            vmctx,
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

        *inst.vmctx.header() = VmCtxHeader {
            fuel: self.config.fuel.min(i64::MAX as u64) as i64,
            stack_limit: self.stack.as_ref().map_or(u64::MAX, |s| s.limit()),
            trap_handler: trampoline::trap_handler_addr(),
            libcalls: super::libcalls::libcall_table(),
            host_ctx: ip.cast(),
        };
        inst.vmctx.type_ids().copy_from_slice(&type_ids);

        // 3. Imports. The slots exist: `vmctx_counts` counted these very
        // imports.
        let no_slot = || InstantiateError::Resource("VmCtx has no slot for an import".into());
        let mut import_funcs: Vec<(*const u8, *mut u8)> = Vec::new();
        for ext in &resolved {
            match *ext {
                Extern::Func(h) => {
                    let cx = if h.vmctx.is_null() { vm } else { h.vmctx };
                    let slot = inst.vmctx.import_func(import_funcs.len() as u32);
                    *slot.ok_or_else(no_slot)? = VmImportFunc {
                        code: h.code,
                        vmctx: cx,
                    };
                    import_funcs.push((h.code, cx));
                }
                Extern::Table(TableRef(t)) => {
                    let slot = inst.vmctx.imported_table(inst.tables.len() as u32);
                    // SAFETY: resolved entities are owned by the store.
                    *slot.ok_or_else(no_slot)? = unsafe { (*t).vm };
                    inst.tables.push(t);
                }
                Extern::Memory(MemoryRef(m)) => {
                    // SAFETY: as above.
                    *inst.vmctx.imported_memory().ok_or_else(no_slot)? = unsafe { (*m).vm };
                    inst.memory = Some(m);
                }
                Extern::Global(g) => {
                    let slot = inst.vmctx.imported_global(inst.globals.len() as u32);
                    *slot.ok_or_else(no_slot)? = g.ptr;
                    inst.globals.push(g);
                }
            }
        }

        // 4. Defined memory and tables, their `VmMemory`/`VmTable` inline
        // in the VmCtx.
        if let Some(m) = meta.memory().get(0) {
            let mem = Memory::new(
                inst.vmctx.defined_memory_ptr().ok_or_else(no_slot)?,
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
                inst.vmctx.defined_table_ptr(i as u32).ok_or_else(no_slot)?,
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
            let (code, vmctx) = if f < nimp {
                import_funcs[f as usize]
            } else {
                let rec = meta.funcs().get(f - nimp).unwrap_or_default();
                (artifact.code.at(rec.text_off), vm)
            };
            let ty = meta.func_type(f).unwrap_or(0);
            *inst.vmctx.func_ref(f).ok_or_else(no_slot)? = VmFuncRef {
                code,
                vmctx,
                type_id: type_ids.get(ty as usize).copied().unwrap_or(u32::MAX),
                _pad: 0,
            };
        }

        // 6. Defined globals, with abi's initialiser rules; each sees the
        // globals before it.
        for (i, g) in meta.globals().iter().enumerate() {
            let bits = instantiate::global_value(g, &*inst);
            let ptr = inst
                .vmctx
                .defined_global_ptr(i as u32)
                .ok_or_else(no_slot)?;
            *inst.vmctx.defined_global(i as u32).ok_or_else(no_slot)? = bits;
            inst.globals.push(GlobalHandle {
                ptr,
                ty: ValType::from_u8(g.ty).unwrap_or(ValType::I64),
                mutable: g.mutable != 0,
            });
        }

        // 7. Exports, maps, segments.
        for e in meta.exports().iter() {
            let ext = match e.kind {
                kind::FUNC => Extern::Func(inst.func(e.index).ok_or_else(no_slot)?),
                kind::TABLE => Extern::Table(TableRef(inst.tables[e.index as usize])),
                kind::MEMORY => match inst.memory {
                    Some(m) => Extern::Memory(MemoryRef(m)),
                    None => continue,
                },
                _ => Extern::Global(inst.globals[e.index as usize]),
            };
            inst.exports.insert(meta.str(e.name).to_string(), ext);
        }
        inst.maps = meta.maps().iter().map(|m| new_map(&m)).collect();
        let elems: Vec<ElemSeg> = meta
            .elems()
            .iter()
            .map(|e| ElemSeg {
                items: instantiate::elem_items(&meta, e, &*inst).collect(),
                dropped: Cell::new(false),
            })
            .collect();
        inst.elems = elems;
        inst.datas = meta
            .datas()
            .iter()
            .map(|d| DataSeg {
                bytes: d.bytes,
                dropped: Cell::new(false),
            })
            .collect();

        // 8. Active segments, in order, by abi's rules: a failure traps
        // instantiation, and what was written before stays written.
        instantiate::init_active_segments(&meta, inst)
            .map_err(|c| InstantiateError::Trap(Trap::new(c)))?;
        for (e, seg) in meta.elems().iter().zip(&inst.elems) {
            if instantiate::elem_dropped_after_init(e) {
                seg.drop_items();
            }
        }
        for (d, seg) in meta.datas().iter().zip(&inst.datas) {
            if instantiate::data_dropped_after_init(d) {
                seg.drop_bytes();
            }
        }

        // 9. Start function.
        if meta.start_func != NONE {
            let f = meta.start_func;
            let ty = meta.func_type(f).unwrap_or(0);
            let h = inst.func(f).ok_or_else(no_slot)?;
            let mut values = [0u64; 1];
            match self.call_raw(id, ty, h.code, h.vmctx, &mut values) {
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
            // SAFETY: instances are live, and no wasm runs and no other
            // reference to them is held while `&mut self` is.
            let h = unsafe { (*o.ptr()).vmctx.header() };
            h.fuel = fuel;
            h.stack_limit = limit;
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
        let h = inst
            .func(exp.index)
            .ok_or(InvokeError::NoTrampoline(ty_idx))?;
        let mut values = vec![0u64; ty.params.len().max(ty.results.len()).max(1)];
        for (slot, a) in values.iter_mut().zip(args) {
            *slot = a.to_raw();
        }
        self.call_raw(id, ty_idx, h.code, h.vmctx, &mut values)?;
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

    /// Instantiation through [`InitTarget`]: segment offsets read imported
    /// globals, element items become this instance's funcrefs in an
    /// imported table, and a data segment out of bounds traps with what
    /// was written before it kept, as the spec requires.
    #[test]
    fn segments_initialise_imported_entities_in_order() {
        const WAT: &str = r#"(module
            (import "host" "mem" (memory 1))
            (import "host" "tab" (table 4 funcref))
            (import "host" "off" (global i32))
            (func $f)
            (elem (global.get 0) $f $f)
            (data (i32.const 0) "ok")
            (data (i32.const 65535) "xx"))"#;
        let kw = kwasm_compiler::compile(WAT.as_bytes(), &Default::default()).unwrap();
        let a = Rc::new(Artifact::from_bytes("segments.kw", &kw).unwrap());
        let mut s = Store::default();
        s.define_memory("host", "mem", 1, None).unwrap();
        s.define_table("host", "tab", ValType::FuncRef, 4, None)
            .unwrap();
        s.define_global("host", "off", ValType::I32, false, 2);
        match s.instantiate(&a) {
            Err(InstantiateError::Trap(t)) => assert_eq!(t.code, TrapCode::MemoryOutOfBounds),
            other => panic!("expected a trap, got {other:?}"),
        }
        let Some(Extern::Memory(m)) = s.lookup("host", "mem") else {
            panic!("no memory")
        };
        assert_eq!(&s.memory(m).unwrap().data()[..2], b"ok");
        let Some(Extern::Table(t)) = s.lookup("host", "tab") else {
            panic!("no table")
        };
        let t = s.table(t).unwrap();
        let elems: Vec<bool> = (0..4).map(|i| t.get(i).unwrap() != 0).collect();
        assert_eq!(elems, [false, false, true, true]);
        // The trapped instance stays in the store: its funcrefs are in use.
        let f = s.instance(InstanceId(0)).unwrap().func(0).unwrap();
        assert_eq!(
            t.get(2),
            Some(s.instance(InstanceId(0)).unwrap().vmctx.func_ref_addr(0))
        );
        assert!(!f.code.is_null());
    }

    /// The slot contract of trampolines (`kwasm_abi::types::RawVal`), below
    /// what [`Store::invoke`] can express: the upper halves of i32/f32
    /// argument slots are ignored (a kernel caller may leave anything
    /// there), and i32/f32 results are stored zero-extended, through ten
    /// results of a wasm-to-wasm call.
    #[test]
    fn narrow_slots_ignore_upper_bits_and_results_are_zero_extended() {
        const WAT: &str = include_str!("../tests/data/many_results.wat");
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
                let h = inst.func(exp.index).unwrap();
                (ty, h.code, h.vmctx)
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
