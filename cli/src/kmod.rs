//! Wrapping a `.kw` artifact as a loadable kernel module (DESIGN 6).
//!
//! Since Linux 5.8 a module cannot map executable memory by itself, so
//! `kwasm load` turns the program into a module of its own and lets the
//! kernel's module loader map `.text` read-only+exec and the rest NX. The
//! wrapper is a small ELF relocatable object:
//!
//! - `.text`: the program's code, byte for byte, with one symbol per wasm
//!   function so that oops traces name them;
//! - `.text.kwasm_stubs`: the init and exit stubs, which tail-call
//!   `kwasm_register`/`kwasm_unregister` exported by `kwasm.ko`;
//! - `.rodata.kwasm_meta` (the validated metadata) and `.rodata.kwasm_cfg`
//!   (the [`LoadConfig`]);
//! - `.gnu.linkonce.this_module`: a zeroed `struct module` of the running
//!   kernel's size with the name filled in and relocations for `init`/`exit`;
//! - `.modinfo`: license, vermagic, name, dependency.
//!
//! The sizes and offsets of `struct module` and the vermagic come from
//! `kwasm.ko` (`MODULE_LAYOUT` ioctl), so no kernel headers are needed here.

use anyhow::{Result, bail};
use kwasm_abi::Arch;
use kwasm_abi::ioctl::{
    LoadConfig, ModuleLayout, PROG_MODULE_PREFIX, REGISTER_SYMBOL, UNREGISTER_SYMBOL,
};
use kwasm_abi::meta::{Meta, Record};
use object::write::{Object, Relocation, StandardSection, Symbol, SymbolSection};
use object::{
    Architecture, BinaryFormat, Endianness, RelocationFlags, SectionKind, SymbolFlags, SymbolKind,
    SymbolScope, elf,
};

/// What goes into a program module.
pub struct ModuleParts<'a> {
    /// Program name (without the module prefix).
    pub name: &'a str,
    /// The program's `.text`.
    pub text: &'a [u8],
    /// The program's metadata blob (already validated by the caller).
    pub meta: &'a [u8],
    pub config: LoadConfig,
}

/// Name of the kernel module a program is loaded as.
pub fn module_name(prog: &str) -> String {
    format!("{PROG_MODULE_PREFIX}{prog}")
}

/// Offsets of the relocated fields inside the x86-64 init stub.
mod x86_stub {
    use kwasm_abi::vmctx::X86_ENDBR64;

    /// `X86_ENDBR64` followed by `rest`: every stub is an indirect-branch
    /// target (the kernel calls `init`/`exit` through pointers under IBT).
    const fn endbr64<const N: usize>(rest: &[u8]) -> [u8; N] {
        assert!(X86_ENDBR64.len() + rest.len() == N);
        let mut out = [0u8; N];
        let mut i = 0;
        while i < N {
            out[i] = if i < X86_ENDBR64.len() {
                X86_ENDBR64[i]
            } else {
                rest[i - X86_ENDBR64.len()]
            };
            i += 1;
        }
        out
    }

    /// `endbr64; lea rdi,[rip+this_module]; lea rsi,[rip+meta];
    /// mov edx,meta_len; lea rcx,[rip+text]; mov r8d,text_len;
    /// lea r9,[rip+cfg]; jmp kwasm_register`
    pub const INIT: [u8; 48] = endbr64(&[
        0x48, 0x8d, 0x3d, 0, 0, 0, 0, // lea rdi, [rip + this_module]
        0x48, 0x8d, 0x35, 0, 0, 0, 0, // lea rsi, [rip + meta]
        0xba, 0, 0, 0, 0, // mov edx, meta_len
        0x48, 0x8d, 0x0d, 0, 0, 0, 0, // lea rcx, [rip + text]
        0x41, 0xb8, 0, 0, 0, 0, // mov r8d, text_len
        0x4c, 0x8d, 0x0d, 0, 0, 0, 0, // lea r9, [rip + cfg]
        0xe9, 0, 0, 0, 0, // jmp kwasm_register
    ]);
    pub const INIT_THIS: u64 = 7;
    pub const INIT_META: u64 = 14;
    pub const INIT_META_LEN: usize = 19;
    pub const INIT_TEXT: u64 = 26;
    pub const INIT_TEXT_LEN: usize = 32;
    pub const INIT_CFG: u64 = 39;
    pub const INIT_CALL: u64 = 44;
    /// `endbr64; lea rdi,[rip+this_module]; jmp kwasm_unregister`
    pub const EXIT: [u8; 16] = endbr64(&[
        0x48, 0x8d, 0x3d, 0, 0, 0, 0, // lea rdi, [rip + this_module]
        0xe9, 0, 0, 0, 0, // jmp kwasm_unregister
    ]);
    pub const EXIT_THIS: u64 = 7;
    pub const EXIT_CALL: u64 = 12;
}

