//! The `VmCtx` layout: the per-instance block that generated code reaches
//! through its first argument.
//!
//! Generated code touches nothing outside its linear memory except through
//! `VmCtx`, so this layout is the whole interface between code and runtime.
//! It has a fixed header followed by module-dependent arrays whose offsets
//! [`VmCtxLayout`] computes from [`VmCtxCounts`]; the compiler and both
//! runtimes call the same function, so they cannot disagree.
//!
//! All pointers and slots are 64-bit; the layout is the same on x86-64 and
//! aarch64.
//!
//! ## Calling convention
//! Every wasm function, defined or imported, is called as
//! `extern "C" fn(vmctx: *mut VmCtx, params...) -> results` (System V on
//! x86-64, AAPCS64 on aarch64), where `vmctx` is the *callee's* context. A
//! host import gets the importing instance's `vmctx`.
//!
//! Each function type has an *array-call trampoline*
//! `extern "C" fn(vmctx, code: *const u8, values: *mut RawVal)` that loads
//! the parameters from `values`, calls `code` and stores the results back into
//! `values` (which holds `max(params, results)` slots). Runtimes enter wasm
//! only through these, from their entry stub, which switches to the wasm stack
//! and records where the trap handler must return to.

use super::types::ValType;

/// Offsets of the fixed header.
pub mod header {
    /// `i64`: remaining fuel (rates in the `fuel` module). Generated code
    /// subtracts the operators of a region at function entry and at loop
    /// headers, and the cost of a bulk operation or host call before it runs,
    /// and traps with `OutOfFuel` when it goes negative.
    pub const FUEL: u32 = 0;
    /// `u64`: the lowest stack pointer generated code may reach. Prologues
    /// check `sp - frame_size >= stack_limit` and trap with `StackOverflow`.
    /// Runtimes set it above the real end of the stack by [`super::STACK_RESERVE`].
    pub const STACK_LIMIT: u32 = 8;
    /// `extern "C" fn(vmctx, code: u32, func_index: u32) -> !`
    pub const TRAP_HANDLER: u32 = 16;
    /// `*const [usize; LIBCALL_COUNT]`: see [`super::libcall`].
    pub const LIBCALLS: u32 = 24;
    /// `*mut c_void`: owned by the runtime (instance pointer).
    pub const HOST_CTX: u32 = 32;
    pub const SIZE: u32 = 40;
}

/// Bytes kept free below `stack_limit` for the trap handler, libcalls and
/// host functions, which run on the wasm stack.
pub const STACK_RESERVE: u64 = 16 * 1024;

/// `VmMemory`: a linear memory. Defined memories live inline in `VmCtx`;
/// an imported memory is a pointer to the exporter's `VmMemory`.
///
/// The contract generated code relies on: `BASE` never changes after
/// instantiation (both runtimes allocate or reserve the maximum up front;
/// kwasmc loads it as a constant), and `LENGTH` only grows, through
/// `memory.grow`, and is never below the module's declared minimum (kwasmc
/// leaves out checks that the minimum proves and keeps the length in a
/// register between calls).
pub mod memory {
    /// `*mut u8`, fixed for the instance's life.
    pub const BASE: u32 = 0;
    /// `u64`: current length in bytes; only grows.
    pub const LENGTH: u32 = 8;
    pub const SIZE: u32 = 16;
}

/// `VmTable`: a table of 64-bit elements (funcref: `*const VmFuncRef`,
/// externref: opaque value; null is 0). Defined tables live inline, imported
/// ones are pointers to the exporter's `VmTable`.
pub mod table {
    /// `*mut u64`
    pub const BASE: u32 = 0;
    /// `u64`: current number of elements.
    pub const LENGTH: u32 = 8;
    pub const SIZE: u32 = 16;
}

/// `VmFuncRef`: what a funcref points to. Every instance holds one per
/// function in its index space, so `ref.func` is an address computation.
pub mod funcref {
    /// `*const u8`: code, called with the convention above.
    pub const CODE: u32 = 0;
    /// `*mut VmCtx` to pass as first argument.
    pub const VMCTX: u32 = 8;
    /// `u32`: canonical type id, compared by `call_indirect`.
    pub const TYPE_ID: u32 = 16;
    pub const SIZE: u32 = 24;
}

/// `VmImportFunc`: an imported function's code and the context to call it with.
pub mod import_func {
    pub const CODE: u32 = 0;
    pub const VMCTX: u32 = 8;
    pub const SIZE: u32 = 16;
}

