//! Pieces of the WebAssembly spec-test harness shared by the userspace
//! harness (`tools/tests/spec.rs`) and `kwasm-tools spec-kernel`, which
//! runs the same assertions through `INVOKE` in the kernel: reading a
//! `.wast`, finding the module a command names, argument conversion, the
//! exact result comparison (NaN patterns included) and the counts.

use kwasm_runtime::{TrapCode, Val};
use std::collections::HashMap;
use std::ops::AddAssign;
use wast::core::{NanPattern, WastArgCore, WastRetCore};
use wast::parser::ParseBuffer;
use wast::token::Id;
use wast::{WastArg, WastRet};

/// Commands passed, failed and skipped.
#[derive(Default, Clone, Copy, Debug)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl AddAssign for Counts {
    fn add_assign(&mut self, o: Counts) {
        self.passed += o.passed;
        self.failed += o.failed;
        self.skipped += o.skipped;
    }
}

/// The lexed text of a `.wast` file, ready for `wast::parser::parse`.
/// Confusing Unicode is allowed: `names.wast` deliberately uses bidi
/// controls in names.
pub fn wast_buffer(text: &str) -> wast::parser::Result<ParseBuffer<'_>> {
    let mut lexer = wast::lexer::Lexer::new(text);
    lexer.allow_confusing_unicode(true);
    ParseBuffer::new_with_lexer(lexer)
}

/// The module a command refers to: `$id`, or the current module.
pub fn module_slot<S: Clone>(
    named: &HashMap<String, S>,
    current: Option<&S>,
    id: Option<Id<'_>>,
) -> Result<S, String> {
    match id {
        Some(id) => named
            .get(id.name())
            .cloned()
            .ok_or_else(|| format!("no module named ${}", id.name())),
        None => current.cloned().ok_or_else(|| "no current module".into()),
    }
}

/// An `assert_return`'s verdict on the results `got`: `None` when an
/// expected result is not a core value (this harness cannot check it),
/// else success or `expected [...], got [...]`.
pub fn check_results(expected: &[WastRet<'_>], got: &[Val]) -> Option<Result<(), String>> {
    let mut core = Vec::new();
    for r in expected {
        match r {
            WastRet::Core(c) => core.push(c),
            #[allow(unreachable_patterns)]
            _ => return None,
        }
    }
    let ok = got.len() == core.len()
        && got
            .iter()
            .zip(&core)
            .all(|(v, r)| ret_matches(r, v) == Some(true));
    if ok {
        return Some(Ok(()));
    }
    let exp: Vec<String> = core.iter().map(|r| fmt_ret(r)).collect();
    Some(Err(format!(
        "expected [{}], got {}",
        exp.join(", "),
        fmt_vals(got)
    )))
}

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
