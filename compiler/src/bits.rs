//! Bit counting in general-purpose registers.
//!
//! Cranelift's aarch64 backend lowers `popcnt` through the SIMD unit
//! (`fmov d, x`, `cnt v.8b`, `addv`, `umov`). Integer-only programs run in
//! the kernel without `kernel_neon_begin` (DESIGN 7), so their code must
//! not touch the V registers: that sequence would clobber the FP/SIMD state
//! of whatever task the packet interrupted. On that target the translator
//! counts bits with the classic SWAR reduction instead, in general
//! registers only; x86-64's baseline lowering is already of this kind.

use cranelift_codegen::ir::{InstBuilder, Value};
use cranelift_frontend::FunctionBuilder;

/// The number of set bits of `x` (`i32` or `i64`), computed with shifts,
/// masks, adds and one multiply.
pub fn popcnt_in_gprs(b: &mut FunctionBuilder<'_>, x: Value) -> Value {
    let ty = b.func.dfg.value_type(x);
    let bits = ty.bits();
    // Each mask is the 64-bit pattern cut to the type's width.
    let mask = |pattern: u64| (pattern & (u64::MAX >> (64 - bits))) as i64;
    // Pairs: each 2-bit field holds the count of its two bits.
    let half = b.ins().ushr_imm_u(x, 1);
    let half = b.ins().band_imm_u(half, mask(0x5555_5555_5555_5555));
    let x = b.ins().isub(x, half);
    // Nibbles: each 4-bit field holds the count of its four bits.
    let lo = b.ins().band_imm_u(x, mask(0x3333_3333_3333_3333));
    let hi = b.ins().ushr_imm_u(x, 2);
    let hi = b.ins().band_imm_u(hi, mask(0x3333_3333_3333_3333));
    let x = b.ins().iadd(lo, hi);
    // Bytes: each byte holds the count of its eight bits (at most 8, so
    // the sum of two nibbles cannot carry into the next byte).
    let shifted = b.ins().ushr_imm_u(x, 4);
    let x = b.ins().iadd(x, shifted);
    let x = b.ins().band_imm_u(x, mask(0x0f0f_0f0f_0f0f_0f0f));
    // The multiply sums every byte into the top one.
    let x = b.ins().imul_imm_u(x, mask(0x0101_0101_0101_0101));
    b.ins().ushr_imm_u(x, i64::from(bits - 8))
}
