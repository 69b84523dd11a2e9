//! Values crossing the host boundary and their 64-bit slot encoding
//! (`RawVal`, see the codegen contract).

use kwasm_abi::types::{RawVal, ValType, fmt_sig};
use std::fmt;
use std::num::NonZeroU64;

/// A function signature.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FuncType {
    pub params: Box<[ValType]>,
    pub results: Box<[ValType]>,
}

impl FuncType {
    pub fn new(params: Vec<ValType>, results: Vec<ValType>) -> FuncType {
        FuncType {
            params: params.into(),
            results: results.into(),
        }
    }
}

impl fmt::Display for FuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_sig(f, self.params.iter().copied(), self.results.iter().copied())
    }
}

/// A non-null funcref: the address of a `VmFuncRef` inside some instance's
/// `VmCtx`. Only meaningful within the [`super::Store`] it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FuncRef(pub NonZeroU64);

/// A WebAssembly value. Floats are kept as bit patterns so NaN payloads
/// survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Val {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    FuncRef(Option<FuncRef>),
    /// An externref; the host value `n` travels as the slot `n + 1` so that
    /// slot 0 stays null (`ExternRef(Some(u64::MAX))` is not representable
    /// and becomes `u64::MAX - 1`).
    ExternRef(Option<u64>),
}

impl Val {
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::FuncRef(_) => ValType::FuncRef,
            Val::ExternRef(_) => ValType::ExternRef,
        }
    }

    /// Encode into a slot.
    pub fn to_raw(&self) -> RawVal {
        match *self {
            Val::I32(v) => v as u32 as u64,
            Val::I64(v) => v as u64,
            Val::F32(b) => b as u64,
            Val::F64(b) => b,
            Val::FuncRef(r) => r.map_or(0, |r| r.0.get()),
            Val::ExternRef(r) => r.map_or(0, |v| v.min(u64::MAX - 1) + 1),
        }
    }

    /// Decode a slot holding a value of type `ty`.
    pub fn from_raw(raw: RawVal, ty: ValType) -> Val {
        match ty {
            ValType::I32 => Val::I32(raw as u32 as i32),
            ValType::I64 => Val::I64(raw as i64),
            ValType::F32 => Val::F32(raw as u32),
            ValType::F64 => Val::F64(raw),
            ValType::FuncRef => Val::FuncRef(NonZeroU64::new(raw).map(FuncRef)),
            ValType::ExternRef => Val::ExternRef(raw.checked_sub(1)),
        }
    }

    /// The zero value of a type (null for references).
    pub fn default_for(ty: ValType) -> Val {
        Val::from_raw(0, ty)
    }

    /// Parse a command-line argument as a value of type `ty`: decimal or
    /// `0x` hex integers (signed or unsigned range), floats in Rust syntax
    /// plus `nan`, `inf`, `-inf`, `nan:0x...` payloads and `0x` bit
    /// patterns written as `bits:0x...`; `null` for references.
    pub fn parse(s: &str, ty: ValType) -> Result<Val, String> {
        let bad = || format!("cannot parse `{s}` as {}", ty.name());
        match ty {
            ValType::I32 => parse_int(s, 32)
                .map(|v| Val::I32(v as u32 as i32))
                .ok_or_else(bad),
            ValType::I64 => parse_int(s, 64).map(|v| Val::I64(v as i64)).ok_or_else(bad),
            ValType::F32 => parse_float(s, false)
                .map(|b| Val::F32(b as u32))
                .ok_or_else(bad),
            ValType::F64 => parse_float(s, true).map(Val::F64).ok_or_else(bad),
            ValType::FuncRef if s == "null" => Ok(Val::FuncRef(None)),
            ValType::ExternRef if s == "null" => Ok(Val::ExternRef(None)),
            ValType::ExternRef => parse_int(s, 64)
                .map(|v| Val::ExternRef(Some(v as u64)))
                .ok_or_else(bad),
            ValType::FuncRef => Err(format!("funcref arguments can only be `null`, not `{s}`")),
        }
    }
}

/// Integers: `[-]digits` or `[-]0xhex`, underscores allowed; the value must
/// fit in `bits` as signed or unsigned. Returns the two's complement bits.
fn parse_int(s: &str, bits: u32) -> Option<u128> {
    let s = s.replace('_', "");
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(&s)),
    };
    let mag = if let Some(h) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        u128::from_str_radix(h, 16).ok()?
    } else {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse::<u128>().ok()?
    };
    let mask = (1u128 << bits) - 1;
    if neg {
        if mag > 1u128 << (bits - 1) {
            return None;
        }
        Some(mag.wrapping_neg() & mask)
    } else {
        if mag > mask {
            return None;
        }
        Some(mag)
    }
}