/// Libcalls: runtime helpers for operations that need the runtime (growing,
/// bulk operations on segments). Each returns a status where it can fail
/// (0 = ok, else a [`super::trap::TrapCode`]) so that the *generated code*
/// raises the trap; the runtime never unwinds through its own frames.
pub mod libcall {
    /// `fn(vmctx, delta_pages: u32) -> i32`: old size in pages, or -1.
    pub const MEMORY_GROW: u32 = 0;
    /// `fn(vmctx, dst: u32, val: u32, len: u32) -> u32`
    pub const MEMORY_FILL: u32 = 1;
    /// `fn(vmctx, dst: u32, src: u32, len: u32) -> u32`
    pub const MEMORY_COPY: u32 = 2;
    /// `fn(vmctx, data_index: u32, dst: u32, src: u32, len: u32) -> u32`
    pub const MEMORY_INIT: u32 = 3;
    /// `fn(vmctx, data_index: u32)`
    pub const DATA_DROP: u32 = 4;
    /// `fn(vmctx, table: u32, init: u64, delta: u32) -> i32`: old size or -1.
    pub const TABLE_GROW: u32 = 5;
    /// `fn(vmctx, table: u32, dst: u32, val: u64, len: u32) -> u32`
    pub const TABLE_FILL: u32 = 6;
    /// `fn(vmctx, dst_table: u32, src_table: u32, dst: u32, src: u32, len: u32) -> u32`
    pub const TABLE_COPY: u32 = 7;
    /// `fn(vmctx, table: u32, elem_index: u32, dst: u32, src: u32, len: u32) -> u32`
    pub const TABLE_INIT: u32 = 8;
    /// `fn(vmctx, elem_index: u32)`
    pub const ELEM_DROP: u32 = 9;
    pub const COUNT: u32 = 10;
}

/// The libcall table that `VmCtx + header::LIBCALLS` points to, one typed
/// function pointer per [`libcall`] index. Runtimes fill it with their own
/// functions, so a libcall with the wrong signature does not compile.
#[repr(C)]
pub struct Libcalls {
    pub memory_grow: extern "C" fn(vmctx: *mut u8, delta_pages: u32) -> i32,
    pub memory_fill: extern "C" fn(vmctx: *mut u8, dst: u32, val: u32, len: u32) -> u32,
    pub memory_copy: extern "C" fn(vmctx: *mut u8, dst: u32, src: u32, len: u32) -> u32,
    pub memory_init: extern "C" fn(vmctx: *mut u8, data: u32, dst: u32, src: u32, len: u32) -> u32,
    pub data_drop: extern "C" fn(vmctx: *mut u8, data: u32),
    pub table_grow: extern "C" fn(vmctx: *mut u8, table: u32, init: u64, delta: u32) -> i32,
    pub table_fill: extern "C" fn(vmctx: *mut u8, table: u32, dst: u32, val: u64, len: u32) -> u32,
    pub table_copy: extern "C" fn(
        vmctx: *mut u8,
        dst_table: u32,
        src_table: u32,
        dst: u32,
        src: u32,
        len: u32,
    ) -> u32,
    pub table_init:
        extern "C" fn(vmctx: *mut u8, table: u32, elem: u32, dst: u32, src: u32, len: u32) -> u32,
    pub elem_drop: extern "C" fn(vmctx: *mut u8, elem: u32),
}

// Generated code loads libcall `i` from `8 * i`: the struct must agree.
#[cfg(target_pointer_width = "64")]
const _: () = {
    use core::mem::offset_of;
    const fn at(i: u32) -> usize {
        8 * i as usize
    }
    assert!(offset_of!(Libcalls, memory_grow) == at(libcall::MEMORY_GROW));
    assert!(offset_of!(Libcalls, memory_fill) == at(libcall::MEMORY_FILL));
    assert!(offset_of!(Libcalls, memory_copy) == at(libcall::MEMORY_COPY));
    assert!(offset_of!(Libcalls, memory_init) == at(libcall::MEMORY_INIT));
    assert!(offset_of!(Libcalls, data_drop) == at(libcall::DATA_DROP));
    assert!(offset_of!(Libcalls, table_grow) == at(libcall::TABLE_GROW));
    assert!(offset_of!(Libcalls, table_fill) == at(libcall::TABLE_FILL));
    assert!(offset_of!(Libcalls, table_copy) == at(libcall::TABLE_COPY));
    assert!(offset_of!(Libcalls, table_init) == at(libcall::TABLE_INIT));
    assert!(offset_of!(Libcalls, elem_drop) == at(libcall::ELEM_DROP));
    assert!(core::mem::size_of::<Libcalls>() == at(libcall::COUNT));
};

