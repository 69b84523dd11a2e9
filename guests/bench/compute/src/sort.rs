//! Quicksort (median of three, Hoare partition, insertion sort below 16
//! elements, recursion on the smaller side) of 65536 random `u32`, `n`
//! times.

use crate::{Rng, mix, rounds};

const LEN: usize = 1 << 16;
const SMALL: usize = 16;

fn insertion_sort(v: &mut [u32]) {
    for i in 1..v.len() {
        let x = v[i];
        let mut j = i;
        while j > 0 && v[j - 1] > x {
            v[j] = v[j - 1];
            j -= 1;
        }
        v[j] = x;
    }
}

/// Splits `v` (at least 3 long) into `v[..=j]` (all `<=` the pivot) and
/// `v[j + 1..]` (all `>=`), both non-empty; returns `j + 1`.
fn partition(v: &mut [u32]) -> usize {
    let last = v.len() - 1;
    let mid = last / 2;
    if v[mid] < v[0] {
        v.swap(mid, 0);
    }
    if v[last] < v[0] {
        v.swap(last, 0);
    }
    if v[last] < v[mid] {
        v.swap(last, mid);
    }
    let pivot = v[mid];
    let (mut i, mut j) = (0, last);
    loop {
        while v[i] < pivot {
            i += 1;
        }
        while v[j] > pivot {
            j -= 1;
        }
        if i >= j {
            return j + 1;
        }
        v.swap(i, j);
        i += 1;
        j -= 1;
    }
}

pub fn quicksort(mut v: &mut [u32]) {
    while v.len() > SMALL {
        let split = partition(v);
        let (lo, hi) = std::mem::take(&mut v).split_at_mut(split);
        if lo.len() < hi.len() {
            quicksort(lo);
            v = hi;
        } else {
            quicksort(hi);
            v = lo;
        }
    }
    insertion_sort(v);
}

pub fn run(n: i32) -> i64 {
    let mut rng = Rng::new(0x5a5a_0008);
    let mut v = vec![0u32; LEN];
    let mut h = 0u64;
    for _ in 0..rounds(n) {
        // Some duplicates: values from a range four times the length.
        for x in v.iter_mut() {
            *x = rng.below(4 * LEN as u32);
        }
        quicksort(&mut v);
        assert!(v.windows(2).all(|w| w[0] <= w[1]), "sorted");
        for x in v.iter().step_by(61) {
            h = mix(h, u64::from(*x));
        }
    }
    h as i64
}

#[cfg(test)]
mod tests {
    #[test]
    fn sorts_small_and_odd_inputs() {
        let mut rng = crate::Rng::new(1);
        for len in [0, 1, 2, 3, 15, 16, 17, 18, 100, 1000] {
            for range in [1, 3, 1000, u32::MAX] {
                let mut v: Vec<u32> = (0..len).map(|_| rng.below(range)).collect();
                let mut want = v.clone();
                want.sort();
                super::quicksort(&mut v);
                assert_eq!(v, want, "len {len} range {range}");
            }
        }
    }
}
