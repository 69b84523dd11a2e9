//! Trap codes.
//!
//! Generated code never faults: every trap condition is an explicit branch to
//! a cold block that calls the trap handler stored in `VmCtx` with one of
//! these codes and the index of the trapping function. The handler never
//! returns; the entry trampoline's caller sees the code.

/// Why a program stopped early. `0` is reserved for "no trap".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum TrapCode {
    Unreachable = 1,
    MemoryOutOfBounds = 2,
    TableOutOfBounds = 3,
    IndirectCallToNull = 4,
    BadSignature = 5,
    IntegerOverflow = 6,
    IntegerDivisionByZero = 7,
    BadConversionToInteger = 8,
    StackOverflow = 9,
    OutOfFuel = 10,
    /// A host import refused its arguments (for example a `log` buffer
    /// outside linear memory).
    HostError = 11,
    /// `call_indirect` with an index past the end of the table.
    UndefinedElement = 12,
}

/// Number of trap kinds, for per-kind counters (index = code - 1).
pub const TRAP_KINDS: usize = 12;

/// Every trap code, in numeric order.
pub const ALL_TRAPS: [TrapCode; TRAP_KINDS] = [
    TrapCode::Unreachable,
    TrapCode::MemoryOutOfBounds,
    TrapCode::TableOutOfBounds,
    TrapCode::IndirectCallToNull,
    TrapCode::BadSignature,
    TrapCode::IntegerOverflow,
    TrapCode::IntegerDivisionByZero,
    TrapCode::BadConversionToInteger,
    TrapCode::StackOverflow,
    TrapCode::OutOfFuel,
    TrapCode::HostError,
    TrapCode::UndefinedElement,
];

impl TrapCode {
    pub fn from_u32(v: u32) -> Option<TrapCode> {
        ALL_TRAPS.get((v as usize).wrapping_sub(1)).copied()
    }

    /// Index into per-kind counter arrays.
    pub fn index(self) -> usize {
        self as usize - 1
    }

    /// Human-readable message; matches the WebAssembly spec test suite's
    /// wording where the spec has one.
    pub fn message(self) -> &'static str {
        match self {
            TrapCode::Unreachable => "unreachable",
            TrapCode::MemoryOutOfBounds => "out of bounds memory access",
            TrapCode::TableOutOfBounds => "out of bounds table access",
            TrapCode::IndirectCallToNull => "uninitialized element",
            TrapCode::BadSignature => "indirect call type mismatch",
            TrapCode::IntegerOverflow => "integer overflow",
            TrapCode::IntegerDivisionByZero => "integer divide by zero",
            TrapCode::BadConversionToInteger => "invalid conversion to integer",
            TrapCode::StackOverflow => "stack overflow",
            TrapCode::OutOfFuel => "out of fuel",
            TrapCode::HostError => "host function error",
            TrapCode::UndefinedElement => "undefined element",
        }
    }

    /// Short identifier for stats tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            TrapCode::Unreachable => "unreachable",
            TrapCode::MemoryOutOfBounds => "memory_oob",
            TrapCode::TableOutOfBounds => "table_oob",
            TrapCode::IndirectCallToNull => "null_call",
            TrapCode::BadSignature => "bad_signature",
            TrapCode::IntegerOverflow => "int_overflow",
            TrapCode::IntegerDivisionByZero => "div_by_zero",
            TrapCode::BadConversionToInteger => "bad_conversion",
            TrapCode::StackOverflow => "stack_overflow",
            TrapCode::OutOfFuel => "out_of_fuel",
            TrapCode::HostError => "host_error",
            TrapCode::UndefinedElement => "undefined_element",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for (i, t) in ALL_TRAPS.iter().enumerate() {
            assert_eq!(t.index(), i);
            assert_eq!(TrapCode::from_u32(*t as u32), Some(*t));
        }
        assert_eq!(TrapCode::from_u32(0), None);
        assert_eq!(TrapCode::from_u32(TRAP_KINDS as u32 + 1), None);
    }
}
