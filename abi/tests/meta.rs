//! Tests of the `.kwasm.meta` writer, parser and validator.
//!
//! The kernel runs `Meta::parse` on bytes from userspace, so besides the
//! round trip these tests throw every truncation, every single-bit flip and
//! a few thousand seeded corruptions at it, and check that each specific
//! defect is reported with the exact `MetaError` variant.

use kwasm_abi::Arch;
use kwasm_abi::cpu;
use kwasm_abi::maps::MapDecl;
use kwasm_abi::meta::*;
use kwasm_abi::types::ValType;
use kwasm_abi::vmctx::{MAX_WASM_PAGES, MemoryKind, VmCtxCounts, VmCtxLayout};

/// Offset of the checksum field in the header.
const CHECKSUM_AT: usize = 24;
/// Offset of the first (offset, count) section pair in the header.
const SECTIONS_AT: usize = 48;

/// Re-stamp a blob's checksum after editing it: CRC-32 of the whole blob with
/// the checksum field read as zero. Blobs shorter than the field are left
/// alone.
fn restamp(blob: &mut [u8]) {
    if blob.len() < CHECKSUM_AT + 4 {
        return;
    }
    blob[CHECKSUM_AT..CHECKSUM_AT + 4].fill(0);
    let sum = crc32(0, blob);
    blob[CHECKSUM_AT..CHECKSUM_AT + 4].copy_from_slice(&sum.to_le_bytes());
}