/// Signature of libcall `index` after its `vmctx` argument: (params,
/// results), in the order of [`Libcalls`]' fields. The compiler declares
/// its calls from this table.
pub const fn libcall_sig(index: u32) -> Option<(&'static [ValType], &'static [ValType])> {
    use ValType::{I32, I64};
    Some(match index {
        libcall::MEMORY_GROW => (&[I32], &[I32]),
        libcall::MEMORY_FILL | libcall::MEMORY_COPY => (&[I32, I32, I32], &[I32]),
        libcall::MEMORY_INIT => (&[I32, I32, I32, I32], &[I32]),
        libcall::DATA_DROP | libcall::ELEM_DROP => (&[I32], &[]),
        libcall::TABLE_GROW => (&[I32, I64, I32], &[I32]),
        libcall::TABLE_FILL => (&[I32, I32, I64, I32], &[I32]),
        libcall::TABLE_COPY | libcall::TABLE_INIT => (&[I32, I32, I32, I32, I32], &[I32]),
        _ => return None,
    })
}

/// Alignment of a program's code section, and of the code generated for
/// each function and trampoline, which starts right after its x86
/// [`X86_ENDBR64`] (aarch64 has no prefix). Cranelift lays out blocks and
/// constants assuming this alignment of the function's first byte (its
/// preferred `function_alignment` on both targets), so every loader must
/// place the section at a multiple of it: the module loader through the
/// `.ko`'s section alignment, userspace at a page.
pub const TEXT_ALIGN: u32 = 32;

/// `endbr64`, the x86 IBT landing pad: the first instruction of every
/// function that is reached indirectly (generated functions, trampolines
/// and the program module's init/exit stubs).
pub const X86_ENDBR64: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfa];

/// The fixed header of `VmCtx` ([`header`]), as a struct.
#[repr(C)]
#[derive(Debug)]
pub struct VmCtxHeader {
    pub fuel: i64,
    pub stack_limit: u64,
    pub trap_handler: *const u8,
    pub libcalls: *const Libcalls,
    pub host_ctx: *mut u8,
}

/// `VmMemory`: base and length in bytes of a linear memory.
#[repr(C)]
#[derive(Debug)]
pub struct VmMemory {
    pub base: *mut u8,
    pub length: u64,
}

/// `VmTable`: base and element count of a table of 64-bit elements.
#[repr(C)]
#[derive(Debug)]
pub struct VmTable {
    pub base: *mut u64,
    pub length: u64,
}

/// `VmFuncRef`: what a funcref points at.
#[repr(C)]
#[derive(Debug)]
pub struct VmFuncRef {
    pub code: *const u8,
    pub vmctx: *mut u8,
    pub type_id: u32,
    pub _pad: u32,
}

/// `VmImportFunc`: an imported function's code and context.
#[repr(C)]
#[derive(Debug)]
pub struct VmImportFunc {
    pub code: *const u8,
    pub vmctx: *mut u8,
}

// The structs are the offsets above, spelled as types: they must agree.
#[cfg(target_pointer_width = "64")]
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(offset_of!(VmCtxHeader, fuel) == header::FUEL as usize);
    assert!(offset_of!(VmCtxHeader, stack_limit) == header::STACK_LIMIT as usize);
    assert!(offset_of!(VmCtxHeader, trap_handler) == header::TRAP_HANDLER as usize);
    assert!(offset_of!(VmCtxHeader, libcalls) == header::LIBCALLS as usize);
    assert!(offset_of!(VmCtxHeader, host_ctx) == header::HOST_CTX as usize);
    assert!(size_of::<VmCtxHeader>() == header::SIZE as usize);
    assert!(offset_of!(VmMemory, base) == memory::BASE as usize);
    assert!(offset_of!(VmMemory, length) == memory::LENGTH as usize);
    assert!(size_of::<VmMemory>() == memory::SIZE as usize);
    assert!(offset_of!(VmTable, base) == table::BASE as usize);
    assert!(offset_of!(VmTable, length) == table::LENGTH as usize);
    assert!(size_of::<VmTable>() == table::SIZE as usize);
    assert!(offset_of!(VmFuncRef, code) == funcref::CODE as usize);
    assert!(offset_of!(VmFuncRef, vmctx) == funcref::VMCTX as usize);
    assert!(offset_of!(VmFuncRef, type_id) == funcref::TYPE_ID as usize);
    assert!(size_of::<VmFuncRef>() == funcref::SIZE as usize);
    assert!(offset_of!(VmImportFunc, code) == import_func::CODE as usize);
    assert!(offset_of!(VmImportFunc, vmctx) == import_func::VMCTX as usize);
    assert!(size_of::<VmImportFunc>() == import_func::SIZE as usize);
};

