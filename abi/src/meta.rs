//! The `.kwasm.meta` section of a `.kw` artifact.
//!
//! The blob describes everything a runtime needs to instantiate the code in
//! `.text`: types, imports, functions and their offsets, tables, memory,
//! globals, exports, element and data segments, and maps. It is little-endian
//! and made of fixed-size records so that a reader never allocates:
//!
//! ```text
//! header   (HEADER_SIZE bytes: magic, version, arch, flags, total length,
//!           CRC-32, .text length, start function, entry export, CRC-32
//!           of .text, CPU extensions, then one (offset, count) pair per
//!           section)
//! sections (in SectionId order, each `count` records of a fixed size;
//!           the pool's count is its length in bytes)
//! ```
//!
//! Imports are grouped by kind (functions, tables, memories, globals) and
//! exports sorted by name, so that every check and lookup is linear or
//! logarithmic: the kernel validates blobs from userspace and must not spend
//! quadratic time on a hostile one.
//!
//! Variable-length data (strings, signatures, element items, data bytes) lives
//! in the pool and is referenced by offset and length. The checksum is the
//! CRC-32 (IEEE) of the whole blob with the checksum field read as zero.
//!
//! [`Meta::parse`] checks *everything* a runtime relies on, so the kernel can
//! call it on bytes from userspace: after it returns `Ok`, every accessor is
//! in bounds and every index refers to something that exists.

use super::types::Arch;
use super::types::ValType;
use core::fmt;
use core::marker::PhantomData;

/// `b"KWASMETA"` as a little-endian u64.
pub const MAGIC: u64 = u64::from_le_bytes(*b"KWASMETA");
/// Version of this format. Bump on any incompatible change.
pub const FORMAT_VERSION: u32 = 3;
/// Name of the ELF section holding the blob.
pub const SECTION_NAME: &str = ".kwasm.meta";
/// "No such thing" for optional indices and maxima.
pub const NONE: u32 = u32::MAX;

/// Header flag: the program uses f32/f64, so runtimes must enable the FPU.
pub const FLAG_USES_FLOAT: u32 = 1;
const KNOWN_FLAGS: u32 = FLAG_USES_FLOAT;

/// Validation checks at most this many times as many pool bytes (names,
/// signatures, element items) as the sections (records and pool) hold, so
/// that records sharing pool bytes cannot make it quadratic.
pub const POOL_REUSE: u64 = 4;

/// Upper bound on every section's record count.
pub const MAX_RECORDS: u32 = super::vmctx::MAX_ENTITIES;

/// Import/export kinds.
pub mod kind {
    pub const FUNC: u8 = 0;
    pub const TABLE: u8 = 1;
    pub const MEMORY: u8 = 2;
    pub const GLOBAL: u8 = 3;
}

/// Global initialiser kinds.
pub mod init {
    /// `init` holds the value's bits.
    pub const CONST: u8 = 0;
    /// `init` holds a global index (an earlier, immutable global).
    pub const GLOBAL_GET: u8 = 1;
    /// `init` holds a function index.
    pub const REF_FUNC: u8 = 2;
    /// A null reference.
    pub const REF_NULL: u8 = 3;
}

/// Segment modes.
pub mod mode {
    pub const ACTIVE: u8 = 0;
    pub const PASSIVE: u8 = 1;
    pub const DECLARED: u8 = 2;
}

/// Segment offset kinds.
pub mod offset {
    /// The offset is a constant.
    pub const CONST: u8 = 0;
    /// The offset is the value of the global with this index.
    pub const GLOBAL_GET: u8 = 1;
}

/// Element items are u32s in the pool: a function index, [`ITEM_NULL`], or
/// [`ITEM_GLOBAL`] `| index` for `global.get`.
pub const ITEM_NULL: u32 = u32::MAX;
pub const ITEM_GLOBAL: u32 = 0x8000_0000;

/// A string or byte range in the pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolRef {
    pub off: u32,
    pub len: u32,
}

use super::vmctx::{EntityCounts, VmCtxCounts};
pub use super::wire::{Field, Record};

/// A function type of a [`Meta`], printed with [`super::types::fmt_sig`].
#[derive(Clone, Copy)]
pub struct MetaSig<'a> {
    meta: Meta<'a>,
    t: TypeRec,
}

impl MetaSig<'_> {
    /// Whether this type is exactly `params -> results`.
    pub fn is(&self, params: &[ValType], results: &[ValType]) -> bool {
        self.t.nparams as usize == params.len()
            && self.t.nresults as usize == results.len()
            && self.meta.params(self.t).eq(params.iter().copied())
            && self.meta.results(self.t).eq(results.iter().copied())
    }
}

impl fmt::Display for MetaSig<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        super::types::fmt_sig(f, self.meta.params(self.t), self.meta.results(self.t))
    }
}

impl Field for PoolRef {
    const SIZE: usize = 8;
    fn get(b: &[u8], at: &mut usize) -> Self {
        PoolRef {
            off: u32::get(b, at),
            len: u32::get(b, at),
        }
    }
    fn put(&self, b: &mut [u8], at: &mut usize) {
        self.off.put(b, at);
        self.len.put(b, at);
    }
}

kwasm_record!(
    /// A function type. Its `nparams + nresults` value types are consecutive
    /// bytes in the pool at `sig`.
    TypeRec {
        sig: u32,
        nparams: u16,
        nresults: u16,
        /// `.text` offset of this type's array-call trampoline, or [`NONE`].
        trampoline: u32,
    }
);

kwasm_record!(
    /// An import. `index` is the type index for functions; `ty` the value
    /// type of a global or element type of a table; `min`/`max` are limits of
    /// tables and memories (`max` = [`NONE`] when absent).
    ImportRec {
        kind: u8,
        ty: u8,
        mutable: u8,
        pad: u8,
        module: PoolRef,
        name: PoolRef,
        index: u32,
        min: u32,
        max: u32,
    }
);

kwasm_record!(
    /// A defined function: its type and where its code is in `.text`.
    FuncRec {
        type_idx: u32,
        text_off: u32,
        text_len: u32,
        /// Name from the name section; empty when absent.
        name: PoolRef,
    }
);

kwasm_record!(
    /// A defined table.
    TableRec { elem: u8, pad: u8, pad2: u16, min: u32, max: u32 }
);