fn put32(blob: &mut [u8], at: usize, v: u32) {
    blob[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn get32(blob: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(blob[at..at + 4].try_into().unwrap())
}

/// Header offset of a section's (offset, count) pair.
fn section_at(s: SectionId) -> usize {
    SECTIONS_AT + 8 * s as usize
}

#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

// ---------------------------------------------------------------------------
// A rich, valid blob.

/// Owned parts, so tests can edit a copy and re-encode it.
#[derive(Clone, Debug)]
struct Parts {
    arch: Arch,
    flags: u32,
    cpu: u32,
    text_len: u32,
    start_func: u32,
    entry_export: u32,
    types: Vec<TypeRec>,
    imports: Vec<ImportRec>,
    funcs: Vec<FuncRec>,
    tables: Vec<TableRec>,
    memory: Vec<MemRec>,
    globals: Vec<GlobalRec>,
    exports: Vec<ExportRec>,
    elems: Vec<ElemRec>,
    datas: Vec<DataRec>,
    maps: Vec<MapRec>,
    pool: Vec<u8>,
}

impl Parts {
    fn as_meta_parts(&self) -> MetaParts<'_> {
        MetaParts {
            arch: self.arch,
            flags: self.flags,
            text_len: self.text_len,
            start_func: self.start_func,
            entry_export: self.entry_export,
            text_crc: TEXT_CRC,
            cpu: self.cpu,
            types: &self.types,
            imports: &self.imports,
            funcs: &self.funcs,
            tables: &self.tables,
            memory: &self.memory,
            globals: &self.globals,
            exports: &self.exports,
            elems: &self.elems,
            datas: &self.datas,
            maps: &self.maps,
            pool: &self.pool,
        }
    }

    fn encode(&self) -> Vec<u8> {
        let p = self.as_meta_parts();
        let mut out = vec![0u8; p.encoded_len()];
        p.write(&mut out).expect("write");
        out
    }

    /// Append bytes to the pool.
    fn bytes(&mut self, b: &[u8]) -> PoolRef {
        let off = self.pool.len() as u32;
        self.pool.extend_from_slice(b);
        PoolRef {
            off,
            len: b.len() as u32,
        }
    }

    fn str(&mut self, s: &str) -> PoolRef {
        self.bytes(s.as_bytes())
    }

    fn sig(&mut self, params: &[ValType], results: &[ValType]) -> TypeRec {
        let sig = self.pool.len() as u32;
        self.pool.extend(params.iter().map(|t| *t as u8));
        self.pool.extend(results.iter().map(|t| *t as u8));
        TypeRec {
            sig,
            nparams: params.len() as u16,
            nresults: results.len() as u16,
            trampoline: NONE,
        }
    }

    fn items(&mut self, items: &[u32]) -> (u32, u32) {
        let off = self.pool.len() as u32;
        for i in items {
            self.pool.extend_from_slice(&i.to_le_bytes());
        }
        (off, items.len() as u32)
    }

    fn import(&mut self, kind: u8, module: &str, name: &str) -> ImportRec {
        ImportRec {
            kind,
            module: self.str(module),
            name: self.str(name),
            max: NONE,
            ..Default::default()
        }
    }

    fn export(&mut self, kind: u8, index: u32, name: &str) -> ExportRec {
        ExportRec {
            kind,
            index,
            name: self.str(name),
            ..Default::default()
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn elem(
        &mut self,
        mode: u8,
        elem: ValType,
        table: u32,
        offset_kind: u8,
        offset: u32,
        items: &[u32],
    ) -> ElemRec {
        let (items, count) = self.items(items);
        ElemRec {
            mode,
            elem: elem as u8,
            offset_kind,
            table,
            offset,
            items,
            count,
            ..Default::default()
        }
    }
}

use ValType::{ExternRef, F32, F64, FuncRef, I32, I64};

// Index spaces of the rich blob.
// Types.
const T_VOID: u32 = 0; // () -> ()
const T_I32_I32: u32 = 1; // (i32) -> i32
const T_MULTI: u32 = 2; // (i64, f32, f64) -> (f64, i32)
const T_REFS: u32 = 3; // (funcref, externref) -> ()
const T_LOG: u32 = 4; // (i32, i32) -> ()
// Functions: 0 is the import `kwasm.log`, 1..=3 are defined.
const F_START: u32 = 1;
const F_FILTER: u32 = 2;
const NFUNCS: u32 = 4;
// Tables: 0 imported funcref, 1 defined funcref, 2 defined externref.
// Globals: 0 imported immutable i32, 1 imported mutable i64, 2 imported
// immutable funcref, then defined 3..=10 (see `rich`).
const G_IMM_I32: u32 = 0;
const G_MUT_I64: u32 = 1;
const G_IMP_FUNCREF: u32 = 2;
const G_MUT_I32: u32 = 3;
const G_IMM_F64: u32 = 4;
const G_FROM_IMPORT: u32 = 5;
const G_REF_FUNC: u32 = 6;
const G_NULL_EXTERN: u32 = 7;
const NGLOBALS: u32 = 11;
// Exports.
const E_FILTER: u32 = 4;
/// Any value: metadata validation does not see the code.
const TEXT_CRC: u32 = 0x1234_5678;

/// A valid blob that uses every record kind, every import kind, every global
/// initialiser kind and every segment mode, with a defined memory.
fn rich() -> Parts {
    let mut p = Parts {
        arch: Arch::X86_64,
        flags: FLAG_USES_FLOAT,
        cpu: cpu::BMI2 | cpu::POPCNT,
        text_len: 0x200,
        start_func: F_START,
        entry_export: E_FILTER,
        types: vec![],
        imports: vec![],
        funcs: vec![],
        tables: vec![],
        memory: vec![],
        globals: vec![],
        exports: vec![],
        elems: vec![],
        datas: vec![],
        maps: vec![],
        pool: vec![],
    };

    let mut t = p.sig(&[], &[]);
    t.trampoline = 0x100;
    p.types.push(t);
    let mut t = p.sig(&[I32], &[I32]);
    t.trampoline = 0x110;
    p.types.push(t);
    let mut t = p.sig(&[I64, F32, F64], &[F64, I32]);
    t.trampoline = 0x120;
    p.types.push(t);
    let t = p.sig(&[FuncRef, ExternRef], &[]); // no trampoline
    p.types.push(t);
    let mut t = p.sig(&[I32, I32], &[]);
    t.trampoline = 0x1f0;
    p.types.push(t);

    // Imports: one of every kind except memory (the memory is defined here;
    // see `imported_memory` for the other case).
    let mut i = p.import(kind::FUNC, "kwasm", "log");
    i.index = T_LOG;
    p.imports.push(i);
    let mut i = p.import(kind::TABLE, "env", "table");
    i.ty = FuncRef as u8;
    i.min = 1;
    i.max = 10;
    p.imports.push(i);
    let mut i = p.import(kind::GLOBAL, "env", "g_i32");
    i.ty = I32 as u8;
    p.imports.push(i);
    let mut i = p.import(kind::GLOBAL, "env", "g_i64_mut");
    i.ty = I64 as u8;
    i.mutable = 1;
    p.imports.push(i);
    let mut i = p.import(kind::GLOBAL, "env", "g_funcref");
    i.ty = FuncRef as u8;
    p.imports.push(i);

    let name = p.str("start");
    p.funcs.push(FuncRec {
        type_idx: T_VOID,
        text_off: 0,
        text_len: 0x40,
        name,
    });
    let name = p.str("filter");
    p.funcs.push(FuncRec {
        type_idx: T_I32_I32,
        text_off: 0x40,
        text_len: 0x40,
        name,
    });
    p.funcs.push(FuncRec {
        type_idx: T_MULTI,
        text_off: 0x80,
        text_len: 0x80, // ends where the trampolines start
        name: PoolRef::default(),
    });

    p.tables.push(TableRec {
        elem: FuncRef as u8,
        min: 2,
        max: NONE,
        ..Default::default()
    });
    p.tables.push(TableRec {
        elem: ExternRef as u8,
        min: 0,
        max: 5,
        ..Default::default()
    });
    p.memory.push(MemRec { min: 1, max: 4 });

    let g = |ty: ValType, mutable: u8, init_kind: u8, init: u64| GlobalRec {
        ty: ty as u8,
        mutable,
        init_kind,
        init,
        ..Default::default()
    };
    p.globals.extend([
        g(I32, 1, init::CONST, 42),                            // 3
        g(F64, 0, init::CONST, 1.5f64.to_bits()),              // 4
        g(I32, 0, init::GLOBAL_GET, G_IMM_I32 as u64),         // 5
        g(FuncRef, 0, init::REF_FUNC, F_FILTER as u64),        // 6
        g(ExternRef, 0, init::REF_NULL, 0),                    // 7
        g(FuncRef, 1, init::REF_NULL, 0),                      // 8
        g(F64, 0, init::GLOBAL_GET, G_IMM_F64 as u64),         // 9: earlier defined
        g(FuncRef, 0, init::GLOBAL_GET, G_IMP_FUNCREF as u64), // 10
    ]);

    let e = p.export(kind::FUNC, F_START, "a_start");
    p.exports.push(e);
    let e = p.export(kind::TABLE, 1, "b_table");
    p.exports.push(e);
    let e = p.export(kind::MEMORY, 0, "c_memory");
    p.exports.push(e);
    let e = p.export(kind::GLOBAL, G_MUT_I32, "d_counter");
    p.exports.push(e);
    let e = p.export(kind::FUNC, F_FILTER, "e_filter");
    p.exports.push(e);
    let e = p.export(kind::FUNC, 0, "f_reexported_log");
    p.exports.push(e);
    let e = p.export(kind::FUNC, 3, "ünïcödé");
    p.exports.push(e);

    let e = p.elem(
        mode::ACTIVE,
        FuncRef,
        0,
        offset::CONST,
        0,
        &[
            1,
            2,
            ITEM_NULL,
            ITEM_GLOBAL | G_IMP_FUNCREF,
            ITEM_GLOBAL | G_REF_FUNC,
        ],
    );
    p.elems.push(e);
    let e = p.elem(
        mode::ACTIVE,
        FuncRef,
        1,
        offset::GLOBAL_GET,
        G_IMM_I32,
        &[3, 0],
    );
    p.elems.push(e);
    let e = p.elem(
        mode::PASSIVE,
        ExternRef,
        0,
        0,
        0,
        &[ITEM_NULL, ITEM_GLOBAL | G_NULL_EXTERN],
    );
    p.elems.push(e);
    let e = p.elem(mode::DECLARED, FuncRef, 0, 0, 0, &[2, 3]);
    p.elems.push(e);
    let e = p.elem(mode::ACTIVE, ExternRef, 2, offset::CONST, 1, &[ITEM_NULL]);
    p.elems.push(e);
    let e = p.elem(mode::PASSIVE, FuncRef, 0, 0, 0, &[]);
    p.elems.push(e);

    let bytes = p.bytes(b"hello, world\0");
    p.datas.push(DataRec {
        mode: mode::ACTIVE,
        offset_kind: offset::CONST,
        offset: 1024,
        bytes,
        ..Default::default()
    });
    let bytes = p.bytes(&[0xff, 0x00, 0x80]);
    p.datas.push(DataRec {
        mode: mode::ACTIVE,
        offset_kind: offset::GLOBAL_GET,
        offset: G_FROM_IMPORT,
        bytes,
        ..Default::default()
    });
    let bytes = p.bytes(b"passive");
    p.datas.push(DataRec {
        mode: mode::PASSIVE,
        bytes,
        ..Default::default()
    });
    p.datas.push(DataRec {
        mode: mode::PASSIVE,
        bytes: PoolRef::default(),
        ..Default::default()
    });

    p.maps.push(MapRec::from_decl(&MapDecl::array(16)));
    p.maps
        .push(MapRec::from_decl(&MapDecl::per_cpu_array(1024)));
    p.maps.push(MapRec::from_decl(&MapDecl::array(0)));
    p
}

/// A second valid shape: the memory is imported, no start, no entry, aarch64,
/// integer-only, no tables or segments.
fn imported_memory() -> Parts {
    let mut p = Parts {
        arch: Arch::Aarch64,
        flags: 0,
        cpu: 0,
        text_len: 0x20,
        start_func: NONE,
        entry_export: NONE,
        types: vec![],
        imports: vec![],
        funcs: vec![],
        tables: vec![],
        memory: vec![],
        globals: vec![],
        exports: vec![],
        elems: vec![],
        datas: vec![],
        maps: vec![],
        pool: vec![],
    };
    let mut t = p.sig(&[], &[I32]);
    t.trampoline = 0x10;
    p.types.push(t);
    let mut i = p.import(kind::MEMORY, "env", "memory");
    i.min = 0;
    i.max = MAX_WASM_PAGES;
    p.imports.push(i);
    p.funcs.push(FuncRec {
        type_idx: 0,
        text_off: 0,
        text_len: 0x10,
        name: PoolRef::default(),
    });
    let e = p.export(kind::MEMORY, 0, "mem");
    p.exports.push(e);
    let bytes = p.bytes(b"x");
    p.datas.push(DataRec {
        mode: mode::ACTIVE,
        offset_kind: offset::CONST,
        offset: 0,
        bytes,
        ..Default::default()
    });
    p
}

/// The smallest blob: nothing at all.
fn empty() -> Parts {
    Parts {
        arch: Arch::X86_64,
        flags: 0,
        cpu: 0,
        text_len: 0,
        start_func: NONE,
        entry_export: NONE,
        types: vec![],
        imports: vec![],
        funcs: vec![],
        tables: vec![],
        memory: vec![],
        globals: vec![],
        exports: vec![],
        elems: vec![],
        datas: vec![],
        maps: vec![],
        pool: vec![],
    }
}

fn collect<R: Record>(r: Records<'_, R>) -> Vec<R> {
    let v: Vec<R> = r.iter().collect();
    assert_eq!(v.len() as u32, r.len());
    assert_eq!(r.is_empty(), v.is_empty());
    for (i, x) in v.iter().enumerate() {
        let got = r.get(i as u32).expect("get in range");
        // Records are plain old data; compare their encodings.
        let (mut a, mut b) = (vec![0; R::SIZE], vec![0; R::SIZE]);
        got.write(&mut a);
        x.write(&mut b);
        assert_eq!(a, b);
    }
    assert!(r.get(r.len()).is_none());
    assert!(r.get(u32::MAX).is_none());
    v
}

fn parse_ok(blob: &[u8]) -> Meta<'_> {
    match Meta::parse(blob) {
        Ok(m) => m,
        Err(e) => panic!("valid blob rejected: {e:?} ({e})"),
    }
}

// ---------------------------------------------------------------------------
// Round trip.

fn assert_round_trip(p: &Parts) {
    let blob = p.encode();
    assert_eq!(blob.len(), p.as_meta_parts().encoded_len());
    let m = parse_ok(&blob);
    assert_eq!(m.bytes(), &blob[..]);
    assert_eq!(m.arch, p.arch);
    assert_eq!(m.flags, p.flags);
    assert_eq!(m.cpu, p.cpu);
    assert_eq!(m.uses_float(), p.flags & FLAG_USES_FLOAT != 0);
    assert_eq!(m.text_len, p.text_len);
    assert_eq!(m.start_func, p.start_func);
    assert_eq!(m.entry_export, p.entry_export);
    assert_eq!(collect(m.types()), p.types);
    assert_eq!(collect(m.imports()), p.imports);
    assert_eq!(collect(m.funcs()), p.funcs);
    assert_eq!(collect(m.tables()), p.tables);
    assert_eq!(collect(m.memory()), p.memory);
    assert_eq!(collect(m.globals()), p.globals);
    assert_eq!(collect(m.exports()), p.exports);
    assert_eq!(collect(m.elems()), p.elems);
    assert_eq!(collect(m.datas()), p.datas);
    assert_eq!(collect(m.maps()), p.maps);
    assert_eq!(m.pool(), &p.pool[..]);
    check_consistent(&m);
}

#[test]
fn round_trip_rich() {
    let p = rich();
    assert_round_trip(&p);
    let blob = p.encode();
    let m = parse_ok(&blob);

    // Signatures.
    let sig = |t: u32| {
        let t = m.types().get(t).unwrap();
        (
            m.params(t).collect::<Vec<_>>(),
            m.results(t).collect::<Vec<_>>(),
        )
    };
    assert_eq!(sig(T_VOID), (vec![], vec![]));
    assert_eq!(sig(T_I32_I32), (vec![I32], vec![I32]));
    assert_eq!(sig(T_MULTI), (vec![I64, F32, F64], vec![F64, I32]));
    assert_eq!(sig(T_REFS), (vec![FuncRef, ExternRef], vec![]));
    assert_eq!(sig(T_LOG), (vec![I32, I32], vec![]));

    // Strings.
    let imp = m.imports().get(0).unwrap();
    assert_eq!((m.str(imp.module), m.str(imp.name)), ("kwasm", "log"));
    let names: Vec<&str> = m.exports().iter().map(|e| m.str(e.name)).collect();
    assert_eq!(
        names,
        [
            "a_start",
            "b_table",
            "c_memory",
            "d_counter",
            "e_filter",
            "f_reexported_log",
            "ünïcödé"
        ]
    );
    assert_eq!(m.func_name(0), "log");
    assert_eq!(m.func_name(F_START), "start");
    assert_eq!(m.func_name(F_FILTER), "filter");
    assert_eq!(m.func_name(3), "");
    assert_eq!(m.func_name(NFUNCS), "");

    // Index spaces.
    assert_eq!(m.imported(kind::FUNC), 1);
    assert_eq!(m.imported(kind::TABLE), 1);
    assert_eq!(m.imported(kind::MEMORY), 0);
    assert_eq!(m.imported(kind::GLOBAL), 3);
    assert_eq!(m.func_count(), NFUNCS);
    assert_eq!(m.table_count(), 3);
    assert_eq!(m.memory_count(), 1);
    assert_eq!(m.global_count(), NGLOBALS);
    assert_eq!(m.func_type(0), Some(T_LOG));
    assert_eq!(m.func_type(F_START), Some(T_VOID));
    assert_eq!(m.func_type(3), Some(T_MULTI));
    assert_eq!(m.func_type(NFUNCS), None);
    assert_eq!(m.global_type(G_IMM_I32), Some((I32, false)));
    assert_eq!(m.global_type(G_MUT_I64), Some((I64, true)));
    assert_eq!(m.global_type(G_MUT_I32), Some((I32, true)));
    assert_eq!(m.global_type(G_REF_FUNC), Some((FuncRef, false)));
    assert_eq!(m.global_type(G_NULL_EXTERN), Some((ExternRef, false)));
    assert_eq!(m.global_type(NGLOBALS), None);
    assert_eq!(m.table_elem(0), Some(FuncRef));
    assert_eq!(m.table_elem(1), Some(FuncRef));
    assert_eq!(m.table_elem(2), Some(ExternRef));
    assert_eq!(m.table_elem(3), None);

    // Exports and the entry point.
    assert_eq!(m.export("e_filter").unwrap().index, F_FILTER);
    assert_eq!(m.export("ünïcödé").unwrap().index, 3);
    assert_eq!(m.export("c_memory").unwrap().kind, kind::MEMORY);
    assert!(m.export("nope").is_none());
    let entry = m.exports().get(m.entry_export).unwrap();
    assert_eq!(m.str(entry.name), "e_filter");

    // Element items.
    let items: Vec<Vec<u32>> = m
        .elems()
        .iter()
        .map(|e| m.elem_items(e).collect())
        .collect();
    assert_eq!(
        items,
        vec![
            vec![
                1,
                2,
                ITEM_NULL,
                ITEM_GLOBAL | G_IMP_FUNCREF,
                ITEM_GLOBAL | G_REF_FUNC
            ],
            vec![3, 0],
            vec![ITEM_NULL, ITEM_GLOBAL | G_NULL_EXTERN],
            vec![2, 3],
            vec![ITEM_NULL],
            vec![],
        ]
    );

    // Data bytes.
    let datas: Vec<&[u8]> = m
        .datas()
        .iter()
        .map(|d| m.pool_bytes(d.bytes).unwrap())
        .collect();
    assert_eq!(
        datas,
        [&b"hello, world\0"[..], &[0xff, 0x00, 0x80], b"passive", b""]
    );
    let g = m.globals().get(G_IMM_F64 - 3).unwrap();
    assert_eq!(f64::from_bits(g.init), 1.5);
}

#[test]
fn round_trip_other_shapes() {
    assert_round_trip(&imported_memory());
    assert_round_trip(&empty());
    let blob = empty().encode();
    assert_eq!(blob.len(), HEADER_SIZE);
    let m = parse_ok(&blob);
    assert_eq!(m.func_count(), 0);
    assert_eq!(m.pool(), b"");
}

#[test]
fn writer_rejects_wrong_buffer_size() {
    let p = rich();
    let mp = p.as_meta_parts();
    let need = mp.encoded_len();
    for have in [0, need - 1, need + 1] {
        let mut out = vec![0u8; have];
        assert_eq!(
            mp.write(&mut out),
            Err(MetaError::BufferSize { need, have }),
            "buffer of {have} bytes"
        );
    }
}

#[test]
fn errors_display_without_panicking() {
    // Every variant's message is non-empty (the kernel logs them).
    let errs = [
        MetaError::Truncated { need: 1, have: 0 },
        MetaError::BadMagic,
        MetaError::UnsupportedVersion(9),
        MetaError::UnknownArch(9),
        MetaError::UnknownFlags(9),
        MetaError::LengthMismatch {
            header: 1,
            actual: 2,
        },
        MetaError::ChecksumMismatch {
            stored: 1,
            computed: 2,
        },
        MetaError::SectionOutOfBounds(SectionId::Pool),
        MetaError::SectionOverlap(SectionId::Types),
        MetaError::TooManyRecords(SectionId::Maps),
        MetaError::PoolOutOfBounds {
            section: SectionId::Elems,
            index: 1,
        },
        MetaError::InvalidUtf8 {
            section: SectionId::Exports,
            index: 1,
        },
        MetaError::InvalidValType {
            section: SectionId::Types,
            index: 1,
            byte: 0x40,
        },
        MetaError::InvalidKind {
            section: SectionId::Imports,
            index: 1,
            kind: 7,
        },
        MetaError::IndexOutOfRange {
            section: SectionId::Funcs,
            index: 1,
            value: 2,
        },
        MetaError::InvalidLimits {
            section: SectionId::Memory,
            index: 0,
        },
        MetaError::TooManyMemories,
        MetaError::TextOutOfBounds { index: 3 },
        MetaError::TypeMismatch {
            section: SectionId::Globals,
            index: 2,
        },
        MetaError::DuplicateExport { index: 1 },
        MetaError::BadEntry(3),
        MetaError::BadStart(3),
        MetaError::BufferSize { need: 2, have: 1 },
    ];
    for e in errs {
        assert!(!e.to_string().is_empty(), "{e:?}");
    }
}

// ---------------------------------------------------------------------------
// Consistency of an accepted blob, checked independently of the validator
// through the public accessors only.

fn check_consistent(m: &Meta<'_>) {
    let pool = m.pool();
    let ntypes = m.types().len();
    let in_pool = |r: PoolRef| {
        let end = r.off as u64 + r.len as u64;
        assert!(
            end <= pool.len() as u64,
            "pool ref {r:?} past {}",
            pool.len()
        );
        let b = m.pool_bytes(r).expect("validated pool ref");
        assert_eq!(b.len(), r.len as usize);
        b
    };
    let name = |r: PoolRef| {
        let s = core::str::from_utf8(in_pool(r)).expect("validated name is UTF-8");
        assert_eq!(m.str(r), s);
        s
    };

    for t in m.types().iter() {
        in_pool(PoolRef {
            off: t.sig,
            len: t.nparams as u32 + t.nresults as u32,
        });
        // `params`/`results` drop invalid bytes; all of them must survive.
        assert_eq!(m.params(t).count(), t.nparams as usize);
        assert_eq!(m.results(t).count(), t.nresults as usize);
        assert!(t.trampoline == NONE || t.trampoline < m.text_len);
    }

    let mut imported = [0u32; 4];
    for imp in m.imports().iter() {
        name(imp.module);
        name(imp.name);
        assert!(imp.kind <= kind::GLOBAL, "import kind {}", imp.kind);
        imported[imp.kind as usize] += 1;
        match imp.kind {
            kind::FUNC => assert!(imp.index < ntypes),
            kind::TABLE => {
                assert!(ValType::from_u8(imp.ty).unwrap().is_ref());
                assert!(imp.max == NONE || imp.min <= imp.max);
            }
            kind::MEMORY => {
                assert!(imp.min <= MAX_WASM_PAGES);
                assert!(imp.max == NONE || (imp.min <= imp.max && imp.max <= MAX_WASM_PAGES));
            }
            _ => {
                ValType::from_u8(imp.ty).unwrap();
                assert!(imp.mutable <= 1);
            }
        }
    }
    for k in [kind::FUNC, kind::TABLE, kind::MEMORY, kind::GLOBAL] {
        assert_eq!(m.imported(k), imported[k as usize]);
    }
    let nfuncs = imported[0] + m.funcs().len();
    let ntables = imported[1] + m.tables().len();
    let nmems = imported[2] + m.memory().len();
    let nglobals = imported[3] + m.globals().len();
    assert_eq!(m.func_count(), nfuncs);
    assert_eq!(m.table_count(), ntables);
    assert_eq!(m.memory_count(), nmems);
    assert_eq!(m.global_count(), nglobals);
    assert!(nmems <= 1);

    let mut prev_end = 0u64;
    for (i, f) in m.funcs().iter().enumerate() {
        assert!(f.type_idx < ntypes);
        name(f.name);
        let end = f.text_off as u64 + f.text_len as u64;
        assert!(f.text_off as u64 >= prev_end, "function {i} overlaps");
        assert!(end <= m.text_len as u64, "function {i} past .text");
        prev_end = end;
    }
    for f in 0..nfuncs {
        let t = m.func_type(f).expect("function has a type");
        assert!(t < ntypes);
        let _ = m.func_name(f);
    }
    for t in m.tables().iter() {
        assert!(ValType::from_u8(t.elem).unwrap().is_ref());
        assert!(t.max == NONE || t.min <= t.max);
    }
    for t in 0..ntables {
        assert!(m.table_elem(t).unwrap().is_ref());
    }
    for mem in m.memory().iter() {
        assert!(mem.min <= MAX_WASM_PAGES);
        assert!(mem.max == NONE || (mem.min <= mem.max && mem.max <= MAX_WASM_PAGES));
    }
    for g in 0..nglobals {
        m.global_type(g).expect("global has a valid type");
    }
    for (i, g) in m.globals().iter().enumerate() {
        let ty = ValType::from_u8(g.ty).unwrap();
        assert!(g.mutable <= 1);
        let me = imported[3] + i as u32;
        match g.init_kind {
            init::CONST => assert!(!ty.is_ref() || g.init == 0),
            init::GLOBAL_GET => {
                assert!(g.init < me as u64, "global.get of a later global");
                assert_eq!(m.global_type(g.init as u32), Some((ty, false)));
            }
            init::REF_FUNC => {
                assert_eq!(ty, FuncRef);
                assert!(g.init < nfuncs as u64);
            }
            init::REF_NULL => assert!(ty.is_ref()),
            k => panic!("global init kind {k}"),
        }
    }

    let exports: Vec<ExportRec> = m.exports().iter().collect();
    for (i, e) in exports.iter().enumerate() {
        let n = name(e.name);
        let limit = match e.kind {
            kind::FUNC => nfuncs,
            kind::TABLE => ntables,
            kind::MEMORY => nmems,
            kind::GLOBAL => nglobals,
            k => panic!("export kind {k}"),
        };
        assert!(e.index < limit);
        assert!(
            exports[..i].iter().all(|p| m.str(p.name) != n),
            "duplicate export {n:?}"
        );
        assert_eq!(m.export(n).map(|x| x.index), Some(exports[i].index));
    }
    if m.entry_export != NONE {
        assert_eq!(m.exports().get(m.entry_export).unwrap().kind, kind::FUNC);
    }
    if m.start_func != NONE {
        assert!(m.start_func < nfuncs);
    }

    let offset_ok = |kind: u8, value: u32| match kind {
        offset::CONST => {}
        offset::GLOBAL_GET => assert_eq!(m.global_type(value).unwrap().0, I32),
        k => panic!("offset kind {k}"),
    };
    for e in m.elems().iter() {
        let elem = ValType::from_u8(e.elem).unwrap();
        assert!(elem.is_ref());
        match e.mode {
            mode::ACTIVE => {
                assert_eq!(m.table_elem(e.table), Some(elem));
                offset_ok(e.offset_kind, e.offset);
            }
            mode::PASSIVE | mode::DECLARED => {}
            k => panic!("elem mode {k}"),
        }
        in_pool(PoolRef {
            off: e.items,
            len: e.count.checked_mul(4).unwrap(),
        });
        let items: Vec<u32> = m.elem_items(e).collect();
        assert_eq!(items.len(), e.count as usize);
        for item in items {
            if item == ITEM_NULL {
            } else if item & ITEM_GLOBAL != 0 {
                assert_eq!(m.global_type(item & !ITEM_GLOBAL).unwrap().0, elem);
            } else {
                assert!(item < nfuncs);
                assert_eq!(elem, FuncRef);
            }
        }
    }
    for d in m.datas().iter() {
        match d.mode {
            mode::ACTIVE => {
                assert_eq!(nmems, 1);
                offset_ok(d.offset_kind, d.offset);
            }
            mode::PASSIVE => {}
            k => panic!("data mode {k}"),
        }
        in_pool(d.bytes);
    }
    assert!(m.maps().len() <= kwasm_abi::host::MAX_MAPS);
    for map in m.maps().iter() {
        assert!(map.entries <= kwasm_abi::host::MAX_MAP_ENTRIES);
    }

    // A runtime sizes VmCtx from these counts; they must be acceptable.
    let counts = VmCtxCounts {
        types: ntypes,
        imported_funcs: imported[0],
        funcs: nfuncs,
        imported_tables: imported[1],
        defined_tables: m.tables().len(),
        memory: match (imported[2], m.memory().len()) {
            (0, 0) => MemoryKind::None,
            (1, 0) => MemoryKind::Imported,
            _ => MemoryKind::Defined,
        },
        imported_globals: imported[3],
        defined_globals: m.globals().len(),
    };
    assert!(VmCtxLayout::new(counts).is_some());
}

/// Parse a possibly corrupt blob: any error is fine, an accepted blob must be
/// consistent. Panics (from the parser or the checks) fail the test with the
/// description of the corruption.
fn parse_any(blob: &[u8], what: &dyn Fn() -> String) -> Result<(), MetaError> {
    let r = std::panic::catch_unwind(|| match Meta::parse(blob) {
        Ok(m) => {
            check_consistent(&m);
            Ok(())
        }
        Err(e) => {
            let _ = e.to_string();
            Err(e)
        }
    });
    match r {
        Ok(r) => r,
        Err(_) => panic!("panic while parsing {}", what()),
    }
}

// ---------------------------------------------------------------------------
// Corruption sweeps.

fn valid_blobs() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("rich", rich().encode()),
        ("imported_memory", imported_memory().encode()),
        ("empty", empty().encode()),
    ]
}

