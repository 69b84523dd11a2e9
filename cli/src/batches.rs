//! The batching every userspace-driven bench shares (`--user`, `--bpf`,
//! `--native`): the same batches the kernel's `BENCH` makes, sized by
//! [`ioctl::bench_batch_size`] from the previous batch's time per call,
//! accounted and summarised by [`BenchReq`], so that the median and p99 of
//! batches mean the same thing for every runner.

use kwasm_abi::ioctl::{self, BenchReq};

/// Runs `r.repeat` calls in batches: `run(n, r)` makes `n` calls, counts
/// their outcomes in `r` and returns how long they took in ns. `first_ns`
/// is one warm-up call's time, which sizes the first batch. Fills `r`'s
/// totals and summary.
pub fn run<E>(
    r: &mut BenchReq,
    batch: u32,
    first_ns: u64,
    mut run: impl FnMut(u32, &mut BenchReq) -> Result<u64, E>,
) -> Result<(), E> {
    let mut call_ns = first_ns;
    let mut per_call = Vec::new();
    let mut left = r.repeat;
    while left > 0 {
        let n = left.min(ioctl::bench_batch_size(batch, r.repeat, call_ns));
        let ns = run(n, r)?;
        left -= n;
        call_ns = ns / u64::from(n);
        per_call.push(r.add_batch(n, ns));
    }
    r.summarise(&mut per_call);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::run;
    use kwasm_abi::ioctl::BenchReq;

    #[test]
    fn every_call_is_made_once_in_batches() {
        let mut r = BenchReq {
            repeat: 1000,
            ..Default::default()
        };
        let mut calls = 0u64;
        run::<()>(&mut r, 64, 10, |n, _| {
            calls += u64::from(n);
            Ok(u64::from(n) * 10)
        })
        .unwrap();
        assert_eq!((calls, r.runs, r.batch), (1000, 1000, 64));
        assert_eq!((r.batches, r.median_ps), (16, 10_000));
        let mut r = BenchReq {
            repeat: 5,
            ..Default::default()
        };
        assert_eq!(run(&mut r, 0, 1, |_, _| Err("stop")), Err("stop"));
    }
}
