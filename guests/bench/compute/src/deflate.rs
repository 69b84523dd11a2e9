//! Deflate (`miniz_oxide`): compress 128 KiB of generated text at level 6
//! and inflate it again, `n` times, changing a byte between rounds.

use crate::{Rng, mix, rounds, text};
use miniz_oxide::deflate::compress_to_vec;
use miniz_oxide::inflate::decompress_to_vec;

const LEN: usize = 128 * 1024;

pub fn run(n: i32) -> i64 {
    let mut rng = Rng::new(0x5a5a_0004);
    let mut data = text(&mut rng, LEN);
    let mut h = 0u64;
    for _ in 0..rounds(n) {
        let packed = compress_to_vec(&data, 6);
        let unpacked = decompress_to_vec(&packed).expect("inflate");
        assert!(unpacked == data, "deflate round trip");
        h = mix(h, packed.len() as u64);
        h = mix(h, u64::from(packed[packed.len() / 2]));
        let at = rng.below(LEN as u32) as usize;
        data[at] = b'a' + rng.below(26) as u8;
    }
    h as i64
}
