//! Reading a `.kw` artifact: ELF checks, metadata validation and mapping the
//! code executable.
//!
//! The steps are the ones `kwasm.ko` performs on the same bytes (it gets the
//! code mapped by the module loader instead of `mmap`): find `.text` and
//! `.kwasm.meta`, refuse relocations against `.text`, validate the metadata
//! with [`Meta::parse`], check that it describes exactly this `.text` and this
//! machine. Nothing here trusts the input: every failure is a [`LoadError`]
//! naming the file.

use super::code_ranges::{self, Registration};
use super::values::FuncType;
use super::vm::Mapping;
use goblin::elf::Elf;
use goblin::elf::header::{EM_AARCH64, EM_X86_64, ET_REL};
use goblin::elf::section_header::{SHT_NOBITS, SHT_REL, SHT_RELA};
use kwasm_abi::meta::{Meta, MetaError, SECTION_NAME};
use kwasm_abi::{Arch, cpu, host_cpu};
use std::fmt;
use std::path::Path;

/// The architecture this runtime executes.
pub const HOST_ARCH: Arch = match Arch::HOST {
    Some(a) => a,
    None => panic!("the kwasm runtime runs on x86-64 and aarch64 only"),
};

/// Why a `.kw` could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {kind}")]
pub struct LoadError {
    /// The file (or name) the bytes came from.
    pub file: String,
    pub kind: LoadErrorKind,
}

/// The reason part of a [`LoadError`].
#[derive(Debug, thiserror::Error)]
pub enum LoadErrorKind {
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    #[error("not an ELF file (a .kw is produced by `kwasmc compile`)")]
    NotElf,
    #[error(
        "looks like a WebAssembly {0} module, not a .kw artifact; compile it first with `kwasmc compile`"
    )]
    WasmInput(&'static str),
    #[error("malformed ELF: {0}")]
    BadElf(String),
    #[error("not a 64-bit little-endian ELF")]
    NotElf64Le,
    #[error("ELF type {0} is not ET_REL (relocatable)")]
    NotRelocatable(u16),
    #[error("ELF machine {0} is not supported (x86-64 or aarch64 expected)")]
    UnknownMachine(u16),
    #[error("missing section {0}")]
    MissingSection(&'static str),
    #[error("duplicate section {0}")]
    DuplicateSection(&'static str),
    #[error("section {0} lies outside the file")]
    SectionOutOfFile(&'static str),
    #[error("section {0} has no file contents")]
    NoBits(&'static str),
    #[error(".text has relocations (section {0}); a .kw must be fully linked")]
    Relocations(String),
    #[error("invalid metadata: {0}")]
    Meta(MetaError),
    #[error("metadata is for {meta}, but the ELF machine is {elf}")]
    ArchMismatch {
        meta: &'static str,
        elf: &'static str,
    },
    #[error(
        "built for {0}, but this host runs {host}: compile it with `kwasmc compile --target {host}`",
        host = HOST_ARCH.name()
    )]
    WrongHost(&'static str),
    #[error(
        "compiled for CPUs with {needs} (`kwasmc compile --cpu`), but this CPU lacks {missing}: \
         recompile it without `--cpu` (baseline) or with `--cpu native` on this machine",
        needs = cpu::Names(*.needs)
    )]
    MissingCpuExtension { missing: &'static str, needs: u32 },
    #[error("metadata says .text is {meta} bytes, but .text is {actual} bytes")]
    TextLength { meta: u32, actual: u64 },
    #[error(
        "code checksum mismatch: metadata says {meta:#010x}, .text has {actual:#010x} (corrupted file?)"
    )]
    TextChecksum { meta: u32, actual: u32 },
    #[error("cannot map code: {0}")]
    Map(std::io::Error),
}

/// Refuses code that uses a CPU extension `has` says this CPU lacks: it
/// would fault on an invalid opcode, or (`lzcnt` read as `bsr`) compute
/// something else.
fn check_cpu(
    meta: &Meta<'_>,
    has: impl FnMut(&cpu::Extension) -> bool,
) -> Result<(), LoadErrorKind> {
    match cpu::first_missing(meta.cpu, has) {
        None => Ok(()),
        Some(e) => Err(LoadErrorKind::MissingCpuExtension {
            missing: e.name,
            needs: meta.cpu,
        }),
    }
}

