//! CRC-32 (`crc32fast`, its table-driven baseline, which is what wasm32
//! gets; natively crc32fast would pick PCLMULQDQ when the CPU has it):
//! `n` checksums of a 1 MiB buffer, each folded back into it.

use crate::{Rng, mix, rounds};

const BUF: usize = 1 << 20;

fn crc32(buf: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::internal_new_baseline(0, 0);
    h.update(buf);
    h.finalize()
}

pub fn run(n: i32) -> i64 {
    let mut buf = vec![0u8; BUF];
    Rng::new(0x5a5a_0003).fill(&mut buf);
    let mut h = 0u64;
    for i in 0..rounds(n) {
        let c = crc32(&buf);
        let at = (i as usize * 4099) % (BUF - 4);
        buf[at..at + 4].copy_from_slice(&c.to_le_bytes());
        h = mix(h, u64::from(c));
    }
    h as i64
}

#[cfg(test)]
mod tests {
    #[test]
    fn baseline_is_crc32() {
        assert_eq!(super::crc32(b"123456789"), 0xcbf4_3926);
    }
}
