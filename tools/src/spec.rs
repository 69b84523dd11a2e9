//! Pieces of the WebAssembly spec-test harness shared by the userspace
//! harness (`tools/tests/spec.rs`) and `kwasm-tools spec-kernel`, which
//! runs the same assertions through `INVOKE` in the kernel: argument
//! conversion and the exact result comparison (NaN patterns included).

use kwasm_runtime::{TrapCode, Val};
use wast::WastArg;
use wast::core::{NanPattern, WastArgCore, WastRetCore};

/// Does our trap match the suite's expected message?
pub fn trap_matches(code: TrapCode, expected: &str) -> bool {
    let ours = code.message();
    if expected.starts_with(ours) || ours.contains(expected) {
        return true;
    }
    matches!(
        (code, expected),
        (TrapCode::StackOverflow, "call stack exhausted")
    )
}

pub fn arg_val(a: &WastArg<'_>) -> Option<Val> {
    Some(match a {
        WastArg::Core(WastArgCore::I32(v)) => Val::I32(*v),
        WastArg::Core(WastArgCore::I64(v)) => Val::I64(*v),
        WastArg::Core(WastArgCore::F32(v)) => Val::F32(v.bits),
        WastArg::Core(WastArgCore::F64(v)) => Val::F64(v.bits),
        WastArg::Core(WastArgCore::RefNull(wast::core::HeapType::Abstract { ty, .. })) => {
            match ty {
                wast::core::AbstractHeapType::Func | wast::core::AbstractHeapType::NoFunc => {
                    Val::FuncRef(None)
                }
                _ => Val::ExternRef(None),
            }
        }
        WastArg::Core(WastArgCore::RefExtern(n)) => Val::ExternRef(Some(*n as u64)),
        _ => return None,
    })
}

pub fn f32_matches(p: &NanPattern<wast::token::F32>, bits: u32) -> bool {
    match p {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff == 0x7fc0_0000,
        NanPattern::ArithmeticNan => bits & 0x7fc0_0000 == 0x7fc0_0000,
        NanPattern::Value(v) => v.bits == bits,
    }
}

pub fn f64_matches(p: &NanPattern<wast::token::F64>, bits: u64) -> bool {
    match p {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
        NanPattern::ArithmeticNan => bits & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000,
        NanPattern::Value(v) => v.bits == bits,
    }
}

/// `Some(true/false)` when we can check the pattern, `None` for patterns of
/// unsupported proposals.
pub fn ret_matches(r: &WastRetCore<'_>, v: &Val) -> Option<bool> {
    Some(match (r, v) {
        (WastRetCore::I32(e), Val::I32(a)) => e == a,
        (WastRetCore::I64(e), Val::I64(a)) => e == a,
        (WastRetCore::F32(p), Val::F32(a)) => f32_matches(p, *a),
        (WastRetCore::F64(p), Val::F64(a)) => f64_matches(p, *a),
        (WastRetCore::RefNull(_), Val::FuncRef(r)) => r.is_none(),
        (WastRetCore::RefNull(_), Val::ExternRef(r)) => r.is_none(),
        (WastRetCore::RefExtern(None), Val::ExternRef(r)) => r.is_some(),
        (WastRetCore::RefExtern(Some(n)), Val::ExternRef(r)) => *r == Some(*n as u64),
        (WastRetCore::RefFunc(_), Val::FuncRef(r)) => r.is_some(),
        (WastRetCore::Either(alts), v) => {
            let mut any = false;
            for a in alts {
                any |= ret_matches(a, v)?;
            }
            any
        }
        (WastRetCore::V128(_), _)
        | (WastRetCore::RefHost(_), _)
        | (WastRetCore::RefAny, _)
        | (WastRetCore::RefEq, _)
        | (WastRetCore::RefArray, _)
        | (WastRetCore::RefStruct, _)
        | (WastRetCore::RefI31, _)
        | (WastRetCore::RefI31Shared, _) => return None,
        _ => false,
    })
}

pub fn fmt_ret(r: &WastRetCore<'_>) -> String {
    match r {
        WastRetCore::I32(v) => format!("i32:{v}"),
        WastRetCore::I64(v) => format!("i64:{v}"),
        WastRetCore::F32(NanPattern::Value(v)) => format!("f32:{}", Val::F32(v.bits)),
        WastRetCore::F64(NanPattern::Value(v)) => format!("f64:{}", Val::F64(v.bits)),
        WastRetCore::F32(NanPattern::CanonicalNan) | WastRetCore::F64(NanPattern::CanonicalNan) => {
            "nan:canonical".into()
        }
        WastRetCore::F32(NanPattern::ArithmeticNan)
        | WastRetCore::F64(NanPattern::ArithmeticNan) => "nan:arithmetic".into(),
        other => format!("{other:?}"),
    }
}

pub fn fmt_vals(v: &[Val]) -> String {
    let parts: Vec<String> = v.iter().map(|v| format!("{}:{v}", v.ty().name())).collect();
    format!("[{}]", parts.join(", "))
}
