//! Validation with wasmparser, and classification of what went wrong.
//!
//! The translator trusts its input completely (it indexes types, locals and
//! the operand stack without checks), so every module goes through the
//! validator with exactly [`SUPPORTED`] first. When validation fails the
//! error is classified:
//! - *malformed*: the binary does not decode (the parser failed, a function
//!   body does not decode on its own, or wasmparser's message is one the spec
//!   calls malformed, such as a missing data count section);
//! - *unsupported*: the module validates with every feature wasmparser
//!   knows, so it is valid WebAssembly that needs a feature kwasm lacks;
//!   [`find_unsupported`] names it;
//! - *invalid*: everything else.

use wasmparser::{FuncValidatorAllocations, Parser, ValidPayload, Validator, WasmFeatures};

use crate::error::{CompileError, ErrorKind};
use crate::features::{SUPPORTED, everything, find_unsupported};

/// Validate `wasm` for kwasm.
pub fn validate(wasm: &[u8]) -> Result<(), CompileError> {
    classified(wasm).map_err(|mut e| {
        if let Some(f) = e.func.as_mut().filter(|f| f.name.is_none()) {
            f.name = crate::module_env::function_name(wasm, f.index);
        }
        e
    })
}

fn classified(wasm: &[u8]) -> Result<(), CompileError> {
    let err = match validate_with(wasm, SUPPORTED) {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    match validate_with(wasm, everything()) {
        Ok(()) => Err(find_unsupported(wasm).unwrap_or_else(|| {
            let mut e = err.clone();
            e.kind = ErrorKind::Unsupported;
            e
        })),
        // Some encodings only decode with a feature enabled (e.g. memarg
        // flags of multi-memory): when the full feature set turns a decoding
        // error into a validation error, the module is invalid, not
        // malformed, whatever our subset thinks.
        Err(broad) if err.kind == ErrorKind::Malformed && broad.kind == ErrorKind::Invalid => {
            Err(broad)
        }
        Err(_) if err.kind == ErrorKind::Malformed => Err(err),
        // Malformed whatever the features: say so, rather than naming a
        // feature our subset tripped over first.
        Err(broad) if broad.kind == ErrorKind::Malformed => Err(broad),
        Err(_) => match feature_from_message(&err.message) {
            Some(feature) => {
                let mut e = err;
                e.kind = ErrorKind::Unsupported;
                e.message = feature;
                Err(e)
            }
            None => Err(err),
        },
    }
}

/// Turn wasmparser's "X support is not enabled" style messages into a
/// feature name.
fn feature_from_message(msg: &str) -> Option<String> {
    for suffix in [
        " support is not enabled",
        " proposal not enabled",
        " must be enabled",
    ] {
        if let Some(i) = msg.find(suffix) {
            let head = &msg[..i];
            let name = head.rsplit(": ").next().unwrap_or(head).trim();
            if !name.is_empty() {
                return Some(name.to_string());
            }
        }
    }
    for (needle, name) in [
        ("memory64 must be enabled", "memory64"),
        ("multiple memories", "multiple memories"),
        (
            "requires the shared-everything-threads",
            "shared-everything threads",
        ),
        ("without the gc feature", "GC"),
        ("which requires gc", "GC"),
        ("function references required", "typed function references"),
        (
            "without the exception handling feature",
            "exception handling",
        ),
        ("floating-point support is disabled", "floating point"),
    ] {
        if msg.contains(needle) {
            return Some(name.to_string());
        }
    }
    None
}

/// Messages wasmparser's validator produces for problems the spec classifies
/// as malformed (`assert_malformed`) rather than invalid.
const MALFORMED_MESSAGES: &[&str] = &[
    "malformed",
    "unexpected end",
    "data count section required",
    "inconsistent",
    "out of order",
    "too many locals",
    "zero byte expected",
    "illegal opcode",
    "integer too large",
    "integer representation too long",
    "invalid leb128",
    "unknown binary version",
    "magic header",
    "END opcode expected",
    "section size mismatch",
    "section too large",
    "invalid section size",
    "unexpected content after last section",
    "length out of bounds",
    "invalid utf-8",
    "UTF-8",
    "function body must end",
    "leading byte",
    "limits flags",
    "invalid var_",
];

fn classify(e: &wasmparser::Error) -> ErrorKind {
    let msg = e.message();
    if MALFORMED_MESSAGES.iter().any(|m| msg.contains(m)) {
        ErrorKind::Malformed
    } else {
        ErrorKind::Invalid
    }
}

fn convert(e: &wasmparser::Error, kind: ErrorKind) -> CompileError {
    CompileError::new(kind, e.message()).at(e.offset())
}

/// Validate with a given feature set, classifying malformed vs invalid.
pub fn validate_with(wasm: &[u8], features: WasmFeatures) -> Result<(), CompileError> {
    let mut validator = Validator::new_with_features(features);
    let mut allocs = FuncValidatorAllocations::default();
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|e| convert(&e, ErrorKind::Malformed))?;
        match validator
            .payload(&payload)
            .map_err(|e| convert(&e, classify(&e)))?
        {
            ValidPayload::Func(to_validate, body) => {
                let mut v = to_validate.into_validator(std::mem::take(&mut allocs));
                if let Err(e) = v.validate(&body) {
                    let kind = if body_decodes(&body) {
                        classify(&e)
                    } else {
                        ErrorKind::Malformed
                    };
                    let name = crate::module_env::function_name(wasm, v.index());
                    return Err(convert(&e, kind).in_func(v.index(), name.as_deref()));
                }
                allocs = v.into_allocations();
            }
            ValidPayload::Parser(_) => {
                return Err(CompileError::unsupported("nested modules or components")
                    .at(payload_offset(&payload)));
            }
            ValidPayload::Ok | ValidPayload::End(_) => {}
        }
    }
    Ok(())
}

