//! A minimal userspace runtime for testing the compiler's output, following
//! `docs/codegen-contract.md`: it maps `.text`, builds `VmCtx`, implements
//! the libcalls and the trap handler, and enters code through the
//! array-call trampolines. x86-64 Linux only. The real runner lives in
//! `cli/`; this one exists so that the compiler's tests can execute what it
//! generates (spec tests, trap tests) without depending on it.

#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use kwasm_abi::meta::{self, ITEM_GLOBAL, ITEM_NULL, Meta, NONE, init, kind, mode, offset};
use kwasm_abi::trap::TrapCode;
use kwasm_abi::types::ValType;
use kwasm_abi::vmctx::{
    self, MemoryKind, VmCtxCounts, VmCtxLayout, WASM_PAGE_SIZE, funcref, header, import_func,
    libcall,
};
use object::{Object, ObjectSection};

// ---------------------------------------------------------------------
// Entering code and leaving it on a trap.

std::arch::global_asm!(
    ".globl kwt_call",
    "kwt_call:",
    // u32 kwt_call(tramp, vmctx, code, values, jmpbuf)
    "push rbp",
    "mov rbp, rsp",
    "push rbx",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "sub rsp, 8",
    "mov [r8], rsp",
    "mov rax, rdi",
    "mov rdi, rsi",
    "mov rsi, rdx",
    "mov rdx, rcx",
    "call rax",
    "xor eax, eax",
    "kwt_return:",
    "add rsp, 8",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    "ret",
    ".globl kwt_unwind",
    "kwt_unwind:",
    // void kwt_unwind(jmpbuf, code) -> !
    "mov rsp, [rdi]",
    "mov eax, esi",
    "jmp kwt_return",
);

unsafe extern "C" {
    fn kwt_call(
        tramp: usize,
        vmctx: *mut u8,
        code: usize,
        values: *mut u64,
        jmpbuf: *mut usize,
    ) -> u32;
    fn kwt_unwind(jmpbuf: *mut usize, code: u32) -> !;
}

thread_local! {
    static JMPBUF: Cell<*mut usize> = const { Cell::new(std::ptr::null_mut()) };
    static TRAP_FUNC: Cell<u32> = const { Cell::new(0) };
    static STACK_LIMIT: Cell<u64> = const { Cell::new(0) };
    static START_FUEL: Cell<i64> = const { Cell::new(i64::MAX) };
}

/// Fuel given to start functions (default: unlimited).
pub fn set_start_fuel(fuel: i64) {
    START_FUEL.with(|f| f.set(fuel));
}

extern "C" fn trap_handler(_vmctx: *mut u8, code: u32, func: u32) -> ! {
    TRAP_FUNC.with(|f| f.set(func));
    let jb = JMPBUF.with(|j| j.get());
    unsafe { kwt_unwind(jb, code) }
}

/// Lowest usable stack address of this thread + a margin + STACK_RESERVE.
fn stack_limit() -> u64 {
    STACK_LIMIT.with(|l| {
        if l.get() == 0 {
            unsafe {
                let mut attr: libc::pthread_attr_t = std::mem::zeroed();
                libc::pthread_getattr_np(libc::pthread_self(), &mut attr);
                let mut addr = std::ptr::null_mut();
                let mut size = 0;
                libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
                libc::pthread_attr_destroy(&mut attr);
                l.set(addr as u64 + 256 * 1024 + vmctx::STACK_RESERVE);
            }
        }
        l.get()
    })
}

// ---------------------------------------------------------------------
// Code memory.

pub struct Code {
    ptr: *mut u8,
    len: usize,
}

impl Code {
    fn new(text: &[u8]) -> Code {
        let len = text.len().max(1).div_ceil(4096) * 4096;
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(p, libc::MAP_FAILED);
            std::ptr::copy_nonoverlapping(text.as_ptr(), p as *mut u8, text.len());
            assert_eq!(libc::mprotect(p, len, libc::PROT_READ | libc::PROT_EXEC), 0);
            Code {
                ptr: p as *mut u8,
                len,
            }
        }
    }

    fn addr(&self, off: u32) -> usize {
        self.ptr as usize + off as usize
    }
}

impl Drop for Code {
    fn drop(&mut self) {
        unsafe {
            libc::munmap(self.ptr as *mut _, self.len);
        }
    }
}