kwasm_record!(
    /// The defined memory, in pages.
    MemRec { min: u32, max: u32 }
);

kwasm_record!(
    /// A defined global.
    GlobalRec { ty: u8, mutable: u8, init_kind: u8, pad: u8, init: u64 }
);

kwasm_record!(
    /// An export of an entity of `kind` with index `index` in its index space.
    ExportRec { kind: u8, pad: u8, pad2: u16, index: u32, name: PoolRef }
);

kwasm_record!(
    /// An element segment. `items` points at `count` u32 items in the pool.
    ElemRec {
        mode: u8,
        elem: u8,
        offset_kind: u8,
        pad: u8,
        table: u32,
        offset: u32,
        items: u32,
        count: u32,
    }
);

kwasm_record!(
    /// A data segment; its bytes are in the pool.
    DataRec { mode: u8, offset_kind: u8, pad: u16, offset: u32, bytes: PoolRef }
);

kwasm_record!(
    /// A map ([`super::maps`]): its kind (`MapKind`), key and value sizes in
    /// bytes, and entry count.
    MapRec { kind: u32, key_size: u32, value_size: u32, entries: u32 }
);

impl MapRec {
    /// The record of a declaration.
    pub fn from_decl(d: &super::maps::MapDecl) -> MapRec {
        MapRec {
            kind: d.kind as u32,
            key_size: d.key_size,
            value_size: d.value_size,
            entries: d.entries,
        }
    }

    /// The declaration this record holds; valid once `Meta::parse` has
    /// accepted the blob.
    pub fn decl(&self) -> Option<super::maps::MapDecl> {
        Some(super::maps::MapDecl {
            kind: super::maps::MapKind::from_u32(self.kind)?,
            key_size: self.key_size,
            value_size: self.value_size,
            entries: self.entries,
        })
    }
}

/// Sections, in the order they must appear.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum SectionId {
    Types = 0,
    Imports,
    Funcs,
    Tables,
    Memory,
    Globals,
    Exports,
    Elems,
    Datas,
    Maps,
    Pool,
}

pub const SECTION_COUNT: usize = 11;
const SECTIONS: [SectionId; SECTION_COUNT] = [
    SectionId::Types,
    SectionId::Imports,
    SectionId::Funcs,
    SectionId::Tables,
    SectionId::Memory,
    SectionId::Globals,
    SectionId::Exports,
    SectionId::Elems,
    SectionId::Datas,
    SectionId::Maps,
    SectionId::Pool,
];

impl SectionId {
    pub fn name(self) -> &'static str {
        match self {
            SectionId::Types => "types",
            SectionId::Imports => "imports",
            SectionId::Funcs => "functions",
            SectionId::Tables => "tables",
            SectionId::Memory => "memory",
            SectionId::Globals => "globals",
            SectionId::Exports => "exports",
            SectionId::Elems => "elements",
            SectionId::Datas => "data",
            SectionId::Maps => "maps",
            SectionId::Pool => "pool",
        }
    }

    fn record_size(self) -> usize {
        match self {
            SectionId::Types => TypeRec::SIZE,
            SectionId::Imports => ImportRec::SIZE,
            SectionId::Funcs => FuncRec::SIZE,
            SectionId::Tables => TableRec::SIZE,
            SectionId::Memory => MemRec::SIZE,
            SectionId::Globals => GlobalRec::SIZE,
            SectionId::Exports => ExportRec::SIZE,
            SectionId::Elems => ElemRec::SIZE,
            SectionId::Datas => DataRec::SIZE,
            SectionId::Maps => MapRec::SIZE,
            SectionId::Pool => 1,
        }
    }
}

mod hdr {
    pub const VERSION: usize = 8;
    pub const ARCH: usize = 12;
    pub const FLAGS: usize = 16;
    pub const TOTAL_LEN: usize = 20;
    pub const CHECKSUM: usize = 24;
    pub const TEXT_LEN: usize = 28;
    pub const START: usize = 32;
    pub const ENTRY: usize = 36;
    pub const TEXT_CRC: usize = 40;
    pub const CPU: usize = 44;
    pub const SECTIONS: usize = 48;
}

/// Size of the fixed header.
pub const HEADER_SIZE: usize = hdr::SECTIONS + 8 * SECTION_COUNT;

/// Why a blob was rejected. Every variant names what was wrong and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaError {
    /// Shorter than the header or than `total_len` says.
    Truncated {
        need: usize,
        have: usize,
    },
    BadMagic,
    UnsupportedVersion(u32),
    UnknownArch(u32),
    UnknownFlags(u32),
    /// The CPU extension mask has a bit that is not an extension of the
    /// metadata's architecture.
    UnknownCpuExtensions(u32),
    /// `total_len` does not match the blob's length.
    LengthMismatch {
        header: u32,
        actual: usize,
    },
    ChecksumMismatch {
        stored: u32,
        computed: u32,
    },
    /// A section extends past the end of the blob or into the header.
    SectionOutOfBounds(SectionId),
    /// A section starts before the previous one ends.
    SectionOverlap(SectionId),
    TooManyRecords(SectionId),
    /// A pool reference points outside the pool.
    PoolOutOfBounds {
        section: SectionId,
        index: u32,
    },
    /// The pool references checked so far (names, signatures, element
    /// items) cover more than [`POOL_REUSE`] times the bytes of the
    /// sections: records overlap in the pool so much that checking them
    /// all would take time quadratic in the blob's size.
    PoolOverlap {
        section: SectionId,
        index: u32,
    },
    InvalidUtf8 {
        section: SectionId,
        index: u32,
    },
    InvalidValType {
        section: SectionId,
        index: u32,
        byte: u8,
    },
    InvalidKind {
        section: SectionId,
        index: u32,
        kind: u8,
    },
    /// An index refers to an entity that does not exist (or may not be
    /// referenced from there).
    IndexOutOfRange {
        section: SectionId,
        index: u32,
        value: u32,
    },
    InvalidLimits {
        section: SectionId,
        index: u32,
    },
    /// More than one memory, imported or defined.
    TooManyMemories,
    /// Function code outside `.text`, or overlapping the previous function.
    TextOutOfBounds {
        index: u32,
    },
    TypeMismatch {
        section: SectionId,
        index: u32,
    },
    DuplicateExport {
        index: u32,
    },
    /// Records that must be ordered are not: imports must be grouped by
    /// kind (functions, tables, memories, globals) and exports sorted by
    /// name, so that lookups and validation take linear time.
    Unsorted {
        section: SectionId,
        index: u32,
    },
    /// The entry export does not exist or is not a function.
    BadEntry(u32),
    /// The start function does not exist or its type is not `[] -> []`.
    BadStart(u32),
    /// A writer was given a buffer of the wrong size, or parts that overflow.
    BufferSize {
        need: usize,
        have: usize,
    },
}