#[test]
fn every_truncation_is_rejected() {
    for (name, blob) in valid_blobs() {
        for len in 0..blob.len() {
            let err = parse_any(&blob[..len], &|| format!("{name} truncated to {len}"))
                .expect_err("truncated blob accepted");
            let expect = if len < HEADER_SIZE {
                HEADER_SIZE
            } else {
                blob.len()
            };
            assert_eq!(
                err,
                MetaError::Truncated {
                    need: expect,
                    have: len
                },
                "{name} truncated to {len}"
            );
        }
        // Truncated and then re-stamped: still rejected, by the length check.
        for len in HEADER_SIZE..blob.len() {
            let mut b = blob[..len].to_vec();
            restamp(&mut b);
            let err = parse_any(&b, &|| format!("{name} truncated to {len}, re-stamped"))
                .expect_err("truncated blob accepted");
            assert!(matches!(err, MetaError::Truncated { .. }), "{err:?}");
        }
    }
}

#[test]
fn trailing_bytes_are_rejected() {
    let blob = rich().encode();
    for extra in [1usize, 3, 64] {
        let mut b = blob.clone();
        b.resize(blob.len() + extra, 0);
        restamp(&mut b);
        assert_eq!(
            Meta::parse(&b).err(),
            Some(MetaError::LengthMismatch {
                header: blob.len() as u32,
                actual: blob.len() + extra
            })
        );
    }
}

