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

/// What a relocated field of a stub refers to.
#[derive(Clone, Copy, Debug)]
enum Target {
    ThisModule,
    Meta,
    Text,
    Cfg,
    Register,
    Unregister,
}

/// One relocated field of a stub: at byte `at`, `target + addend`.
struct Fixup {
    at: u64,
    target: Target,
    r_type: u32,
    addend: i64,
}

/// The init and exit stubs of one architecture and how to relocate them.
/// `init` passes `(this_module, meta, meta_len, text, text_len, cfg)` to
/// `kwasm_register`; `exit` passes `this_module` to `kwasm_unregister`.
/// Both are reached through pointers (`mod->init`, `mod->exit`), so each
/// begins with the indirect-branch landing pad: `endbr64` under IBT,
/// `bti c` under BTI.
struct Stubs {
    init: Vec<u8>,
    init_fixups: Vec<Fixup>,
    exit: Vec<u8>,
    exit_fixups: Vec<Fixup>,
}

/// What differs between the architectures' module objects.
struct Machine {
    object: Architecture,
    /// The relocation of an absolute 64-bit address (`struct module`'s
    /// `init` and `exit` fields).
    abs64: u32,
    /// Empty sections the module loader requires: arm64 sizes its PLT and
    /// ftrace trampoline sections itself but refuses a module without them
    /// (`module_frob_arch_sections`; Kbuild's `asm/module.lds.h` adds them
    /// to every module).
    loader_sections: &'static [&'static str],
    stubs: fn(meta_len: u32, text_len: u32) -> Stubs,
}

fn machine(arch: Arch) -> Machine {
    match arch {
        Arch::X86_64 => Machine {
            object: Architecture::X86_64,
            abs64: elf::R_X86_64_64,
            loader_sections: &[],
            stubs: x86_stub::build,
        },
        Arch::Aarch64 => Machine {
            object: Architecture::Aarch64,
            abs64: elf::R_AARCH64_ABS64,
            loader_sections: &[
                ".plt",
                ".init.plt",
                ".text.ftrace_trampoline",
                ".init.text.ftrace_trampoline",
            ],
            stubs: arm64_stub::build,
        },
    }
}

/// The x86-64 stubs: `lea`s of RIP-relative addresses, immediates for the
/// lengths, and a `jmp` to the exported function.
mod x86_stub {
    use super::{Fixup, Stubs, Target};
    use kwasm_abi::vmctx::X86_ENDBR64;
    use object::elf::{R_X86_64_PC32, R_X86_64_PLT32};

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
    const INIT: [u8; 48] = endbr64(&[
        0x48, 0x8d, 0x3d, 0, 0, 0, 0, // lea rdi, [rip + this_module]
        0x48, 0x8d, 0x35, 0, 0, 0, 0, // lea rsi, [rip + meta]
        0xba, 0, 0, 0, 0, // mov edx, meta_len
        0x48, 0x8d, 0x0d, 0, 0, 0, 0, // lea rcx, [rip + text]
        0x41, 0xb8, 0, 0, 0, 0, // mov r8d, text_len
        0x4c, 0x8d, 0x0d, 0, 0, 0, 0, // lea r9, [rip + cfg]
        0xe9, 0, 0, 0, 0, // jmp kwasm_register
    ]);
    const INIT_META_LEN: usize = 19;
    const INIT_TEXT_LEN: usize = 32;
    /// `endbr64; lea rdi,[rip+this_module]; jmp kwasm_unregister`
    const EXIT: [u8; 16] = endbr64(&[
        0x48, 0x8d, 0x3d, 0, 0, 0, 0, // lea rdi, [rip + this_module]
        0xe9, 0, 0, 0, 0, // jmp kwasm_unregister
    ]);

    /// A 32-bit PC-relative field: relative to its own end, hence -4.
    fn rel(at: u64, target: Target) -> Fixup {
        let r_type = match target {
            Target::Register | Target::Unregister => R_X86_64_PLT32,
            _ => R_X86_64_PC32,
        };
        Fixup {
            at,
            target,
            r_type,
            addend: -4,
        }
    }

    pub(super) fn build(meta_len: u32, text_len: u32) -> Stubs {
        let mut init = INIT.to_vec();
        init[INIT_META_LEN..INIT_META_LEN + 4].copy_from_slice(&meta_len.to_le_bytes());
        init[INIT_TEXT_LEN..INIT_TEXT_LEN + 4].copy_from_slice(&text_len.to_le_bytes());
        Stubs {
            init,
            init_fixups: vec![
                rel(7, Target::ThisModule),
                rel(14, Target::Meta),
                rel(26, Target::Text),
                rel(39, Target::Cfg),
                rel(44, Target::Register),
            ],
            exit: EXIT.to_vec(),
            exit_fixups: vec![rel(7, Target::ThisModule), rel(12, Target::Unregister)],
        }
    }
}

