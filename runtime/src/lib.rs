//! Userspace runtime for `.kw` artifacts (x86-64 Linux).
//!
//! The contract with generated code is `kwasm_abi`'s, shared with
//! `kwasm.ko`: the `VmCtx` views, the instantiation and linking rules, and
//! the libcalls and host functions themselves (`kwasm_abi::calls`). What is
//! left here is a shell around them: allocation, the stack switch and the
//! services of a userspace host.
//! - [`artifact`]: read and validate a `.kw` (ELF + `.kwasm.meta`) and map its
//!   `.text` executable;
//! - [`store`]: the [`Store`] that owns instances, memories, tables, globals,
//!   the canonical function-type registry, the import namespace and the wasm
//!   stack;
//! - [`instance`]: instantiation (linking, `VmCtx` set-up through abi's
//!   rules, start function) and invocation of exports;
//! - [`trampoline`]: the assembly entry stub, the trap handler and the
//!   fault handler;
//! - `code_ranges`: where the generated code of the live artifacts lies,
//!   for the fault handler;
//! - [`libcalls`]: where an instance keeps what abi's libcalls and host
//!   functions work on (`kwasm_abi::calls::Runtime`);
//! - [`host`]: the host services (log, clock, packet, random) and the
//!   `spectest` module;
//! - [`values`]: [`Val`], [`FuncType`] and their slot encoding;
//! - `vm`: the allocations behind `VmCtx`s, memories and stacks.

pub mod artifact;
pub(crate) mod code_ranges;
pub mod host;
pub mod instance;
pub mod libcalls;
pub mod store;
pub mod trampoline;
pub mod values;
pub(crate) mod vm;

pub use artifact::{Artifact, LoadError};
pub use instance::{InstanceId, InstantiateError, InvokeError, LinkError, Trap};
pub use kwasm_abi::trap::TrapCode;
pub use kwasm_abi::types::ValType;
pub use store::{Event, Extern, Store, StoreConfig};
pub use values::{FuncType, Val};
