//! The client of `native_bench.ko` (`/dev/kwasm-native`), the native C
//! baseline of `kwasm bench`: the bench filters of
//! `guests/bench/c/filters.h` (the logic of the kwasm programs, written in
//! plain C) timed in the kernel, or attached as netfilter hooks.
//!
//! - [`bench_native`]: `kwasm bench FILTER --native`: the same batches and
//!   summary as the kernel's `BENCH` and `--user`, one `RUN` ioctl per
//!   batch (the module times a batch with bottom halves disabled; we yield
//!   between batches simply by returning to userspace);
//! - [`NativeDevice`]: the raw ioctls, also for `kwasm-tools native-*`
//!   (the hook-path bench attaches filters with `native-attach`).
//!
//! The records below are the Rust twins of the C structs in
//! `guests/bench/native/kwasm_native.h`: keep the two in step. Each ioctl
//! number encodes the record's size, so a record whose size differs
//! between the module and this file fails with ENOTTY instead of being
//! misread; the sizes and offsets are asserted at compile time.

use anyhow::{Context, Result, anyhow, bail};
use kwasm_abi::ioctl::{self, BenchReq};
use std::fs::{File, OpenOptions};
use std::io;
use std::mem::{offset_of, size_of};
use std::os::fd::AsRawFd;

/// Path of the module's device.
pub const DEVICE_PATH: &str = "/dev/kwasm-native";
/// The filters, indexed by their id (`enum filter_id` of
/// `guests/bench/c/filter_defs.h`); the names are also those of the kwasm
/// eBPF objects (`NAME.bpf.o`) and, but for `dns` (`dns_filter.kw`), of the
/// kwasm programs (`accept.kw`, `port_filter.kw`, `packet_counter.kw`).
pub const FILTERS: [&str; 4] = ["accept", "port_filter", "packet_counter", "dns"];
/// Smallest `RUN` packet: an IPv4 header, as `BPF_PROG_TEST_RUN` requires
/// of netfilter programs, so all three runners take the same packets.
pub const MIN_PACKET: u32 = 20;
/// Largest `RUN` packet.
pub const MAX_PACKET: u32 = 65535;
/// Most calls of one `RUN` (one batch with bottom halves disabled).
pub const MAX_COUNT: u32 = 65536;

// A batch that `ioctl::bench_batch_size` sizes always fits in one RUN.
const _: () = assert!(ioctl::BENCH_MAX_BATCH <= MAX_COUNT);

/// `struct kwasm_native_run`: `RUN` (write+read).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunReq {
    /// In: filter id (index of [`FILTERS`]).
    pub filter: u32,
    /// In: packet bytes, [`MIN_PACKET`]..=[`MAX_PACKET`].
    pub len: u32,
    /// In: user pointer to the packet (from the IP header).
    pub packet: u64,
    /// In: calls, 1..=[`MAX_COUNT`].
    pub count: u32,
    /// Out: the last call's verdict (`NF_ACCEPT` 1, `NF_DROP` 0).
    pub verdict: u32,
    /// Out: time of all `count` calls, ns (`sched_clock`).
    pub ns: u64,
    /// Out: calls that accepted.
    pub accepts: u64,
    /// Out: calls that dropped.
    pub drops: u64,
}

/// `struct kwasm_native_attach`: `ATTACH`/`DETACH` (write).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AttachReq {
    pub filter: u32,
    /// `NFPROTO_IPV4` (2) or `NFPROTO_IPV6` (10).
    pub family: u32,
    /// `NF_INET_*`, 0..=4.
    pub hooknum: u32,
    pub priority: i32,
}

/// `struct kwasm_native_map`: `MAP` (write+read).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapReq {
    pub filter: u32,
    /// The map's number in the kwasm program.
    pub map: u32,
    /// User pointer to `cap` u64s.
    pub buf: u64,
    pub cap: u32,
    /// Out: the map's number of entries.
    pub len: u32,
}

// The C layout of kwasm_native.h, field by field.
const _: () = {
    assert!(size_of::<RunReq>() == 48);
    assert!(offset_of!(RunReq, packet) == 8);
    assert!(offset_of!(RunReq, count) == 16);
    assert!(offset_of!(RunReq, verdict) == 20);
    assert!(offset_of!(RunReq, ns) == 24);
    assert!(offset_of!(RunReq, accepts) == 32);
    assert!(offset_of!(RunReq, drops) == 40);
    assert!(size_of::<AttachReq>() == 16);
    assert!(offset_of!(AttachReq, priority) == 12);
    assert!(size_of::<MapReq>() == 24);
    assert!(offset_of!(MapReq, buf) == 8);
    assert!(offset_of!(MapReq, len) == 20);
};