#[test]
fn every_bit_flip_is_rejected() {
    for (name, blob) in valid_blobs() {
        for bit in 0..blob.len() * 8 {
            let mut b = blob.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            let err = parse_any(&b, &|| format!("{name} with bit {bit} flipped"));
            assert!(err.is_err(), "{name}: flipping bit {bit} was not detected");
            // Past the fields checked before the checksum, the checksum is
            // what catches it.
            let byte = bit / 8;
            if byte >= 24 {
                assert!(
                    matches!(err, Err(MetaError::ChecksumMismatch { .. })),
                    "{name} bit {bit}: {err:?}"
                );
            }
        }
    }
}

#[test]
fn every_bit_flip_with_restamped_checksum_is_handled() {
    for (name, blob) in valid_blobs() {
        let (mut accepted, mut rejected) = (0, 0);
        for bit in 0..blob.len() * 8 {
            let byte = bit / 8;
            if (CHECKSUM_AT..CHECKSUM_AT + 4).contains(&byte) {
                continue; // re-stamping undoes these
            }
            let mut b = blob.clone();
            b[byte] ^= 1 << (bit % 8);
            restamp(&mut b);
            match parse_any(&b, &|| format!("{name}, bit {bit} flipped, re-stamped")) {
                Ok(()) => accepted += 1,
                Err(e) => {
                    assert!(
                        !matches!(e, MetaError::ChecksumMismatch { .. }),
                        "{name} bit {bit}: re-stamped blob failed its checksum"
                    );
                    rejected += 1;
                }
            }
        }
        // Flips in the header's fixed fields are always rejected; a few in
        // names or data bytes legitimately survive.
        assert!(
            rejected > 0,
            "{name}: {accepted} accepted, {rejected} rejected"
        );
    }
}

