//! The [`Store`]: everything instances share, and the entities they export.

use super::host::HostState;
use super::instance::{Instance, InstanceId};
use super::trampoline::WasmStack;
use super::values::FuncType;
use super::vm::{Mapping, Owned};
use kwasm_abi::types::ValType;
use kwasm_abi::vmctx::{MAX_WASM_PAGES, WASM_PAGE_SIZE};
use kwasm_abi::vmctx::{VmMemory, VmTable};
use std::collections::HashMap;
use std::rc::Rc;

/// Tunables of a [`Store`].
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Fuel given to every instance before each invocation, in units of
    /// work (see `kwasm_abi::fuel`). The default is the kernel's,
    /// [`kwasm_abi::fuel::DEFAULT`], so an endless loop ends as promptly here
    /// as it does in `kwasm.ko`; raise it for long-running programs.
    pub fuel: u64,
    /// Size of the wasm stack in bytes (a guard page is added below).
    pub stack_size: usize,
    /// Upper bound on any memory's size in pages, whatever its declared
    /// maximum (at most 65536, i.e. 4 GiB).
    pub max_memory_pages: u32,
    /// Upper bound on any table's number of elements.
    pub max_table_elems: u32,
    /// The packet `kwasm.pkt_len`/`kwasm.pkt_load` see.
    pub packet: Vec<u8>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            fuel: kwasm_abi::fuel::DEFAULT,
            stack_size: 1 << 20,
            max_memory_pages: MAX_WASM_PAGES,
            max_table_elems: 10_000_000,
            packet: Vec::new(),
        }
    }
}

/// A linear memory. Its `VmMemory` (base, length) lives inline in the
/// defining instance's `VmCtx`, or in `own_vm` for host memories; importers
/// point at it. The whole maximum is reserved up front (`PROT_NONE`) and
/// grown with `mprotect`, so the base never moves, as the contract in
/// `kwasm_abi::vmctx::memory` requires.
pub struct Memory {
    pub(crate) vm: *mut VmMemory,
    _own_vm: Option<Owned<VmMemory>>,
    map: Mapping,
    /// Declared maximum, if any (for import matching).
    pub(crate) declared_max: Option<u32>,
    /// Effective maximum: declared max capped by the store's limit.
    limit: u32,
}

impl Memory {
    /// Create a memory of `min` pages. `vm` is where its `VmMemory` lives, or
    /// null to allocate one.
    pub(crate) fn new(
        vm: *mut VmMemory,
        min: u32,
        max: Option<u32>,
        cap: u32,
    ) -> Result<Memory, String> {
        let cap = cap.min(MAX_WASM_PAGES);
        let limit = max.unwrap_or(MAX_WASM_PAGES).min(cap);
        if min > limit {
            return Err(format!(
                "memory of {min} pages exceeds the limit of {limit} pages"
            ));
        }
        let reserve = limit as usize * WASM_PAGE_SIZE as usize;
        let map = Mapping::new(reserve, libc::PROT_NONE)
            .map_err(|e| format!("cannot reserve memory: {e}"))?;
        let bytes = min as usize * WASM_PAGE_SIZE as usize;
        map.protect(0, bytes, libc::PROT_READ | libc::PROT_WRITE)
            .map_err(|e| format!("cannot allocate memory: {e}"))?;
        let (vm, own) = if vm.is_null() {
            let o = Owned::new(VmMemory {
                base: std::ptr::null_mut(),
                length: 0,
            });
            (o.ptr(), Some(o))
        } else {
            (vm, None)
        };
        let base = if map.ptr().is_null() {
            std::ptr::NonNull::<u64>::dangling().as_ptr().cast()
        } else {
            map.ptr()
        };
        // SAFETY: `vm` is either our own allocation or the caller's
        // `VmMemory` slot inside a live `VmCtx`.
        unsafe {
            (*vm).base = base;
            (*vm).length = bytes as u64;
        }
        Ok(Memory {
            vm,
            _own_vm: own,
            map,
            declared_max: max,
            limit,
        })
    }

    /// Current size in pages.
    pub fn pages(&self) -> u32 {
        (self.len() / WASM_PAGE_SIZE) as u32
    }