const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;
/// `_IOWR('k', 0x40, struct kwasm_native_run)`.
pub const RUN: u32 = ioctl::ioc(IOC_READ | IOC_WRITE, 0x40, size_of::<RunReq>());
/// `_IOW('k', 0x41, struct kwasm_native_attach)`.
pub const ATTACH: u32 = ioctl::ioc(IOC_WRITE, 0x41, size_of::<AttachReq>());
/// `_IOW('k', 0x42, struct kwasm_native_attach)`.
pub const DETACH: u32 = ioctl::ioc(IOC_WRITE, 0x42, size_of::<AttachReq>());
/// `_IOWR('k', 0x43, struct kwasm_native_map)`.
pub const MAP: u32 = ioctl::ioc(IOC_READ | IOC_WRITE, 0x43, size_of::<MapReq>());

/// The id of a filter name (see [`FILTERS`]).
pub fn filter_id(name: &str) -> Result<u32> {
    FILTERS
        .iter()
        .position(|f| *f == name)
        .map(|i| i as u32)
        .ok_or_else(|| anyhow!("no native filter `{name}`: use {}", FILTERS.join(", ")))
}

/// An open `/dev/kwasm-native`.
pub struct NativeDevice {
    file: File,
}

impl NativeDevice {
    /// Opens the device, with an error that says what to do when the module
    /// is missing.
    pub fn open() -> Result<NativeDevice> {
        match OpenOptions::new().read(true).write(true).open(DEVICE_PATH) {
            Ok(file) => Ok(NativeDevice { file }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                bail!(
                    "{DEVICE_PATH} not found: is native_bench.ko loaded? (insmod native_bench.ko)"
                )
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                bail!("{DEVICE_PATH}: permission denied: run as root")
            }
            Err(e) => Err(e).with_context(|| format!("opening {DEVICE_PATH}")),
        }
    }

    /// One ioctl on `req`, which is one of the `#[repr(C)]` records above.
    fn call<T>(&self, cmd: u32, req: &mut T) -> io::Result<()> {
        // SAFETY: `req` is a live, exclusively borrowed record of exactly
        // the size `cmd` encodes (the constants above are built from
        // size_of of these types), which is all the kernel reads or writes.
        let rc = unsafe { libc::ioctl(self.file.as_raw_fd(), cmd as _, req as *mut T) };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// `RUN`: `count` calls of filter `filter` on `packet`, as given (the
    /// module checks every field; `kwasm-tools native-run` sends hostile
    /// values through here).
    pub fn run(&self, filter: u32, packet: &[u8], count: u32) -> io::Result<RunReq> {
        let mut req = RunReq {
            filter,
            len: packet.len().min(u32::MAX as usize) as u32,
            packet: packet.as_ptr() as u64,
            count,
            ..Default::default()
        };
        self.call(RUN, &mut req)?;
        Ok(req)
    }

    /// `ATTACH` (or `DETACH` when `detach`).
    pub fn attach(&self, req: AttachReq, detach: bool) -> io::Result<()> {
        let mut req = req;
        self.call(if detach { DETACH } else { ATTACH }, &mut req)
    }

    /// `MAP`: every entry of map `map` of filter `filter`.
    pub fn map(&self, filter: u32, map: u32) -> io::Result<Vec<u64>> {
        let mut vals = vec![0u64; 256];
        loop {
            let mut req = MapReq {
                filter,
                map,
                buf: vals.as_mut_ptr() as u64,
                cap: vals.len() as u32,
                len: 0,
            };
            self.call(MAP, &mut req)?;
            if req.len as usize <= vals.len() {
                vals.truncate(req.len as usize);
                return Ok(vals);
            }
            vals = vec![0u64; req.len as usize];
        }
    }
}

/// What an errno from the module means, for messages.
pub fn explain(what: &str, e: io::Error) -> anyhow::Error {
    let hint = match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => "permission denied: need CAP_NET_ADMIN",
        Some(libc::ENOTTY) => {
            "native_bench.ko does not know this request: the module and this kwasm \
             were built from different sources (the record sizes differ)"
        }
        Some(libc::EINVAL) => "the module refused the request (bad filter, hook or size)",
        Some(libc::E2BIG) => "too large: the packet or the count is above the module's cap",
        Some(libc::EEXIST) => "already attached",
        Some(libc::ENOENT) => "not attached",
        Some(libc::ENOSPC) => "no room: too many hooks attached",
        _ => "",
    };
    if hint.is_empty() {
        anyhow!("{what}: {e}")
    } else {
        anyhow!("{what}: {hint} ({e})")
    }
}

