//! Sieve of Eratosthenes over a byte array up to about 2^21, `n` times
//! (the limit moves a little every round).

use crate::{mix, rounds};

const LIMIT: usize = 1 << 21;

pub fn run(n: i32) -> i64 {
    let mut composite = vec![false; LIMIT + 1];
    let mut h = 0u64;
    for round in 0..rounds(n) {
        let limit = LIMIT - (round as usize % 1000);
        let table = &mut composite[..=limit];
        table.fill(false);
        let mut p = 2;
        while p * p <= limit {
            if !table[p] {
                let mut m = p * p;
                while m <= limit {
                    table[m] = true;
                    m += p;
                }
            }
            p += 1;
        }
        let mut count = 0u64;
        let mut last = 0;
        for (i, &c) in table.iter().enumerate().skip(2) {
            if !c {
                count += 1;
                last = i;
            }
        }
        h = mix(h, count);
        h = mix(h, last as u64);
    }
    h as i64
}