#[test]
fn byte_overwrites_with_restamped_checksum_are_handled() {
    for (name, blob) in valid_blobs() {
        for at in 0..blob.len() {
            if (CHECKSUM_AT..CHECKSUM_AT + 4).contains(&at) {
                continue;
            }
            for v in [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff] {
                let mut b = blob.clone();
                b[at] = v;
                restamp(&mut b);
                let _ = parse_any(&b, &|| format!("{name}, byte {at} = {v:#x}, re-stamped"));
            }
        }
    }
}

#[test]
fn word_overwrites_with_restamped_checksum_are_handled() {
    // Every 4-byte-aligned u32 field set to interesting values: catches
    // overflow in offset arithmetic that single bits do not reach.
    let values = [
        0,
        1,
        2,
        3,
        0x7fff_ffff,
        0x8000_0000,
        0x8000_0001,
        0xffff_fffe,
        0xffff_ffff,
        MAX_RECORDS,
        MAX_RECORDS + 1,
        HEADER_SIZE as u32,
    ];
    for (name, blob) in valid_blobs() {
        for at in (0..blob.len() - 3).step_by(2) {
            if (CHECKSUM_AT - 3..CHECKSUM_AT + 4).contains(&at) {
                continue;
            }
            for v in values {
                let mut b = blob.clone();
                put32(&mut b, at, v);
                restamp(&mut b);
                let _ = parse_any(&b, &|| format!("{name}, u32 at {at} = {v:#x}, re-stamped"));
            }
        }
    }
}

#[test]
fn seeded_random_corruptions_are_handled() {
    for (name, blob) in valid_blobs() {
        for seed in 0..3000u64 {
            let mut rng = Rng(seed);
            let mut b = blob.clone();
            let edits = 1 + rng.below(8);
            for _ in 0..edits {
                match rng.below(5) {
                    0 => {
                        let i = rng.below(b.len());
                        b[i] ^= 1 << rng.below(8);
                    }
                    1 => {
                        let i = rng.below(b.len());
                        b[i] = rng.next() as u8;
                    }
                    2 if b.len() >= 4 => {
                        let i = rng.below(b.len() - 3);
                        put32(&mut b, i, rng.next() as u32);
                    }
                    3 => {
                        let i = rng.below(b.len() + 1);
                        b.insert(i, rng.next() as u8);
                    }
                    _ => {
                        let i = rng.below(b.len());
                        b.remove(i);
                    }
                }
                if b.is_empty() {
                    break;
                }
            }
            // Most of the time, keep the header's length and checksum right
            // so the corruption reaches the validator.
            if rng.below(4) != 0 && b.len() >= HEADER_SIZE {
                let n = b.len() as u32;
                put32(&mut b, 20, n);
                restamp(&mut b);
            }
            let _ = parse_any(&b, &|| format!("{name}, seed {seed}"));
        }
    }
}

// ---------------------------------------------------------------------------
// Specific errors. `parts_err` edits the parts and re-encodes (the writer
// stamps a correct checksum); `blob_err` edits the encoded header.

fn parts_err(edit: impl FnOnce(&mut Parts)) -> MetaError {
    let mut p = rich();
    edit(&mut p);
    let blob = p.encode();
    match Meta::parse(&blob) {
        Ok(_) => panic!("edited parts accepted"),
        Err(e) => e,
    }
}

fn blob_err(edit: impl FnOnce(&mut Vec<u8>)) -> MetaError {
    let mut blob = rich().encode();
    edit(&mut blob);
    restamp(&mut blob);
    match Meta::parse(&blob) {
        Ok(_) => panic!("edited blob accepted"),
        Err(e) => e,
    }
}

use MetaError::*;
use SectionId as S;

#[test]
fn header_errors() {
    assert_eq!(blob_err(|b| b[0] ^= 1), BadMagic);
    assert_eq!(blob_err(|b| b[..8].copy_from_slice(b"KWASMETB")), BadMagic);
    assert_eq!(
        blob_err(|b| put32(b, 8, FORMAT_VERSION + 1)),
        UnsupportedVersion(FORMAT_VERSION + 1)
    );
    assert_eq!(blob_err(|b| put32(b, 8, 0)), UnsupportedVersion(0));
    assert_eq!(blob_err(|b| put32(b, 8, 1)), UnsupportedVersion(1));
    assert_eq!(blob_err(|b| put32(b, 12, 0)), UnknownArch(0));
    assert_eq!(blob_err(|b| put32(b, 12, 3)), UnknownArch(3));
    assert_eq!(blob_err(|b| put32(b, 16, 2)), UnknownFlags(2));
    assert_eq!(
        blob_err(|b| put32(b, 16, 0x8000_0001)),
        UnknownFlags(0x8000_0001)
    );
    // CPU extensions: only those of the blob's architecture.
    let unknown = !cpu::known(Arch::X86_64) & (cpu::known(Arch::X86_64) + 1);
    assert_eq!(
        blob_err(|b| put32(b, 44, unknown)),
        UnknownCpuExtensions(unknown)
    );
    assert_eq!(
        blob_err(|b| put32(b, 44, 0x8000_0000 | cpu::BMI2)),
        UnknownCpuExtensions(0x8000_0000 | cpu::BMI2)
    );
    assert_eq!(
        blob_err(|b| {
            put32(b, 12, Arch::Aarch64 as u32);
            put32(b, 44, cpu::BMI2);
        }),
        UnknownCpuExtensions(cpu::BMI2),
        "an x86-64 extension in aarch64 metadata"
    );
    let len = rich().encode().len();
    assert_eq!(
        blob_err(|b| put32(b, 20, len as u32 - 1)),
        LengthMismatch {
            header: len as u32 - 1,
            actual: len
        }
    );
    assert_eq!(
        blob_err(|b| put32(b, 20, len as u32 + 1)),
        Truncated {
            need: len + 1,
            have: len
        }
    );
    assert_eq!(
        blob_err(|b| put32(b, 20, u32::MAX)),
        Truncated {
            need: u32::MAX as usize,
            have: len
        }
    );
    // Without re-stamping, the checksum catches what the earlier checks don't.
    let mut b = rich().encode();
    let stored = get32(&b, CHECKSUM_AT);
    put32(&mut b, CHECKSUM_AT, stored ^ 1);
    assert_eq!(
        Meta::parse(&b).err(),
        Some(ChecksumMismatch {
            stored: stored ^ 1,
            computed: stored
        })
    );
    // Unsupported version is reported even with a stale checksum, so that a
    // newer artifact gets the helpful message.
    let mut b = rich().encode();
    put32(&mut b, 8, 7);
    assert_eq!(Meta::parse(&b).err(), Some(UnsupportedVersion(7)));
}