/// A loaded `.kw`.
pub struct Loaded {
    pub blob: Vec<u8>,
    pub code: Code,
}

impl Loaded {
    pub fn new(kw: &[u8]) -> Loaded {
        let file = object::File::parse(kw).expect("ELF");
        let text = file.section_by_name(".text").expect(".text");
        let meta = file.section_by_name(meta::SECTION_NAME).expect("meta");
        let blob = meta.data().unwrap().to_vec();
        Meta::parse(&blob).expect("metadata validates");
        Loaded {
            code: Code::new(text.data().unwrap()),
            blob,
        }
    }

    pub fn meta(&self) -> Meta<'_> {
        Meta::parse(&self.blob).unwrap()
    }
}

// ---------------------------------------------------------------------
// Runtime objects.

pub type Sig = (Vec<ValType>, Vec<ValType>);

thread_local! {
    static TYPE_IDS: RefCell<HashMap<Sig, u32>> = RefCell::new(HashMap::new());
}

fn type_id(sig: &Sig) -> u32 {
    TYPE_IDS.with(|t| {
        let mut t = t.borrow_mut();
        let n = t.len() as u32 + 1;
        *t.entry(sig.clone()).or_insert(n)
    })
}

pub struct MemObj {
    data: RefCell<Vec<u8>>,
    max: u32,
    /// Where the canonical `VmMemory` lives (in the owner's `VmCtx`).
    vm: Cell<*mut u64>,
}

impl MemObj {
    fn sync(&self) {
        let mut d = self.data.borrow_mut();
        unsafe {
            *self.vm.get() = d.as_mut_ptr() as u64;
            *self.vm.get().add(1) = d.len() as u64;
        }
    }
    fn len(&self) -> u64 {
        self.data.borrow().len() as u64
    }
    fn grow(&self, delta: u32) -> i32 {
        let old = self.len() / WASM_PAGE_SIZE;
        let new = old + u64::from(delta);
        if new > u64::from(self.max) {
            return -1;
        }
        self.data
            .borrow_mut()
            .resize((new * WASM_PAGE_SIZE) as usize, 0);
        self.sync();
        old as i32
    }
}

pub struct TableObj {
    elems: RefCell<Vec<u64>>,
    max: u32,
    elem: ValType,
    min: u32,
    vm: Cell<*mut u64>,
}

impl TableObj {
    fn sync(&self) {
        let mut d = self.elems.borrow_mut();
        unsafe {
            *self.vm.get() = d.as_mut_ptr() as u64;
            *self.vm.get().add(1) = d.len() as u64;
        }
    }
}

#[derive(Clone)]
pub struct GlobalObj {
    pub slot: *mut u64,
    pub ty: ValType,
    pub mutable: bool,
}

#[derive(Clone)]
pub struct FuncObj {
    pub code: usize,
    pub vmctx: usize,
    pub sig: Sig,
    /// A trampoline for `sig`, if one is known.
    pub tramp: usize,
}

#[derive(Clone)]
pub enum Extern {
    Func(FuncObj),
    Table(Rc<TableObj>),
    Memory(Rc<MemObj>),
    Global(GlobalObj),
}

pub struct Instance {
    pub loaded: Rc<Loaded>,
    vmctx: Box<[u64]>,
    layout: VmCtxLayout,
    memory: Option<Rc<MemObj>>,
    tables: Vec<Rc<TableObj>>,
    globals: Vec<GlobalObj>,
    funcs: Vec<FuncObj>,
    dropped_data: RefCell<Vec<bool>>,
    dropped_elem: RefCell<Vec<bool>>,
    _keep: Vec<Rc<Instance>>,
}

fn libcalls() -> *const usize {
    static TABLE: std::sync::OnceLock<[usize; libcall::COUNT as usize]> =
        std::sync::OnceLock::new();
    TABLE
        .get_or_init(|| {
            [
                lc_memory_grow as *const () as usize,
                lc_memory_fill as *const () as usize,
                lc_memory_copy as *const () as usize,
                lc_memory_init as *const () as usize,
                lc_data_drop as *const () as usize,
                lc_table_grow as *const () as usize,
                lc_table_fill as *const () as usize,
                lc_table_copy as *const () as usize,
                lc_table_init as *const () as usize,
                lc_elem_drop as *const () as usize,
            ]
        })
        .as_ptr()
}

