//! The `.kw` artifact: an ELF relocatable object with the linked `.text`,
//! the `.kwasm.meta` blob (written with `kwasm_abi::meta::MetaParts`) and one
//! `STT_FUNC` symbol per function and per trampoline.
//!
//! The blob is parsed back with `kwasm_abi::meta::Meta::parse` before it is
//! written, so the compiler can never emit metadata a runtime would reject.

use std::collections::HashSet;

use kwasm_abi::Arch;
use kwasm_abi::meta::{
    self, DataRec, ElemRec, ExportRec, FLAG_USES_FLOAT, FuncRec, GlobalRec, ImportRec, MapRec,
    MemRec, Meta, MetaParts, NONE, PoolRef, TableRec, TypeRec, init, kind, offset,
};
use object::write::{Object, StandardSection, Symbol, SymbolSection};
use object::{
    Architecture, BinaryFormat, Endianness, SectionKind, SymbolFlags, SymbolKind, SymbolScope,
};

use crate::emit::Linked;
use crate::error::CompileError;
use crate::module_env::{GlobalInit, ImportKind, ModuleInfo, SegOffset};

/// Accumulates the pool of variable-length data.
#[derive(Default)]
struct Pool {
    bytes: Vec<u8>,
}

impl Pool {
    fn add(&mut self, data: &[u8]) -> Result<PoolRef, CompileError> {
        let too_big =
            || CompileError::unsupported("implementation limit: metadata larger than 4 GiB");
        let off = u32::try_from(self.bytes.len()).map_err(|_| too_big())?;
        let len = u32::try_from(data.len()).map_err(|_| too_big())?;
        off.checked_add(len).ok_or_else(too_big)?;
        self.bytes.extend_from_slice(data);
        Ok(PoolRef { off, len })
    }
}

fn max_or_none(m: Option<u32>) -> u32 {
    m.unwrap_or(NONE)
}

fn seg_offset(o: SegOffset) -> (u8, u32) {
    match o {
        SegOffset::Const(c) => (offset::CONST, c),
        SegOffset::Global(g) => (offset::GLOBAL_GET, g),
    }
}