#[test]
fn section_table_errors() {
    let blob = rich().encode();
    let len = blob.len() as u32;
    // A section before the end of the header.
    assert_eq!(
        blob_err(|b| put32(b, section_at(S::Types), 0)),
        SectionOutOfBounds(S::Types)
    );
    assert_eq!(
        blob_err(|b| put32(b, section_at(S::Globals), HEADER_SIZE as u32 - 1)),
        SectionOutOfBounds(S::Globals)
    );
    // Past the end of the blob.
    assert_eq!(
        blob_err(|b| put32(b, section_at(S::Pool), len)),
        SectionOutOfBounds(S::Pool)
    );
    assert_eq!(
        blob_err(|b| put32(b, section_at(S::Pool) + 4, u32::MAX)),
        SectionOutOfBounds(S::Pool)
    );
    assert_eq!(
        blob_err(|b| put32(b, section_at(S::Pool), u32::MAX)),
        SectionOutOfBounds(S::Pool)
    );
    let count = get32(&blob, section_at(S::Datas) + 4);
    assert_eq!(
        blob_err(|b| put32(b, section_at(S::Datas) + 4, count + 1000)),
        SectionOutOfBounds(S::Datas)
    );
    // An empty section may sit at the very end, but not past it.
    let mut p = rich();
    p.pool.clear();
    let mut b = p.encode();
    let end = b.len() as u32;
    assert_eq!(get32(&b, section_at(S::Pool)), end);
    put32(&mut b, section_at(S::Pool), end + 1);
    restamp(&mut b);
    assert_eq!(Meta::parse(&b).err(), Some(SectionOutOfBounds(S::Pool)));

    // Overlaps: a section starting inside the previous one.
    let types_off = get32(&blob, section_at(S::Types));
    assert_eq!(
        blob_err(|b| put32(b, section_at(S::Imports), types_off)),
        SectionOverlap(S::Imports)
    );
    let funcs_off = get32(&blob, section_at(S::Funcs));
    assert_eq!(
        blob_err(|b| put32(b, section_at(S::Funcs), funcs_off - 1)),
        SectionOverlap(S::Funcs)
    );
    let pool_off = get32(&blob, section_at(S::Pool));
    assert_eq!(
        blob_err(|b| put32(b, section_at(S::Pool), pool_off - 4)),
        SectionOverlap(S::Pool)
    );
    // Sections out of order.
    assert_eq!(
        blob_err(|b| {
            let (a, c) = (section_at(S::Maps), section_at(S::Datas));
            let (ma, da) = (get32(b, a), get32(b, c));
            put32(b, a, da);
            put32(b, c, ma);
        }),
        SectionOverlap(S::Maps)
    );

    // Record counts.
    for s in [S::Types, S::Imports, S::Funcs, S::Exports, S::Elems] {
        assert_eq!(
            blob_err(|b| put32(b, section_at(s) + 4, MAX_RECORDS + 1)),
            TooManyRecords(s),
            "{s:?}"
        );
        assert_eq!(
            blob_err(|b| put32(b, section_at(s) + 4, u32::MAX)),
            TooManyRecords(s),
            "{s:?}"
        );
    }
}

#[test]
fn too_many_records() {
    assert_eq!(
        parts_err(|p| p.maps =
            vec![MapRec::from_decl(&MapDecl::array(1)); kwasm_abi::host::MAX_MAPS as usize + 1]),
        TooManyRecords(S::Maps)
    );
    // Imported plus defined functions above the limit: each section alone is
    // within it.
    let mut p = empty();
    let t = p.sig(&[], &[]);
    p.types.push(t);
    let imp = p.import(kind::FUNC, "m", "f");
    p.imports = vec![imp; 2];
    p.funcs = vec![FuncRec::default(); MAX_RECORDS as usize - 1];
    let blob = p.encode();
    assert_eq!(Meta::parse(&blob).err(), Some(TooManyRecords(S::Funcs)));
    p.imports.pop();
    let blob = p.encode();
    let m = parse_ok(&blob);
    assert_eq!(m.func_count(), MAX_RECORDS);
}

#[test]
fn index_out_of_range() {
    let nt = rich().types.len() as u32;
    // Type index of a defined function and of an imported one.
    assert_eq!(
        parts_err(|p| p.funcs[1].type_idx = nt),
        IndexOutOfRange {
            section: S::Funcs,
            index: 1,
            value: nt
        }
    );
    assert_eq!(
        parts_err(|p| p.imports[0].index = u32::MAX),
        IndexOutOfRange {
            section: S::Imports,
            index: 0,
            value: u32::MAX
        }
    );
    // Trampoline outside .text.
    assert_eq!(
        parts_err(|p| p.types[2].trampoline = p.text_len),
        IndexOutOfRange {
            section: S::Types,
            index: 2,
            value: 0x200
        }
    );
    // Function indices: exports, ref.func, element items.
    assert_eq!(
        parts_err(|p| p.exports[0].index = NFUNCS),
        IndexOutOfRange {
            section: S::Exports,
            index: 0,
            value: NFUNCS
        }
    );
    assert_eq!(
        parts_err(|p| p.globals[(G_REF_FUNC - 3) as usize].init = NFUNCS as u64),
        IndexOutOfRange {
            section: S::Globals,
            index: G_REF_FUNC - 3,
            value: NFUNCS
        }
    );
    assert_eq!(
        parts_err(|p| p.globals[(G_REF_FUNC - 3) as usize].init = 1 << 32),
        IndexOutOfRange {
            section: S::Globals,
            index: G_REF_FUNC - 3,
            value: NONE
        }
    );
    assert_eq!(
        parts_err(|p| {
            let e = p.elem(mode::DECLARED, FuncRef, 0, 0, 0, &[0, NFUNCS]);
            p.elems.push(e);
        }),
        IndexOutOfRange {
            section: S::Elems,
            index: 6,
            value: NFUNCS
        }
    );
    // Global indices: exports, element items, offsets, global.get.
    assert_eq!(
        parts_err(|p| p.exports[3].index = NGLOBALS),
        IndexOutOfRange {
            section: S::Exports,
            index: 3,
            value: NGLOBALS
        }
    );
    assert_eq!(
        parts_err(|p| {
            let e = p.elem(mode::PASSIVE, FuncRef, 0, 0, 0, &[ITEM_GLOBAL | NGLOBALS]);
            p.elems.push(e);
        }),
        IndexOutOfRange {
            section: S::Elems,
            index: 6,
            value: NGLOBALS
        }
    );
    assert_eq!(
        parts_err(|p| p.elems[1].offset = NGLOBALS),
        IndexOutOfRange {
            section: S::Elems,
            index: 1,
            value: NGLOBALS
        }
    );
    assert_eq!(
        parts_err(|p| p.datas[1].offset = NGLOBALS),
        IndexOutOfRange {
            section: S::Datas,
            index: 1,
            value: NGLOBALS
        }
    );
    // global.get of the global itself or a later one: out of range.
    let g = G_FROM_IMPORT - 3;
    assert_eq!(
        parts_err(|p| p.globals[g as usize].init = G_FROM_IMPORT as u64),
        IndexOutOfRange {
            section: S::Globals,
            index: g,
            value: G_FROM_IMPORT
        }
    );
    assert_eq!(
        parts_err(|p| p.globals[g as usize].init = (G_FROM_IMPORT + 4) as u64),
        IndexOutOfRange {
            section: S::Globals,
            index: g,
            value: G_FROM_IMPORT + 4
        }
    );
    // Table indices: exports, active segments.
    assert_eq!(
        parts_err(|p| p.exports[1].index = 3),
        IndexOutOfRange {
            section: S::Exports,
            index: 1,
            value: 3
        }
    );
    assert_eq!(
        parts_err(|p| p.elems[0].table = 3),
        IndexOutOfRange {
            section: S::Elems,
            index: 0,
            value: 3
        }
    );
    // Memory index of an export.
    assert_eq!(
        parts_err(|p| p.exports[2].index = 1),
        IndexOutOfRange {
            section: S::Exports,
            index: 2,
            value: 1
        }
    );
    // Active data without a memory.
    assert_eq!(
        parts_err(|p| {
            p.memory.clear();
            p.exports.remove(2);
            p.entry_export -= 1;
        }),
        IndexOutOfRange {
            section: S::Datas,
            index: 0,
            value: 0
        }
    );
    // Entry export: past the exports, or not a function.
    let ne = rich().exports.len() as u32;
    assert_eq!(parts_err(|p| p.entry_export = ne), BadEntry(ne));
    assert_eq!(parts_err(|p| p.entry_export = 2), BadEntry(2));
    assert_eq!(parts_err(|p| p.entry_export = NONE - 1), BadEntry(NONE - 1));
    // A function, but not `(i32) -> i32`: runtimes could not call it as `filter`.
    assert_eq!(parts_err(|p| p.entry_export = 0), BadEntry(0));
    // Start function.
    assert_eq!(parts_err(|p| p.start_func = NFUNCS), BadStart(NFUNCS));
    assert_eq!(parts_err(|p| p.start_func = NONE - 1), BadStart(NONE - 1));
}

#[test]
fn start_function_must_take_and_return_nothing() {
    // The wasm spec requires the start function's type to be [] -> []; a
    // runtime calls it with no argument slots.
    assert_eq!(parts_err(|p| p.start_func = F_FILTER), BadStart(F_FILTER));
    assert_eq!(parts_err(|p| p.start_func = 0), BadStart(0)); // kwasm.log(i32, i32)
    let mut p = rich();
    p.start_func = NONE;
    parse_ok(&p.encode());
}