fn sig_of(m: &Meta<'_>, t: u32) -> Sig {
    let rec = m.types().get(t).unwrap();
    (m.params(rec).collect(), m.results(rec).collect())
}

/// Why instantiation failed.
#[derive(Debug)]
pub enum InstError {
    Link(String),
    Trap(TrapCode),
}

impl Instance {
    fn vmctx_ptr(&self) -> *mut u8 {
        self.vmctx.as_ptr() as *mut u8
    }

    fn slot(&self, byte_off: u32) -> *mut u64 {
        unsafe { self.vmctx_ptr().add(byte_off as usize) as *mut u64 }
    }

    fn func_ref_addr(&self, f: u32) -> u64 {
        self.vmctx_ptr() as u64 + u64::from(self.layout.func_ref(f))
    }

    pub fn instantiate(
        loaded: Rc<Loaded>,
        resolve: &mut dyn FnMut(&str, &str) -> Option<Extern>,
        keep: Vec<Rc<Instance>>,
    ) -> Result<Rc<Instance>, InstError> {
        let m = loaded.meta();
        let counts = VmCtxCounts {
            types: m.types().len(),
            imported_funcs: m.imported(kind::FUNC),
            funcs: m.func_count(),
            imported_tables: m.imported(kind::TABLE),
            defined_tables: m.tables().len(),
            memory: if m.imported(kind::MEMORY) > 0 {
                MemoryKind::Imported
            } else if !m.memory().is_empty() {
                MemoryKind::Defined
            } else {
                MemoryKind::None
            },
            imported_globals: m.imported(kind::GLOBAL),
            defined_globals: m.globals().len(),
        };
        let layout = VmCtxLayout::new(counts).unwrap();
        let vmctx = vec![0u64; layout.size as usize / 8].into_boxed_slice();
        let mut inst = Instance {
            loaded: loaded.clone(),
            vmctx,
            layout,
            memory: None,
            tables: Vec::new(),
            globals: Vec::new(),
            funcs: Vec::new(),
            dropped_data: RefCell::new(vec![false; m.datas().len() as usize]),
            dropped_elem: RefCell::new(vec![false; m.elems().len() as usize]),
            _keep: keep,
        };
        unsafe {
            *inst.slot(header::FUEL) = i64::MAX as u64;
            *inst.slot(header::STACK_LIMIT) = stack_limit();
            *inst.slot(header::TRAP_HANDLER) = trap_handler as *const () as usize as u64;
            *inst.slot(header::LIBCALLS) = libcalls() as u64;
        }
        for t in 0..m.types().len() {
            let id = type_id(&sig_of(&m, t));
            unsafe {
                *(inst.vmctx_ptr().add(layout.type_id(t) as usize) as *mut u32) = id;
            }
        }
        let tramp = |t: u32| {
            let r = m.types().get(t).unwrap();
            if r.trampoline == NONE {
                0
            } else {
                loaded.code.addr(r.trampoline)
            }
        };
        // Imports.
        let (mut fi, mut ti, mut gi) = (0u32, 0u32, 0u32);
        for imp in m.imports().iter() {
            let module = m.str(imp.module);
            let name = m.str(imp.name);
            let ext = resolve(module, name)
                .ok_or_else(|| InstError::Link(format!("unknown import {module}.{name}")))?;
            let bad = || InstError::Link(format!("incompatible import type for {module}.{name}"));
            match (imp.kind, ext) {
                (kind::FUNC, Extern::Func(f)) => {
                    if f.sig != sig_of(&m, imp.index) {
                        return Err(bad());
                    }
                    let off = layout.imported_func(fi);
                    unsafe {
                        *inst.slot(off + import_func::CODE) = f.code as u64;
                        *inst.slot(off + import_func::VMCTX) = f.vmctx as u64;
                    }
                    let mut f = f;
                    if f.tramp == 0 {
                        f.tramp = tramp(imp.index);
                    }
                    inst.funcs.push(f);
                    fi += 1;
                }
                (kind::TABLE, Extern::Table(t)) => {
                    let max_ok = imp.max == NONE || (t.max != NONE && t.max <= imp.max);
                    if t.elem as u8 != imp.ty
                        || (t.elems.borrow().len() as u64) < u64::from(imp.min)
                        || !max_ok
                    {
                        return Err(bad());
                    }
                    unsafe {
                        *inst.slot(layout.imported_table(ti)) = t.vm.get() as u64;
                    }
                    inst.tables.push(t);
                    ti += 1;
                }
                (kind::MEMORY, Extern::Memory(mem)) => {
                    let max_ok = imp.max == NONE || mem.max <= imp.max;
                    if mem.len() / WASM_PAGE_SIZE < u64::from(imp.min) || !max_ok {
                        return Err(bad());
                    }
                    unsafe {
                        *inst.slot(layout.imported_memory) = mem.vm.get() as u64;
                    }
                    inst.memory = Some(mem);
                }
                (kind::GLOBAL, Extern::Global(g)) => {
                    if g.ty as u8 != imp.ty || g.mutable != (imp.mutable != 0) {
                        return Err(bad());
                    }
                    unsafe {
                        *inst.slot(layout.imported_global(gi)) = g.slot as u64;
                    }
                    inst.globals.push(g);
                    gi += 1;
                }
                _ => return Err(bad()),
            }
        }
        // Defined memory.
        if let Some(mr) = m.memory().get(0) {
            let mem = Rc::new(MemObj {
                data: RefCell::new(vec![0; (u64::from(mr.min) * WASM_PAGE_SIZE) as usize]),
                max: if mr.max == NONE {
                    vmctx::MAX_WASM_PAGES
                } else {
                    mr.max
                },
                vm: Cell::new(inst.slot(layout.defined_memory)),
            });
            mem.sync();
            inst.memory = Some(mem);
        }
        for (i, t) in m.tables().iter().enumerate() {
            let tab = Rc::new(TableObj {
                elems: RefCell::new(vec![0; t.min as usize]),
                max: t.max,
                elem: ValType::from_u8(t.elem).unwrap(),
                min: t.min,
                vm: Cell::new(inst.slot(layout.defined_table(i as u32))),
            });
            tab.sync();
            inst.tables.push(tab);
        }
        for (i, g) in m.globals().iter().enumerate() {
            let slot = inst.slot(layout.defined_global(i as u32));
            let v = match g.init_kind {
                init::CONST => g.init,
                init::GLOBAL_GET => unsafe { *inst.globals[g.init as usize].slot },
                init::REF_FUNC => inst.func_ref_addr(g.init as u32),
                _ => 0,
            };
            unsafe { *slot = v };
            inst.globals.push(GlobalObj {
                slot,
                ty: ValType::from_u8(g.ty).unwrap(),
                mutable: g.mutable != 0,
            });
        }
        let vm = inst.vmctx_ptr() as usize;
        for (i, f) in m.funcs().iter().enumerate() {
            let _ = i;
            inst.funcs.push(FuncObj {
                code: loaded.code.addr(f.text_off),
                vmctx: vm,
                sig: sig_of(&m, f.type_idx),
                tramp: tramp(f.type_idx),
            });
        }
        for (i, f) in inst.funcs.clone().iter().enumerate() {
            let off = layout.func_ref(i as u32);
            unsafe {
                *inst.slot(off + funcref::CODE) = f.code as u64;
                *inst.slot(off + funcref::VMCTX) = f.vmctx as u64;
                *(inst.vmctx_ptr().add((off + funcref::TYPE_ID) as usize) as *mut u32) =
                    type_id(&f.sig);
            }
        }
        let inst = Rc::new(inst);
        unsafe {
            *inst.slot(header::HOST_CTX) = Rc::as_ptr(&inst) as u64;
        }
        // Segments.
        for (i, e) in m.elems().iter().enumerate() {
            if e.mode == mode::ACTIVE {
                let off = inst.seg_offset(e.offset_kind, e.offset);
                let status = inst.table_init(e.table, i as u32, off, 0, e.count);
                if status != 0 {
                    // Elements already written point into this instance:
                    // it must outlive the tables (as in the spec).
                    std::mem::forget(inst.clone());
                    return Err(InstError::Trap(TrapCode::from_u32(status).unwrap()));
                }
            }
            if e.mode != mode::PASSIVE {
                inst.dropped_elem.borrow_mut()[i] = true;
            }
        }
        for (i, d) in m.datas().iter().enumerate() {
            if d.mode == mode::ACTIVE {
                let off = inst.seg_offset(d.offset_kind, d.offset);
                let status = inst.memory_init(i as u32, off, 0, d.bytes.len);
                if status != 0 {
                    std::mem::forget(inst.clone());
                    return Err(InstError::Trap(TrapCode::from_u32(status).unwrap()));
                }
                inst.dropped_data.borrow_mut()[i] = true;
            }
        }
        if m.start_func != NONE {
            let f = inst.funcs[m.start_func as usize].clone();
            inst.set_fuel(START_FUEL.with(|f| f.get()));
            if let Err(t) = inst.call_with_fuel(&f, &[]) {
                std::mem::forget(inst.clone());
                return Err(InstError::Trap(t));
            }
        }
        Ok(inst)
    }