/// The arm64 stubs: each argument is loaded from a literal pool after the
/// code, whose addresses are absolute (`R_AARCH64_ABS64`), and the exported
/// function is reached with `br x16`. Absolute literals keep the stub free
/// of range limits (a module's text and data are separate allocations) and
/// of branch relocations, which would need entries in the module's PLT.
mod arm64_stub {
    use super::{Fixup, Stubs, Target};
    use object::elf::R_AARCH64_ABS64;

    /// `bti c`: the landing pad of an indirect call.
    const BTI_C: u32 = 0xd503_245f;
    /// `br x16`: `bti c` accepts a `br` through x16 or x17 only, and
    /// `kwasm_register`/`kwasm_unregister` begin with one.
    const BR_X16: u32 = 0xd61f_0200;
    const NOP: u32 = 0xd503_201f;

    /// `ldr x<rt>, <pc + 4 * words>`: a 64-bit literal load.
    const fn ldr_literal(rt: u32, words: u32) -> u32 {
        0x5800_0000 | (words << 5) | rt
    }

    /// What the stub's pool slots hold: a relocated address or a value.
    enum Slot {
        Addr(Target),
        Value(u64),
    }

    /// `bti c`, then `ldr x<i>, slot<i>` for each argument, `ldr x16` of
    /// the callee, `br x16`, and the 8-byte aligned pool.
    fn stub(args: &[Slot], callee: Target) -> (Vec<u8>, Vec<Fixup>) {
        let ninsns = 1 + args.len() + 2;
        let pool = (ninsns * 4).next_multiple_of(8);
        let mut code = vec![BTI_C];
        let slot_at = |i: usize| pool + 8 * i;
        for i in 0..=args.len() {
            let at = 4 * code.len();
            let rt = if i < args.len() { i as u32 } else { 16 };
            code.push(ldr_literal(rt, ((slot_at(i) - at) / 4) as u32));
        }
        code.push(BR_X16);
        if code.len() * 4 < pool {
            code.push(NOP);
        }
        let mut bytes: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
        let mut fixups = Vec::new();
        let callee = Slot::Addr(callee);
        let slots = args.iter().chain([&callee]);
        for (i, s) in slots.enumerate() {
            let value = match *s {
                Slot::Addr(target) => {
                    fixups.push(Fixup {
                        at: slot_at(i) as u64,
                        target,
                        r_type: R_AARCH64_ABS64,
                        addend: 0,
                    });
                    0
                }
                Slot::Value(v) => v,
            };
            bytes.extend_from_slice(&value.to_le_bytes());
        }
        (bytes, fixups)
    }

    pub(super) fn build(meta_len: u32, text_len: u32) -> Stubs {
        let (init, init_fixups) = stub(
            &[
                Slot::Addr(Target::ThisModule),
                Slot::Addr(Target::Meta),
                Slot::Value(meta_len.into()),
                Slot::Addr(Target::Text),
                Slot::Value(text_len.into()),
                Slot::Addr(Target::Cfg),
            ],
            Target::Register,
        );
        let (exit, exit_fixups) = stub(&[Slot::Addr(Target::ThisModule)], Target::Unregister);
        Stubs {
            init,
            init_fixups,
            exit,
            exit_fixups,
        }
    }
}