/// Floats: Rust float syntax, `nan`, `inf`/`infinity` (with sign),
/// `nan:0xPAYLOAD`, or `bits:0x...` for a raw bit pattern.
fn parse_float(s: &str, f64: bool) -> Option<u64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let sign = if f64 { 1u64 << 63 } else { 1u64 << 31 };
    let sign = if neg { sign } else { 0 };
    if let Some(h) = body.strip_prefix("bits:0x") {
        let v = u64::from_str_radix(h, 16).ok()?;
        if !f64 && v > u32::MAX as u64 {
            return None;
        }
        return Some(v | sign);
    }
    if let Some(h) = body.strip_prefix("nan:0x") {
        let payload = u64::from_str_radix(h, 16).ok()?;
        let (exp, mant_mask) = if f64 {
            (0x7ff0_0000_0000_0000u64, (1u64 << 52) - 1)
        } else {
            (0x7f80_0000u64, (1u64 << 23) - 1)
        };
        if payload == 0 || payload > mant_mask {
            return None;
        }
        return Some(sign | exp | payload);
    }
    if f64 {
        let v: f64 = body.parse().ok()?;
        Some(v.to_bits() | sign)
    } else {
        let v: f32 = body.parse().ok()?;
        Some(v.to_bits() as u64 | sign)
    }
}

impl fmt::Display for Val {
    /// Plain form: integers in signed decimal, floats in the shortest
    /// round-tripping decimal (`nan`, `inf`, `nan:0x...` for non-canonical
    /// NaNs), references as `null`, `funcref` or `externref:N`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Val::I32(v) => write!(f, "{v}"),
            Val::I64(v) => write!(f, "{v}"),
            Val::F32(b) => {
                let v = f32::from_bits(b);
                let payload = b & 0x7f_ffff;
                let s = if b >> 31 != 0 { "-" } else { "" };
                if v.is_nan() && payload == 0x40_0000 {
                    write!(f, "{s}nan")
                } else if v.is_nan() {
                    write!(f, "{s}nan:{payload:#x}")
                } else {
                    write!(f, "{v:?}")
                }
            }
            Val::F64(b) => {
                let v = f64::from_bits(b);
                let payload = b & ((1 << 52) - 1);
                let s = if b >> 63 != 0 { "-" } else { "" };
                if v.is_nan() && payload == 1 << 51 {
                    write!(f, "{s}nan")
                } else if v.is_nan() {
                    write!(f, "{s}nan:{payload:#x}")
                } else {
                    write!(f, "{v:?}")
                }
            }
            Val::FuncRef(None) | Val::ExternRef(None) => write!(f, "null"),
            Val::FuncRef(Some(_)) => write!(f, "funcref"),
            Val::ExternRef(Some(v)) => write!(f, "externref:{v}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_parse_in_both_ranges() {
        assert_eq!(Val::parse("-1", ValType::I32), Ok(Val::I32(-1)));
        assert_eq!(Val::parse("0xffffffff", ValType::I32), Ok(Val::I32(-1)));
        assert_eq!(Val::parse("4294967295", ValType::I32), Ok(Val::I32(-1)));
        assert!(Val::parse("4294967296", ValType::I32).is_err());
        assert!(Val::parse("-2147483649", ValType::I32).is_err());
        assert_eq!(
            Val::parse("-9223372036854775808", ValType::I64),
            Ok(Val::I64(i64::MIN))
        );
        assert!(Val::parse("12x", ValType::I32).is_err());
        assert!(Val::parse("", ValType::I32).is_err());
    }

    #[test]
    fn floats_parse_specials() {
        assert_eq!(
            Val::parse("1.5", ValType::F32),
            Ok(Val::F32(1.5f32.to_bits()))
        );
        assert_eq!(
            Val::parse("-inf", ValType::F64),
            Ok(Val::F64(f64::NEG_INFINITY.to_bits()))
        );
        assert_eq!(Val::parse("nan", ValType::F32), Ok(Val::F32(0x7fc0_0000)));
        assert_eq!(
            Val::parse("-nan:0x1", ValType::F32),
            Ok(Val::F32(0xff80_0001))
        );
        assert_eq!(
            Val::parse("bits:0x3f800000", ValType::F32),
            Ok(Val::F32(0x3f80_0000))
        );
        assert_eq!(Val::F32(0x7fc0_0000).to_string(), "nan");
        assert_eq!(Val::F32(0xff80_0001).to_string(), "-nan:0x1");
        assert_eq!(Val::F64(2.5f64.to_bits()).to_string(), "2.5");
    }

    #[test]
    fn raw_round_trip() {
        for v in [
            Val::I32(-5),
            Val::I64(i64::MIN),
            Val::F32(0xffff_ffff),
            Val::ExternRef(Some(0)),
            Val::ExternRef(None),
            Val::FuncRef(None),
        ] {
            assert_eq!(Val::from_raw(v.to_raw(), v.ty()), v);
        }
        assert_eq!(Val::I32(-1).to_raw(), 0xffff_ffff);
    }
}