pub use view::VmCtxView;

/// Typed access to one `VmCtx` allocation. This is the only `unsafe` code
/// in abi: both runtimes reach `VmCtx` fields through it instead of
/// computing addresses themselves.
#[allow(unsafe_code)]
mod view {
    use super::*;
    use core::ptr::NonNull;

    /// A `VmCtx` allocation and its layout. Every accessor checks its index
    /// against the layout's counts, so a bad index is `None`, never an
    /// address outside the allocation.
    pub struct VmCtxView {
        base: NonNull<u8>,
        layout: VmCtxLayout,
    }

    impl VmCtxView {
        /// # Safety
        /// `base` points to `layout.size` bytes, 16-byte aligned, zeroed or
        /// initialised by earlier views, that live as long as the view; no
        /// generated code runs on this `VmCtx` while a reference returned by
        /// the view is alive (runtimes use views while instantiating and
        /// between calls).
        pub unsafe fn new(base: NonNull<u8>, layout: VmCtxLayout) -> VmCtxView {
            VmCtxView { base, layout }
        }

        pub fn layout(&self) -> &VmCtxLayout {
            &self.layout
        }

        /// The address generated code receives as `vmctx`.
        pub fn ptr(&self) -> *mut u8 {
            self.base.as_ptr()
        }

        fn field<T>(&self, off: u32) -> *mut T {
            debug_assert!(off as usize + core::mem::size_of::<T>() <= self.layout.size as usize);
            // SAFETY: callers pass offsets that `VmCtxLayout` computed for
            // an entity inside the counts, so the field lies within the
            // `layout.size` bytes `new` was given; offsets are 8-aligned
            // and the base 16-aligned.
            unsafe { self.base.as_ptr().add(off as usize).cast::<T>() }
        }

        fn get<T>(&mut self, off: u32) -> &mut T {
            // SAFETY: `field` is in bounds and aligned; `new`'s contract
            // rules out concurrent access by generated code, and `&mut self`
            // any other reference through this view.
            unsafe { &mut *self.field::<T>(off) }
        }

        pub fn header(&mut self) -> &mut VmCtxHeader {
            self.get(0)
        }

        /// Canonical type ids, one per type of the module.
        pub fn type_ids(&mut self) -> &mut [u32] {
            let n = self.layout.counts.types as usize;
            let p = self.field::<u32>(self.layout.type_ids);
            // SAFETY: `types` u32 slots start at `type_ids` (layout).
            unsafe { core::slice::from_raw_parts_mut(p, n) }
        }

        pub fn import_func(&mut self, i: u32) -> Option<&mut VmImportFunc> {
            (i < self.layout.counts.imported_funcs).then(|| self.get(self.layout.imported_func(i)))
        }

        pub fn imported_table(&mut self, i: u32) -> Option<&mut *mut VmTable> {
            (i < self.layout.counts.imported_tables)
                .then(|| self.get(self.layout.imported_table(i)))
        }

        pub fn imported_memory(&mut self) -> Option<&mut *mut VmMemory> {
            matches!(self.layout.counts.memory, MemoryKind::Imported)
                .then(|| self.get(self.layout.imported_memory))
        }

        pub fn imported_global(&mut self, i: u32) -> Option<&mut *mut u64> {
            (i < self.layout.counts.imported_globals)
                .then(|| self.get(self.layout.imported_global(i)))
        }

        pub fn defined_memory(&mut self) -> Option<&mut VmMemory> {
            matches!(self.layout.counts.memory, MemoryKind::Defined)
                .then(|| self.get(self.layout.defined_memory))
        }

        /// Address of the defined memory's `VmMemory`, for runtimes that
        /// keep a pointer to it (generated code updates `length`).
        pub fn defined_memory_ptr(&self) -> Option<*mut VmMemory> {
            matches!(self.layout.counts.memory, MemoryKind::Defined)
                .then(|| self.field(self.layout.defined_memory))
        }