impl fmt::Display for MetaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use MetaError::*;
        match *self {
            Truncated { need, have } => {
                write!(f, "metadata truncated: need {need} bytes, have {have}")
            }
            BadMagic => write!(f, "not kwasm metadata (bad magic)"),
            UnsupportedVersion(v) => {
                write!(
                    f,
                    "metadata format version {v} is not supported (expected {FORMAT_VERSION})"
                )
            }
            UnknownArch(a) => write!(f, "unknown target architecture {a}"),
            UnknownFlags(x) => write!(f, "unknown metadata flags {x:#x}"),
            UnknownCpuExtensions(x) => {
                write!(f, "unknown CPU extensions {x:#x} for this architecture")
            }
            LengthMismatch { header, actual } => {
                write!(
                    f,
                    "metadata length {header} in header, but blob is {actual} bytes"
                )
            }
            ChecksumMismatch { stored, computed } => {
                write!(
                    f,
                    "metadata checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
                )
            }
            SectionOutOfBounds(s) => write!(f, "{} section lies outside the metadata", s.name()),
            SectionOverlap(s) => write!(f, "{} section overlaps the previous section", s.name()),
            TooManyRecords(s) => write!(f, "{} section has too many records", s.name()),
            PoolOutOfBounds { section, index } => {
                write!(
                    f,
                    "{} record {index} refers outside the pool",
                    section.name()
                )
            }
            PoolOverlap { section, index } => write!(
                f,
                "{} record {index}: pool references overlap too much (they cover more than {POOL_REUSE} times the sections' bytes)",
                section.name()
            ),
            InvalidUtf8 { section, index } => write!(
                f,
                "{} record {index} has a name that is not UTF-8",
                section.name()
            ),
            InvalidValType {
                section,
                index,
                byte,
            } => {
                write!(
                    f,
                    "{} record {index} has invalid value type {byte:#04x}",
                    section.name()
                )
            }
            InvalidKind {
                section,
                index,
                kind,
            } => {
                write!(
                    f,
                    "{} record {index} has invalid kind {kind}",
                    section.name()
                )
            }
            IndexOutOfRange {
                section,
                index,
                value,
            } => {
                write!(
                    f,
                    "{} record {index} refers to nonexistent index {value}",
                    section.name()
                )
            }
            InvalidLimits { section, index } => {
                write!(f, "{} record {index} has invalid limits", section.name())
            }
            TooManyMemories => write!(f, "more than one memory"),
            TextOutOfBounds { index } => {
                write!(f, "function {index} lies outside .text or overlaps another")
            }
            TypeMismatch { section, index } => {
                write!(f, "{} record {index} has mismatched types", section.name())
            }
            Unsorted { section, index } => {
                write!(f, "{} record {index} is out of order", section.name())
            }
            DuplicateExport { index } => {
                write!(f, "export {index} duplicates an earlier export's name")
            }
            BadEntry(e) => write!(
                f,
                "entry export {e} is not an exported function of type (i32) -> i32"
            ),
            BadStart(s) => write!(
                f,
                "start function {s} does not exist or does not have type [] -> []"
            ),
            BufferSize { need, have } => write!(f, "metadata buffer is {have} bytes, need {need}"),
        }
    }
}

const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// CRC-32 (IEEE 802.3), continuing from `crc` (start with 0).
pub fn crc32(crc: u32, data: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in data {
        c = CRC_TABLE[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// Checksum of a `.text` section, stored in the header so that runtimes
/// refuse code that is not the code the metadata was written for.
pub fn text_checksum(text: &[u8]) -> u32 {
    crc32(0, text)
}

/// The blob's checksum: CRC-32 with the checksum field as zero.
fn checksum(blob: &[u8]) -> u32 {
    let c = crc32(0, &blob[..hdr::CHECKSUM]);
    let c = crc32(c, &[0; 4]);
    crc32(c, &blob[hdr::CHECKSUM + 4..])
}

fn rd32(b: &[u8], at: usize) -> u32 {
    let mut i = at;
    u32::get(b, &mut i)
}

/// The parts a writer assembles into a blob.
#[derive(Clone, Copy, Debug)]
pub struct MetaParts<'a> {
    pub arch: Arch,
    pub flags: u32,
    pub text_len: u32,
    pub start_func: u32,
    pub entry_export: u32,
    /// [`text_checksum`] of the `.text` the metadata describes.
    pub text_crc: u32,
    /// The [`super::cpu`] extensions the code uses.
    pub cpu: u32,
    pub types: &'a [TypeRec],
    pub imports: &'a [ImportRec],
    pub funcs: &'a [FuncRec],
    pub tables: &'a [TableRec],
    pub memory: &'a [MemRec],
    pub globals: &'a [GlobalRec],
    pub exports: &'a [ExportRec],
    pub elems: &'a [ElemRec],
    pub datas: &'a [DataRec],
    pub maps: &'a [MapRec],
    pub pool: &'a [u8],
}

impl MetaParts<'_> {
    fn counts(&self) -> [usize; SECTION_COUNT] {
        [
            self.types.len(),
            self.imports.len(),
            self.funcs.len(),
            self.tables.len(),
            self.memory.len(),
            self.globals.len(),
            self.exports.len(),
            self.elems.len(),
            self.datas.len(),
            self.maps.len(),
            self.pool.len(),
        ]
    }

    /// Length of the encoded blob.
    pub fn encoded_len(&self) -> usize {
        let c = self.counts();
        HEADER_SIZE
            + SECTIONS
                .iter()
                .map(|s| c[*s as usize] * s.record_size())
                .sum::<usize>()
    }

    /// Encode into `out`, which must be exactly [`Self::encoded_len`] bytes.
    /// The writer does not validate; run [`Meta::parse`] on the result.
    pub fn write(&self, out: &mut [u8]) -> Result<(), MetaError> {
        let need = self.encoded_len();
        if out.len() != need || need > u32::MAX as usize {
            return Err(MetaError::BufferSize {
                need,
                have: out.len(),
            });
        }
        let counts = self.counts();
        let mut at = 0;
        MAGIC.put(out, &mut at);
        FORMAT_VERSION.put(out, &mut at);
        (self.arch as u32).put(out, &mut at);
        self.flags.put(out, &mut at);
        (need as u32).put(out, &mut at);
        0u32.put(out, &mut at);
        self.text_len.put(out, &mut at);
        self.start_func.put(out, &mut at);
        self.entry_export.put(out, &mut at);
        self.text_crc.put(out, &mut at);
        self.cpu.put(out, &mut at);
        let mut off = HEADER_SIZE;
        for s in SECTIONS {
            (off as u32).put(out, &mut at);
            (counts[s as usize] as u32).put(out, &mut at);
            off += counts[s as usize] * s.record_size();
        }
        fn put_all<R: Record>(recs: &[R], out: &mut [u8], at: &mut usize) {
            for r in recs {
                r.write(&mut out[*at..*at + R::SIZE]);
                *at += R::SIZE;
            }
        }
        put_all(self.types, out, &mut at);
        put_all(self.imports, out, &mut at);
        put_all(self.funcs, out, &mut at);
        put_all(self.tables, out, &mut at);
        put_all(self.memory, out, &mut at);
        put_all(self.globals, out, &mut at);
        put_all(self.exports, out, &mut at);
        put_all(self.elems, out, &mut at);
        put_all(self.datas, out, &mut at);
        put_all(self.maps, out, &mut at);
        out[at..at + self.pool.len()].copy_from_slice(self.pool);
        let sum = checksum(out);
        out[hdr::CHECKSUM..hdr::CHECKSUM + 4].copy_from_slice(&sum.to_le_bytes());
        Ok(())
    }
}

/// A typed view of one section's records.
#[derive(Clone, Copy)]
pub struct Records<'a, R> {
    bytes: &'a [u8],
    _r: PhantomData<R>,
}