    fn seg_offset(&self, kind: u8, v: u32) -> u32 {
        if kind == offset::GLOBAL_GET {
            unsafe { *self.globals[v as usize].slot as u32 }
        } else {
            v
        }
    }

    fn item_value(&self, item: u32) -> u64 {
        if item == ITEM_NULL {
            0
        } else if item & ITEM_GLOBAL != 0 {
            unsafe { *self.globals[(item & !ITEM_GLOBAL) as usize].slot }
        } else {
            self.func_ref_addr(item)
        }
    }

    fn table_init(&self, t: u32, e: u32, dst: u32, src: u32, len: u32) -> u32 {
        let m = self.loaded.meta();
        let rec = m.elems().get(e).unwrap();
        let items: Vec<u32> = if self.dropped_elem.borrow()[e as usize] {
            vec![]
        } else {
            m.elem_items(rec).collect()
        };
        let tab = &self.tables[t as usize];
        let mut elems = tab.elems.borrow_mut();
        if u64::from(src) + u64::from(len) > items.len() as u64
            || u64::from(dst) + u64::from(len) > elems.len() as u64
        {
            return TrapCode::TableOutOfBounds as u32;
        }
        for k in 0..len as usize {
            elems[dst as usize + k] = self.item_value(items[src as usize + k]);
        }
        0
    }