/// Attaches (or detaches) native filter `filter` at `point` (`ipv4:input`
/// style, as `kwasm attach`) with `priority`: the hook path of the bench,
/// where `accept` is the empty hook.
pub fn attach(filter: &str, point: &str, priority: i32, detach: bool) -> Result<()> {
    let (family, hooknum) = crate::device::attach_point(point)?;
    let req = AttachReq {
        filter: filter_id(filter)?,
        family,
        hooknum,
        priority,
    };
    let what = if detach { "DETACH" } else { "ATTACH" };
    NativeDevice::open()?
        .attach(req, detach)
        .map_err(|e| explain(&format!("{what} native {filter} {point}"), e))
}

/// `kwasm bench FILTER --native`: the native filter `filter` on `packet`,
/// `repeat` times, in the batches `BENCH` and `--user` use (one uncounted
/// warm-up call sizes the first batch, each batch the next; `batch` 0 is
/// automatic), one `RUN` ioctl per batch, summarised the same way.
pub fn bench_native(filter: &str, packet: &[u8], repeat: u32, batch: u32) -> Result<BenchReq> {
    let id = filter_id(filter)?;
    if !(MIN_PACKET as usize..=MAX_PACKET as usize).contains(&packet.len()) {
        bail!(
            "the packet has {} bytes: a native bench packet has {MIN_PACKET}..={MAX_PACKET} \
             (an IPv4 header at least, as BPF_PROG_TEST_RUN requires)",
            packet.len()
        );
    }
    if !(1..=ioctl::BENCH_MAX_REPEAT).contains(&repeat) {
        bail!("--repeat {repeat}: use 1..={}", ioctl::BENCH_MAX_REPEAT);
    }
    let dev = NativeDevice::open()?;
    let run = |n: u32| {
        dev.run(id, packet, n)
            .map_err(|e| explain(&format!("RUN native {filter}"), e))
    };
    let mut r = BenchReq {
        packet_len: packet.len() as u32,
        repeat,
        // SAFETY: no arguments; returns a CPU number or -1.
        cpu: unsafe { libc::sched_getcpu() }.max(0) as u32,
        ..Default::default()
    };
    let first_ns = run(1)?.ns;
    crate::batches::run::<anyhow::Error>(&mut r, batch, first_ns, |n, r| {
        let out = run(n)?;
        r.accepts += out.accepts;
        r.drops += out.drops;
        r.verdict = out.verdict;
        Ok(out.ns)
    })?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_encode_the_c_sizes() {
        // _IOWR('k', 0x40, 48), _IOW('k', 0x41, 16), _IOWR('k', 0x43, 24),
        // as the C compiler computes them for kwasm_native.h.
        assert_eq!(RUN, 0xc030_6b40);
        assert_eq!(ATTACH, 0x4010_6b41);
        assert_eq!(DETACH, 0x4010_6b42);
        assert_eq!(MAP, 0xc018_6b43);
    }

    #[test]
    fn filter_ids() {
        assert_eq!(filter_id("accept").unwrap(), 0);
        assert_eq!(filter_id("dns").unwrap(), 3);
        assert!(filter_id("dns_parser").is_err());
    }

    #[test]
    fn bench_native_checks_before_opening_the_device() {
        let e = bench_native("port_filter", &[0x45; 19], 10, 0).unwrap_err();
        assert!(e.to_string().contains("20..=65535"), "{e}");
        let e = bench_native("nosuch", &[0x45; 20], 10, 0).unwrap_err();
        assert!(e.to_string().contains("no native filter"), "{e}");
        let e = bench_native("accept", &[0x45; 20], 0, 0).unwrap_err();
        assert!(e.to_string().contains("--repeat 0"), "{e}");
    }
}