impl<'a, R: Record + 'a> Records<'a, R> {
    pub fn len(&self) -> u32 {
        (self.bytes.len() / R::SIZE) as u32
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub fn get(&self, i: u32) -> Option<R> {
        let at = (i as usize).checked_mul(R::SIZE)?;
        self.bytes.get(at..at + R::SIZE).map(R::read)
    }

    pub fn iter(&self) -> impl Iterator<Item = R> + 'a {
        self.bytes.chunks_exact(R::SIZE).map(R::read)
    }
}

/// A validated metadata blob.
#[derive(Clone, Copy)]
pub struct Meta<'a> {
    blob: &'a [u8],
    pub arch: Arch,
    pub flags: u32,
    pub text_len: u32,
    pub start_func: u32,
    pub entry_export: u32,
    /// CRC-32 of `.text`; runtimes compare it with the code they map.
    pub text_crc: u32,
    /// The [`super::cpu`] extensions the code uses: a runtime must not run
    /// it on a CPU that lacks one ([`super::cpu::first_missing`]).
    pub cpu: u32,
    sections: [(u32, u32); SECTION_COUNT],
    /// Index of the first import of each kind (`kind_start[4]` = all).
    kind_start: [u32; 5],
}

impl<'a> Meta<'a> {
    /// Parse and fully validate a blob.
    pub fn parse(blob: &'a [u8]) -> Result<Meta<'a>, MetaError> {
        if blob.len() < HEADER_SIZE {
            return Err(MetaError::Truncated {
                need: HEADER_SIZE,
                have: blob.len(),
            });
        }
        let mut at = 0;
        if u64::get(blob, &mut at) != MAGIC {
            return Err(MetaError::BadMagic);
        }
        let version = rd32(blob, hdr::VERSION);
        if version != FORMAT_VERSION {
            return Err(MetaError::UnsupportedVersion(version));
        }
        let total = rd32(blob, hdr::TOTAL_LEN);
        if (total as usize) > blob.len() {
            return Err(MetaError::Truncated {
                need: total as usize,
                have: blob.len(),
            });
        }
        if total as usize != blob.len() {
            return Err(MetaError::LengthMismatch {
                header: total,
                actual: blob.len(),
            });
        }
        let stored = rd32(blob, hdr::CHECKSUM);
        let computed = checksum(blob);
        if stored != computed {
            return Err(MetaError::ChecksumMismatch { stored, computed });
        }
        let arch_raw = rd32(blob, hdr::ARCH);
        let arch = Arch::from_u32(arch_raw).ok_or(MetaError::UnknownArch(arch_raw))?;
        let flags = rd32(blob, hdr::FLAGS);
        if flags & !KNOWN_FLAGS != 0 {
            return Err(MetaError::UnknownFlags(flags));
        }
        let cpu = rd32(blob, hdr::CPU);
        super::cpu::check(cpu, arch).map_err(|_| MetaError::UnknownCpuExtensions(cpu))?;
        let mut sections = [(0u32, 0u32); SECTION_COUNT];
        let mut prev_end = HEADER_SIZE as u64;
        for s in SECTIONS {
            let base = hdr::SECTIONS + 8 * s as usize;
            let (off, count) = (rd32(blob, base), rd32(blob, base + 4));
            if s != SectionId::Pool && count > MAX_RECORDS {
                return Err(MetaError::TooManyRecords(s));
            }
            let end = off as u64 + count as u64 * s.record_size() as u64;
            if (off as usize) < HEADER_SIZE || end > blob.len() as u64 {
                return Err(MetaError::SectionOutOfBounds(s));
            }
            if (off as u64) < prev_end {
                return Err(MetaError::SectionOverlap(s));
            }
            prev_end = end;
            sections[s as usize] = (off, count);
        }
        let meta = Meta {
            blob,
            arch,
            flags,
            text_len: rd32(blob, hdr::TEXT_LEN),
            start_func: rd32(blob, hdr::START),
            entry_export: rd32(blob, hdr::ENTRY),
            text_crc: rd32(blob, hdr::TEXT_CRC),
            cpu,
            sections,
            kind_start: [0; 5],
        };
        let meta = meta.with_import_groups()?;
        meta.validate()?;
        Ok(meta)
    }

    /// The raw blob.
    pub fn bytes(&self) -> &'a [u8] {
        self.blob
    }

