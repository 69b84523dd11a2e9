//! Fuel: the bound on the work one invocation may do (DESIGN decision 10).
//!
//! A program runs with bottom halves disabled, so the time it may take is a
//! safety property, not a tuning knob. Fuel therefore counts *work*, not
//! loop iterations:
//!
//! - **Operators.** Every wasm operator costs [`op_cost`]: [`PER_OP`], or
//!   [`MEMORY_ACCESS`] for loads and stores, or [`CALL`] for calls. The compiler
//!   charges a whole region at once: at function entry the operators of the
//!   body that lie outside any loop, at each loop header the operators of
//!   that loop's body outside nested loops. Backward edges only reach loop
//!   headers, so each operator runs at most once per entry into its region,
//!   and the charge is an upper bound of the operators executed.
//! - **Bulk operations.** `memory.fill/copy/init` cost one unit per
//!   `1 << MEM_SHIFT` bytes, `table.fill/copy/init/grow` one unit per
//!   `1 << TABLE_SHIFT` elements, on top of their operator cost. The charge
//!   is made (and may trap with `OutOfFuel`) before the operation runs.
//! - **Host calls** cost [`HostCost`]: a fixed part for the call and, for
//!   functions that move bytes (`log`, `pkt_load`), one unit per
//!   `1 << MEM_SHIFT` bytes of their length argument.
//!
//! Rates were chosen from measurements on these machines (see
//! `docs/fuel.md`): one unit is under a nanosecond of native work for
//! arithmetic and bulk copies, so [`DEFAULT`] bounds an invocation to about
//! a millisecond of typical work. Cache misses are what fuel cannot see:
//! `docs/fuel.md` gives the measured worst case.

/// Fuel per wasm operator.
pub const PER_OP: u64 = 1;

/// Fuel per memory or table access (`*.load`, `*.store`, `table.get/set`):
/// an access that misses the caches costs far more than arithmetic.
pub const MEMORY_ACCESS: u64 = 4;

/// Fuel per call (`call`, `call_indirect`): the callee's frame, its stack
/// check and its entry charge.
pub const CALL: u64 = 4;

/// How the compiler classes an operator for [`op_cost`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpClass {
    Plain,
    MemoryAccess,
    Call,
}

/// What one operator of `class` costs.
pub const fn op_cost(class: OpClass) -> u64 {
    match class {
        OpClass::Plain => PER_OP,
        OpClass::MemoryAccess => MEMORY_ACCESS,
        OpClass::Call => CALL,
    }
}

/// `memory.*` bulk operations and byte-moving host calls: one unit per
/// `1 << MEM_SHIFT` bytes (16 bytes: `memset`/`memcpy` move more than
/// 16 bytes per nanosecond here).
pub const MEM_SHIFT: u32 = 4;

/// `table.*` bulk operations: one unit per `1 << TABLE_SHIFT` elements
/// (8-byte elements, copied one at a time).
pub const TABLE_SHIFT: u32 = 1;

/// Fuel of one invocation when the loader or the caller gives none: about
/// half a millisecond of arithmetic, a millisecond of typical packet code
/// (measured in `docs/fuel.md`, with the adversarial worst case).
pub const DEFAULT: u64 = 1_000_000;

// The ceiling admits the default, and fuel fits the `i64` counter.
const _: () = assert!(DEFAULT <= MAX && MAX <= i64::MAX as u64);

/// The most fuel a program or one `INVOKE` may be given in the kernel:
/// twenty times the default. Larger requests are refused (`EINVAL`), not
/// clamped, so a caller never believes it has more.
pub const MAX: u64 = 20 * DEFAULT;

/// What a host function costs per call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostCost {
    /// Fixed units per call.
    pub base: u32,
    /// The wasm parameter that holds a byte count charged at
    /// `1 << MEM_SHIFT` bytes per unit, if any.
    pub len_param: Option<u8>,
}

/// The charge for a bulk operation of `len` items at `shift`.
pub const fn bulk_cost(len: u32, shift: u32) -> u64 {
    (len as u64 >> shift) + PER_OP
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_cost_is_proportional_and_never_zero() {
        assert_eq!(bulk_cost(0, MEM_SHIFT), 1);
        assert_eq!(bulk_cost(1 << 20, MEM_SHIFT), (1 << 16) + 1);
        assert_eq!(bulk_cost(u32::MAX, TABLE_SHIFT), (u32::MAX as u64 >> 1) + 1);
    }
}
