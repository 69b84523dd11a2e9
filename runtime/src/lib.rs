//! Userspace runtime for `.kw` artifacts (x86-64 Linux).
//!
//! The layout mirrors what the kernel module does:
//! - [`artifact`]: read and validate a `.kw` (ELF + `.kwasm.meta`) and map its
//!   `.text` executable;
//! - [`store`]: the [`Store`] that owns instances, memories, tables, globals,
//!   the canonical function-type registry, the import namespace and the wasm
//!   stack;
//! - [`instance`]: instantiation (linking, segment initialisation, start
//!   function) and invocation of exports;
//! - [`trampoline`]: the assembly entry stub, the trap handler and the
//!   fault handler;
//! - [`code_ranges`]: where the generated code of the live artifacts lies,
//!   for the fault handler;
//! - [`libcalls`]: the helpers generated code calls through `VmCtx`;
//! - [`host`]: the host modules `kwasm` (and its alias `env._debug`) and
//!   `spectest`;
//! - [`values`]: [`Val`], [`FuncType`] and their slot encoding.

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
pub use store::{Extern, Store, StoreConfig};
pub use values::{FuncType, Val};