    /// Current size in bytes.
    pub fn len(&self) -> u64 {
        // SAFETY: `vm` is valid for the memory's lifetime.
        unsafe { (*self.vm).length }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The memory's current contents.
    pub fn data(&self) -> &[u8] {
        if self.is_empty() {
            return &[];
        }
        // SAFETY: `[base, base+len)` is the accessible part of the memory;
        // no wasm code runs while `&self` (borrowed from the store) lives.
        unsafe { std::slice::from_raw_parts(self.base(), self.len() as usize) }
    }

    pub(crate) fn base(&self) -> *mut u8 {
        // SAFETY: as above.
        unsafe { (*self.vm).base }
    }

    /// Grow by `delta` pages; the old size in pages, or `None` if that would
    /// exceed the maximum (declared or the store's cap).
    pub fn grow(&mut self, delta: u32) -> Option<u32> {
        let old = self.pages();
        let new = old.checked_add(delta)?;
        if new > self.limit {
            return None;
        }
        let page = WASM_PAGE_SIZE as usize;
        self.map
            .protect(
                old as usize * page,
                delta as usize * page,
                libc::PROT_READ | libc::PROT_WRITE,
            )
            .ok()?;
        // SAFETY: `vm` is valid for the memory's lifetime.
        unsafe { (*self.vm).length = new as u64 * WASM_PAGE_SIZE };
        Some(old)
    }

    /// All accessible bytes (the current length).
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        let len = self.len();
        self.slice_mut(0, len).unwrap_or(&mut [])
    }

    /// Bytes `[off, off+len)` if in bounds.
    pub(crate) fn slice_mut(&mut self, off: u64, len: u64) -> Option<&mut [u8]> {
        let end = off.checked_add(len)?;
        if end > self.len() {
            return None;
        }
        if len == 0 {
            return Some(&mut []);
        }
        // SAFETY: the range is inside the accessible part of the memory, and
        // no wasm code runs while the returned borrow is alive (callers are
        // libcalls/host functions that finish before returning to wasm).
        Some(unsafe { std::slice::from_raw_parts_mut(self.base().add(off as usize), len as usize) })
    }
}

/// A table of 64-bit elements (funcref: `*const VmFuncRef`; externref:
/// opaque; null = 0). The storage is a `Vec` whose buffer `VmTable.base`
/// points at; growing may move it (generated code reloads after calls).
pub struct Table {
    pub(crate) vm: *mut VmTable,
    _own_vm: Option<Owned<VmTable>>,
    storage: Vec<u64>,
    pub(crate) elem: ValType,
    pub(crate) declared_max: Option<u32>,
    limit: u32,
}

impl Table {
    pub(crate) fn new(
        vm: *mut VmTable,
        elem: ValType,
        min: u32,
        max: Option<u32>,
        cap: u32,
    ) -> Result<Table, String> {
        let limit = max.unwrap_or(u32::MAX).min(cap);
        if min > limit {
            return Err(format!(
                "table of {min} elements exceeds the limit of {limit} elements"
            ));
        }
        let (vm, own) = if vm.is_null() {
            let o = Owned::new(VmTable {
                base: std::ptr::null_mut(),
                length: 0,
            });
            (o.ptr(), Some(o))
        } else {
            (vm, None)
        };
        let mut t = Table {
            vm,
            _own_vm: own,
            storage: vec![0; min as usize],
            elem,
            declared_max: max,
            limit,
        };
        t.sync();
        Ok(t)
    }

    fn sync(&mut self) {
        // SAFETY: `vm` is valid for the table's lifetime.
        unsafe {
            (*self.vm).base = self.storage.as_mut_ptr();
            (*self.vm).length = self.storage.len() as u64;
        }
    }

    /// Current number of elements.
    pub fn len(&self) -> u32 {
        self.storage.len() as u32
    }

    pub fn is_empty(&self) -> bool {
        self.storage.is_empty()
    }

    /// The elements. Generated code writes through `VmTable.base`, which is
    /// this buffer; no wasm code runs while the borrow is alive.
    pub(crate) fn elems_mut(&mut self) -> &mut [u64] {
        &mut self.storage
    }

    pub fn get(&self, i: u32) -> Option<u64> {
        self.storage.get(i as usize).copied()
    }

    /// Grow by `delta` elements set to `init`; old size or `None`.
    pub fn grow(&mut self, delta: u32, init: u64) -> Option<u32> {
        let old = self.len();
        let new = old.checked_add(delta)?;
        if new > self.limit {
            return None;
        }
        self.storage.try_reserve_exact(delta as usize).ok()?;
        self.storage.resize(new as usize, init);
        self.sync();
        Some(old)
    }
}

/// Something an instance exports or a host module provides.
#[derive(Clone, Copy, Debug)]
pub enum Extern {
    Func(FuncHandle),
    Table(TableRef),
    Memory(MemoryRef),
    Global(GlobalHandle),
}

/// A table owned by some store (opaque: only a store hands these out).
#[derive(Clone, Copy, Debug)]
pub struct TableRef(pub(crate) *mut Table);

/// A memory owned by some store (opaque: only a store hands these out).
#[derive(Clone, Copy, Debug)]
pub struct MemoryRef(pub(crate) *mut Memory);

