//! Rust views of the `VmCtx` structures defined in `kwasm_abi::vmctx`.
//!
//! The offsets are abi's; the `repr(C)` structs below are checked against
//! them at compile time so a change in abi cannot silently desynchronise us.

use kwasm_abi::vmctx::{funcref, header, import_func, memory, table};
use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::mem::{offset_of, size_of};
use std::ptr::NonNull;

/// `VmMemory`: base and length in bytes of a linear memory.
#[repr(C)]
pub(crate) struct VmMemory {
    pub base: *mut u8,
    pub length: u64,
}

/// `VmTable`: base and element count of a table of 64-bit elements.
#[repr(C)]
pub(crate) struct VmTable {
    pub base: *mut u64,
    pub length: u64,
}

/// `VmFuncRef`: what a funcref points at.
#[repr(C)]
pub(crate) struct VmFuncRef {
    pub code: *const u8,
    pub vmctx: *mut u8,
    pub type_id: u32,
    pub _pad: u32,
}

/// `VmImportFunc`: an imported function's code and context.
#[repr(C)]
pub(crate) struct VmImportFunc {
    pub code: *const u8,
    pub vmctx: *mut u8,
}

const _: () = {
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

/// A zeroed, 16-byte aligned `VmCtx` allocation.
pub(crate) struct VmCtxMem {
    ptr: NonNull<u8>,
    layout: Layout,
}

impl VmCtxMem {
    /// Allocate `size` zeroed bytes (at least the header).
    pub fn new(size: u32) -> Option<VmCtxMem> {
        let size = (size as usize).max(header::SIZE as usize);
        let layout = Layout::from_size_align(size, 16).ok()?;
        // SAFETY: `layout` has a non-zero size (at least the header).
        let ptr = NonNull::new(unsafe { alloc_zeroed(layout) })?;
        Some(VmCtxMem { ptr, layout })
    }

    pub fn ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Pointer to the field at byte offset `off`, typed as `T`.
    ///
    /// The caller must only use offsets computed by `VmCtxLayout` for this
    /// very allocation, with the type that abi documents for that field.
    pub fn at<T>(&self, off: u32) -> *mut T {
        debug_assert!(off as usize + size_of::<T>() <= self.layout.size());
        // SAFETY: callers pass offsets from the layout this allocation was
        // sized with, so the result stays inside the allocation.
        unsafe { self.ptr.as_ptr().add(off as usize).cast::<T>() }
    }
}

impl Drop for VmCtxMem {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with exactly this layout.
        unsafe { dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

/// A heap value owned through a raw pointer, so that the runtime (and
/// generated code) may keep raw pointers into it while the owner is moved or
/// mutably borrowed. Freed when the `Owned` is dropped.
pub(crate) struct Owned<T>(NonNull<T>);

impl<T> Owned<T> {
    pub fn new(v: T) -> Owned<T> {
        Owned(NonNull::from(Box::leak(Box::new(v))))
    }

    pub fn ptr(&self) -> *mut T {
        self.0.as_ptr()
    }
}

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `Box::leak` in `new` and is freed once.
        unsafe { drop(Box::from_raw(self.0.as_ptr())) }
    }
}

/// Page size of the host.
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p <= 0 { 4096 } else { p as usize }
}

/// An anonymous private mapping, unmapped on drop.
pub(crate) struct Mapping {
    ptr: *mut u8,
    len: usize,
}

impl Mapping {
    /// Map `len` bytes (rounded up to pages) with protection `prot`. With
    /// `PROT_NONE` the range is only reserved (no commit charge).
    pub fn new(len: usize, prot: i32) -> std::io::Result<Mapping> {
        let ps = page_size();
        let len = len.checked_add(ps - 1).ok_or_else(too_big)? & !(ps - 1);
        if len == 0 {
            return Ok(Mapping {
                ptr: std::ptr::null_mut(),
                len: 0,
            });
        }
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
        // SAFETY: an anonymous mapping at an address of the kernel's choice
        // does not alias any existing Rust object.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, -1, 0) };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Mapping { ptr: p.cast(), len })
    }

    pub fn ptr(&self) -> *mut u8 {
        self.ptr
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Change the protection of `[off, off+len)` (page aligned).
    pub fn protect(&self, off: usize, len: usize, prot: i32) -> std::io::Result<()> {
        if len == 0 {
            return Ok(());
        }
        if off.checked_add(len).is_none_or(|end| end > self.len) {
            return Err(too_big());
        }
        // SAFETY: the range lies inside this mapping, which we own.
        let r = unsafe { libc::mprotect(self.ptr.add(off).cast(), len, prot) };
        if r != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if self.len != 0 {
            // SAFETY: we own the mapping; nothing refers to it after drop.
            unsafe { libc::munmap(self.ptr.cast(), self.len) };
        }
    }
}

fn too_big() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, "mapping too large")
}