fn payload_offset(p: &wasmparser::Payload<'_>) -> usize {
    p.as_section().map(|(_, r)| r.start).unwrap_or(0)
}

/// Whether a function body decodes on its own (locals and operators),
/// ignoring validity. A body that does not decode is malformed.
fn body_decodes(body: &wasmparser::FunctionBody<'_>) -> bool {
    let Ok(mut locals) = body.get_locals_reader() else {
        return false;
    };
    for _ in 0..locals.get_count() {
        if locals.read().is_err() {
            return false;
        }
    }
    let Ok(mut ops) = body.get_operators_reader() else {
        return false;
    };
    while !ops.eof() {
        if ops.read().is_err() {
            return false;
        }
    }
    ops.finish().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(wat: &str) -> Result<(), CompileError> {
        validate(&wat::parse_str(wat).unwrap())
    }

    #[test]
    fn accepts_supported_features() {
        check(
            r#"(module
                (table 1 funcref) (table 1 externref)
                (memory 1)
                (global (mut i32) (i32.const 0))
                (func (param i32) (result i32 i32)
                    local.get 0 i32.extend8_s
                    f32.const 1 i32.trunc_sat_f32_s
                    (memory.fill (i32.const 0) (i32.const 0) (i32.const 0))
                    (drop (table.get 1 (i32.const 0)))
                    (drop (ref.is_null (ref.null func)))))"#,
        )
        .unwrap();
    }

    #[test]
    fn classifies_errors() {
        let e = check("(module (func (result i32) (i64.const 0)))").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Invalid);
        assert_eq!(e.func.as_ref().map(|f| f.index), Some(0));
        let e = check("(module (func (drop (i32x4.splat (i32.const 0)))))").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert_eq!(e.message, "SIMD");
        assert_eq!(e.func.as_ref().map(|f| f.index), Some(0));
        let e = check("(module (memory 1 2 shared))").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        let e = validate(b"\0asm\x01\0\0\0\x01\x05").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Malformed);
    }
}