/// Build the module image for `init_module(2)`.
pub fn wrap(parts: &ModuleParts<'_>, layout: &ModuleLayout) -> Result<Vec<u8>> {
    let meta = Meta::parse(parts.meta).map_err(|e| anyhow::anyhow!("invalid metadata: {e}"))?;
    if meta.arch != Arch::X86_64 {
        bail!("program modules can only be built for x86-64 kernels so far");
    }
    if meta.text_len as usize != parts.text.len() {
        bail!(
            "metadata describes {} bytes of code but .text has {}",
            meta.text_len,
            parts.text.len()
        );
    }
    if kwasm_abi::meta::text_checksum(parts.text) != meta.text_crc {
        bail!("the code does not match its metadata (checksum mismatch): is the .kw corrupted?");
    }
    wrap_inner(parts, Some(meta), layout)
}

/// Like [`wrap`], but without validating the metadata: the module carries
/// whatever bytes it is given, so that the kernel's own validation can be
/// tested (`kwasm load --unchecked`). Function symbols are added only when
/// the metadata parses.
pub fn wrap_unchecked(parts: &ModuleParts<'_>, layout: &ModuleLayout) -> Result<Vec<u8>> {
    wrap_inner(parts, Meta::parse(parts.meta).ok(), layout)
}

fn wrap_inner(
    parts: &ModuleParts<'_>,
    meta: Option<Meta<'_>>,
    layout: &ModuleLayout,
) -> Result<Vec<u8>> {
    if layout.arch != Arch::X86_64 as u32 {
        bail!("program modules can only be built for x86-64 kernels so far");
    }
    let modname = module_name(parts.name);
    if modname.len() >= layout.name_len as usize {
        bail!(
            "program name '{}' is too long (at most {} characters)",
            parts.name,
            layout.name_len as usize - 1 - PROG_MODULE_PREFIX.len()
        );
    }
    let max_field = layout
        .name_offset
        .max(layout.init_offset)
        .max(layout.exit_offset) as usize;
    if layout.module_size as usize <= max_field + 8 || layout.module_size > 1 << 16 {
        bail!("kwasm.ko reported an implausible struct module layout: {layout:?}");
    }
    let vermagic = kwasm_abi::ioctl::decode_cstr(&layout.vermagic)
        .ok_or_else(|| anyhow::anyhow!("kwasm.ko reported an unreadable vermagic"))?;

    let mut obj = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);

    // The program's code, with a local symbol per function.
    let text = obj.section_id(StandardSection::Text);
    obj.append_section_data(text, parts.text, 16);
    let nimp = meta.map_or(0, |m| m.imported(kwasm_abi::meta::kind::FUNC));
    let funcs = match &meta {
        Some(m) => m.funcs().iter().map(|f| m.str(f.name)).collect(),
        None => Vec::new(),
    };
    let text_ranges = match &meta {
        Some(m) => m.funcs().iter().map(|f| (f.text_off, f.text_len)).collect(),
        None => Vec::new(),
    };
    for (i, (name, (text_off, text_len))) in funcs.into_iter().zip(text_ranges).enumerate() {
        let sym = if name.is_empty() {
            format!("func{}", nimp as usize + i)
        } else {
            name.to_string()
        };
        obj.add_symbol(Symbol {
            name: format!("kwasm_{}_{}", parts.name, sym).into_bytes(),
            value: text_off as u64,
            size: text_len as u64,
            kind: SymbolKind::Text,
            scope: SymbolScope::Compilation,
            weak: false,
            section: SymbolSection::Section(text),
            flags: SymbolFlags::None,
        });
    }
    let text_sym = obj.section_symbol(text);

    let data_section =
        |obj: &mut Object<'_>, name: &str, kind: SectionKind, data: &[u8], align: u64| {
            let s = obj.add_section(Vec::new(), name.as_bytes().to_vec(), kind);
            obj.append_section_data(s, data, align);
            s
        };
    let meta_sec = data_section(
        &mut obj,
        ".rodata.kwasm_meta",
        SectionKind::ReadOnlyData,
        parts.meta,
        8,
    );
    let meta_sym = obj.section_symbol(meta_sec);
    let mut cfg_bytes = vec![0u8; LoadConfig::SIZE];
    parts.config.write(&mut cfg_bytes);
    let cfg_sec = data_section(
        &mut obj,
        kwasm_abi::ioctl::LOAD_CONFIG_SECTION,
        SectionKind::ReadOnlyData,
        &cfg_bytes,
        8,
    );
    let cfg_sym = obj.section_symbol(cfg_sec);

    let mut this_module = vec![0u8; layout.module_size as usize];
    let n = layout.name_offset as usize;
    this_module[n..n + modname.len()].copy_from_slice(modname.as_bytes());
    let this_sec = data_section(
        &mut obj,
        ".gnu.linkonce.this_module",
        SectionKind::Data,
        &this_module,
        64,
    );
    let this_sym = obj.add_symbol(Symbol {
        name: b"__this_module".to_vec(),
        value: 0,
        size: layout.module_size as u64,
        kind: SymbolKind::Data,
        scope: SymbolScope::Linkage,
        weak: false,
        section: SymbolSection::Section(this_sec),
        flags: SymbolFlags::None,
    });

    let modinfo = format!("license=GPL\0vermagic={vermagic}\0name={modname}\0depends=kwasm\0");
    data_section(
        &mut obj,
        ".modinfo",
        SectionKind::ReadOnlyString,
        modinfo.as_bytes(),
        1,
    );

    // Stubs.
    let undef = |obj: &mut Object<'_>, name: &str| {
        obj.add_symbol(Symbol {
            name: name.as_bytes().to_vec(),
            value: 0,
            size: 0,
            kind: SymbolKind::Text,
            scope: SymbolScope::Linkage,
            weak: false,
            section: SymbolSection::Undefined,
            flags: SymbolFlags::None,
        })
    };
    let register = undef(&mut obj, REGISTER_SYMBOL);
    let unregister = undef(&mut obj, UNREGISTER_SYMBOL);
    let mut init = x86_stub::INIT;
    init[x86_stub::INIT_META_LEN..x86_stub::INIT_META_LEN + 4]
        .copy_from_slice(&(parts.meta.len() as u32).to_le_bytes());
    init[x86_stub::INIT_TEXT_LEN..x86_stub::INIT_TEXT_LEN + 4]
        .copy_from_slice(&(parts.text.len() as u32).to_le_bytes());
    let stubs = obj.add_section(Vec::new(), b".text.kwasm_stubs".to_vec(), SectionKind::Text);
    // Each stub follows a copy of the kCFI preamble of its type from
    // kwasm.ko (zeros without CFI), which the module loader's indirect
    // calls to `init` and `exit` check on CFI kernels.
    obj.append_section_data(stubs, &layout.init_preamble, 16);
    let init_off = obj.append_section_data(stubs, &init, 1);
    obj.append_section_data(stubs, &layout.exit_preamble, 16);
    let exit_off = obj.append_section_data(stubs, &x86_stub::EXIT, 1);
    let func_sym = |obj: &mut Object<'_>, name: &str, value: u64, size: u64| {
        obj.add_symbol(Symbol {
            name: name.as_bytes().to_vec(),
            value,
            size,
            kind: SymbolKind::Text,
            scope: SymbolScope::Compilation,
            weak: false,
            section: SymbolSection::Section(stubs),
            flags: SymbolFlags::None,
        })
    };
    let init_sym = func_sym(&mut obj, "init_module", init_off, init.len() as u64);
    let exit_sym = func_sym(
        &mut obj,
        "cleanup_module",
        exit_off,
        x86_stub::EXIT.len() as u64,
    );

    let pc32 = |obj: &mut Object<'_>, at: u64, symbol, r_type| {
        obj.add_relocation(
            stubs,
            Relocation {
                offset: at,
                symbol,
                addend: -4,
                flags: RelocationFlags::Elf { r_type },
            },
        )
    };
    pc32(
        &mut obj,
        init_off + x86_stub::INIT_THIS,
        this_sym,
        elf::R_X86_64_PC32,
    )?;
    pc32(
        &mut obj,
        init_off + x86_stub::INIT_META,
        meta_sym,
        elf::R_X86_64_PC32,
    )?;
    pc32(
        &mut obj,
        init_off + x86_stub::INIT_TEXT,
        text_sym,
        elf::R_X86_64_PC32,
    )?;
    pc32(
        &mut obj,
        init_off + x86_stub::INIT_CFG,
        cfg_sym,
        elf::R_X86_64_PC32,
    )?;
    pc32(
        &mut obj,
        init_off + x86_stub::INIT_CALL,
        register,
        elf::R_X86_64_PLT32,
    )?;
    pc32(
        &mut obj,
        exit_off + x86_stub::EXIT_THIS,
        this_sym,
        elf::R_X86_64_PC32,
    )?;
    pc32(
        &mut obj,
        exit_off + x86_stub::EXIT_CALL,
        unregister,
        elf::R_X86_64_PLT32,
    )?;

    let abs64 = |obj: &mut Object<'_>, at: u32, symbol| {
        obj.add_relocation(
            this_sec,
            Relocation {
                offset: at as u64,
                symbol,
                addend: 0,
                flags: RelocationFlags::Elf {
                    r_type: elf::R_X86_64_64,
                },
            },
        )
    };
    abs64(&mut obj, layout.init_offset, init_sym)?;
    abs64(&mut obj, layout.exit_offset, exit_sym)?;

    Ok(obj.write()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use goblin::elf::Elf;
    use kwasm_abi::ioctl::{IOCTL_VERSION, LOAD_CONFIG_MAGIC, VERMAGIC_LEN, encode_name};
    use kwasm_abi::meta::{FuncRec, MetaParts, NONE, PoolRef, TypeRec};

    fn tiny_meta(text_len: u32) -> Vec<u8> {
        let pool = b"\x7fmain".to_vec();
        let types = [TypeRec {
            sig: 0,
            nparams: 1,
            nresults: 0,
            trampoline: NONE,
        }];
        let funcs = [FuncRec {
            type_idx: 0,
            text_off: 0,
            text_len,
            name: PoolRef { off: 1, len: 4 },
        }];
        let parts = MetaParts {
            arch: Arch::X86_64,
            flags: 0,
            text_len,
            start_func: NONE,
            entry_export: NONE,
            text_crc: kwasm_abi::meta::text_checksum(&[0xc3; 32][..text_len as usize]),
            types: &types,
            imports: &[],
            funcs: &funcs,
            tables: &[],
            memory: &[],
            globals: &[],
            exports: &[],
            elems: &[],
            datas: &[],
            maps: &[],
            pool: &pool,
        };
        let mut out = vec![0; parts.encoded_len()];
        parts.write(&mut out).unwrap();
        out
    }

    fn layout() -> ModuleLayout {
        let mut vermagic = [0u8; VERMAGIC_LEN];
        vermagic[..20].copy_from_slice(b"6.12.117 SMP mod_unl");
        ModuleLayout {
            version: IOCTL_VERSION,
            module_size: 1024,
            name_offset: 24,
            init_offset: 320,
            exit_offset: 800,
            name_len: 56,
            arch: Arch::X86_64 as u32,
            pad: 0,
            vermagic,
            init_preamble: [0; kwasm_abi::ioctl::CFI_PREAMBLE_LEN],
            exit_preamble: [0; kwasm_abi::ioctl::CFI_PREAMBLE_LEN],
        }
    }

    #[test]
    fn wraps_a_loadable_looking_module() {
        let text = [0xc3u8; 32];
        let meta = tiny_meta(32);
        let config = LoadConfig {
            magic: LOAD_CONFIG_MAGIC,
            version: IOCTL_VERSION,
            name: encode_name("demo").unwrap(),
            ..Default::default()
        };
        let image = wrap(
            &ModuleParts {
                name: "demo",
                text: &text,
                meta: &meta,
                config,
            },
            &layout(),
        )
        .unwrap();
        let elf = Elf::parse(&image).unwrap();
        assert_eq!(elf.header.e_type, goblin::elf::header::ET_REL);
        assert_eq!(elf.header.e_machine, goblin::elf::header::EM_X86_64);
        let names: Vec<_> = elf
            .section_headers
            .iter()
            .map(|s| elf.shdr_strtab.get_at(s.sh_name).unwrap())
            .collect();
        for want in [
            ".text",
            ".text.kwasm_stubs",
            ".rodata.kwasm_meta",
            ".rodata.kwasm_cfg",
            ".gnu.linkonce.this_module",
            ".modinfo",
        ] {
            assert!(names.contains(&want), "missing {want} in {names:?}");
        }
        let this = elf
            .section_headers
            .iter()
            .find(|s| elf.shdr_strtab.get_at(s.sh_name) == Some(".gnu.linkonce.this_module"))
            .unwrap();
        assert_eq!(this.sh_size, 1024);
        let name_at = this.sh_offset as usize + 24;
        assert_eq!(&image[name_at..name_at + 11], b"kwasm_demo\0");
        let syms: Vec<_> = elf
            .syms
            .iter()
            .filter_map(|s| elf.strtab.get_at(s.st_name))
            .collect();
        for want in [
            "kwasm_demo_main",
            "init_module",
            "cleanup_module",
            "kwasm_register",
            "kwasm_unregister",
            "__this_module",
        ] {
            assert!(syms.contains(&want), "missing symbol {want}");
        }
        let modinfo = elf
            .section_headers
            .iter()
            .find(|s| elf.shdr_strtab.get_at(s.sh_name) == Some(".modinfo"))
            .unwrap();
        let info =
            &image[modinfo.sh_offset as usize..(modinfo.sh_offset + modinfo.sh_size) as usize];
        assert!(info.windows(21).any(|w| w == b"vermagic=6.12.117 SMP"));
        // The program's code has no relocations: only the stubs and this_module do.
        for (idx, relocs) in &elf.shdr_relocs {
            let target = elf.section_headers[*idx].sh_info as usize;
            let name = elf
                .shdr_strtab
                .get_at(elf.section_headers[target].sh_name)
                .unwrap();
            assert!(
                name == ".text.kwasm_stubs" || name == ".gnu.linkonce.this_module",
                "relocations in {name}"
            );
            assert!(!relocs.is_empty());
        }
    }

    #[test]
    fn rejects_mismatched_inputs() {
        let meta = tiny_meta(32);
        let config = LoadConfig::default();
        let short = [0u8; 16];
        assert!(
            wrap(
                &ModuleParts {
                    name: "demo",
                    text: &short,
                    meta: &meta,
                    config
                },
                &layout()
            )
            .is_err()
        );
        let text = [0xc3u8; 32];
        // The unmodified parts are accepted, so each rejection below is for
        // the one thing changed.
        let ok = ModuleParts {
            name: "demo",
            text: &text,
            meta: &meta,
            config,
        };
        assert!(wrap(&ok, &layout()).is_ok());
        let flipped = [0xc2u8; 32];
        assert!(
            wrap(
                &ModuleParts {
                    text: &flipped,
                    ..ok
                },
                &layout()
            )
            .is_err()
        );
        let long = "x".repeat(60);
        assert!(
            wrap(
                &ModuleParts {
                    name: &long,
                    text: &text,
                    meta: &meta,
                    config
                },
                &layout()
            )
            .is_err()
        );
        let mut bad = layout();
        bad.init_offset = 5000;
        assert!(
            wrap(
                &ModuleParts {
                    name: "demo",
                    text: &text,
                    meta: &meta,
                    config
                },
                &bad
            )
            .is_err()
        );
        assert!(
            wrap(
                &ModuleParts {
                    name: "demo",
                    text: &text,
                    meta: &meta[1..],
                    config
                },
                &layout()
            )
            .is_err()
        );
    }
}