/// `.text` copied into its own mapping and made read+execute, and
/// registered as generated code for the fault handler while it lives.
pub(crate) struct CodeMemory {
    /// Declared before `map`: the range is unregistered before it is
    /// unmapped.
    _registration: Option<Registration>,
    map: Mapping,
    len: usize,
}

impl CodeMemory {
    fn new(text: &[u8]) -> std::io::Result<CodeMemory> {
        let map = Mapping::new(text.len(), libc::PROT_READ | libc::PROT_WRITE)?;
        if !text.is_empty() {
            // SAFETY: the mapping is at least `text.len()` bytes, freshly
            // created and writable; the source is a distinct Rust slice.
            unsafe { std::ptr::copy_nonoverlapping(text.as_ptr(), map.ptr(), text.len()) };
        }
        map.protect(0, map.len(), libc::PROT_READ | libc::PROT_EXEC)?;
        map.sync_icache(text.len());
        // The whole executable mapping: code that runs past its end into the
        // padding is still this artifact's.
        let registration = if map.len() == 0 {
            None
        } else {
            Some(
                code_ranges::register(map.ptr() as usize, map.len()).ok_or_else(|| {
                    std::io::Error::other(format!(
                        "more than {} artifacts loaded at once",
                        code_ranges::CAPACITY
                    ))
                })?,
            )
        };
        Ok(CodeMemory {
            _registration: registration,
            map,
            len: text.len(),
        })
    }

    /// Address of `.text + off`; `off` must be below the text length (the
    /// metadata parser guarantees this for every offset it accepted).
    pub fn at(&self, off: u32) -> *const u8 {
        debug_assert!((off as usize) < self.len);
        self.map.ptr().wrapping_add(off as usize)
    }
}

/// Set to anything: each loaded artifact's functions are appended to
/// `/tmp/perf-<pid>.map`, the file `perf report` reads to name JIT code, so
/// a profile of `kwasm run` or `kwasm bench --user` shows wasm functions.
pub const PERF_MAP_ENV: &str = "KWASM_PERF_MAP";

/// Appends `start size name` lines (hex, perf's JIT map format) for every
/// defined function. Best effort: a profile aid must not fail a load.
fn write_perf_map(meta: &Meta<'_>, code: &CodeMemory) {
    use std::io::Write;
    let mut out = String::new();
    for (i, f) in meta.funcs().iter().enumerate() {
        if f.text_len == 0 {
            continue;
        }
        let name = match meta.str(f.name) {
            "" => format!("wasm-function[{i}]"),
            n => n.to_string(),
        };
        out.push_str(&format!(
            "{:x} {:x} {name}\n",
            code.at(f.text_off) as usize,
            f.text_len
        ));
    }
    let path = format!("/tmp/perf-{}.map", std::process::id());
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(out.as_bytes());
    }
}

/// A validated, loaded `.kw`: its metadata and its code mapped executable.
pub struct Artifact {
    name: String,
    /// View of `meta_bytes` (see [`Artifact::meta`]); declared first so it
    /// is dropped before the bytes it borrows.
    meta: Meta<'static>,
    meta_bytes: Box<[u8]>,
    pub(crate) code: CodeMemory,
    /// Function types by type index.
    pub(crate) types: Vec<FuncType>,
}

impl fmt::Debug for Artifact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Artifact")
            .field("name", &self.name)
            .field("text_len", &self.meta.text_len)
            .finish_non_exhaustive()
    }
}

/// Section contents located in the ELF.
struct Sections<'a> {
    text: &'a [u8],
    meta: &'a [u8],
    machine: Arch,
}