impl Extern {
    pub fn kind_name(&self) -> &'static str {
        match self {
            Extern::Func(_) => "function",
            Extern::Table(_) => "table",
            Extern::Memory(_) => "memory",
            Extern::Global(_) => "global",
        }
    }
}

/// A function: its code, the `VmCtx` to call it with (null for host
/// functions, which get the importer's own `VmCtx`) and its canonical type.
#[derive(Clone, Copy, Debug)]
pub struct FuncHandle {
    pub(crate) code: *const u8,
    pub(crate) vmctx: *mut u8,
    pub(crate) type_id: u32,
}

/// A global's 8-byte slot, type and mutability.
#[derive(Clone, Copy, Debug)]
pub struct GlobalHandle {
    pub(crate) ptr: *mut u64,
    pub(crate) ty: ValType,
    pub(crate) mutable: bool,
}

/// Owns instances and the entities they share, the canonical type registry
/// (equal signatures get equal ids), the import namespace and the wasm stack.
pub struct Store {
    pub(crate) config: StoreConfig,
    types: Vec<FuncType>,
    type_ids: HashMap<FuncType, u32>,
    /// All instances, including ones whose instantiation trapped (their
    /// functions may already sit in imported tables).
    pub(crate) instances: Vec<Owned<Instance>>,
    pub(crate) memories: Vec<Owned<Memory>>,
    pub(crate) tables: Vec<Owned<Table>>,
    pub(crate) globals: Vec<Owned<u64>>,
    names: HashMap<(String, String), Extern>,
    pub(crate) stack: Option<WasmStack>,
    pub(crate) host: Rc<HostState>,
}

impl Default for Store {
    fn default() -> Self {
        Store::new(StoreConfig::default())
    }
}

