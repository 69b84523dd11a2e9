//! Which WebAssembly features kwasm accepts, and naming the one a rejected
//! module uses.
//!
//! Validation runs with exactly [`SUPPORTED`]. When that fails but the module
//! validates with every feature wasmparser knows, the module is fine
//! WebAssembly that needs something kwasm lacks; [`find_unsupported`] then
//! scans it to name that feature (and the function using it) so the user
//! gets "unsupported feature: SIMD" rather than a type error.

use wasmparser::{
    AbstractHeapType, BlockType, CompositeInnerType, ConstExpr, ElementItems, ElementKind,
    HeapType, MemoryType, Operator, Parser, Payload, RefType, TableInit, TableType, TypeRef,
    ValType, WasmFeatures,
};

use crate::error::CompileError;

/// MVP + sign-extension, saturating float-to-int, multi-value, bulk memory,
/// mutable globals and reference types. `FLOATS` is the MVP's floats and
/// `GC_TYPES` is wasmparser's gate for `externref` (no GC is involved).
pub const SUPPORTED: WasmFeatures = WasmFeatures::MUTABLE_GLOBAL
    .union(WasmFeatures::SATURATING_FLOAT_TO_INT)
    .union(WasmFeatures::SIGN_EXTENSION)
    .union(WasmFeatures::REFERENCE_TYPES)
    .union(WasmFeatures::MULTI_VALUE)
    .union(WasmFeatures::BULK_MEMORY)
    .union(WasmFeatures::FLOATS)
    .union(WasmFeatures::GC_TYPES);

/// Everything wasmparser can validate in a core module; used only to decide
/// whether a rejected module is valid WebAssembly beyond our subset.
pub fn everything() -> WasmFeatures {
    WasmFeatures::all()
}

/// Human-readable name of the proposal an operator belongs to, or `None`
/// when kwasm supports the operator's proposal.
pub fn operator_feature(op: &Operator<'_>) -> Option<&'static str> {
    macro_rules! proposal_of {
        ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*) )*) => {
            match op {
                $( Operator::$op { .. } => stringify!($proposal), )*
                _ => "unknown",
            }
        };
    }
    let proposal: &str = wasmparser::for_each_operator!(proposal_of);
    Some(match proposal {
        "mvp"
        | "sign_extension"
        | "saturating_float_to_int"
        | "bulk_memory"
        | "reference_types" => return None,
        "simd" => "SIMD",
        "relaxed_simd" => "relaxed SIMD",
        "threads" => "threads (atomic instructions)",
        "shared_everything_threads" => "shared-everything threads",
        "tail_call" => "tail calls",
        "exceptions" | "legacy_exceptions" => "exception handling",
        "gc" => "GC",
        "function_references" => "typed function references",
        "memory_control" => "memory control",
        "stack_switching" => "stack switching",
        "wide_arithmetic" => "wide arithmetic",
        "custom_descriptors" => "custom descriptors",
        _ => "an unknown proposal",
    })
}

/// What to change in the build when a toolchain turned on `feature` (a
/// name [`find_unsupported`] gives), or `None`.
pub fn toolchain_hint(feature: &str) -> Option<&'static str> {
    Some(match feature {
        "SIMD" | "relaxed SIMD" => {
            "build without SIMD: drop `-msimd128` (C, Zig) or the `simd128` target feature \
             (Rust: no `-C target-feature=+simd128`)"
        }
        "threads (atomic instructions)" | "threads (shared memory)" => {
            "kwasm programs are single-threaded: build without `-matomics`, `-pthread` and \
             `--shared-memory` (C, Zig), or the `atomics` target feature (Rust)"
        }
        "exception handling" => {
            "build without wasm exceptions: `-fno-exceptions` (C++), `panic = \"abort\"` (Rust)"
        }
        "tail calls" => {
            "build without `-mtail-call` (C, Zig) or the `tail-call` target feature (Rust)"
        }
        _ => return None,
    })
}