/// Encode the metadata blob.
pub fn build_meta(
    module: &ModuleInfo<'_>,
    linked: &Linked,
    arch: Arch,
    cpu: u32,
) -> Result<Vec<u8>, CompileError> {
    let mut pool = Pool::default();

    let mut types = Vec::with_capacity(module.types.len());
    for (t, ty) in module.types.iter().enumerate() {
        let sig: Vec<u8> = ty
            .params
            .iter()
            .chain(&ty.results)
            .map(|v| *v as u8)
            .collect();
        let r = pool.add(&sig)?;
        types.push(TypeRec {
            sig: r.off,
            nparams: ty.params.len() as u16,
            nresults: ty.results.len() as u16,
            trampoline: linked.trampolines.get(t).map(|p| p.0).unwrap_or(NONE),
        });
    }

    let mut imports = Vec::with_capacity(module.imports.len());
    for imp in &module.imports {
        let mut rec = ImportRec {
            module: pool.add(imp.module.as_bytes())?,
            name: pool.add(imp.name.as_bytes())?,
            max: NONE,
            ..ImportRec::default()
        };
        match imp.kind {
            ImportKind::Func(t) => {
                rec.kind = kind::FUNC;
                rec.index = t;
            }
            ImportKind::Table(t) => {
                rec.kind = kind::TABLE;
                rec.ty = t.elem as u8;
                rec.min = t.min;
                rec.max = max_or_none(t.max);
            }
            ImportKind::Memory(m) => {
                rec.kind = kind::MEMORY;
                rec.min = m.min;
                rec.max = max_or_none(m.max);
            }
            ImportKind::Global(g) => {
                rec.kind = kind::GLOBAL;
                rec.ty = g.ty as u8;
                rec.mutable = g.mutable as u8;
            }
        }
        imports.push(rec);
    }
    // The format wants imports grouped by kind; a stable sort keeps each
    // kind's own order, which is all the index spaces depend on.
    imports.sort_by_key(|r| r.kind);

    let mut funcs = Vec::with_capacity(linked.funcs.len());
    for (i, (off, len)) in linked.funcs.iter().enumerate() {
        let index = module.num_imported_funcs + i as u32;
        let name = match module.func_name(index) {
            Some(n) => pool.add(n.as_bytes())?,
            None => PoolRef::default(),
        };
        funcs.push(FuncRec {
            type_idx: module.funcs[index as usize],
            text_off: *off,
            text_len: *len,
            name,
        });
    }

    let tables: Vec<TableRec> = module.tables[module.num_imported_tables as usize..]
        .iter()
        .map(|t| TableRec {
            elem: t.elem as u8,
            min: t.min,
            max: max_or_none(t.max),
            ..TableRec::default()
        })
        .collect();

    let memory: Vec<MemRec> = module
        .memory
        .filter(|m| !m.imported)
        .map(|m| MemRec {
            min: m.min,
            max: max_or_none(m.max),
        })
        .into_iter()
        .collect();

    let globals: Vec<GlobalRec> = module.globals[module.num_imported_globals as usize..]
        .iter()
        .map(|g| {
            let (init_kind, value) = match g.init {
                GlobalInit::Const(bits) => (init::CONST, bits),
                GlobalInit::GlobalGet(src) => (init::GLOBAL_GET, u64::from(src)),
                GlobalInit::RefFunc(f) => (init::REF_FUNC, u64::from(f)),
                GlobalInit::RefNull | GlobalInit::Import => (init::REF_NULL, 0),
            };
            GlobalRec {
                ty: g.ty as u8,
                mutable: g.mutable as u8,
                init_kind,
                pad: 0,
                init: value,
            }
        })
        .collect();

    // The format wants exports sorted by name (runtimes binary-search them
    // and the validator checks uniqueness in one pass).
    let mut order: Vec<usize> = (0..module.exports.len()).collect();
    order.sort_by(|&a, &b| {
        module.exports[a]
            .name
            .as_bytes()
            .cmp(module.exports[b].name.as_bytes())
    });
    let mut exports = Vec::with_capacity(module.exports.len());
    for &i in &order {
        let e = &module.exports[i];
        exports.push(ExportRec {
            kind: e.kind,
            index: e.index,
            name: pool.add(e.name.as_bytes())?,
            ..ExportRec::default()
        });
    }
    let entry_export = match module.entry_export {
        Some(entry) => order
            .iter()
            .position(|&i| i as u32 == entry)
            .map_or(NONE, |p| p as u32),
        None => NONE,
    };

    let mut elems = Vec::with_capacity(module.elems.len());
    for e in &module.elems {
        let bytes: Vec<u8> = e.items.iter().flat_map(|i| i.to_le_bytes()).collect();
        let items = pool.add(&bytes)?;
        let (offset_kind, off) = seg_offset(e.offset);
        elems.push(ElemRec {
            mode: e.mode,
            elem: e.elem as u8,
            offset_kind,
            pad: 0,
            table: e.table,
            offset: off,
            items: items.off,
            count: e.items.len() as u32,
        });
    }

    let mut datas = Vec::with_capacity(module.datas.len());
    for d in &module.datas {
        let (offset_kind, off) = seg_offset(d.offset);
        datas.push(DataRec {
            mode: d.mode,
            offset_kind,
            pad: 0,
            offset: off,
            bytes: pool.add(d.bytes)?,
        });
    }

    let maps: Vec<MapRec> = module.maps.iter().map(MapRec::from_decl).collect();

    let parts = MetaParts {
        arch,
        flags: if module.uses_float {
            FLAG_USES_FLOAT
        } else {
            0
        },
        text_len: u32::try_from(linked.text.len()).map_err(|_| {
            CompileError::unsupported("implementation limit: more than 4 GiB of code")
        })?,
        start_func: module.start.unwrap_or(NONE),
        entry_export,
        text_crc: kwasm_abi::meta::text_checksum(&linked.text),
        cpu,
        types: &types,
        imports: &imports,
        funcs: &funcs,
        tables: &tables,
        memory: &memory,
        globals: &globals,
        exports: &exports,
        elems: &elems,
        datas: &datas,
        maps: &maps,
        pool: &pool.bytes,
    };
    let mut blob = vec![0u8; parts.encoded_len()];
    parts
        .write(&mut blob)
        .map_err(|e| CompileError::codegen(format!("metadata: {e}")))?;
    Meta::parse(&blob)
        .map_err(|e| CompileError::codegen(format!("metadata does not validate: {e}")))?;
    Ok(blob)
}