/// Build the module image for `init_module(2)`.
pub fn wrap(parts: &ModuleParts<'_>, layout: &ModuleLayout) -> Result<Vec<u8>> {
    let meta = Meta::parse(parts.meta).map_err(|e| anyhow::anyhow!("invalid metadata: {e}"))?;
    let kernel = kernel_arch(layout)?;
    if meta.arch != kernel {
        bail!(
            "the program is compiled for {}, but the running kernel is {}: compile it with \
             `kwasmc compile --target {}`",
            meta.arch.name(),
            kernel.name(),
            kernel.name()
        );
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

/// The architecture of the running kernel, as `kwasm.ko` reports it.
fn kernel_arch(layout: &ModuleLayout) -> Result<Arch> {
    Arch::from_u32(layout.arch).ok_or_else(|| {
        anyhow::anyhow!(
            "kwasm.ko reports architecture {}, which this kwasm does not know: \
             are kwasm and kwasm.ko from the same build?",
            layout.arch
        )
    })
}

fn wrap_inner(
    parts: &ModuleParts<'_>,
    meta: Option<Meta<'_>>,
    layout: &ModuleLayout,
) -> Result<Vec<u8>> {
    let machine = machine(kernel_arch(layout)?);
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

    let mut obj = Object::new(BinaryFormat::Elf, machine.object, Endianness::Little);

    // The program's code, with a local symbol per function.
    let text = obj.section_id(StandardSection::Text);
    obj.append_section_data(text, parts.text, u64::from(kwasm_abi::vmctx::TEXT_ALIGN));
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
    let stubs_code = (machine.stubs)(parts.meta.len() as u32, parts.text.len() as u32);
    let stubs = obj.add_section(Vec::new(), b".text.kwasm_stubs".to_vec(), SectionKind::Text);
    // Each stub follows a copy of the kCFI preamble of its type from
    // kwasm.ko (zeros without CFI), which the module loader's indirect
    // calls to `init` and `exit` check on CFI kernels.
    obj.append_section_data(stubs, &layout.init_preamble, 16);
    let init_off = obj.append_section_data(stubs, &stubs_code.init, 1);
    obj.append_section_data(stubs, &layout.exit_preamble, 16);
    let exit_off = obj.append_section_data(stubs, &stubs_code.exit, 1);
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
    let init_sym = func_sym(
        &mut obj,
        "init_module",
        init_off,
        stubs_code.init.len() as u64,
    );
    let exit_sym = func_sym(
        &mut obj,
        "cleanup_module",
        exit_off,
        stubs_code.exit.len() as u64,
    );

    let fixups = (stubs_code.init_fixups.iter().map(|f| (init_off, f)))
        .chain(stubs_code.exit_fixups.iter().map(|f| (exit_off, f)));
    for (base, f) in fixups {
        let symbol = match f.target {
            Target::ThisModule => this_sym,
            Target::Meta => meta_sym,
            Target::Text => text_sym,
            Target::Cfg => cfg_sym,
            Target::Register => register,
            Target::Unregister => unregister,
        };
        obj.add_relocation(
            stubs,
            Relocation {
                offset: base + f.at,
                symbol,
                addend: f.addend,
                flags: RelocationFlags::Elf { r_type: f.r_type },
            },
        )?;
    }

    let abs64 = |obj: &mut Object<'_>, at: u32, symbol| {
        obj.add_relocation(
            this_sec,
            Relocation {
                offset: at as u64,
                symbol,
                addend: 0,
                flags: RelocationFlags::Elf {
                    r_type: machine.abs64,
                },
            },
        )
    };
    abs64(&mut obj, layout.init_offset, init_sym)?;
    abs64(&mut obj, layout.exit_offset, exit_sym)?;

    for name in machine.loader_sections {
        let s = obj.add_section(
            Vec::new(),
            name.as_bytes().to_vec(),
            SectionKind::UninitializedData,
        );
        obj.append_section_bss(s, 1, 8);
    }

    Ok(obj.write()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use goblin::elf::Elf;
    use kwasm_abi::ioctl::{IOCTL_VERSION, LOAD_CONFIG_MAGIC, VERMAGIC_LEN, encode_name};
    use kwasm_abi::meta::{FuncRec, MetaParts, NONE, PoolRef, TypeRec};

    fn tiny_meta(text_len: u32) -> Vec<u8> {
        tiny_meta_for(text_len, Arch::X86_64)
    }

    fn tiny_meta_for(text_len: u32, arch: Arch) -> Vec<u8> {
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
            arch,
            flags: 0,
            text_len,
            start_func: NONE,
            entry_export: NONE,
            text_crc: kwasm_abi::meta::text_checksum(&[0xc3; 32][..text_len as usize]),
            cpu: 0,
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
        layout_for(Arch::X86_64)
    }

    fn layout_for(arch: Arch) -> ModuleLayout {
        let mut vermagic = [0u8; VERMAGIC_LEN];
        vermagic[..20].copy_from_slice(b"6.12.117 SMP mod_unl");
        ModuleLayout {
            version: IOCTL_VERSION,
            module_size: 1024,
            name_offset: 24,
            init_offset: 320,
            exit_offset: 800,
            name_len: 56,
            arch: arch as u32,
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
        // The module loader places the code where kwasmc laid it out for.
        let code = elf
            .section_headers
            .iter()
            .find(|s| elf.shdr_strtab.get_at(s.sh_name) == Some(".text"))
            .unwrap();
        assert_eq!(code.sh_addralign, u64::from(kwasm_abi::vmctx::TEXT_ALIGN));
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

    /// The arm64 module: an aarch64 object with the sections the arm64
    /// module loader insists on, and stubs whose literal loads reach the
    /// pool slots that hold the arguments and the callee.
    #[test]
    fn wraps_an_arm64_module() {
        let text = [0xc3u8; 32];
        let meta = tiny_meta_for(32, Arch::Aarch64);
        let parts = ModuleParts {
            name: "demo",
            text: &text,
            meta: &meta,
            config: LoadConfig::default(),
        };
        let image = wrap(&parts, &layout_for(Arch::Aarch64)).unwrap();
        let elf = Elf::parse(&image).unwrap();
        assert_eq!(elf.header.e_machine, goblin::elf::header::EM_AARCH64);
        let section = |name: &str| {
            elf.section_headers
                .iter()
                .position(|s| elf.shdr_strtab.get_at(s.sh_name) == Some(name))
                .unwrap_or_else(|| panic!("missing {name}"))
        };
        for name in [".plt", ".init.plt", ".text.ftrace_trampoline"] {
            section(name);
        }
        let stubs_idx = section(".text.kwasm_stubs");
        let stubs = &elf.section_headers[stubs_idx];
        let code = &image[stubs.sh_offset as usize..(stubs.sh_offset + stubs.sh_size) as usize];
        let relocs: Vec<_> = elf
            .shdr_relocs
            .iter()
            .filter(|(i, _)| elf.section_headers[*i].sh_info as usize == stubs_idx)
            .flat_map(|(_, r)| r.iter())
            .collect();
        assert!(
            relocs
                .iter()
                .all(|r| r.r_type == goblin::elf::reloc::R_AARCH64_ABS64)
        );
        let reloc_at = |at: u64| relocs.iter().any(|r| r.r_offset == at);
        let sym_at = |name: &str| {
            elf.syms
                .iter()
                .find(|s| elf.strtab.get_at(s.st_name) == Some(name))
                .unwrap()
                .st_value
        };
        let word =
            |at: u64| u32::from_le_bytes(code[at as usize..at as usize + 4].try_into().unwrap());
        let quad =
            |at: u64| u64::from_le_bytes(code[at as usize..at as usize + 8].try_into().unwrap());
        // init: bti c, x0..x5 from the pool, x16 = kwasm_register, br x16.
        let init = sym_at("init_module");
        assert_eq!(word(init), 0xd503_245f, "bti c");
        let literal = |at: u64| {
            let w = word(at);
            assert_eq!(w & 0xff00_0000, 0x5800_0000, "ldr literal at {at}: {w:#x}");
            (w & 31, at + 4 * u64::from((w >> 5) & 0x7ffff))
        };
        let mut slots = Vec::new();
        for (i, rt) in [0, 1, 2, 3, 4, 5, 16].into_iter().enumerate() {
            let (reg, slot) = literal(init + 4 + 4 * i as u64);
            assert_eq!(reg, rt);
            assert_eq!(slot % 8, 0, "pool slot {slot} aligned");
            slots.push(slot);
        }
        assert_eq!(word(init + 32), 0xd61f_0200, "br x16");
        for (i, &slot) in slots.iter().enumerate() {
            match i {
                2 => assert_eq!(quad(slot), meta.len() as u64, "meta_len"),
                4 => assert_eq!(quad(slot), 32, "text_len"),
                _ => assert!(reloc_at(slot), "argument {i}'s slot is relocated"),
            }
        }
        let exit = sym_at("cleanup_module");
        assert_eq!(word(exit), 0xd503_245f, "bti c");
        let (r0, s0) = literal(exit + 4);
        let (r16, s16) = literal(exit + 8);
        assert_eq!((r0, r16), (0, 16));
        assert!(reloc_at(s0) && reloc_at(s16));
        assert_eq!(word(exit + 12), 0xd61f_0200, "br x16");
    }

    /// A program for one architecture is refused for a kernel of the
    /// other, with both named; `wrap_unchecked` leaves that to the kernel.
    #[test]
    fn refuses_the_other_architecture() {
        let text = [0xc3u8; 32];
        for (prog, kernel) in [(Arch::X86_64, Arch::Aarch64), (Arch::Aarch64, Arch::X86_64)] {
            let meta = tiny_meta_for(32, prog);
            let parts = ModuleParts {
                name: "demo",
                text: &text,
                meta: &meta,
                config: LoadConfig::default(),
            };
            let err = wrap(&parts, &layout_for(kernel)).unwrap_err().to_string();
            assert!(
                err.contains(&format!("compiled for {}", prog.name()))
                    && err.contains(&format!("kernel is {}", kernel.name())),
                "{err}"
            );
            assert!(wrap_unchecked(&parts, &layout_for(kernel)).is_ok());
        }
        let mut unknown = layout();
        unknown.arch = 7;
        let meta = tiny_meta(32);
        let parts = ModuleParts {
            name: "demo",
            text: &text,
            meta: &meta,
            config: LoadConfig::default(),
        };
        assert!(wrap_unchecked(&parts, &unknown).is_err());
    }
}