#[test]
fn pool_out_of_bounds() {
    let plen = rich().pool.len() as u32;
    let past = PoolRef { off: plen, len: 1 };
    let wrap = PoolRef {
        off: u32::MAX,
        len: 2,
    };
    for r in [past, wrap] {
        assert_eq!(
            parts_err(|p| p.imports[1].module = r),
            PoolOutOfBounds {
                section: S::Imports,
                index: 1
            }
        );
        assert_eq!(
            parts_err(|p| p.imports[2].name = r),
            PoolOutOfBounds {
                section: S::Imports,
                index: 2
            }
        );
        assert_eq!(
            parts_err(|p| p.funcs[0].name = r),
            PoolOutOfBounds {
                section: S::Funcs,
                index: 0
            }
        );
        assert_eq!(
            parts_err(|p| p.exports[4].name = r),
            PoolOutOfBounds {
                section: S::Exports,
                index: 4
            }
        );
        assert_eq!(
            parts_err(|p| p.datas[2].bytes = r),
            PoolOutOfBounds {
                section: S::Datas,
                index: 2
            }
        );
    }
    // An empty range just past the pool is out of bounds too.
    assert_eq!(
        parts_err(|p| p.datas[3].bytes = PoolRef {
            off: plen + 1,
            len: 0
        }),
        PoolOutOfBounds {
            section: S::Datas,
            index: 3
        }
    );
    // Type signatures.
    assert_eq!(
        parts_err(|p| p.types[1].sig = plen - 1),
        PoolOutOfBounds {
            section: S::Types,
            index: 1
        }
    );
    assert_eq!(
        parts_err(|p| p.types[2].nresults = u16::MAX),
        PoolOutOfBounds {
            section: S::Types,
            index: 2
        }
    );
    assert_eq!(
        parts_err(|p| p.types[0].sig = u32::MAX),
        PoolOutOfBounds {
            section: S::Types,
            index: 0
        }
    );
    // Element items: past the pool, and a count whose byte length overflows.
    assert_eq!(
        parts_err(|p| p.elems[2].items = plen - 4),
        PoolOutOfBounds {
            section: S::Elems,
            index: 2
        }
    );
    assert_eq!(
        parts_err(|p| p.elems[3].count = 0x4000_0000),
        PoolOutOfBounds {
            section: S::Elems,
            index: 3
        }
    );
    assert_eq!(
        parts_err(|p| p.elems[3].count = u32::MAX),
        PoolOutOfBounds {
            section: S::Elems,
            index: 3
        }
    );
}

#[test]
fn invalid_utf8_names() {
    for bad in [&[0xff][..], &[b'a', 0xc3][..], &[0xed, 0xa0, 0x80][..]] {
        assert_eq!(
            parts_err(|p| p.imports[0].module = p.bytes(bad)),
            InvalidUtf8 {
                section: S::Imports,
                index: 0
            }
        );
        assert_eq!(
            parts_err(|p| p.imports[3].name = p.bytes(bad)),
            InvalidUtf8 {
                section: S::Imports,
                index: 3
            }
        );
        assert_eq!(
            parts_err(|p| p.funcs[2].name = p.bytes(bad)),
            InvalidUtf8 {
                section: S::Funcs,
                index: 2
            }
        );
        assert_eq!(
            parts_err(|p| p.exports[6].name = p.bytes(bad)),
            InvalidUtf8 {
                section: S::Exports,
                index: 6
            }
        );
    }
}

#[test]
fn invalid_value_types() {
    for byte in [0x00, 0x40, 0x7b, 0x71, 0x6e, 0xff] {
        assert_eq!(
            parts_err(|p| {
                let s = p.types[2].sig as usize;
                p.pool[s + 4] = byte; // second result
            }),
            InvalidValType {
                section: S::Types,
                index: 2,
                byte
            }
        );
        assert_eq!(
            parts_err(|p| p.globals[1].ty = byte),
            InvalidValType {
                section: S::Globals,
                index: 1,
                byte
            }
        );
        assert_eq!(
            parts_err(|p| p.tables[0].elem = byte),
            InvalidValType {
                section: S::Tables,
                index: 0,
                byte
            }
        );
        assert_eq!(
            parts_err(|p| p.imports[3].ty = byte),
            InvalidValType {
                section: S::Imports,
                index: 3,
                byte
            }
        );
        assert_eq!(
            parts_err(|p| p.imports[1].ty = byte),
            InvalidValType {
                section: S::Imports,
                index: 1,
                byte
            }
        );
        assert_eq!(
            parts_err(|p| p.elems[4].elem = byte),
            InvalidValType {
                section: S::Elems,
                index: 4,
                byte
            }
        );
    }
}

#[test]
fn invalid_kinds() {
    assert_eq!(
        parts_err(|p| p.imports[2].kind = 4),
        InvalidKind {
            section: S::Imports,
            index: 2,
            kind: 4
        }
    );
    assert_eq!(
        parts_err(|p| p.imports[2].mutable = 2),
        InvalidKind {
            section: S::Imports,
            index: 2,
            kind: 2
        }
    );
    assert_eq!(
        parts_err(|p| p.exports[0].kind = 0xff),
        InvalidKind {
            section: S::Exports,
            index: 0,
            kind: 0xff
        }
    );
    assert_eq!(
        parts_err(|p| p.globals[0].mutable = 2),
        InvalidKind {
            section: S::Globals,
            index: 0,
            kind: 2
        }
    );
    assert_eq!(
        parts_err(|p| p.globals[0].init_kind = 4),
        InvalidKind {
            section: S::Globals,
            index: 0,
            kind: 4
        }
    );
    assert_eq!(
        parts_err(|p| p.elems[0].mode = 3),
        InvalidKind {
            section: S::Elems,
            index: 0,
            kind: 3
        }
    );
    assert_eq!(
        parts_err(|p| p.elems[1].offset_kind = 2),
        InvalidKind {
            section: S::Elems,
            index: 1,
            kind: 2
        }
    );
    assert_eq!(
        parts_err(|p| p.datas[0].mode = mode::DECLARED),
        InvalidKind {
            section: S::Datas,
            index: 0,
            kind: mode::DECLARED
        }
    );
    assert_eq!(
        parts_err(|p| p.datas[0].offset_kind = 2),
        InvalidKind {
            section: S::Datas,
            index: 0,
            kind: 2
        }
    );
}

#[test]
fn bad_limits() {
    assert_eq!(
        parts_err(|p| p.tables[1].min = 6),
        InvalidLimits {
            section: S::Tables,
            index: 1
        }
    );
    // A table may have 2^32 - 1 elements (wasm allows it), but never more
    // than its maximum.
    assert_eq!(
        parts_err(|p| p.tables[1].min = NONE),
        InvalidLimits {
            section: S::Tables,
            index: 1
        }
    );
    assert_eq!(
        parts_err(|p| p.memory[0].min = 5),
        InvalidLimits {
            section: S::Memory,
            index: 0
        }
    );
    assert_eq!(
        parts_err(|p| p.memory[0].max = MAX_WASM_PAGES + 1),
        InvalidLimits {
            section: S::Memory,
            index: 0
        }
    );
    assert_eq!(
        parts_err(|p| p.memory[0] = MemRec {
            min: MAX_WASM_PAGES + 1,
            max: NONE
        }),
        InvalidLimits {
            section: S::Memory,
            index: 0
        }
    );
    assert_eq!(
        parts_err(|p| p.imports[1].min = 11),
        InvalidLimits {
            section: S::Imports,
            index: 1
        }
    );
    assert_eq!(
        parts_err(|p| p.maps[1].entries = kwasm_abi::host::MAX_MAP_ENTRIES + 1),
        InvalidLimits {
            section: S::Maps,
            index: 1
        }
    );
    // A map of an unknown kind, or with sizes its kind does not have.
    for bad in [
        (|m: &mut MapRec| m.kind = 9) as fn(&mut MapRec),
        |m| m.key_size = 8,
        |m| m.value_size = 4,
    ] {
        assert_eq!(
            parts_err(|p| bad(&mut p.maps[1])),
            InvalidLimits {
                section: S::Maps,
                index: 1
            }
        );
    }
    // An imported memory with bad limits.
    let mut p = imported_memory();
    p.imports[0].min = 2;
    p.imports[0].max = 1;
    assert_eq!(
        Meta::parse(&p.encode()).err(),
        Some(InvalidLimits {
            section: S::Imports,
            index: 0
        })
    );
    // Limits at the edges are fine.
    let mut p = rich();
    p.memory[0] = MemRec {
        min: MAX_WASM_PAGES,
        max: MAX_WASM_PAGES,
    };
    p.tables[0].min = NONE - 1;
    parse_ok(&p.encode());
}

#[test]
fn two_memories() {
    assert_eq!(
        parts_err(|p| p.memory.push(MemRec { min: 0, max: NONE })),
        TooManyMemories
    );
    assert_eq!(
        parts_err(|p| {
            let mut i = p.import(kind::MEMORY, "env", "memory");
            i.max = 1;
            // After the table import: imports are grouped by kind.
            p.imports.insert(2, i);
        }),
        TooManyMemories
    );
    let mut p = imported_memory();
    let i = p.imports[0];
    p.imports.push(i);
    assert_eq!(Meta::parse(&p.encode()).err(), Some(TooManyMemories));
}

