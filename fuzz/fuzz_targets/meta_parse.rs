//! `.kwasm.meta` validation: the kernel runs `Meta::parse` on bytes from
//! userspace, so it must reject any blob it cannot vouch for without
//! panicking, and every accessor of a blob it accepts must stay in bounds.
//!
//! Each input is tried twice:
//! - as given, which exercises the header checks (magic, version, length,
//!   checksum);
//! - repaired: magic, version, total length and checksum made to match the
//!   bytes, so that libFuzzer's mutations of the seeds (valid blobs written
//!   by the compiler, see `compiler/examples/meta_seeds.rs`) get past the
//!   CRC and reach the section and record checks.
//!
//! A blob that parses is walked through every accessor, and what
//! `Meta::parse` promises is asserted (indices refer to things that exist,
//! pool references are in bounds, names are UTF-8). It is then re-encoded
//! with `MetaParts::write` (sections packed, same pool), which must parse to
//! the same records.
#![no_main]

use kwasm_abi::meta::{
    self, DataRec, ElemRec, ExportRec, FuncRec, GlobalRec, HEADER_SIZE, ITEM_GLOBAL, ITEM_NULL,
    ImportRec, MapRec, MemRec, Meta, MetaParts, NONE, Records, TableRec, TypeRec, kind, mode,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Meta::parse(data) {
        walk(&m);
    }
    if data.len() >= HEADER_SIZE {
        let mut blob = data.to_vec();
        repair(&mut blob);
        if let Ok(m) = Meta::parse(&blob) {
            walk(&m);
            reencode(&m);
        }
    }
});

/// Header offsets (kwasm_abi::meta's `hdr` is private; the layout is the
/// format's, documented there).
const VERSION: usize = 8;
const TOTAL_LEN: usize = 20;
const CHECKSUM: usize = 24;

fn repair(blob: &mut [u8]) {
    blob[..8].copy_from_slice(&meta::MAGIC.to_le_bytes());
    blob[VERSION..VERSION + 4].copy_from_slice(&meta::FORMAT_VERSION.to_le_bytes());
    let len = blob.len() as u32;
    blob[TOTAL_LEN..TOTAL_LEN + 4].copy_from_slice(&len.to_le_bytes());
    // The checksum is the CRC-32 of the blob with its own field as zero.
    blob[CHECKSUM..CHECKSUM + 4].fill(0);
    let sum = meta::crc32(0, blob);
    blob[CHECKSUM..CHECKSUM + 4].copy_from_slice(&sum.to_le_bytes());
}

fn all<R: meta::Record>(r: Records<'_, R>) -> Vec<R> {
    let v: Vec<R> = r.iter().collect();
    assert_eq!(v.len(), r.len() as usize);
    assert_eq!(r.is_empty(), v.is_empty());
    for (i, x) in v.iter().enumerate() {
        let y = r.get(i as u32).expect("get within len");
        // Records have no PartialEq bound in the trait; compare encodings.
        assert_eq!(encode(x), encode(&y));
    }
    assert!(r.get(r.len()).is_none());
    assert!(r.get(u32::MAX).is_none());
    v
}

fn encode<R: meta::Record>(r: &R) -> Vec<u8> {
    let mut b = vec![0; R::SIZE];
    r.write(&mut b);
    b
}