    pub fn uses_float(&self) -> bool {
        self.flags & FLAG_USES_FLOAT != 0
    }

    fn section<R: Record>(&self, s: SectionId) -> Records<'a, R> {
        let (off, count) = self.sections[s as usize];
        let start = off as usize;
        Records {
            bytes: &self.blob[start..start + count as usize * R::SIZE],
            _r: PhantomData,
        }
    }

    pub fn types(&self) -> Records<'a, TypeRec> {
        self.section(SectionId::Types)
    }
    pub fn imports(&self) -> Records<'a, ImportRec> {
        self.section(SectionId::Imports)
    }
    pub fn funcs(&self) -> Records<'a, FuncRec> {
        self.section(SectionId::Funcs)
    }
    pub fn tables(&self) -> Records<'a, TableRec> {
        self.section(SectionId::Tables)
    }
    pub fn memory(&self) -> Records<'a, MemRec> {
        self.section(SectionId::Memory)
    }
    pub fn globals(&self) -> Records<'a, GlobalRec> {
        self.section(SectionId::Globals)
    }
    pub fn exports(&self) -> Records<'a, ExportRec> {
        self.section(SectionId::Exports)
    }
    pub fn elems(&self) -> Records<'a, ElemRec> {
        self.section(SectionId::Elems)
    }
    pub fn datas(&self) -> Records<'a, DataRec> {
        self.section(SectionId::Datas)
    }
    pub fn maps(&self) -> Records<'a, MapRec> {
        self.section(SectionId::Maps)
    }

    /// The pool's bytes.
    pub fn pool(&self) -> &'a [u8] {
        let (off, len) = self.sections[SectionId::Pool as usize];
        &self.blob[off as usize..off as usize + len as usize]
    }

    /// Bytes of a pool range. Validated references are always in bounds;
    /// others yield `None`.
    pub fn pool_bytes(&self, r: PoolRef) -> Option<&'a [u8]> {
        let end = (r.off as usize).checked_add(r.len as usize)?;
        self.pool().get(r.off as usize..end)
    }

    /// A string from the pool (names are validated UTF-8).
    pub fn str(&self, r: PoolRef) -> &'a str {
        self.pool_bytes(r)
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or("")
    }

    /// Parameter types of a function type.
    pub fn params(&self, t: TypeRec) -> impl Iterator<Item = ValType> + 'a {
        let b = self
            .pool_bytes(PoolRef {
                off: t.sig,
                len: t.nparams as u32,
            })
            .unwrap_or(&[]);
        b.iter().filter_map(|&x| ValType::from_u8(x))
    }

    /// Result types of a function type.
    pub fn results(&self, t: TypeRec) -> impl Iterator<Item = ValType> + 'a {
        let r = PoolRef {
            off: t.sig + t.nparams as u32,
            len: t.nresults as u32,
        };
        let b = self.pool_bytes(r).unwrap_or(&[]);
        b.iter().filter_map(|&x| ValType::from_u8(x))
    }

    /// Function type `t`, printable as `(i32) -> (i32)`.
    pub fn sig(&self, t: TypeRec) -> MetaSig<'a> {
        MetaSig { meta: *self, t }
    }

    /// The bytes that encode type `t` (parameters then results); two types
    /// are equal exactly when these and `nparams` are.
    fn sig_key(&self, t: TypeRec) -> (u16, &'a [u8]) {
        let len = t.nparams as u32 + t.nresults as u32;
        let b = self.pool_bytes(PoolRef { off: t.sig, len }).unwrap_or(&[]);
        (t.nparams, b)
    }

    /// The counts that size this module's `VmCtx`.
    pub fn vmctx_counts(&self) -> VmCtxCounts {
        let imported = EntityCounts {
            funcs: self.imported(kind::FUNC),
            tables: self.imported(kind::TABLE),
            memories: self.imported(kind::MEMORY),
            globals: self.imported(kind::GLOBAL),
        };
        let defined = EntityCounts {
            funcs: self.funcs().len(),
            tables: self.tables().len(),
            memories: self.memory().len(),
            globals: self.globals().len(),
        };
        VmCtxCounts::new(self.types().len(), imported, defined)
    }

    /// Canonical type ids within this module: `ids[t]` is the lowest index
    /// of a type equal to `t`, so equal signatures get equal ids, as
    /// `call_indirect` requires. `order` is scratch space. Both slices
    /// must have `types().len()` entries (else `false`, nothing written).
    ///
    /// O(n log n) comparisons of signatures: sorting, not the pairwise
    /// search that a hostile blob with many types would make quadratic.
    pub fn canonical_type_ids(&self, ids: &mut [u32], order: &mut [u32]) -> bool {
        let types = self.types();
        let n = types.len() as usize;
        if ids.len() != n || order.len() != n {
            return false;
        }
        let key = |i: u32| types.get(i).map(|t| self.sig_key(t)).unwrap_or((0, &[]));
        for (i, o) in order.iter_mut().enumerate() {
            *o = i as u32;
        }
        // Equal signatures end up adjacent, lowest index first.
        order.sort_unstable_by(|&a, &b| key(a).cmp(&key(b)).then(a.cmp(&b)));
        let mut first = 0u32;
        for (k, &i) in order.iter().enumerate() {
            if k == 0 || key(order[k - 1]) != key(i) {
                first = i;
            }
            ids[i as usize] = first;
        }
        true
    }

    /// Items of an element segment.
    pub fn elem_items(&self, e: ElemRec) -> impl Iterator<Item = u32> + 'a {
        let b = self
            .pool_bytes(PoolRef {
                off: e.items,
                len: e.count.saturating_mul(4),
            })
            .unwrap_or(&[]);
        b.chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
    }

    /// Check that imports are grouped by kind and record where each group
    /// starts, so that the n-th import of a kind is found in constant time.
    fn with_import_groups(mut self) -> Result<Meta<'a>, MetaError> {
        let mut prev = kind::FUNC;
        for (i, imp) in self.imports().iter().enumerate() {
            let i = i as u32;
            if imp.kind > kind::GLOBAL {
                return Err(MetaError::InvalidKind {
                    section: SectionId::Imports,
                    index: i,
                    kind: imp.kind,
                });
            }
            if imp.kind < prev {
                return Err(MetaError::Unsorted {
                    section: SectionId::Imports,
                    index: i,
                });
            }
            for k in prev + 1..=imp.kind {
                self.kind_start[k as usize] = i;
            }
            prev = imp.kind;
        }
        let n = self.imports().len();
        for k in prev + 1..=4 {
            self.kind_start[k as usize] = n;
        }
        Ok(self)
    }

    /// Number of imports of a kind.
    pub fn imported(&self, k: u8) -> u32 {
        match k {
            kind::FUNC..=kind::GLOBAL => {
                self.kind_start[k as usize + 1] - self.kind_start[k as usize]
            }
            _ => 0,
        }
    }

    /// The `n`-th import of kind `k`.
    pub fn import_of_kind(&self, k: u8, n: u32) -> Option<ImportRec> {
        if n >= self.imported(k) {
            return None;
        }
        self.imports().get(self.kind_start[k as usize] + n)
    }

    /// Functions in the index space: imported, then defined.
    pub fn func_count(&self) -> u32 {
        self.imported(kind::FUNC) + self.funcs().len()
    }

    pub fn table_count(&self) -> u32 {
        self.imported(kind::TABLE) + self.tables().len()
    }

    pub fn global_count(&self) -> u32 {
        self.imported(kind::GLOBAL) + self.globals().len()
    }

    pub fn memory_count(&self) -> u32 {
        self.imported(kind::MEMORY) + self.memory().len()
    }

    /// Type index of function `f` (imported or defined).
    pub fn func_type(&self, f: u32) -> Option<u32> {
        let nimp = self.imported(kind::FUNC);
        if f < nimp {
            self.import_of_kind(kind::FUNC, f).map(|i| i.index)
        } else {
            self.funcs().get(f - nimp).map(|r| r.type_idx)
        }
    }

    /// Value type and mutability of global `g` (imported or defined).
    pub fn global_type(&self, g: u32) -> Option<(ValType, bool)> {
        let nimp = self.imported(kind::GLOBAL);
        let (ty, m) = if g < nimp {
            let i = self.import_of_kind(kind::GLOBAL, g)?;
            (i.ty, i.mutable)
        } else {
            let r = self.globals().get(g - nimp)?;
            (r.ty, r.mutable)
        };
        Some((ValType::from_u8(ty)?, m != 0))
    }

    /// Element type of table `t` (imported or defined).
    pub fn table_elem(&self, t: u32) -> Option<ValType> {
        let nimp = self.imported(kind::TABLE);
        let b = if t < nimp {
            self.import_of_kind(kind::TABLE, t)?.ty
        } else {
            self.tables().get(t - nimp)?.elem
        };
        ValType::from_u8(b)
    }

    /// Find an export by name (exports are sorted by name).
    pub fn export(&self, name: &str) -> Option<ExportRec> {
        let exports = self.exports();
        let (mut lo, mut hi) = (0, exports.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let e = exports.get(mid)?;
            match self.str(e.name).as_bytes().cmp(name.as_bytes()) {
                core::cmp::Ordering::Less => lo = mid + 1,
                core::cmp::Ordering::Greater => hi = mid,
                core::cmp::Ordering::Equal => return Some(e),
            }
        }
        None
    }

    /// Name of function `f` for messages: the defined function's name or the
    /// import's field name; empty when unknown.
    pub fn func_name(&self, f: u32) -> &'a str {
        let nimp = self.imported(kind::FUNC);
        if f < nimp {
            self.import_of_kind(kind::FUNC, f)
                .map(|i| self.str(i.name))
                .unwrap_or("")
        } else {
            self.funcs()
                .get(f - nimp)
                .map(|r| self.str(r.name))
                .unwrap_or("")
        }
    }

    fn validate(&self) -> Result<(), MetaError> {
        use MetaError::*;
        use SectionId as S;
        // Pool references may overlap, and a blob of n records that all
        // name the whole pool would cost n × pool bytes to check: quadratic.
        // Capping the bytes checked (names, signatures, element items) at a
        // multiple of the sections' size keeps validation linear, yet lets a
        // writer share short strings and signatures between records.
        let sections: u64 = SECTIONS
            .iter()
            .map(|&s| self.sections[s as usize].1 as u64 * s.record_size() as u64)
            .sum();
        let budget = core::cell::Cell::new(sections * POOL_REUSE);
        let spend = |section, index, bytes: u32| match budget.get().checked_sub(bytes as u64) {
            Some(left) => {
                budget.set(left);
                Ok(())
            }
            None => Err(PoolOverlap { section, index }),
        };
        let pool_ok = |section, index, r: PoolRef| {
            self.pool_bytes(r)
                .map(|_| ())
                .ok_or(PoolOutOfBounds { section, index })
        };
        let name_ok = |section, index, r: PoolRef| -> Result<(), MetaError> {
            let b = self
                .pool_bytes(r)
                .ok_or(PoolOutOfBounds { section, index })?;
            spend(section, index, r.len)?;
            core::str::from_utf8(b)
                .map(|_| ())
                .map_err(|_| InvalidUtf8 { section, index })
        };
        let valtype = |section, index, b: u8| {
            ValType::from_u8(b).ok_or(InvalidValType {
                section,
                index,
                byte: b,
            })
        };
        let range = |section, index, value: u32, limit: u32| {
            if value < limit {
                Ok(())
            } else {
                Err(IndexOutOfRange {
                    section,
                    index,
                    value,
                })
            }
        };
        let limits = |section, index, min: u32, max: u32, cap: u32| {
            if min > cap || (max != NONE && (max < min || max > cap)) {
                Err(InvalidLimits { section, index })
            } else {
                Ok(())
            }
        };

        let ntypes = self.types().len();
        for (i, t) in self.types().iter().enumerate() {
            let i = i as u32;
            let len = t.nparams as u32 + t.nresults as u32;
            let sig = self
                .pool_bytes(PoolRef { off: t.sig, len })
                .ok_or(PoolOutOfBounds {
                    section: S::Types,
                    index: i,
                })?;
            spend(S::Types, i, len)?;
            for &b in sig {
                valtype(S::Types, i, b)?;
            }
            if t.trampoline != NONE && t.trampoline >= self.text_len {
                return Err(IndexOutOfRange {
                    section: S::Types,
                    index: i,
                    value: t.trampoline,
                });
            }
        }

        for (i, imp) in self.imports().iter().enumerate() {
            let i = i as u32;
            name_ok(S::Imports, i, imp.module)?;
            name_ok(S::Imports, i, imp.name)?;
            match imp.kind {
                kind::FUNC => range(S::Imports, i, imp.index, ntypes)?,
                kind::TABLE => {
                    if !valtype(S::Imports, i, imp.ty)?.is_ref() {
                        return Err(TypeMismatch {
                            section: S::Imports,
                            index: i,
                        });
                    }
                    limits(S::Imports, i, imp.min, imp.max, NONE)?;
                }
                kind::MEMORY => limits(
                    S::Imports,
                    i,
                    imp.min,
                    imp.max,
                    super::vmctx::MAX_WASM_PAGES,
                )?,
                kind::GLOBAL => {
                    valtype(S::Imports, i, imp.ty)?;
                    if imp.mutable > 1 {
                        return Err(InvalidKind {
                            section: S::Imports,
                            index: i,
                            kind: imp.mutable,
                        });
                    }
                }
                k => {
                    return Err(InvalidKind {
                        section: S::Imports,
                        index: i,
                        kind: k,
                    });
                }
            }
        }
        if self.memory_count() > 1 {
            return Err(TooManyMemories);
        }

        let mut text_end = 0u64;
        for (i, f) in self.funcs().iter().enumerate() {
            let i = i as u32;
            range(S::Funcs, i, f.type_idx, ntypes)?;
            name_ok(S::Funcs, i, f.name)?;
            let end = f.text_off as u64 + f.text_len as u64;
            if (f.text_off as u64) < text_end || end > self.text_len as u64 {
                return Err(TextOutOfBounds { index: i });
            }
            text_end = end;
        }
        let nfuncs = self.func_count();
        if nfuncs > MAX_RECORDS {
            return Err(TooManyRecords(S::Funcs));
        }

        for (i, t) in self.tables().iter().enumerate() {
            let i = i as u32;
            if !valtype(S::Tables, i, t.elem)?.is_ref() {
                return Err(TypeMismatch {
                    section: S::Tables,
                    index: i,
                });
            }
            limits(S::Tables, i, t.min, t.max, NONE)?;
        }
        for (i, m) in self.memory().iter().enumerate() {
            limits(
                S::Memory,
                i as u32,
                m.min,
                m.max,
                super::vmctx::MAX_WASM_PAGES,
            )?;
        }

        let nimp_globals = self.imported(kind::GLOBAL);
        for (i, g) in self.globals().iter().enumerate() {
            let idx = i as u32;
            let ty = valtype(S::Globals, idx, g.ty)?;
            if g.mutable > 1 {
                return Err(InvalidKind {
                    section: S::Globals,
                    index: idx,
                    kind: g.mutable,
                });
            }
            let ok = match g.init_kind {
                init::CONST => !ty.is_ref() || g.init == 0,
                init::GLOBAL_GET => {
                    // Only globals defined before this one, and immutable.
                    let src = u32::try_from(g.init).unwrap_or(NONE);
                    range(S::Globals, idx, src, nimp_globals + idx)?;
                    matches!(self.global_type(src), Some((t, false)) if t == ty)
                }
                init::REF_FUNC => {
                    let f = u32::try_from(g.init).unwrap_or(NONE);
                    range(S::Globals, idx, f, nfuncs)?;
                    ty == ValType::FuncRef
                }
                init::REF_NULL => ty.is_ref(),
                k => {
                    return Err(InvalidKind {
                        section: S::Globals,
                        index: idx,
                        kind: k,
                    });
                }
            };
            if !ok {
                return Err(TypeMismatch {
                    section: S::Globals,
                    index: idx,
                });
            }
        }

        let nglobals = self.global_count();
        let ntables = self.table_count();
        for (i, e) in self.exports().iter().enumerate() {
            let i = i as u32;
            name_ok(S::Exports, i, e.name)?;
            let limit = match e.kind {
                kind::FUNC => nfuncs,
                kind::TABLE => ntables,
                kind::MEMORY => self.memory_count(),
                kind::GLOBAL => nglobals,
                k => {
                    return Err(InvalidKind {
                        section: S::Exports,
                        index: i,
                        kind: k,
                    });
                }
            };
            range(S::Exports, i, e.index, limit)?;
            // Sorted by name, so duplicates are neighbours.
            if i > 0 {
                let prev = self
                    .exports()
                    .get(i - 1)
                    .map(|p| self.str(p.name))
                    .unwrap_or("");
                match prev.as_bytes().cmp(self.str(e.name).as_bytes()) {
                    core::cmp::Ordering::Less => {}
                    core::cmp::Ordering::Equal => return Err(DuplicateExport { index: i }),
                    core::cmp::Ordering::Greater => {
                        return Err(Unsorted {
                            section: S::Exports,
                            index: i,
                        });
                    }
                }
            }
        }
        if self.entry_export != NONE {
            // Runtimes call the entry as `filter(pkt_len: i32) -> i32`.
            let is_filter = |t: TypeRec| {
                t.nparams == 1
                    && t.nresults == 1
                    && self.params(t).eq([ValType::I32])
                    && self.results(t).eq([ValType::I32])
            };
            match self.exports().get(self.entry_export) {
                Some(e)
                    if e.kind == kind::FUNC
                        && self
                            .func_type(e.index)
                            .and_then(|t| self.types().get(t))
                            .is_some_and(is_filter) => {}
                _ => return Err(BadEntry(self.entry_export)),
            }
        }
        if self.start_func != NONE {
            // Runtimes call the start function with no argument or result
            // slots, so its type must be [] -> [] (as wasm requires).
            let void = self
                .func_type(self.start_func)
                .and_then(|t| self.types().get(t))
                .is_some_and(|t| t.nparams == 0 && t.nresults == 0);
            if !void {
                return Err(BadStart(self.start_func));
            }
        }

        let offset_ok = |section, index, kind: u8, value: u32| match kind {
            offset::CONST => Ok(()),
            offset::GLOBAL_GET => {
                range(section, index, value, nglobals)?;
                match self.global_type(value) {
                    Some((ValType::I32, _)) => Ok(()),
                    _ => Err(TypeMismatch { section, index }),
                }
            }
            k => Err(InvalidKind {
                section,
                index,
                kind: k,
            }),
        };
        for (i, e) in self.elems().iter().enumerate() {
            let i = i as u32;
            let elem = valtype(S::Elems, i, e.elem)?;
            if !elem.is_ref() {
                return Err(TypeMismatch {
                    section: S::Elems,
                    index: i,
                });
            }
            match e.mode {
                mode::ACTIVE => {
                    range(S::Elems, i, e.table, ntables)?;
                    offset_ok(S::Elems, i, e.offset_kind, e.offset)?;
                    if self.table_elem(e.table) != Some(elem) {
                        return Err(TypeMismatch {
                            section: S::Elems,
                            index: i,
                        });
                    }
                }
                mode::PASSIVE | mode::DECLARED => {}
                k => {
                    return Err(InvalidKind {
                        section: S::Elems,
                        index: i,
                        kind: k,
                    });
                }
            }
            let items = PoolRef {
                off: e.items,
                len: e.count.checked_mul(4).ok_or(PoolOutOfBounds {
                    section: S::Elems,
                    index: i,
                })?,
            };
            pool_ok(S::Elems, i, items)?;
            spend(S::Elems, i, items.len)?;
            for item in self.elem_items(e) {
                if item == ITEM_NULL {
                    continue;
                }
                if item & ITEM_GLOBAL != 0 {
                    let g = item & !ITEM_GLOBAL;
                    range(S::Elems, i, g, nglobals)?;
                    if self.global_type(g).map(|t| t.0) != Some(elem) {
                        return Err(TypeMismatch {
                            section: S::Elems,
                            index: i,
                        });
                    }
                } else {
                    range(S::Elems, i, item, nfuncs)?;
                    if elem != ValType::FuncRef {
                        return Err(TypeMismatch {
                            section: S::Elems,
                            index: i,
                        });
                    }
                }
            }
        }

        for (i, d) in self.datas().iter().enumerate() {
            let i = i as u32;
            match d.mode {
                mode::ACTIVE => {
                    if self.memory_count() == 0 {
                        return Err(IndexOutOfRange {
                            section: S::Datas,
                            index: i,
                            value: 0,
                        });
                    }
                    offset_ok(S::Datas, i, d.offset_kind, d.offset)?;
                }
                mode::PASSIVE => {}
                k => {
                    return Err(InvalidKind {
                        section: S::Datas,
                        index: i,
                        kind: k,
                    });
                }
            }
            pool_ok(S::Datas, i, d.bytes)?;
        }

        if self.maps().len() > super::host::MAX_MAPS {
            return Err(TooManyRecords(S::Maps));
        }
        for (i, m) in self.maps().iter().enumerate() {
            let ok = m.decl().is_some_and(|d| d.check(i as u32, true).is_ok());
            if !ok {
                return Err(InvalidLimits {
                    section: S::Maps,
                    index: i as u32,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;

    fn blob(imports: &[ImportRec], types: &[TypeRec], elems: &[ElemRec], pool: &[u8]) -> Vec<u8> {
        let parts = MetaParts {
            arch: Arch::X86_64,
            flags: 0,
            text_len: 0,
            start_func: NONE,
            entry_export: NONE,
            text_crc: 0,
            cpu: 0,
            types,
            imports,
            funcs: &[],
            tables: &[],
            memory: &[],
            globals: &[],
            exports: &[],
            elems,
            datas: &[],
            maps: &[],
            pool,
        };
        let mut out = vec![0; parts.encoded_len()];
        parts.write(&mut out).unwrap();
        out
    }

    fn global_import(module: PoolRef, name: PoolRef) -> ImportRec {
        ImportRec {
            kind: kind::GLOBAL,
            ty: ValType::I32 as u8,
            mutable: 0,
            pad: 0,
            module,
            name,
            index: 0,
            min: 0,
            max: NONE,
        }
    }

    /// Records that all name the whole pool made validation quadratic (a
    /// 1.5 MB blob of 16000 such imports took over a second to check); the
    /// bytes checked are now capped at `POOL_REUSE` times the sections'.
    #[test]
    fn overlapping_pool_references_are_rejected() {
        let pool = vec![b'a'; 4096];
        let whole = PoolRef { off: 0, len: 4096 };
        let empty = PoolRef { off: 0, len: 0 };

        // Sections: 64 × 36 + 4096 bytes, budget 4 × 6400; each import
        // spends 4096: the seventh is over.
        let imports = vec![global_import(whole, empty); 64];
        assert_eq!(
            Meta::parse(&blob(&imports, &[], &[], &pool)).err(),
            Some(MetaError::PoolOverlap {
                section: SectionId::Imports,
                index: 6
            })
        );

        let types = vec![
            TypeRec {
                sig: 0,
                nparams: 2048,
                nresults: 2048,
                trampoline: NONE,
            };
            64
        ];
        let sigs = vec![ValType::I64 as u8; 4096];
        assert_eq!(
            Meta::parse(&blob(&[], &types, &[], &sigs)).err(),
            Some(MetaError::PoolOverlap {
                section: SectionId::Types,
                index: 4
            })
        );

        let elems = vec![
            ElemRec {
                mode: mode::PASSIVE,
                elem: ValType::FuncRef as u8,
                offset_kind: 0,
                pad: 0,
                table: 0,
                offset: 0,
                items: 0,
                count: 1024,
            };
            64
        ];
        let nulls = vec![0xff; 4096];
        assert_eq!(
            Meta::parse(&blob(&[], &[], &elems, &nulls)).err(),
            Some(MetaError::PoolOverlap {
                section: SectionId::Elems,
                index: 5
            })
        );
    }

    /// What kwasmc writes, every reference with its own bytes, passes; so
    /// do records that share short strings or signatures.
    #[test]
    fn disjoint_or_modestly_shared_references_pass() {
        let pool = vec![b'a'; 4096];
        let imports: Vec<ImportRec> = (0..64)
            .map(|i| {
                let r = PoolRef {
                    off: i * 64,
                    len: 64,
                };
                global_import(r, PoolRef::default())
            })
            .collect();
        assert!(Meta::parse(&blob(&imports, &[], &[], &pool)).is_ok());
        // 4096 imports of one module, named by one 32-byte string.
        let module = PoolRef { off: 0, len: 32 };
        let shared = vec![global_import(module, module); 4096];
        assert!(Meta::parse(&blob(&shared, &[], &[], &pool[..32])).is_ok());
    }
}