/// Whether an operator involves `f32`/`f64` (for the `uses_float` flag).
pub fn operator_uses_float(op: &Operator<'_>) -> bool {
    macro_rules! float_op {
        ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*) )*) => {
            match op {
                $( Operator::$op { .. } => {
                    const NAME: &str = stringify!($op);
                    contains(NAME, "F32") || contains(NAME, "F64")
                } )*
                _ => false,
            }
        };
    }
    let named = wasmparser::for_each_operator!(float_op);
    named
        || match op {
            Operator::TypedSelect { ty } => is_float(*ty),
            Operator::Block { blockty } | Operator::Loop { blockty } | Operator::If { blockty } => {
                matches!(blockty, BlockType::Type(t) if is_float(*t))
            }
            _ => false,
        }
}

const fn contains(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let mut i = 0;
    while i + n.len() <= h.len() {
        let mut j = 0;
        while j < n.len() && h[i + j] == n[j] {
            j += 1;
        }
        if j == n.len() {
            return true;
        }
        i += 1;
    }
    false
}

fn is_float(t: ValType) -> bool {
    matches!(t, ValType::F32 | ValType::F64)
}

/// Name of the feature a reference type needs, if unsupported.
fn ref_type_feature(r: RefType) -> Option<&'static str> {
    match r.heap_type() {
        HeapType::Abstract { shared: true, .. } => Some("shared-everything threads"),
        HeapType::Abstract { ty, .. } if r.is_nullable() => match ty {
            AbstractHeapType::Func | AbstractHeapType::Extern => None,
            AbstractHeapType::Exn | AbstractHeapType::NoExn => Some("exception handling"),
            AbstractHeapType::Cont | AbstractHeapType::NoCont => Some("stack switching"),
            _ => Some("GC"),
        },
        HeapType::Abstract { .. } => Some("typed function references (non-nullable references)"),
        HeapType::Concrete(_) | HeapType::Exact(_) => Some("typed function references"),
    }
}

fn val_type_feature(t: ValType) -> Option<&'static str> {
    match t {
        ValType::I32 | ValType::I64 | ValType::F32 | ValType::F64 => None,
        ValType::V128 => Some("SIMD"),
        ValType::Ref(r) => ref_type_feature(r),
    }
}

fn memory_feature(m: &MemoryType) -> Option<&'static str> {
    if m.memory64 {
        Some("memory64")
    } else if m.shared {
        Some("threads (shared memory)")
    } else if m.page_size_log2.is_some() {
        Some("custom page sizes")
    } else {
        None
    }
}

fn table_feature(t: &TableType) -> Option<&'static str> {
    if t.table64 {
        Some("memory64 (64-bit tables)")
    } else if t.shared {
        Some("shared-everything threads")
    } else {
        ref_type_feature(t.element_type)
    }
}