    fn memory_init(&self, d: u32, dst: u32, src: u32, len: u32) -> u32 {
        let m = self.loaded.meta();
        let rec = m.datas().get(d).unwrap();
        let bytes: &[u8] = if self.dropped_data.borrow()[d as usize] {
            &[]
        } else {
            m.pool_bytes(rec.bytes).unwrap()
        };
        let Some(mem) = &self.memory else {
            return TrapCode::MemoryOutOfBounds as u32;
        };
        let mut data = mem.data.borrow_mut();
        if u64::from(src) + u64::from(len) > bytes.len() as u64
            || u64::from(dst) + u64::from(len) > data.len() as u64
        {
            return TrapCode::MemoryOutOfBounds as u32;
        }
        data[dst as usize..(dst + len) as usize]
            .copy_from_slice(&bytes[src as usize..(src + len) as usize]);
        0
    }

    /// Call a function through its trampoline. Values use the RawVal slot
    /// encoding.
    pub fn call(&self, f: &FuncObj, args: &[u64]) -> Result<Vec<u64>, TrapCode> {
        assert_ne!(f.tramp, 0, "no trampoline");
        let mut values = vec![0u64; f.sig.0.len().max(f.sig.1.len()).max(1)];
        values[..args.len()].copy_from_slice(args);
        unsafe {
            *self.slot(header::FUEL) = i64::MAX as u64;
            *(f.vmctx as *mut u64) = i64::MAX as u64;
        }
        let mut jmpbuf = [0usize; 4];
        let prev = JMPBUF.with(|j| j.replace(jmpbuf.as_mut_ptr()));
        let code = unsafe {
            kwt_call(
                f.tramp,
                f.vmctx as *mut u8,
                f.code,
                values.as_mut_ptr(),
                jmpbuf.as_mut_ptr(),
            )
        };
        JMPBUF.with(|j| j.set(prev));
        if code != 0 {
            return Err(TrapCode::from_u32(code).expect("trap code"));
        }
        values.truncate(f.sig.1.len());
        Ok(values)
    }

    pub fn export(&self, name: &str) -> Option<Extern> {
        let m = self.loaded.meta();
        let e = m.export(name)?;
        Some(match e.kind {
            kind::FUNC => Extern::Func(self.funcs[e.index as usize].clone()),
            kind::TABLE => Extern::Table(self.tables[e.index as usize].clone()),
            kind::MEMORY => Extern::Memory(self.memory.clone()?),
            kind::GLOBAL => Extern::Global(self.globals[e.index as usize].clone()),
            _ => return None,
        })
    }