#[test]
fn function_text_ranges() {
    // Overlapping the previous function.
    assert_eq!(
        parts_err(|p| p.funcs[1].text_off = 0x3f),
        TextOutOfBounds { index: 1 }
    );
    assert_eq!(
        parts_err(|p| p.funcs[2].text_off = 0),
        TextOutOfBounds { index: 2 }
    );
    // Past text_len.
    assert_eq!(
        parts_err(|p| p.funcs[2].text_len = 0x181),
        TextOutOfBounds { index: 2 }
    );
    assert_eq!(
        parts_err(|p| {
            p.text_len = 0xff;
            for t in &mut p.types {
                t.trampoline = NONE;
            }
        }),
        TextOutOfBounds { index: 2 }
    );
    // Offset + length overflowing u32.
    assert_eq!(
        parts_err(|p| {
            p.funcs[2].text_off = u32::MAX;
            p.funcs[2].text_len = 2;
        }),
        TextOutOfBounds { index: 2 }
    );
    // Touching ranges and empty functions are fine.
    let mut p = rich();
    p.funcs[2].text_off = 0x80;
    p.funcs[2].text_len = 0;
    parse_ok(&p.encode());
}

#[test]
fn duplicate_export_names() {
    assert_eq!(
        parts_err(|p| p.exports[1].name = p.exports[0].name),
        DuplicateExport { index: 1 }
    );
    // The same name at a different pool offset, and of a different kind.
    assert_eq!(
        parts_err(|p| p.exports[3].name = p.str("c_memory")),
        DuplicateExport { index: 3 }
    );
    // The same entity under two names is fine.
    let mut p = rich();
    let e = p.export(kind::FUNC, F_FILTER, "e_filter2");
    p.exports.insert(E_FILTER as usize + 1, e);
    parse_ok(&p.encode());
}

#[test]
fn exports_sorted_and_imports_grouped() {
    // Exports out of name order: linear validation depends on the order.
    assert_eq!(
        parts_err(|p| p.exports.swap(1, 2)),
        Unsorted {
            section: SectionId::Exports,
            index: 2
        }
    );
    // A function import after a table import.
    assert_eq!(
        parts_err(|p| p.imports.swap(0, 1)),
        Unsorted {
            section: SectionId::Imports,
            index: 1
        }
    );
    let m_parts = rich();
    let blob = m_parts.encode();
    let m = Meta::parse(&blob).unwrap();
    assert_eq!(m.imported(kind::FUNC), 1);
    assert_eq!(m.imported(kind::TABLE), 1);
    assert_eq!(m.imported(kind::MEMORY), 0);
    assert_eq!(m.imported(kind::GLOBAL), 3);
    assert_eq!(
        m.import_of_kind(kind::GLOBAL, 2).map(|i| m.str(i.name)),
        Some("g_funcref")
    );
    assert!(m.import_of_kind(kind::GLOBAL, 3).is_none());
    for e in m.exports().iter() {
        assert_eq!(m.export(m.str(e.name)), Some(e));
    }
}

#[test]
fn global_initialiser_errors() {
    // global.get of a mutable global (imported, or defined earlier).
    let g = (G_FROM_IMPORT - 3) as usize;
    assert_eq!(
        parts_err(|p| {
            p.globals[g].ty = I64 as u8;
            p.globals[g].init = G_MUT_I64 as u64;
        }),
        TypeMismatch {
            section: S::Globals,
            index: g as u32
        }
    );
    assert_eq!(
        parts_err(|p| p.globals[(9 - 3) as usize] = GlobalRec {
            ty: I32 as u8,
            mutable: 0,
            init_kind: init::GLOBAL_GET,
            init: G_MUT_I32 as u64,
            ..Default::default()
        }),
        TypeMismatch {
            section: S::Globals,
            index: 6
        }
    );
    // global.get of a global of another type.
    assert_eq!(
        parts_err(|p| p.globals[g].init = G_IMP_FUNCREF as u64),
        TypeMismatch {
            section: S::Globals,
            index: g as u32
        }
    );
    // ref.func into a non-funcref global.
    let rf = (G_REF_FUNC - 3) as usize;
    assert_eq!(
        parts_err(|p| p.globals[rf].ty = ExternRef as u8),
        TypeMismatch {
            section: S::Globals,
            index: rf as u32
        }
    );
    assert_eq!(
        parts_err(|p| p.globals[rf].ty = I32 as u8),
        TypeMismatch {
            section: S::Globals,
            index: rf as u32
        }
    );
    // ref.null into a number global.
    assert_eq!(
        parts_err(|p| p.globals[4].ty = I64 as u8),
        TypeMismatch {
            section: S::Globals,
            index: 4
        }
    );
    // A non-null constant reference.
    assert_eq!(
        parts_err(|p| p.globals[0] = GlobalRec {
            ty: ExternRef as u8,
            mutable: 1,
            init_kind: init::CONST,
            init: 0x1234,
            ..Default::default()
        }),
        TypeMismatch {
            section: S::Globals,
            index: 0
        }
    );
}

#[test]
fn type_mismatches() {
    // Tables and table imports must hold references.
    assert_eq!(
        parts_err(|p| p.tables[0].elem = I32 as u8),
        TypeMismatch {
            section: S::Tables,
            index: 0
        }
    );
    assert_eq!(
        parts_err(|p| p.imports[1].ty = F64 as u8),
        TypeMismatch {
            section: S::Imports,
            index: 1
        }
    );
    // An element segment's type must be a reference...
    assert_eq!(
        parts_err(|p| p.elems[2].elem = I64 as u8),
        TypeMismatch {
            section: S::Elems,
            index: 2
        }
    );
    // ...and match its table.
    assert_eq!(
        parts_err(|p| p.elems[4].table = 1),
        TypeMismatch {
            section: S::Elems,
            index: 4
        }
    );
    assert_eq!(
        parts_err(|p| {
            p.elems[0].elem = ExternRef as u8;
            p.elems[0].count = 1;
            p.elems[0].items = p.items(&[ITEM_NULL]).0;
        }),
        TypeMismatch {
            section: S::Elems,
            index: 0
        }
    );
    // A function index in an externref segment.
    assert_eq!(
        parts_err(|p| {
            let e = p.elem(mode::PASSIVE, ExternRef, 0, 0, 0, &[1]);
            p.elems.push(e);
        }),
        TypeMismatch {
            section: S::Elems,
            index: 6
        }
    );
    // A global item of the wrong type.
    assert_eq!(
        parts_err(|p| {
            let e = p.elem(
                mode::PASSIVE,
                FuncRef,
                0,
                0,
                0,
                &[ITEM_GLOBAL | G_NULL_EXTERN],
            );
            p.elems.push(e);
        }),
        TypeMismatch {
            section: S::Elems,
            index: 6
        }
    );
    assert_eq!(
        parts_err(|p| {
            let e = p.elem(mode::PASSIVE, FuncRef, 0, 0, 0, &[ITEM_GLOBAL | G_IMM_I32]);
            p.elems.push(e);
        }),
        TypeMismatch {
            section: S::Elems,
            index: 6
        }
    );
    // Offsets must be i32 globals.
    assert_eq!(
        parts_err(|p| p.elems[1].offset = G_MUT_I64),
        TypeMismatch {
            section: S::Elems,
            index: 1
        }
    );
    assert_eq!(
        parts_err(|p| p.datas[1].offset = G_IMM_F64),
        TypeMismatch {
            section: S::Datas,
            index: 1
        }
    );
}

// ---------------------------------------------------------------------------
// Derived facts the runtimes take from `Meta`.

#[test]
fn canonical_type_ids_group_equal_signatures() {
    let mut p = empty();
    for (params, results) in [
        (&[I32][..], &[I32][..]),
        (&[], &[]),
        (&[I32], &[I32]),
        (&[I32, I32], &[]),
        (&[I32], &[I32, I32][..0]), // (i32) -> (): same bytes as a prefix, other split
        (&[], &[]),
    ] {
        let t = p.sig(params, results);
        p.types.push(t);
    }
    let blob = p.encode();
    let m = parse_ok(&blob);
    let mut ids = vec![0; 6];
    let mut scratch = vec![0; 6];
    assert!(m.canonical_type_ids(&mut ids, &mut scratch));
    assert_eq!(ids, [0, 1, 0, 3, 4, 1]);
    assert!(!m.canonical_type_ids(&mut ids[..5], &mut scratch));
    assert_eq!(
        m.sig(m.types().get(3).unwrap()).to_string(),
        "(i32, i32) -> ()"
    );
}

#[test]
fn vmctx_counts_follow_the_imports() {
    let blob = rich().encode();
    let m = parse_ok(&blob);
    let c = m.vmctx_counts();
    assert_eq!(c.types, m.types().len());
    assert_eq!(c.imported_funcs, m.imported(kind::FUNC));
    assert_eq!(c.funcs, m.func_count());
    assert_eq!(c.memory, MemoryKind::Defined);
    assert!(VmCtxLayout::new(c).is_some());
    let blob = imported_memory().encode();
    assert_eq!(parse_ok(&blob).vmctx_counts().memory, MemoryKind::Imported);
    let _: Option<VmCtxCounts> = None;
}
