//! Dense matrix product: `C = A × B` for 128×128 `f64` matrices, `n`
//! times; `A` becomes `C` scaled by its largest magnitude, so values stay
//! in `[-1, 1]` (no overflow, no subnormals).

use crate::{Rng, mix, rounds};

const D: usize = 128;

fn multiply(a: &[f64], b: &[f64], c: &mut [f64]) {
    c.fill(0.0);
    for (a_row, c_row) in a.chunks_exact(D).zip(c.chunks_exact_mut(D)) {
        for (&aik, b_row) in a_row.iter().zip(b.chunks_exact(D)) {
            for (cij, &bkj) in c_row.iter_mut().zip(b_row) {
                *cij += aik * bkj;
            }
        }
    }
}

pub fn run(n: i32) -> i64 {
    let mut rng = Rng::new(0x5a5a_0007);
    let mut a: Vec<f64> = (0..D * D).map(|_| rng.signed_unit()).collect();
    let b: Vec<f64> = (0..D * D).map(|_| rng.signed_unit()).collect();
    let mut c = vec![0.0; D * D];
    let mut h = 0u64;
    for round in 0..rounds(n) {
        multiply(&a, &b, &mut c);
        let largest = c.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        let scale = 1.0 / largest;
        for (x, y) in a.iter_mut().zip(&c) {
            *x = y * scale;
        }
        h = mix(h, c[(round as usize * 7919) % (D * D)].to_bits());
        h = mix(h, largest.to_bits());
    }
    h as i64
}
