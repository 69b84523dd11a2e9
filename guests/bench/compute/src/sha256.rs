//! SHA-256 (`sha2`, its portable implementation): hash a 64 KiB buffer `n`
//! times, writing each digest back into the buffer so every round depends
//! on the one before.

use crate::{Rng, mix, rounds};
use sha2::{Digest, Sha256};

const BUF: usize = 64 * 1024;

pub fn run(n: i32) -> i64 {
    let mut buf = vec![0u8; BUF];
    Rng::new(0x5a5a_0001).fill(&mut buf);
    let mut h = 0u64;
    for i in 0..rounds(n) {
        let d = Sha256::digest(&buf);
        let at = (i as usize * 32) % BUF;
        buf[at..at + 32].copy_from_slice(&d);
        h = mix(h, u64::from_le_bytes(d[..8].try_into().unwrap()));
    }
    h as i64
}