/// Feature needed by a constant expression, if unsupported. `nimported`
/// is the number of imported globals (MVP constant expressions may only
/// read those).
fn const_expr_feature(e: &ConstExpr<'_>, nimported_globals: u32) -> Option<&'static str> {
    let mut r = e.get_operators_reader();
    while let Ok(op) = r.read() {
        match op {
            Operator::I32Const { .. }
            | Operator::I64Const { .. }
            | Operator::F32Const { .. }
            | Operator::F64Const { .. }
            | Operator::RefFunc { .. }
            | Operator::End => {}
            Operator::RefNull { hty } => {
                if let Some(f) = ref_type_feature(RefType::new(true, hty)?) {
                    return Some(f);
                }
            }
            Operator::GlobalGet { global_index } if global_index < nimported_globals => {}
            Operator::GlobalGet { .. } => {
                return Some("GC (global.get of a module-defined global in a constant expression)");
            }
            Operator::I32Add
            | Operator::I32Sub
            | Operator::I32Mul
            | Operator::I64Add
            | Operator::I64Sub
            | Operator::I64Mul => return Some("extended constant expressions"),
            other => {
                return Some(operator_feature(&other).unwrap_or("extended constant expressions"));
            }
        }
    }
    None
}

/// Scan a module that validates with every feature for the first use of one
/// kwasm does not support. Returns the error to report, or `None` when
/// nothing unsupported was found (the caller then reports the validator's
/// own message).
pub fn find_unsupported(wasm: &[u8]) -> Option<CompileError> {
    let mut nimported_funcs = 0u32;
    let mut nimported_globals = 0u32;
    let mut memories = 0u32;
    let mut code_index = 0u32;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.ok()?;
        let err =
            |feature: &str, offset: usize| Some(CompileError::unsupported(feature).at(offset));
        match payload {
            Payload::Version {
                encoding, range, ..
            } if encoding != wasmparser::Encoding::Module => {
                return err("the component model", range.start);
            }
            Payload::TypeSection(s) => {
                for group in s.into_iter_with_offsets() {
                    let (offset, group) = group.ok()?;
                    if group.is_explicit_rec_group() {
                        return err("GC (recursive type groups)", offset);
                    }
                    for sub in group.types() {
                        if !sub.is_final || sub.supertype_idx.is_some() {
                            return err("GC (subtyping)", offset);
                        }
                        if sub.composite_type.shared {
                            return err("shared-everything threads", offset);
                        }
                        match &sub.composite_type.inner {
                            CompositeInnerType::Func(f) => {
                                for t in f.params().iter().chain(f.results()) {
                                    if let Some(feat) = val_type_feature(*t) {
                                        return err(feat, offset);
                                    }
                                }
                            }
                            CompositeInnerType::Array(_) | CompositeInnerType::Struct(_) => {
                                return err("GC (struct and array types)", offset);
                            }
                            CompositeInnerType::Cont(_) => return err("stack switching", offset),
                        }
                    }
                }
            }
            Payload::ImportSection(s) => {
                let offset = s.range().start;
                for imp in s.into_imports() {
                    let imp = imp.ok()?;
                    let feat = match imp.ty {
                        TypeRef::Func(_) | TypeRef::FuncExact(_) => {
                            nimported_funcs += 1;
                            None
                        }
                        TypeRef::Table(t) => table_feature(&t),
                        TypeRef::Memory(m) => {
                            memories += 1;
                            if memories > 1 {
                                Some("multiple memories")
                            } else {
                                memory_feature(&m)
                            }
                        }
                        TypeRef::Global(g) => {
                            nimported_globals += 1;
                            if g.shared {
                                Some("shared-everything threads")
                            } else {
                                val_type_feature(g.content_type)
                            }
                        }
                        TypeRef::Tag(_) => Some("exception handling"),
                    };
                    if let Some(feat) = feat {
                        return err(feat, offset);
                    }
                }
            }
            Payload::TableSection(s) => {
                for t in s.into_iter_with_offsets() {
                    let (offset, t) = t.ok()?;
                    if let Some(feat) = table_feature(&t.ty) {
                        return err(feat, offset);
                    }
                    if let TableInit::Expr(_) = t.init {
                        return err("typed function references (table initializer)", offset);
                    }
                }
            }
            Payload::MemorySection(s) => {
                for m in s.into_iter_with_offsets() {
                    let (offset, m) = m.ok()?;
                    memories += 1;
                    if memories > 1 {
                        return err("multiple memories", offset);
                    }
                    if let Some(feat) = memory_feature(&m) {
                        return err(feat, offset);
                    }
                }
            }
            Payload::TagSection(s) => return err("exception handling", s.range().start),
            Payload::GlobalSection(s) => {
                for g in s.into_iter_with_offsets() {
                    let (offset, g) = g.ok()?;
                    let feat = if g.ty.shared {
                        Some("shared-everything threads")
                    } else {
                        val_type_feature(g.ty.content_type)
                            .or_else(|| const_expr_feature(&g.init_expr, nimported_globals))
                    };
                    if let Some(feat) = feat {
                        return err(feat, offset);
                    }
                }
            }
            Payload::ExportSection(s) => {
                for e in s.into_iter_with_offsets() {
                    let (offset, e) = e.ok()?;
                    match e.kind {
                        wasmparser::ExternalKind::Tag => return err("exception handling", offset),
                        wasmparser::ExternalKind::FuncExact => {
                            return err("custom descriptors", offset);
                        }
                        _ => {}
                    }
                }
            }
            Payload::ElementSection(s) => {
                for e in s.into_iter_with_offsets() {
                    let (offset, e) = e.ok()?;
                    if let ElementKind::Active { offset_expr, .. } = &e.kind
                        && let Some(feat) = const_expr_feature(offset_expr, nimported_globals)
                    {
                        return err(feat, offset);
                    }
                    if let ElementItems::Expressions(ty, items) = e.items {
                        if let Some(feat) = ref_type_feature(ty) {
                            return err(feat, offset);
                        }
                        for item in items {
                            if let Some(feat) = const_expr_feature(&item.ok()?, nimported_globals) {
                                return err(feat, offset);
                            }
                        }
                    }
                }
            }
            Payload::DataSection(s) => {
                for d in s.into_iter_with_offsets() {
                    let (offset, d) = d.ok()?;
                    if let wasmparser::DataKind::Active {
                        memory_index,
                        offset_expr,
                    } = &d.kind
                    {
                        if *memory_index != 0 {
                            return err("multiple memories", offset);
                        }
                        if let Some(feat) = const_expr_feature(offset_expr, nimported_globals) {
                            return err(feat, offset);
                        }
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let func = nimported_funcs + code_index;
                code_index += 1;
                let in_func = |feat: &str, offset: usize| {
                    Some(
                        CompileError::unsupported(feat)
                            .at(offset)
                            .in_func(func, None),
                    )
                };
                let mut locals = body.get_locals_reader().ok()?;
                for _ in 0..locals.get_count() {
                    let offset = locals.original_position();
                    let (_, t) = locals.read().ok()?;
                    if let Some(feat) = val_type_feature(t) {
                        return in_func(feat, offset);
                    }
                }
                let mut ops = body.get_operators_reader().ok()?;
                while !ops.eof() {
                    let (op, offset) = ops.read_with_offset().ok()?;
                    if let Some(feat) = operator_feature(&op).or_else(|| special_feature(&op)) {
                        return in_func(feat, offset);
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// Unsupported uses of otherwise supported operators.
fn special_feature(op: &Operator<'_>) -> Option<&'static str> {
    macro_rules! memarg_of {
        ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*) )*) => {
            match op {
                $( Operator::$op $({ $($arg),* })? => {
                    $( $( if let Some(m) = memarg_field!($arg, $arg) { return Some(m); } )* )?
                    None
                } )*
                _ => None,
            }
        };
    }
    macro_rules! memarg_field {
        (memarg, $v:ident) => {
            (($v.memory != 0).then_some("multiple memories"))
        };
        (mem, $v:ident) => {
            ((*$v != 0).then_some("multiple memories"))
        };
        (dst_mem, $v:ident) => {
            ((*$v != 0).then_some("multiple memories"))
        };
        (src_mem, $v:ident) => {
            ((*$v != 0).then_some("multiple memories"))
        };
        (blockty, $v:ident) => {
            match $v {
                BlockType::Type(t) => val_type_feature(*t),
                _ => None,
            }
        };
        (hty, $v:ident) => {
            RefType::new(true, *$v).and_then(ref_type_feature)
        };
        ($other:ident, $v:ident) => {{
            let _ = $v;
            None::<&'static str>
        }};
    }
    if let Operator::TypedSelect { ty } = op {
        return val_type_feature(*ty);
    }
    wasmparser::for_each_operator!(memarg_of)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(wat: &str) -> Option<String> {
        let wasm = wat::parse_str(wat).unwrap();
        find_unsupported(&wasm).map(|e| e.message)
    }

    #[test]
    fn names_features() {
        assert_eq!(
            scan("(module (func (drop (v128.const i64x2 0 0))))").as_deref(),
            Some("SIMD")
        );
        assert_eq!(scan("(module (memory i64 1))").as_deref(), Some("memory64"));
        assert_eq!(
            scan("(module (func return_call 0))").as_deref(),
            Some("tail calls")
        );
        assert_eq!(
            scan("(module (memory 1) (memory 1))").as_deref(),
            Some("multiple memories")
        );
        assert_eq!(
            scan("(module (global i32 (i32.add (i32.const 1) (i32.const 2))))").as_deref(),
            Some("extended constant expressions")
        );
        assert_eq!(scan("(module (func (nop)))"), None);
    }

    #[test]
    fn float_ops_are_detected() {
        assert!(operator_uses_float(&Operator::F32Add));
        assert!(operator_uses_float(&Operator::I32TruncSatF64U));
        assert!(operator_uses_float(&Operator::I64ReinterpretF64));
        assert!(!operator_uses_float(&Operator::I32Add));
        assert!(!operator_uses_float(&Operator::I64Extend32S));
    }
}