fn find_sections(bytes: &[u8]) -> Result<Sections<'_>, LoadErrorKind> {
    if bytes.len() < 4 || &bytes[..4] != b"\x7fELF" {
        if bytes.starts_with(b"\0asm") {
            return Err(LoadErrorKind::WasmInput("binary"));
        }
        let head = String::from_utf8_lossy(&bytes[..bytes.len().min(256)]);
        if head.trim_start().starts_with("(module") || head.trim_start().starts_with(";;") {
            return Err(LoadErrorKind::WasmInput("text"));
        }
        return Err(LoadErrorKind::NotElf);
    }
    // goblin is not supposed to panic on bad input; make sure a bug there
    // still becomes an error rather than a crash.
    let parsed = std::panic::catch_unwind(|| Elf::parse(bytes))
        .map_err(|_| LoadErrorKind::BadElf("parser failure".into()))?;
    let elf = parsed.map_err(|e| LoadErrorKind::BadElf(e.to_string()))?;
    if !elf.is_64 || !elf.little_endian {
        return Err(LoadErrorKind::NotElf64Le);
    }
    if elf.header.e_type != ET_REL {
        return Err(LoadErrorKind::NotRelocatable(elf.header.e_type));
    }
    let machine = match elf.header.e_machine {
        EM_X86_64 => Arch::X86_64,
        EM_AARCH64 => Arch::Aarch64,
        m => return Err(LoadErrorKind::UnknownMachine(m)),
    };
    let mut text_idx = None;
    let mut meta_idx = None;
    for (i, sh) in elf.section_headers.iter().enumerate() {
        let name = elf.shdr_strtab.get_at(sh.sh_name).unwrap_or("");
        let (slot, label) = match name {
            ".text" => (&mut text_idx, ".text"),
            n if n == SECTION_NAME => (&mut meta_idx, SECTION_NAME),
            _ => continue,
        };
        if slot.is_some() {
            return Err(LoadErrorKind::DuplicateSection(label));
        }
        *slot = Some(i);
    }
    let text_idx = text_idx.ok_or(LoadErrorKind::MissingSection(".text"))?;
    let meta_idx = meta_idx.ok_or(LoadErrorKind::MissingSection(SECTION_NAME))?;
    for sh in &elf.section_headers {
        if (sh.sh_type == SHT_REL || sh.sh_type == SHT_RELA)
            && sh.sh_info as usize == text_idx
            && sh.sh_size != 0
        {
            let name = elf.shdr_strtab.get_at(sh.sh_name).unwrap_or("?");
            return Err(LoadErrorKind::Relocations(name.to_string()));
        }
    }
    let contents = |idx: usize, label: &'static str| -> Result<&[u8], LoadErrorKind> {
        let sh = &elf.section_headers[idx];
        if sh.sh_type == SHT_NOBITS {
            return Err(LoadErrorKind::NoBits(label));
        }
        let start = usize::try_from(sh.sh_offset).ok();
        let len = usize::try_from(sh.sh_size).ok();
        start
            .zip(len)
            .and_then(|(s, l)| bytes.get(s..s.checked_add(l)?))
            .ok_or(LoadErrorKind::SectionOutOfFile(label))
    };
    Ok(Sections {
        text: contents(text_idx, ".text")?,
        meta: contents(meta_idx, SECTION_NAME)?,
        machine,
    })
}

/// The raw `.text` and `.kwasm.meta` bytes of a `.kw`, after the ELF checks
/// only: the metadata is not parsed. For tools that hand the bytes to
/// another validator (`kwasm load --unchecked` lets the kernel judge them).
pub fn raw_sections(bytes: &[u8]) -> Result<(&[u8], &[u8]), LoadErrorKind> {
    let s = find_sections(bytes)?;
    Ok((s.text, s.meta))
}

