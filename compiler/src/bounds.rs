//! Explicit bounds checks for linear memory.
//!
//! There are no guard pages in the kernel (a fault in softirq context cannot
//! be recovered), so every access checks its whole range against the
//! current length: with `ea = zext64(addr) + offset`, trap with
//! `MemoryOutOfBounds` unless `ea + size <= length`. Everything is computed
//! in 64 bits: `addr < 2^32`, `offset < 2^32` and `size <= 8`, so the sum
//! cannot overflow.
//!
//! **Speculation (DESIGN 12).** The trap branch alone does not stop a CPU
//! that mispredicts it from loading out of bounds and leaking the value
//! through the cache. With spectre guards on (the default), the native
//! address is `select_spectre_guard(oob, 0, base + ea)`, using the very
//! `icmp` the branch tests, which Cranelift lowers to a compare and a
//! conditional move (`cmov`/`csel`), not a branch: under misspeculation the
//! access goes to address 0, which is never mapped. Architecturally the
//! branch has already trapped, so the generated code still never faults
//! (DESIGN 2). The constant offset is folded into the guarded address, so a
//! misspeculated access is at exactly 0 and not at `offset`.

use cranelift_codegen::ir::{InstBuilder, Value, condcodes::IntCC, types};
use cranelift_frontend::FunctionBuilder;
use kwasm_abi::trap::TrapCode;

use crate::environ::{FuncEnv, PTR};

/// A checked native address plus the constant offset to put in the
/// load/store instruction.
pub struct HeapAddr {
    pub addr: Value,
    pub offset: i32,
}

/// Check `[addr + offset, addr + offset + size)` against the memory length
/// and return the native address to access.
pub fn heap_addr(
    env: &mut FuncEnv<'_, '_>,
    b: &mut FunctionBuilder<'_>,
    addr: Value,
    offset: u64,
    size: u32,
) -> HeapAddr {
    let (base, len) = env.memory_base_len(b);
    let addr64 = b.ins().uextend(types::I64, addr);
    // `offset + size` fits comfortably: offset <= u32::MAX after validation.
    let end_off = offset.saturating_add(u64::from(size));
    let end = b.ins().iadd_imm_u(addr64, end_off as i64);
    let oob = b.ins().icmp(IntCC::UnsignedGreaterThan, end, len);
    env.traps.trap_if(b, oob, TrapCode::MemoryOutOfBounds);
    let native = b.ins().iadd(base, addr64);
    if env.spectre_guards {
        let ea = if offset == 0 {
            native
        } else {
            b.ins().iadd_imm_u(native, offset as i64)
        };
        let null = b.ins().iconst(PTR, 0);
        return HeapAddr {
            addr: b.ins().select_spectre_guard(oob, null, ea),
            offset: 0,
        };
    }
    match i32::try_from(offset) {
        Ok(off) => HeapAddr {
            addr: native,
            offset: off,
        },
        Err(_) => HeapAddr {
            addr: b.ins().iadd_imm_u(native, offset as i64),
            offset: 0,
        },
    }
}