impl Store {
    /// A store with the `kwasm` host module (and `env._debug`) defined.
    pub fn new(config: StoreConfig) -> Store {
        let host = Rc::new(HostState::new(config.packet.clone()));
        let mut s = Store {
            config,
            types: Vec::new(),
            type_ids: HashMap::new(),
            instances: Vec::new(),
            memories: Vec::new(),
            tables: Vec::new(),
            globals: Vec::new(),
            names: HashMap::new(),
            stack: None,
            host,
        };
        super::host::define_kwasm(&mut s);
        s
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Fuel given to every instance before each invocation.
    pub fn set_fuel(&mut self, fuel: u64) {
        self.config.fuel = fuel;
    }

    /// Canonical id of a function type.
    pub fn type_id(&mut self, ty: &FuncType) -> u32 {
        if let Some(&id) = self.type_ids.get(ty) {
            return id;
        }
        let id = self.types.len() as u32;
        self.types.push(ty.clone());
        self.type_ids.insert(ty.clone(), id);
        id
    }

    /// The type with canonical id `id`.
    pub fn func_type(&self, id: u32) -> Option<&FuncType> {
        self.types.get(id as usize)
    }

    /// Make `ext` importable as `module`.`name` (replacing any previous
    /// definition).
    pub fn define(&mut self, module: &str, name: &str, ext: Extern) {
        self.names
            .insert((module.to_string(), name.to_string()), ext);
    }

    /// Resolve an import.
    pub fn lookup(&self, module: &str, name: &str) -> Option<Extern> {
        self.names
            .get(&(module.to_string(), name.to_string()))
            .copied()
    }

    /// Make every export of `inst` importable under module name `as_name`.
    pub fn register(&mut self, as_name: &str, inst: InstanceId) {
        let exports: Vec<(String, Extern)> = self
            .instance(inst)
            .map(|i| i.exports.iter().map(|(k, v)| (k.clone(), *v)).collect())
            .unwrap_or_default();
        for (n, e) in exports {
            self.define(as_name, &n, e);
        }
    }

    /// Define a host function `module.name` with native code `code`
    /// (`extern "C" fn(vmctx, params...) -> result`).
    pub(crate) fn define_host_func(
        &mut self,
        module: &str,
        name: &str,
        code: *const u8,
        ty: FuncType,
    ) {
        let type_id = self.type_id(&ty);
        self.define(
            module,
            name,
            Extern::Func(FuncHandle {
                code,
                vmctx: std::ptr::null_mut(),
                type_id,
            }),
        );
    }

    /// Create a host memory and define it as `module.name`.
    pub fn define_memory(
        &mut self,
        module: &str,
        name: &str,
        min: u32,
        max: Option<u32>,
    ) -> Result<(), String> {
        let m = Memory::new(std::ptr::null_mut(), min, max, self.config.max_memory_pages)?;
        let o = Owned::new(m);
        let p = o.ptr();
        self.memories.push(o);
        self.define(module, name, Extern::Memory(MemoryRef(p)));
        Ok(())
    }

    /// Create a host table and define it as `module.name`.
    pub fn define_table(
        &mut self,
        module: &str,
        name: &str,
        elem: ValType,
        min: u32,
        max: Option<u32>,
    ) -> Result<(), String> {
        let t = Table::new(
            std::ptr::null_mut(),
            elem,
            min,
            max,
            self.config.max_table_elems,
        )?;
        let o = Owned::new(t);
        let p = o.ptr();
        self.tables.push(o);
        self.define(module, name, Extern::Table(TableRef(p)));
        Ok(())
    }

    /// Create a host global holding `bits` and define it as `module.name`.
    pub fn define_global(
        &mut self,
        module: &str,
        name: &str,
        ty: ValType,
        mutable: bool,
        bits: u64,
    ) {
        let o = Owned::new(bits);
        let ptr = o.ptr();
        self.globals.push(o);
        self.define(
            module,
            name,
            Extern::Global(GlobalHandle { ptr, ty, mutable }),
        );
    }

    /// Whether `ext` refers to an entity owned by this store (externs of
    /// another store must not be imported: they may not outlive it).
    pub(crate) fn owns(&self, ext: &Extern) -> bool {
        let in_instance = |p: usize| {
            self.instances.iter().any(|o| {
                // SAFETY: instances are live while the store is.
                let i = unsafe { &*o.ptr() };
                let base = i.vmctx.ptr() as usize;
                p >= base && p < base + i.vmctx.layout().size as usize
            })
        };
        match ext {
            Extern::Func(h) => {
                let host = h.vmctx.is_null()
                    && self
                        .names
                        .values()
                        .any(|e| matches!(e, Extern::Func(f) if f.code == h.code));
                host || in_instance(h.vmctx as usize)
            }
            Extern::Table(t) => self.tables.iter().any(|o| o.ptr() == t.0),
            Extern::Memory(m) => self.memories.iter().any(|o| o.ptr() == m.0),
            Extern::Global(g) => {
                self.globals.iter().any(|o| o.ptr() == g.ptr) || in_instance(g.ptr as usize)
            }
        }
    }

    /// The memory behind `m`, if this store owns it.
    pub fn memory(&self, m: MemoryRef) -> Option<&Memory> {
        self.owns(&Extern::Memory(m))
            // SAFETY: owned by this store, so alive as long as `&self`.
            .then(|| unsafe { &*m.0 })
    }

    /// The table behind `t`, if this store owns it.
    pub fn table(&self, t: TableRef) -> Option<&Table> {
        self.owns(&Extern::Table(t))
            // SAFETY: owned by this store, so alive as long as `&self`.
            .then(|| unsafe { &*t.0 })
    }

    /// Drains ring buffer `map` of instance `id` (`kwasm_abi::ring`): its
    /// records in order, and how many it has dropped since instantiation.
    /// `None` if there is no such instance or ring.
    pub fn drain_events(&self, id: InstanceId, map: u32) -> Option<(Vec<Event>, u64)> {
        let m = self.instance(id)?.maps.get(map as usize)?.slots();
        // A ring's `entries` is its size in bytes: all it can hold.
        let mut buf = vec![0u8; m.entries as usize];
        let (n, _, dropped) = m.ring_peek(&mut buf).ok()?;
        m.ring_consume(n).ok()?;
        let events = kwasm_abi::ring::records(&buf[..n])
            .map(|r| Event {
                cpu: r.cpu,
                time_ns: r.time_ns,
                data: r.data.to_vec(),
            })
            .collect();
        Some((events, dropped))
    }

    pub(crate) fn instance(&self, id: InstanceId) -> Option<&Instance> {
        let o = self.instances.get(id.0)?;
        // SAFETY: instances live as long as the store; no `&mut` to them is
        // held across this borrow (they are mutated only through raw
        // pointers by libcalls while wasm runs, which cannot overlap with a
        // `&Store` borrow on this thread).
        Some(unsafe { &*o.ptr() })
    }

    /// The wasm stack, created on first use.
    pub(crate) fn stack(&mut self) -> std::io::Result<&WasmStack> {
        if self.stack.is_none() {
            self.stack = Some(WasmStack::new(self.config.stack_size)?);
        }
        Ok(self.stack.as_ref().expect("just created"))
    }
}

/// A record of a ring buffer, as [`Store::drain_events`] returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The CPU that wrote it (0 in the runner).
    pub cpu: u32,
    /// `kwasm.time_ns` when it was written.
    pub time_ns: u64,
    /// The bytes the program passed to `event_output`.
    pub data: Vec<u8>,
}

impl Drop for Store {
    fn drop(&mut self) {
        // Instances point into memories, tables and globals: free them first.
        self.instances.clear();
    }
}