/// Symbol names: the name section's, else `func<N>`; made unique and free of
/// NUL bytes (which ELF string tables cannot hold).
fn unique(name: String, taken: &mut HashSet<String>) -> String {
    let clean: String = name
        .chars()
        .map(|c| if c == '\0' { '_' } else { c })
        .collect();
    let clean = if clean.is_empty() {
        "_".to_string()
    } else {
        clean
    };
    if taken.insert(clean.clone()) {
        return clean;
    }
    for n in 1u64.. {
        let candidate = format!("{clean}.{n}");
        if taken.insert(candidate.clone()) {
            return candidate;
        }
    }
    unreachable!("a unique name always exists")
}

/// Write the `.kw` ELF.
pub fn write_elf(
    module: &ModuleInfo<'_>,
    linked: &Linked,
    meta_blob: Vec<u8>,
    target: Arch,
) -> Result<Vec<u8>, CompileError> {
    let arch = match target {
        Arch::X86_64 => Architecture::X86_64,
        Arch::Aarch64 => Architecture::Aarch64,
    };
    let mut obj = Object::new(BinaryFormat::Elf, arch, Endianness::Little);
    let text = obj.section_id(StandardSection::Text);
    obj.set_section_data(text, linked.text.clone(), crate::emit::CODE_ALIGN as u64);
    let meta_section = obj.add_section(
        Vec::new(),
        meta::SECTION_NAME.as_bytes().to_vec(),
        SectionKind::ReadOnlyData,
    );
    obj.set_section_data(meta_section, meta_blob, 8);

    // Reserve the trampoline names first so function names yield to them.
    let mut taken = HashSet::new();
    let tramp_names: Vec<String> = (0..linked.trampolines.len())
        .map(|t| unique(format!("__kwasm_trampoline_{t}"), &mut taken))
        .collect();
    let add = |obj: &mut Object<'_>, name: String, (off, len): (u32, u32)| {
        obj.add_symbol(Symbol {
            name: name.into_bytes(),
            value: u64::from(off),
            size: u64::from(len),
            kind: SymbolKind::Text,
            scope: SymbolScope::Compilation,
            weak: false,
            section: SymbolSection::Section(text),
            flags: SymbolFlags::None,
        });
    };
    for (i, pos) in linked.funcs.iter().enumerate() {
        let index = module.num_imported_funcs + i as u32;
        let name = match module.func_name(index) {
            Some(n) => n.to_string(),
            None => format!("func{index}"),
        };
        let name = unique(name, &mut taken);
        add(&mut obj, name, *pos);
    }
    for (name, pos) in tramp_names.into_iter().zip(&linked.trampolines) {
        add(&mut obj, name, *pos);
    }
    obj.write()
        .map_err(|e| CompileError::codegen(format!("writing ELF: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CompileOptions, OptLevel, compile};
    use object::{Object, ObjectSection, ObjectSymbol};

    const MODULE: &str = r#"(module
        (import "kwasm" "pkt_len" (func $pkt_len (result i32)))
        (import "env" "mem" (memory 1))
        (type $unused (func (param f64)))
        (table 3 funcref)
        (global $g (mut i32) (i32.const 7))
        (func $filter (export "filter") (param i32) (result i32)
            (i32.add (call $pkt_len) (global.get $g)))
        (func $dup (result i32) (i32.const 1))
        (func (result i64 i64 i64) (i64.const 1) (i64.const 2) (i64.const 3))
        (elem (i32.const 0) $filter $dup)
        (data (i32.const 4) "data")
        (start $dup2)
        (func $dup2)
        (@custom "kwasm.maps" "\08\00\00\00"))"#;

    fn build(target: Arch) -> Vec<u8> {
        compile(
            MODULE.as_bytes(),
            &CompileOptions {
                target,
                opt: OptLevel::Speed,
                ..CompileOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The compiler lays out `VmCtx` from the module it parsed, runtimes
    /// from the metadata it wrote; both go through `VmCtxCounts::new` and
    /// must get the same counts (an imported memory, imported and defined
    /// functions, a defined table and global here).
    #[test]
    fn vmctx_counts_agree_with_the_metadata() {
        let wasm = crate::wasm_bytes(MODULE.as_bytes()).unwrap();
        let module = crate::module_env::parse(&wasm).unwrap();
        let elf = build(Arch::X86_64);
        let file = object::File::parse(&*elf).unwrap();
        let blob = file.section_by_name(meta::SECTION_NAME).unwrap();
        let meta = Meta::parse(blob.data().unwrap()).unwrap();
        assert_eq!(module.vmctx_counts(), meta.vmctx_counts());
        assert_eq!(meta.vmctx_counts().funcs, 5);
    }

    #[test]
    fn elf_and_metadata_round_trip() {
        for (arch, machine) in [
            (Arch::X86_64, object::Architecture::X86_64),
            (Arch::Aarch64, object::Architecture::Aarch64),
        ] {
            let elf = build(arch);
            let file = object::File::parse(&*elf).unwrap();
            assert_eq!(file.architecture(), machine);
            assert_eq!(file.kind(), object::ObjectKind::Relocatable);
            let text = file.section_by_name(".text").unwrap();
            assert_eq!(
                text.relocations().count(),
                0,
                ".text must not need relocation"
            );
            assert_eq!(text.align(), crate::emit::CODE_ALIGN as u64);
            let blob = file.section_by_name(meta::SECTION_NAME).unwrap();
            let meta = Meta::parse(blob.data().unwrap()).unwrap();
            assert_eq!(meta.arch, arch);
            assert_eq!(meta.text_len as u64, text.size());
            assert!(meta.uses_float(), "f64 in a signature sets the flag");
            assert_eq!(meta.imported(kind::FUNC), 1);
            assert_eq!(meta.imported(kind::MEMORY), 1);
            assert_eq!(meta.funcs().len(), 4);
            assert_eq!(meta.start_func, 4);
            let entry = meta.exports().get(meta.entry_export).unwrap();
            assert_eq!(meta.str(entry.name), "filter");
            assert_eq!(entry.index, 1);
            assert_eq!(meta.globals().get(0).unwrap().init, 7);
            assert_eq!(meta.maps().get(0).unwrap().entries, 8);
            let items: Vec<u32> = meta.elem_items(meta.elems().get(0).unwrap()).collect();
            assert_eq!(items, vec![1, 2]);
            assert_eq!(
                meta.pool_bytes(meta.datas().get(0).unwrap().bytes),
                Some(&b"data"[..])
            );

            // Every type has a trampoline, and every function and trampoline
            // a symbol at its metadata offset.
            let syms: Vec<(String, u64, u64)> = file
                .symbols()
                .filter(|s| s.kind() == object::SymbolKind::Text)
                .map(|s| (s.name().unwrap().to_string(), s.address(), s.size()))
                .collect();
            for (t, ty) in meta.types().iter().enumerate() {
                assert_ne!(ty.trampoline, NONE);
                let name = format!("__kwasm_trampoline_{t}");
                assert!(
                    syms.iter()
                        .any(|s| s.0 == name && s.1 == ty.trampoline as u64),
                    "{name} missing"
                );
            }
            let names: Vec<&str> = meta.funcs().iter().map(|f| meta.str(f.name)).collect();
            assert_eq!(names, ["filter", "dup", "", "dup2"]);
            for (i, f) in meta.funcs().iter().enumerate() {
                let expect = match meta.str(f.name) {
                    "" => format!("func{}", i + 1),
                    n => n.to_string(),
                };
                assert!(
                    syms.iter().any(|s| s.0 == expect
                        && s.1 == f.text_off as u64
                        && s.2 == f.text_len as u64),
                    "{expect} missing in {syms:?}"
                );
                // The symbol is at the entry (x86: `endbr64`); the code
                // Cranelift generated starts on `TEXT_ALIGN` after it.
                let prefix = crate::emit::entry_prefix(arch).len();
                assert_eq!((f.text_off as usize + prefix) % crate::emit::CODE_ALIGN, 0);
            }
        }
    }

    #[test]
    fn output_is_deterministic() {
        for target in [Arch::X86_64, Arch::Aarch64] {
            assert_eq!(build(target), build(target));
        }
    }

    #[test]
    fn integer_module_is_not_flagged_float() {
        let elf = compile(
            b"(module (func (result i32) (i32.const 1)))",
            &CompileOptions::default(),
        )
        .unwrap();
        let file = object::File::parse(&*elf).unwrap();
        let blob = file.section_by_name(meta::SECTION_NAME).unwrap();
        assert!(!Meta::parse(blob.data().unwrap()).unwrap().uses_float());
    }

    #[test]
    fn symbol_names_are_unique() {
        let mut taken = HashSet::new();
        assert_eq!(unique("f".into(), &mut taken), "f");
        assert_eq!(unique("f".into(), &mut taken), "f.1");
        assert_eq!(unique("f".into(), &mut taken), "f.2");
        assert_eq!(unique("a\0b".into(), &mut taken), "a_b");
        assert_eq!(unique(String::new(), &mut taken), "_");
    }
}
