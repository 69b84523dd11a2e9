//! Floating-point operations that need more than one Cranelift instruction
//! to get exact WebAssembly semantics without faulting or calling out.
//!
//! - Trapping float->int conversions: Cranelift's `fcvt_to_sint` traps with
//!   a hardware-style trap site, which we must not have. We check NaN and
//!   the exact range explicitly (branching to the trap blocks) and then use
//!   the saturating conversion, which never faults.
//! - `ceil`/`floor`/`trunc`/`nearest`: Cranelift x64 calls libm for these
//!   unless SSE4.1 is available, and a libcall would be an external
//!   relocation. Without SSE4.1 (the baseline, unless `--cpu` names it)
//!   they are computed inline with the classic "add and subtract
//!   2^mantissa" trick, which rounds to nearest-even exactly for
//!   |x| < 2^mantissa (larger values are already integers).

use cranelift_codegen::ir::{
    InstBuilder, Type, Value,
    condcodes::FloatCC,
    types::{F32, F64, I32, I64},
};
use cranelift_frontend::FunctionBuilder;
use kwasm_abi::trap::TrapCode;

use crate::traps::TrapBlocks;

/// The four rounding operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Round {
    Ceil,
    Floor,
    Trunc,
    Nearest,
}

fn fconst(b: &mut FunctionBuilder<'_>, ty: Type, v: f64) -> Value {
    if ty == F32 {
        b.ins().f32const(v as f32)
    } else {
        b.ins().f64const(v)
    }
}

/// Round `x` (f32 or f64). `native` uses Cranelift's instruction (aarch64
/// has `frint*`); otherwise an exact inline sequence.
pub fn round(b: &mut FunctionBuilder<'_>, op: Round, x: Value, native: bool) -> Value {
    if native {
        return match op {
            Round::Ceil => b.ins().ceil(x),
            Round::Floor => b.ins().floor(x),
            Round::Trunc => b.ins().trunc(x),
            Round::Nearest => b.ins().nearest(x),
        };
    }
    let ty = b.func.dfg.value_type(x);
    // 2^23 for f32, 2^52 for f64: from there on every value is an integer.
    let magic = fconst(
        b,
        ty,
        if ty == F32 {
            8388608.0
        } else {
            4503599627370496.0
        },
    );
    let one = fconst(b, ty, 1.0);
    let zero = fconst(b, ty, 0.0);
    let a = b.ins().fabs(x);
    // Round |x| to nearest, ties to even (the FPU's default mode).
    let big = b.ins().fadd(a, magic);
    let r = b.ins().fsub(big, magic);
    let small = match op {
        Round::Nearest => r,
        _ => {
            // trunc(|x|) and ceil(|x|) from the nearest integer.
            let r_minus = b.ins().fsub(r, one);
            let over = b.ins().fcmp(FloatCC::GreaterThan, r, a);
            let t = b.ins().select(over, r_minus, r);
            let r_plus = b.ins().fadd(r, one);
            let under = b.ins().fcmp(FloatCC::LessThan, r, a);
            let c = b.ins().select(under, r_plus, r);
            match op {
                Round::Trunc => t,
                _ => {
                    // floor(x) = -ceil(|x|) for negative x, trunc(|x|)
                    // otherwise; ceil the other way round.
                    let neg = b.ins().fcmp(FloatCC::LessThan, x, zero);
                    if op == Round::Floor {
                        b.ins().select(neg, c, t)
                    } else {
                        b.ins().select(neg, t, c)
                    }
                }
            }
        }
    };
    // Give the result x's sign (so -0.5 -> -0.0).
    let small = b.ins().fcopysign(small, x);
    // |x| >= 2^p is already integral; NaN must come back quiet: x + 0.0 does
    // both (x is never -0.0 on this path).
    let passthrough = b.ins().fadd(x, zero);
    let is_small = b.ins().fcmp(FloatCC::LessThan, a, magic);
    b.ins().select(is_small, small, passthrough)
}

/// Exclusive bounds `(lo, hi)` of the values a trapping truncation accepts.
/// These are the exact WebAssembly limits, all representable in `from`.
pub fn trunc_bounds(from: Type, to: Type, signed: bool) -> (f64, f64) {
    match (from, to, signed) {
        // -2^31 - 256 is the f32 just below -2^31.
        (F32, I32, true) => (-2147483904.0, 2147483648.0),
        (F64, I32, true) => (-2147483649.0, 2147483648.0),
        (_, I32, false) => (-1.0, 4294967296.0),
        // -2^63 - 2^40 is the f32 just below -2^63.
        (F32, I64, true) => (-9223373136366403584.0, 9223372036854775808.0),
        // -2^63 - 2^11 is the f64 just below -2^63.
        (F64, I64, true) => (-9223372036854777856.0, 9223372036854775808.0),
        (_, _, false) => (-1.0, 18446744073709551616.0),
        _ => (-1.0, 18446744073709551616.0),
    }
}

/// `iNN.trunc_fMM_{s,u}`: trap on NaN (`BadConversionToInteger`) and out of
/// range (`IntegerOverflow`), then convert with the non-faulting saturating
/// instruction.
pub fn trunc_checked(
    b: &mut FunctionBuilder<'_>,
    traps: &mut TrapBlocks,
    x: Value,
    to: Type,
    signed: bool,
) -> Value {
    let from = b.func.dfg.value_type(x);
    let nan = b.ins().fcmp(FloatCC::Unordered, x, x);
    traps.trap_if(b, nan, TrapCode::BadConversionToInteger);
    let (lo, hi) = trunc_bounds(from, to, signed);
    let lo = fconst(b, from, lo);
    let hi = fconst(b, from, hi);
    let too_low = b.ins().fcmp(FloatCC::LessThanOrEqual, x, lo);
    let too_high = b.ins().fcmp(FloatCC::GreaterThanOrEqual, x, hi);
    let oob = b.ins().bor(too_low, too_high);
    traps.trap_if(b, oob, TrapCode::IntegerOverflow);
    if signed {
        b.ins().fcvt_to_sint_sat(to, x)
    } else {
        b.ins().fcvt_to_uint_sat(to, x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_exact_and_representable() {
        for (from, to, signed) in [
            (F32, I32, true),
            (F64, I32, true),
            (F32, I32, false),
            (F64, I32, false),
            (F32, I64, true),
            (F64, I64, true),
            (F32, I64, false),
            (F64, I64, false),
        ] {
            let (lo, hi) = trunc_bounds(from, to, signed);
            if from == F32 {
                assert_eq!(lo as f32 as f64, lo);
                assert_eq!(hi as f32 as f64, hi);
            }
            let bits = to.bits() as i32;
            if signed {
                assert_eq!(hi, 2f64.powi(bits - 1));
                // lo is the largest representable value below -2^(bits-1)
                // (or exactly -2^(bits-1) - 1 when that is representable).
                let min = -(2f64.powi(bits - 1));
                assert!(lo < min);
                if from == F32 {
                    let next = f32::from_bits((lo as f32).to_bits() - 1);
                    assert_eq!(next as f64, min);
                } else if bits == 64 {
                    assert_eq!(f64::from_bits(lo.to_bits() - 1), min);
                } else {
                    assert_eq!(lo, min - 1.0);
                }
            } else {
                assert_eq!(lo, -1.0);
                assert_eq!(hi, 2f64.powi(bits));
            }
        }
    }
}
