//! The kwasm userspace runtime and the pieces of the `kwasm` command line
//! tool that other crates (and the integration tests) use.
//!
//! [`runtime`] loads `.kw` artifacts produced by `kwasmc`, instantiates them
//! in a [`runtime::Store`] and calls their exports on a dedicated wasm stack,
//! following `docs/codegen-contract.md` (the same contract `kwasm.ko`
//! follows).

pub mod device;
pub mod kmod;
pub mod spec;
