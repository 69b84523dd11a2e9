//! Compute workloads for comparing kwasm's generated code with native code
//! and other engines (`cargo bench -p kwasm-bench`, `bench/` in the root
//! workspace).
//!
//! Every workload is a function `run(n: i32) -> i64`: `n` scales the work
//! linearly (rounds of a fixed-size unit), and the result is a checksum of
//! everything computed, so engines can be compared and nothing can be
//! optimised away. Inputs come from a seeded generator ([`Rng`]), so no
//! workload reads anything from outside. The same source is compiled to
//! wasm32 (one cdylib per workload, `examples/*.rs`, exporting `run`) and
//! natively (the runner links this library).
//!
//! Half of them are real crates from crates.io, in their scalar
//! implementations (what wasm32 without SIMD runs); the others are kernels
//! written here. Floating-point workloads use only `+ - * /` and `sqrt`,
//! which wasm and x86-64 (SSE2, no FMA contraction in Rust) compute
//! identically, so their checksums agree bit for bit.

pub mod blake3;
pub mod crc32;
pub mod deflate;
pub mod interp;
pub mod json;
pub mod matmul;
pub mod nbody;
pub mod regex;
pub mod sha256;
pub mod sieve;
pub mod sort;

/// One workload: its entry point and its sizes.
pub struct Workload {
    pub name: &'static str,
    /// What one unit of `n` does.
    pub what: &'static str,
    pub run: fn(i32) -> i64,
    /// The benchmark's size: about half a second of native work on the
    /// development machines (2-core x86-64 VMs).
    pub bench_n: i32,
    /// A tiny size for tests (milliseconds).
    pub test_n: i32,
}

/// All workloads, in the order the runner reports them. The names are the
/// example (wasm module) names.
pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "sha256",
        what: "SHA-256 (sha2, soft) of a 64 KiB buffer",
        run: sha256::run,
        bench_n: 2_800,
        test_n: 2,
    },
    Workload {
        name: "blake3",
        what: "BLAKE3 (blake3, portable) of a 64 KiB buffer",
        run: blake3::run,
        bench_n: 6_200,
        test_n: 2,
    },
    Workload {
        name: "crc32",
        what: "CRC-32 (crc32fast, table) of a 1 MiB buffer",
        run: crc32::run,
        bench_n: 2_200,
        test_n: 1,
    },
    Workload {
        name: "deflate",
        what: "deflate level 6 and inflate (miniz_oxide) of 128 KiB of text",
        run: deflate::run,
        bench_n: 60,
        test_n: 1,
    },
    Workload {
        name: "json",
        what: "parse, walk and serialise (serde_json) a 64 KiB document",
        run: json::run,
        bench_n: 1_000,
        test_n: 1,
    },
    Workload {
        name: "regex",
        what: "four capture patterns (regex-lite) over 16 KiB of log lines",
        run: regex::run,
        bench_n: 230,
        test_n: 1,
    },
    Workload {
        name: "matmul",
        what: "a 128x128 f64 matrix product",
        run: matmul::run,
        bench_n: 1_500,
        test_n: 1,
    },
    Workload {
        name: "sieve",
        what: "sieve of Eratosthenes up to 2^21",
        run: sieve::run,
        bench_n: 180,
        test_n: 1,
    },
    Workload {
        name: "sort",
        what: "quicksort of 65536 random u32",
        run: sort::run,
        bench_n: 145,
        test_n: 1,
    },
    Workload {
        name: "interp",
        what: "1000 iterations of a bytecode program on a stack machine",
        run: interp::run,
        bench_n: 100,
        test_n: 2,
    },
    Workload {
        name: "nbody",
        what: "one step of a 16-body simulation",
        run: nbody::run,
        bench_n: 800_000,
        test_n: 100,
    },
];

/// Defines the wasm module of one workload: `run(n: i32) -> i64`, exported
/// under that name.
#[macro_export]
macro_rules! export {
    ($w:ident) => {
        /// Runs the workload at size `n` and returns its checksum.
        #[unsafe(no_mangle)]
        pub extern "C" fn run(n: i32) -> i64 {
            $crate::$w::run(n)
        }
    };
}

/// A small deterministic generator (splitmix64): the workloads' inputs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Uniform in `0..bound` (`bound > 0`; the bias is irrelevant here).
    pub fn below(&mut self, bound: u32) -> u32 {
        ((u64::from(self.next_u32()) * u64::from(bound)) >> 32) as u32
    }

    /// Uniform in `[-1, 1)`.
    pub fn signed_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (2.0 / (1u64 << 53) as f64) - 1.0
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Folds `v` into the checksum `h` (order-sensitive).
#[inline]
pub fn mix(h: u64, v: u64) -> u64 {
    (h ^ v).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(17) ^ (h >> 29)
}

/// `n` as a round count: negative sizes do nothing.
pub(crate) fn rounds(n: i32) -> u32 {
    n.max(0) as u32
}

/// Random words separated by spaces and newlines: text that compresses
/// and has structure to match.
pub(crate) fn text(rng: &mut Rng, len: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "the", "kernel", "packet", "wasm", "module", "filter", "of", "and", "a", "verdict",
        "memory", "bounds", "check", "fuel", "trap", "stack", "function", "table", "call", "value",
        "compile", "native", "code", "to", "in", "is", "run", "speed",
    ];
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        let w = WORDS[rng.below(WORDS.len() as u32) as usize];
        out.extend_from_slice(w.as_bytes());
        out.push(if rng.below(12) == 0 { b'\n' } else { b' ' });
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workloads_are_deterministic_and_depend_on_n() {
        for w in WORKLOADS {
            let a = (w.run)(w.test_n);
            assert_eq!(a, (w.run)(w.test_n), "{}", w.name);
            assert_ne!(a, (w.run)(w.test_n + 1), "{}", w.name);
        }
    }

    #[test]
    fn signed_unit_is_in_range() {
        let mut r = Rng::new(7);
        for _ in 0..10_000 {
            let x = r.signed_unit();
            assert!((-1.0..1.0).contains(&x));
        }
    }
}