    pub fn memory_bytes(&self) -> Vec<u8> {
        self.memory
            .as_ref()
            .map(|m| m.data.borrow().clone())
            .unwrap_or_default()
    }

    pub fn fuel(&self) -> i64 {
        unsafe { *self.slot(header::FUEL) as i64 }
    }

    pub fn set_fuel(&self, fuel: i64) {
        unsafe { *self.slot(header::FUEL) = fuel as u64 }
    }

    /// Call without resetting fuel.
    pub fn call_with_fuel(&self, f: &FuncObj, args: &[u64]) -> Result<Vec<u64>, TrapCode> {
        let mut values = vec![0u64; f.sig.0.len().max(f.sig.1.len()).max(1)];
        values[..args.len()].copy_from_slice(args);
        let mut jmpbuf = [0usize; 4];
        let prev = JMPBUF.with(|j| j.replace(jmpbuf.as_mut_ptr()));
        let code = unsafe {
            kwt_call(
                f.tramp,
                f.vmctx as *mut u8,
                f.code,
                values.as_mut_ptr(),
                jmpbuf.as_mut_ptr(),
            )
        };
        JMPBUF.with(|j| j.set(prev));
        if code != 0 {
            return Err(TrapCode::from_u32(code).expect("trap code"));
        }
        values.truncate(f.sig.1.len());
        Ok(values)
    }
}

pub fn last_trap_func() -> u32 {
    TRAP_FUNC.with(|f| f.get())
}

fn inst<'a>(vmctx: *mut u8) -> &'a Instance {
    unsafe { &*(*(vmctx.add(header::HOST_CTX as usize) as *const u64) as *const Instance) }
}

extern "C" fn lc_memory_grow(vmctx: *mut u8, delta: u32) -> i32 {
    inst(vmctx)
        .memory
        .as_ref()
        .map(|m| m.grow(delta))
        .unwrap_or(-1)
}

extern "C" fn lc_memory_fill(vmctx: *mut u8, dst: u32, val: u32, len: u32) -> u32 {
    let mem = inst(vmctx).memory.as_ref().unwrap();
    let mut d = mem.data.borrow_mut();
    if u64::from(dst) + u64::from(len) > d.len() as u64 {
        return TrapCode::MemoryOutOfBounds as u32;
    }
    d[dst as usize..(dst + len) as usize].fill(val as u8);
    0
}

extern "C" fn lc_memory_copy(vmctx: *mut u8, dst: u32, src: u32, len: u32) -> u32 {
    let mem = inst(vmctx).memory.as_ref().unwrap();
    let mut d = mem.data.borrow_mut();
    let n = d.len() as u64;
    if u64::from(dst) + u64::from(len) > n || u64::from(src) + u64::from(len) > n {
        return TrapCode::MemoryOutOfBounds as u32;
    }
    d.copy_within(src as usize..(src + len) as usize, dst as usize);
    0
}

extern "C" fn lc_memory_init(vmctx: *mut u8, seg: u32, dst: u32, src: u32, len: u32) -> u32 {
    inst(vmctx).memory_init(seg, dst, src, len)
}

extern "C" fn lc_data_drop(vmctx: *mut u8, seg: u32) {
    inst(vmctx).dropped_data.borrow_mut()[seg as usize] = true;
}

extern "C" fn lc_table_grow(vmctx: *mut u8, t: u32, init: u64, delta: u32) -> i32 {
    let tab = &inst(vmctx).tables[t as usize];
    let old = tab.elems.borrow().len() as u64;
    let new = old + u64::from(delta);
    let max = if tab.max == NONE {
        10_000_000
    } else {
        u64::from(tab.max)
    };
    if new > max {
        return -1;
    }
    tab.elems.borrow_mut().resize(new as usize, init);
    tab.sync();
    old as i32
}

extern "C" fn lc_table_fill(vmctx: *mut u8, t: u32, dst: u32, val: u64, len: u32) -> u32 {
    let tab = &inst(vmctx).tables[t as usize];
    let mut e = tab.elems.borrow_mut();
    if u64::from(dst) + u64::from(len) > e.len() as u64 {
        return TrapCode::TableOutOfBounds as u32;
    }
    e[dst as usize..(dst + len) as usize].fill(val);
    0
}