/// Every accessor, with what `Meta::parse` promises asserted.
fn walk(m: &Meta<'_>) {
    let _ = (m.bytes().len(), m.uses_float(), m.arch.name(), m.flags);
    let text_len = m.text_len;
    let pool_len = m.pool().len();
    let name = |r: meta::PoolRef| {
        let b = m.pool_bytes(r).expect("validated pool reference");
        assert_eq!(b.len(), r.len as usize);
        let s = m.str(r);
        assert_eq!(s.len(), b.len(), "validated names are UTF-8");
        s
    };
    // Accessors on hostile references must not panic either.
    for off in [0, 1, pool_len as u32, u32::MAX] {
        for len in [0, 1, u32::MAX] {
            let r = meta::PoolRef { off, len };
            let _ = m.pool_bytes(r);
            let _ = m.str(r);
        }
    }

    let types = all(m.types());
    for t in &types {
        assert_eq!(m.params(*t).count(), t.nparams as usize);
        assert_eq!(m.results(*t).count(), t.nresults as usize);
        assert!(t.trampoline == NONE || t.trampoline < text_len);
    }
    let ntypes = types.len() as u32;

    let imports = all(m.imports());
    let mut total = 0;
    for k in [kind::FUNC, kind::TABLE, kind::MEMORY, kind::GLOBAL] {
        let n = m.imported(k);
        total += n;
        for i in 0..n {
            let imp = m.import_of_kind(k, i).expect("import within count");
            assert_eq!(imp.kind, k);
            name(imp.module);
            name(imp.name);
            if k == kind::FUNC {
                assert!(imp.index < ntypes);
            }
        }
        assert!(m.import_of_kind(k, n).is_none());
        assert!(m.import_of_kind(k, u32::MAX).is_none());
    }
    assert_eq!(m.imported(4), 0);
    assert_eq!(m.imported(u8::MAX), 0);
    assert!(m.import_of_kind(u8::MAX, 0).is_none());
    assert_eq!(total as usize, imports.len());

    let funcs = all(m.funcs());
    for f in &funcs {
        assert!(f.type_idx < ntypes);
        assert!(f.text_off as u64 + f.text_len as u64 <= text_len as u64);
        name(f.name);
    }
    for f in 0..m.func_count() {
        let t = m.func_type(f).expect("function within count");
        assert!(m.types().get(t).is_some());
        let _ = m.func_name(f);
    }
    for f in [m.func_count(), u32::MAX] {
        assert!(m.func_type(f).is_none());
        assert_eq!(m.func_name(f), "");
    }

    let tables = all(m.tables());
    for t in 0..m.table_count() {
        assert!(m.table_elem(t).expect("table within count").is_ref());
    }
    assert!(m.table_elem(m.table_count()).is_none());
    assert!(m.table_elem(u32::MAX).is_none());
    let _ = tables;

    let memory = all(m.memory());
    assert!(m.memory_count() <= 1);
    for r in &memory {
        assert!(r.max == NONE || r.max >= r.min);
    }

    let globals = all(m.globals());
    for g in 0..m.global_count() {
        m.global_type(g).expect("global within count");
    }
    assert!(m.global_type(m.global_count()).is_none());
    assert!(m.global_type(u32::MAX).is_none());
    let _ = globals;

    let exports = all(m.exports());
    let mut prev: Option<&str> = None;
    for e in &exports {
        let n = name(e.name);
        if let Some(p) = prev {
            assert!(p < n, "exports sorted and unique");
        }
        prev = Some(n);
        let limit = match e.kind {
            kind::FUNC => m.func_count(),
            kind::TABLE => m.table_count(),
            kind::MEMORY => m.memory_count(),
            kind::GLOBAL => m.global_count(),
            k => panic!("export of kind {k} accepted"),
        };
        assert!(e.index < limit);
        let found = m.export(n).expect("every export is found by name");
        assert_eq!((found.kind, found.index), (e.kind, e.index));
    }
    let _ = m.export("");
    let _ = m.export("\u{10ffff}");
    if m.entry_export != NONE {
        let e = m
            .exports()
            .get(m.entry_export)
            .expect("entry export exists");
        assert_eq!(e.kind, kind::FUNC);
    }
    if m.start_func != NONE {
        let t = m.func_type(m.start_func).expect("start function exists");
        let t = m.types().get(t).expect("its type exists");
        assert_eq!((t.nparams, t.nresults), (0, 0));
    }

    for e in &all(m.elems()) {
        if e.mode == mode::ACTIVE {
            assert!(e.table < m.table_count());
        }
        let mut n = 0;
        for item in m.elem_items(*e) {
            n += 1;
            if item == ITEM_NULL {
                continue;
            }
            if item & ITEM_GLOBAL != 0 {
                assert!(item & !ITEM_GLOBAL < m.global_count());
            } else {
                assert!(item < m.func_count());
            }
        }
        assert_eq!(n, e.count);
    }
    for d in &all(m.datas()) {
        assert!(m.pool_bytes(d.bytes).is_some());
        if d.mode == mode::ACTIVE {
            assert_eq!(m.memory_count(), 1);
        }
    }
    let _ = all(m.maps());
}

/// Write the records back with the writer (sections packed, same pool): a
/// valid blob must stay valid and read back the same.
fn reencode(m: &Meta<'_>) {
    let types: Vec<TypeRec> = m.types().iter().collect();
    let imports: Vec<ImportRec> = m.imports().iter().collect();
    let funcs: Vec<FuncRec> = m.funcs().iter().collect();
    let tables: Vec<TableRec> = m.tables().iter().collect();
    let memory: Vec<MemRec> = m.memory().iter().collect();
    let globals: Vec<GlobalRec> = m.globals().iter().collect();
    let exports: Vec<ExportRec> = m.exports().iter().collect();
    let elems: Vec<ElemRec> = m.elems().iter().collect();
    let datas: Vec<DataRec> = m.datas().iter().collect();
    let maps: Vec<MapRec> = m.maps().iter().collect();
    let parts = MetaParts {
        arch: m.arch,
        flags: m.flags,
        text_len: m.text_len,
        start_func: m.start_func,
        entry_export: m.entry_export,
        text_crc: m.text_crc,
        cpu: m.cpu,
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
        pool: m.pool(),
    };
    let mut out = vec![0; parts.encoded_len()];
    parts.write(&mut out).expect("buffer of encoded_len bytes");
    let again = match Meta::parse(&out) {
        Ok(again) => again,
        Err(e) => panic!("a valid blob re-encoded is rejected: {e}"),
    };
    assert!(again.types().iter().eq(types.iter().copied()));
    assert!(again.imports().iter().eq(imports.iter().copied()));
    assert!(again.funcs().iter().eq(funcs.iter().copied()));
    assert!(again.exports().iter().eq(exports.iter().copied()));
    assert!(again.elems().iter().eq(elems.iter().copied()));
    assert!(again.datas().iter().eq(datas.iter().copied()));
    assert_eq!(again.pool(), m.pool());
}
