//! Allocations behind the runtime's `VmCtx`s and entities.
//!
//! The `VmCtx` structures and their typed views are abi's
//! (`kwasm_abi::vmctx`); this module only owns the memory they live in:
//! [`VmCtxMem`] allocates one `VmCtx` and hands out its single
//! [`VmCtxView`], [`Owned`] keeps host-side structures at fixed addresses,
//! and [`Mapping`] reserves linear memories and stacks.

use kwasm_abi::vmctx::{VmCtxLayout, VmCtxView};
use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// A zeroed, 16-byte aligned `VmCtx` allocation and the one view of it.
///
/// The view is created once, with the allocation, and reached only through
/// `&self`/`&mut self` of this owner: Rust's borrows then rule out two live
/// `&mut` to the same field, which two views of one allocation would not.
pub(crate) struct VmCtxMem {
    view: VmCtxView,
    alloc: Layout,
}

impl VmCtxMem {
    /// Allocate a `VmCtx` of `layout.size` zeroed bytes.
    pub fn new(layout: VmCtxLayout) -> Option<VmCtxMem> {
        // Never zero-sized: the header is always there.
        let size = (layout.size as usize).max(kwasm_abi::vmctx::header::SIZE as usize);
        let alloc = Layout::from_size_align(size, 16).ok()?;
        // SAFETY: `alloc` has a non-zero size.
        let base = NonNull::new(unsafe { alloc_zeroed(alloc) })?;
        // SAFETY: `base` points to at least `layout.size` zeroed, 16-byte
        // aligned bytes that live until `drop`, after the view (it is a
        // field of `self`). Generated code runs only inside
        // `Store::call_raw`, which holds no reference obtained from a view
        // while wasm runs; libcalls and host functions reach the instance
        // through `HOST_CTX`, not through the view.
        let view = unsafe { VmCtxView::new(base, layout) };
        Some(VmCtxMem { view, alloc })
    }
}

impl Deref for VmCtxMem {
    type Target = VmCtxView;
    fn deref(&self) -> &VmCtxView {
        &self.view
    }
}

impl DerefMut for VmCtxMem {
    fn deref_mut(&mut self) -> &mut VmCtxView {
        &mut self.view
    }
}

impl Drop for VmCtxMem {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with exactly this layout.
        unsafe { dealloc(self.view.ptr(), self.alloc) }
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

    /// Make the first `len` bytes, just written as data, visible to
    /// instruction fetch. x86-64 keeps its caches coherent; aarch64 does
    /// not: the new code must be cleaned from the data cache to the point
    /// of unification and stale lines invalidated in the instruction cache
    /// (libgcc's `__clear_cache` does both, with the barriers), or a CPU
    /// may execute whatever the page held before.
    pub fn sync_icache(&self, len: usize) {
        #[cfg(target_arch = "aarch64")]
        if len != 0 {
            unsafe extern "C" {
                fn __clear_cache(start: *mut libc::c_char, end: *mut libc::c_char);
            }
            let len = len.min(self.len);
            // SAFETY: the range lies inside this mapping, which is mapped
            // and readable; cache maintenance changes no memory contents.
            unsafe { __clear_cache(self.ptr.cast(), self.ptr.add(len).cast()) };
        }
        #[cfg(not(target_arch = "aarch64"))]
        let _ = len;
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
