//! `kwasmc`: WebAssembly to sandboxed native code for the Linux kernel.
//!
//! The pipeline: [`validate`] (wasmparser, exactly kwasm's feature set) →
//! [`module_env`] (module structure) → [`translate`] (our own wasm →
//! Cranelift IR translator, with explicit bounds checks, trap branches, fuel
//! and stack checks) → [`emit`] (Cranelift's egraph pass, then
//! [`schedule`], then Cranelift's lowering; trap-site check, linking) →
//! [`artifact`] (the `.kw` ELF with `.kwasm.meta`).
//!
//! `docs/codegen-contract.md` is the contract the generated code follows.

pub mod artifact;
pub mod bits;
pub mod bounds;
pub mod emit;
pub mod environ;
pub mod error;
pub mod features;
pub mod flags;
pub mod float;
pub mod isa;
pub mod loops;
pub mod maps_section;
pub mod module_env;
pub mod schedule;
pub mod stack;
pub mod trampoline;
pub mod translate;
pub mod traps;
pub mod validate;

use std::borrow::Cow;

pub use error::{CompileError, ErrorKind};

/// Target architectures are abi's: the one `Arch` the `.kw` header, the
/// runtimes and this compiler share.
pub use kwasm_abi::Arch;

/// Cranelift optimisation level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OptLevel {
    None,
    #[default]
    Speed,
}

/// Options of [`compile`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompileOptions {
    pub target: Arch,
    pub opt: OptLevel,
    /// Guard checked heap addresses and table indices against speculative
    /// out-of-bounds use (DESIGN 12). On by default; turning it off is for
    /// measuring what the guards cost, not for deployment.
    pub spectre_guards: bool,
    /// The optional CPU extensions ([`kwasm_abi::cpu`]) the code may use,
    /// all of `target`'s. Empty by default, so that a `.kw` runs on every
    /// CPU of its architecture; the mask is recorded in the metadata, and
    /// the runtimes refuse the code on a CPU that lacks one.
    pub cpu: u32,
}

/// The target when none is named: the machine the compiler runs on, so that
/// a `.kw` compiled and run on one machine just works; x86-64 elsewhere.
pub const DEFAULT_TARGET: Arch = match Arch::HOST {
    Some(a) => a,
    None => Arch::X86_64,
};

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            target: DEFAULT_TARGET,
            opt: OptLevel::default(),
            spectre_guards: true,
            cpu: 0,
        }
    }
}

/// Compile a WebAssembly module (binary, or WAT text when it does not start
/// with `\0asm`) to the bytes of a `.kw` ELF.
pub fn compile(input: &[u8], opts: &CompileOptions) -> Result<Vec<u8>, CompileError> {
    // The compiler is written not to panic on any input; this only turns a
    // bug into an error instead of aborting the caller.
    match std::panic::catch_unwind(|| compile_inner(input, opts)) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(CompileError::codegen(format!("panic: {msg}")))
        }
    }
}

/// Decode WAT if needed.
pub fn wasm_bytes(input: &[u8]) -> Result<Cow<'_, [u8]>, CompileError> {
    if input.starts_with(b"\0asm") {
        return Ok(Cow::Borrowed(input));
    }
    let text = std::str::from_utf8(input).map_err(|_| {
        CompileError::not_wasm("neither a wasm binary (no \\0asm magic) nor WAT text (not UTF-8)")
    })?;
    wat::parse_str(text)
        .map(Cow::Owned)
        .map_err(|e| CompileError::not_wasm(wat_message(&e.to_string())))
}

/// wat's messages span several lines (message, location, source excerpt);
/// keep the message and the location.
fn wat_message(full: &str) -> String {
    let mut lines = full.lines();
    let msg = lines.next().unwrap_or("invalid WAT").trim().to_string();
    match lines
        .next()
        .and_then(|l| l.trim().strip_prefix("--> "))
        .and_then(|l| {
            l.rsplit_once(':')
                .map(|(f, c)| (f.to_string(), c.to_string()))
        })
        .and_then(|(f, c)| f.rsplit_once(':').map(|(_, line)| (line.to_string(), c)))
    {
        Some((line, col)) => format!("WAT line {line} column {col}: {msg}"),
        None => msg,
    }
}

fn compile_inner(input: &[u8], opts: &CompileOptions) -> Result<Vec<u8>, CompileError> {
    let (artifact, _) = compile_with(input, opts, false)?;
    Ok(artifact)
}

/// [`compile`], optionally keeping Cranelift's VCode listings (tests).
pub fn compile_with(
    input: &[u8],
    opts: &CompileOptions,
    keep_vcode: bool,
) -> Result<(Vec<u8>, emit::Linked), CompileError> {
    let wasm = wasm_bytes(input)?;
    validate::validate(&wasm)?;
    let module = module_env::parse(&wasm)?;
    let backend = isa::Backend::new(opts.target, opts.opt, opts.cpu)?;
    let linked = emit::compile_module(
        &module,
        &backend,
        emit::EmitOptions {
            target: opts.target,
            keep_vcode,
            parallel: true,
            spectre_guards: opts.spectre_guards,
        },
    )?;
    let meta = artifact::build_meta(&module, &linked, opts.target, opts.cpu)?;
    let elf = artifact::write_elf(&module, &linked, meta, opts.target)?;
    Ok((elf, linked))
}