        /// By *defined* index.
        pub fn defined_table(&mut self, i: u32) -> Option<&mut VmTable> {
            (i < self.layout.counts.defined_tables).then(|| self.get(self.layout.defined_table(i)))
        }

        /// Address of a defined table's `VmTable`, by *defined* index.
        pub fn defined_table_ptr(&self, i: u32) -> Option<*mut VmTable> {
            (i < self.layout.counts.defined_tables)
                .then(|| self.field(self.layout.defined_table(i)))
        }

        /// A defined global's slot, by *defined* index.
        pub fn defined_global(&mut self, i: u32) -> Option<&mut u64> {
            (i < self.layout.counts.defined_globals)
                .then(|| self.get(self.layout.defined_global(i)))
        }

        /// Address of a defined global's slot, by *defined* index.
        pub fn defined_global_ptr(&self, i: u32) -> Option<*mut u64> {
            (i < self.layout.counts.defined_globals)
                .then(|| self.field(self.layout.defined_global(i)))
        }

        pub fn func_ref(&mut self, f: u32) -> Option<&mut VmFuncRef> {
            (f < self.layout.counts.funcs).then(|| self.get(self.layout.func_ref(f)))
        }

        /// The value of `ref.func f`: the address of its `VmFuncRef`, or 0
        /// (null) for an index out of range.
        pub fn func_ref_addr(&self, f: u32) -> u64 {
            if f < self.layout.counts.funcs {
                self.field::<VmFuncRef>(self.layout.func_ref(f)) as u64
            } else {
                0
            }
        }
    }
}

/// WebAssembly page size.
pub const WASM_PAGE_SIZE: u64 = 65536;
/// Largest 32-bit memory, in pages.
pub const MAX_WASM_PAGES: u32 = 65536;

/// Whether a module's memory is absent, imported or defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryKind {
    None,
    Imported,
    Defined,
}

/// The counts that determine a module's `VmCtx` layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmCtxCounts {
    pub types: u32,
    pub imported_funcs: u32,
    /// All functions: imported + defined.
    pub funcs: u32,
    pub imported_tables: u32,
    pub defined_tables: u32,
    pub memory: MemoryKind,
    pub imported_globals: u32,
    pub defined_globals: u32,
}

/// How many entities of each kind a module imports, or defines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EntityCounts {
    pub funcs: u32,
    pub tables: u32,
    pub memories: u32,
    pub globals: u32,
}

impl VmCtxCounts {
    /// The counts of a module with `types` function types and these
    /// imported and defined entities. This is the one rule from a module's
    /// shape to its `VmCtx`: the compiler applies it to the module it
    /// parsed, runtimes (through [`super::meta::Meta::vmctx_counts`]) to
    /// the metadata it wrote, so both get the same layout.
    pub const fn new(types: u32, imported: EntityCounts, defined: EntityCounts) -> VmCtxCounts {
        VmCtxCounts {
            types,
            imported_funcs: imported.funcs,
            // Saturating: an absurd sum is refused by `VmCtxLayout::new`.
            funcs: imported.funcs.saturating_add(defined.funcs),
            imported_tables: imported.tables,
            defined_tables: defined.tables,
            memory: if imported.memories > 0 {
                MemoryKind::Imported
            } else if defined.memories > 0 {
                MemoryKind::Defined
            } else {
                MemoryKind::None
            },
            imported_globals: imported.globals,
            defined_globals: defined.globals,
        }
    }
}

/// Offsets of the module-dependent parts of `VmCtx`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmCtxLayout {
    pub counts: VmCtxCounts,
    /// `[u32; types]`: canonical type ids, filled by the runtime.
    pub type_ids: u32,
    /// `[VmImportFunc; imported_funcs]`
    pub imported_funcs: u32,
    /// `[*mut VmTable; imported_tables]`
    pub imported_tables: u32,
    /// `*mut VmMemory`, present when the memory is imported.
    pub imported_memory: u32,
    /// `[*mut u64; imported_globals]`
    pub imported_globals: u32,
    /// `VmMemory`, present when the memory is defined.
    pub defined_memory: u32,
    /// `[VmTable; defined_tables]`
    pub defined_tables: u32,
    /// `[u64; defined_globals]`
    pub defined_globals: u32,
    /// `[VmFuncRef; funcs]`
    pub func_refs: u32,
    /// Total size in bytes (a multiple of 16).
    pub size: u32,
}