extern "C" fn lc_table_copy(vmctx: *mut u8, dt: u32, st: u32, dst: u32, src: u32, len: u32) -> u32 {
    let i = inst(vmctx);
    let (d, s) = (&i.tables[dt as usize], &i.tables[st as usize]);
    let src_vals: Vec<u64> = {
        let se = s.elems.borrow();
        if u64::from(src) + u64::from(len) > se.len() as u64 {
            return TrapCode::TableOutOfBounds as u32;
        }
        se[src as usize..(src + len) as usize].to_vec()
    };
    let mut de = d.elems.borrow_mut();
    if u64::from(dst) + u64::from(len) > de.len() as u64 {
        return TrapCode::TableOutOfBounds as u32;
    }
    de[dst as usize..(dst + len) as usize].copy_from_slice(&src_vals);
    0
}

extern "C" fn lc_table_init(vmctx: *mut u8, t: u32, e: u32, dst: u32, src: u32, len: u32) -> u32 {
    inst(vmctx).table_init(t, e, dst, src, len)
}

extern "C" fn lc_elem_drop(vmctx: *mut u8, e: u32) {
    inst(vmctx).dropped_elem.borrow_mut()[e as usize] = true;
}

// ---------------------------------------------------------------------
// The spec tests' `spectest` module.

extern "C" fn print0(_: *mut u8) {}
extern "C" fn print_i32(_: *mut u8, _: i32) {}
extern "C" fn print_i64(_: *mut u8, _: i64) {}
extern "C" fn print_f32(_: *mut u8, _: f32) {}
extern "C" fn print_f64(_: *mut u8, _: f64) {}
extern "C" fn print_i32_f32(_: *mut u8, _: i32, _: f32) {}
extern "C" fn print_f64_f64(_: *mut u8, _: f64, _: f64) {}

pub struct Spectest {
    table: Rc<TableObj>,
    memory: Rc<MemObj>,
    globals: Box<[u64; 4]>,
    vm: Box<[u64; 8]>,
}

impl Spectest {
    pub fn new() -> Spectest {
        let mut vm = Box::new([0u64; 8]);
        let table = Rc::new(TableObj {
            elems: RefCell::new(vec![0; 10]),
            max: 20,
            elem: ValType::FuncRef,
            min: 10,
            vm: Cell::new(vm.as_mut_ptr()),
        });
        table.sync();
        let memory = Rc::new(MemObj {
            data: RefCell::new(vec![0; 65536]),
            max: 2,
            vm: Cell::new(unsafe { vm.as_mut_ptr().add(2) }),
        });
        memory.sync();
        let globals = Box::new([
            666u64,
            666u64,
            u64::from(666.6f32.to_bits()),
            666.6f64.to_bits(),
        ]);
        Spectest {
            table,
            memory,
            globals,
            vm,
        }
    }

    pub fn resolve(&self, name: &str) -> Option<Extern> {
        use ValType::*;
        let func = |code: usize, params: Vec<ValType>| {
            Some(Extern::Func(FuncObj {
                code,
                vmctx: self.vm.as_ptr() as usize,
                sig: (params, vec![]),
                tramp: 0,
            }))
        };
        let global = |i: usize, ty| {
            Some(Extern::Global(GlobalObj {
                slot: &self.globals[i] as *const u64 as *mut u64,
                ty,
                mutable: false,
            }))
        };
        match name {
            "print" => func(print0 as *const () as usize, vec![]),
            "print_i32" => func(print_i32 as *const () as usize, vec![I32]),
            "print_i64" => func(print_i64 as *const () as usize, vec![I64]),
            "print_f32" => func(print_f32 as *const () as usize, vec![F32]),
            "print_f64" => func(print_f64 as *const () as usize, vec![F64]),
            "print_i32_f32" => func(print_i32_f32 as *const () as usize, vec![I32, F32]),
            "print_f64_f64" => func(print_f64_f64 as *const () as usize, vec![F64, F64]),
            "global_i32" => global(0, I32),
            "global_i64" => global(1, I64),
            "global_f32" => global(2, F32),
            "global_f64" => global(3, F64),
            "table" => Some(Extern::Table(self.table.clone())),
            "memory" => Some(Extern::Memory(self.memory.clone())),
            _ => None,
        }
    }
}