impl Artifact {
    /// Read and load a `.kw` file.
    pub fn from_file(path: &Path) -> Result<Artifact, LoadError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| LoadError {
            file: name.clone(),
            kind: e.into(),
        })?;
        Artifact::from_bytes(&name, &bytes)
    }

    /// Load a `.kw` from memory; `name` is used in messages.
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<Artifact, LoadError> {
        Artifact::load(bytes)
            .map_err(|kind| LoadError {
                file: name.to_string(),
                kind,
            })
            .map(|mut a| {
                a.name = name.to_string();
                a
            })
    }

    fn load(bytes: &[u8]) -> Result<Artifact, LoadErrorKind> {
        let s = find_sections(bytes)?;
        let meta_bytes: Box<[u8]> = s.meta.into();
        let meta = Meta::parse(&meta_bytes).map_err(LoadErrorKind::Meta)?;
        if meta.arch != s.machine {
            return Err(LoadErrorKind::ArchMismatch {
                meta: meta.arch.name(),
                elf: s.machine.name(),
            });
        }
        if meta.arch != HOST_ARCH {
            return Err(LoadErrorKind::WrongHost(meta.arch.name()));
        }
        check_cpu(&meta, host_cpu::host_has)?;
        if meta.text_len as u64 != s.text.len() as u64 {
            return Err(LoadErrorKind::TextLength {
                meta: meta.text_len,
                actual: s.text.len() as u64,
            });
        }
        let actual = kwasm_abi::meta::text_checksum(s.text);
        if actual != meta.text_crc {
            return Err(LoadErrorKind::TextChecksum {
                meta: meta.text_crc,
                actual,
            });
        }
        let types = meta
            .types()
            .iter()
            .map(|t| FuncType::new(meta.params(t).collect(), meta.results(t).collect()))
            .collect();
        let code = CodeMemory::new(s.text).map_err(LoadErrorKind::Map)?;
        // SAFETY: `meta` borrows the heap buffer of `meta_bytes`, which moves
        // into the same `Artifact`, is never mutated or reallocated, and is
        // dropped after `meta` (field order). `Artifact::meta` only hands the
        // view out with the lifetime of `&self`.
        let meta: Meta<'static> = unsafe { std::mem::transmute::<Meta<'_>, Meta<'static>>(meta) };
        if std::env::var_os(PERF_MAP_ENV).is_some() {
            write_perf_map(&meta, &code);
        }
        Ok(Artifact {
            name: String::new(),
            meta,
            meta_bytes,
            code,
            types,
        })
    }

    /// The file name given at load time.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The validated metadata.
    pub fn meta(&self) -> Meta<'_> {
        let _ = &self.meta_bytes;
        self.meta
    }

    /// Type of function `f` (imported or defined), if it exists.
    pub fn func_type(&self, f: u32) -> Option<&FuncType> {
        self.types.get(self.meta.func_type(f)? as usize)
    }

    /// Names and types of the exported functions, in export order.
    pub fn exported_funcs(&self) -> Vec<(String, FuncType)> {
        let m = self.meta();
        m.exports()
            .iter()
            .filter(|e| e.kind == kwasm_abi::meta::kind::FUNC)
            .filter_map(|e| Some((m.str(e.name).to_string(), self.func_type(e.index)?.clone())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kwasm_compiler::{CompileOptions, compile};

    fn meta_blob(cpu: u32) -> Vec<u8> {
        let wat =
            "(module (func (export \"f\") (param i32) (result i32) (i32.popcnt (local.get 0))))";
        let opts = CompileOptions {
            target: Arch::X86_64,
            cpu,
            ..CompileOptions::default()
        };
        let kw = compile(wat.as_bytes(), &opts).unwrap();
        find_sections(&kw).unwrap().meta.to_vec()
    }

    #[test]
    fn code_for_missing_extensions_is_refused_naming_the_first() {
        let blob = meta_blob(cpu::POPCNT | cpu::LZCNT | cpu::BMI2);
        let meta = Meta::parse(&blob).unwrap();
        assert_eq!(meta.cpu, cpu::POPCNT | cpu::LZCNT | cpu::BMI2);
        assert!(check_cpu(&meta, |_| true).is_ok());
        let e = check_cpu(&meta, |e| e.bit != cpu::LZCNT).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("compiled for CPUs with popcnt,lzcnt,bmi2")
                && msg.contains("this CPU lacks lzcnt"),
            "{msg}"
        );
        let base = meta_blob(0);
        assert!(check_cpu(&Meta::parse(&base).unwrap(), |_| false).is_ok());
    }
}
