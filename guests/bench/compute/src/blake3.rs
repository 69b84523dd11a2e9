//! BLAKE3 (`blake3` with `pure`: its portable implementation, no SIMD):
//! hash a 64 KiB buffer `n` times, each digest written back into it.

use crate::{Rng, mix, rounds};

const BUF: usize = 64 * 1024;

pub fn run(n: i32) -> i64 {
    let mut buf = vec![0u8; BUF];
    Rng::new(0x5a5a_0002).fill(&mut buf);
    let mut h = 0u64;
    for i in 0..rounds(n) {
        let d = ::blake3::hash(&buf);
        let d = d.as_bytes();
        let at = (i as usize * 32) % BUF;
        buf[at..at + 32].copy_from_slice(d);
        h = mix(h, u64::from_le_bytes(d[..8].try_into().unwrap()));
    }
    h as i64
}