/// Upper bound on any count, so that the layout fits in `u32` arithmetic.
pub const MAX_ENTITIES: u32 = 1 << 20;

const fn align8(x: u32) -> u32 {
    (x + 7) & !7
}

impl VmCtxLayout {
    /// Compute the layout, or `None` when a count exceeds [`MAX_ENTITIES`]
    /// or imported functions outnumber functions.
    pub const fn new(c: VmCtxCounts) -> Option<VmCtxLayout> {
        if c.types > MAX_ENTITIES
            || c.funcs > MAX_ENTITIES
            || c.imported_funcs > c.funcs
            || c.imported_tables > MAX_ENTITIES
            || c.defined_tables > MAX_ENTITIES
            || c.imported_globals > MAX_ENTITIES
            || c.defined_globals > MAX_ENTITIES
        {
            return None;
        }
        let type_ids = header::SIZE;
        let imported_funcs = align8(type_ids + 4 * c.types);
        let imported_tables = imported_funcs + import_func::SIZE * c.imported_funcs;
        let imported_memory = imported_tables + 8 * c.imported_tables;
        let imported_globals = imported_memory
            + if matches!(c.memory, MemoryKind::Imported) {
                8
            } else {
                0
            };
        let defined_memory = imported_globals + 8 * c.imported_globals;
        let defined_tables = defined_memory
            + if matches!(c.memory, MemoryKind::Defined) {
                memory::SIZE
            } else {
                0
            };
        let defined_globals = defined_tables + table::SIZE * c.defined_tables;
        let func_refs = defined_globals + 8 * c.defined_globals;
        let end = func_refs + funcref::SIZE * c.funcs;
        Some(VmCtxLayout {
            counts: c,
            type_ids,
            imported_funcs,
            imported_tables,
            imported_memory,
            imported_globals,
            defined_memory,
            defined_tables,
            defined_globals,
            func_refs,
            size: (end + 15) & !15,
        })
    }

    pub fn type_id(&self, ty: u32) -> u32 {
        self.type_ids + 4 * ty
    }

    pub fn imported_func(&self, f: u32) -> u32 {
        self.imported_funcs + import_func::SIZE * f
    }

    pub fn imported_table(&self, t: u32) -> u32 {
        self.imported_tables + 8 * t
    }

    pub fn imported_global(&self, g: u32) -> u32 {
        self.imported_globals + 8 * g
    }

    /// Offset of a defined table, by *defined* index.
    pub fn defined_table(&self, t: u32) -> u32 {
        self.defined_tables + table::SIZE * t
    }

    /// Offset of a defined global's slot, by *defined* index.
    pub fn defined_global(&self, g: u32) -> u32 {
        self.defined_globals + 8 * g
    }

    pub fn func_ref(&self, f: u32) -> u32 {
        self.func_refs + funcref::SIZE * f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts() -> VmCtxCounts {
        VmCtxCounts {
            types: 3,
            imported_funcs: 2,
            funcs: 5,
            imported_tables: 1,
            defined_tables: 2,
            memory: MemoryKind::Defined,
            imported_globals: 1,
            defined_globals: 4,
        }
    }

    #[test]
    fn layout_is_ordered_and_aligned() {
        let l = VmCtxLayout::new(counts()).unwrap();
        assert_eq!(l.type_ids, header::SIZE);
        assert_eq!(l.imported_funcs % 8, 0);
        assert!(l.imported_funcs >= l.type_ids + 12);
        assert_eq!(l.imported_tables, l.imported_funcs + 32);
        assert_eq!(l.imported_memory, l.imported_tables + 8);
        assert_eq!(l.imported_globals, l.imported_memory);
        assert_eq!(l.defined_memory, l.imported_globals + 8);
        assert_eq!(l.defined_tables, l.defined_memory + 16);
        assert_eq!(l.defined_globals, l.defined_tables + 32);
        assert_eq!(l.func_refs, l.defined_globals + 32);
        assert!(l.size >= l.func_refs + 5 * 24);
        assert_eq!(l.size % 16, 0);
    }

    #[test]
    fn rejects_absurd_counts() {
        let mut c = counts();
        c.imported_funcs = 6;
        assert!(VmCtxLayout::new(c).is_none());
        let mut c = counts();
        c.funcs = u32::MAX;
        assert!(VmCtxLayout::new(c).is_none());
    }
}
