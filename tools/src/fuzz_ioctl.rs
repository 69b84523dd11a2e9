//! `kwasm-tools fuzz-ioctl`: random ioctls to `/dev/kwasm`, which must
//! refuse every malformed one without harm (the in-VM check watches the
//! kernel log).

use anyhow::{Context, Result, bail};
use kwasm::Ctx;
use kwasm_abi::ioctl;

#[derive(clap::Args)]
pub struct FuzzArgs {
    /// Number of ioctls to send.
    #[arg(long, default_value_t = 20000)]
    pub iterations: u64,
    /// Seed of the random requests (the same seed sends the same ioctls).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// A loaded program to aim some requests at (so that lookups succeed).
    #[arg(long)]
    pub name: Option<String>,
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A pointer the kernel must not be able to use (or a valid one).
fn bad_pointer(rng: &mut Rng, valid: u64, unmapped: u64, straddle: u64) -> u64 {
    match rng.below(7) {
        0 => 0,
        1 => 1,
        2 => unmapped,
        3 => straddle,
        4 => 0xffff_ffff_8100_0000,
        5 => rng.next(),
        _ => valid,
    }
}

/// Send random ioctls to /dev/kwasm: random numbers, real numbers with
/// random sizes, random records with NULL, unmapped, kernel and straddling
/// pointers. Prints a summary by errno; fails only if /dev/kwasm stops
/// answering (the in-VM check watches the kernel log).
pub fn fuzz_ioctl(ctx: &Ctx, a: &FuzzArgs) -> Result<()> {
    use std::os::fd::AsRawFd;
    let dev = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(ioctl::DEVICE_PATH)
        .context("opening /dev/kwasm: is kwasm.ko loaded?")?;
    ctx.drop_privileges()?;
    let fd = dev.as_raw_fd();
    const PAGE: usize = 4096;
    // Two pages; the second is unmapped so a record at its edge straddles.
    // SAFETY: anonymous mappings with no aliasing; unmapped part never used
    // by us, only handed to the kernel as a bad address.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4 * PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        bail!("mmap: {}", std::io::Error::last_os_error());
    }
    // SAFETY: unmapping the last two pages of our own mapping.
    unsafe { libc::munmap(base.cast::<u8>().add(2 * PAGE).cast(), 2 * PAGE) };
    let valid = base as u64;
    let unmapped = valid + 2 * PAGE as u64;
    let mut rng = Rng(a.seed.max(1).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let real = [
        ioctl::MODULE_LAYOUT,
        ioctl::LIST,
        ioctl::STATS,
        ioctl::ATTACH,
        ioctl::DETACH,
        ioctl::INVOKE,
        ioctl::MAP_GET,
        ioctl::MAP_SET,
        ioctl::MAP_ELEM,
        ioctl::EVENTS,
    ];
    let name = a
        .name
        .as_deref()
        .and_then(ioctl::encode_name::<{ ioctl::NAME_LEN }>);
    let mut by_errno = std::collections::BTreeMap::<i32, u64>::new();
    for _ in 0..a.iterations {
        let cmd: u32 = match rng.below(4) {
            0 => rng.next() as u32,
            1 => ioctl::ioc(
                rng.below(4) as u32,
                rng.below(16) as u32,
                rng.below(1 << 14) as usize,
            ),
            _ => real[rng.below(real.len() as u64) as usize],
        };
        let size = ((cmd >> 16) & 0x3fff) as usize;
        // SAFETY: the buffer is within the two mapped pages we own.
        let buf = unsafe { std::slice::from_raw_parts_mut(base.cast::<u8>(), 2 * PAGE) };
        for b in buf.iter_mut() {
            *b = rng.next() as u8;
        }
        // Make some records plausible: a real name, sane counts, pointers
        // that point somewhere interesting.
        if rng.below(2) == 0 {
            let n = name.unwrap_or(*b"nonexistent_prog\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
            match cmd {
                ioctl::STATS
                | ioctl::ATTACH
                | ioctl::DETACH
                | ioctl::INVOKE
                | ioctl::MAP_GET
                | ioctl::MAP_SET
                | ioctl::MAP_ELEM
                | ioctl::EVENTS => buf[..ioctl::NAME_LEN].copy_from_slice(&n),
                _ => {}
            }
            if cmd == ioctl::INVOKE {
                let e = b"filter\0";
                buf[ioctl::NAME_LEN..ioctl::NAME_LEN + e.len()].copy_from_slice(e);
                // nargs: mostly wrong, sometimes right.
                let at = ioctl::NAME_LEN + ioctl::EXPORT_LEN;
                buf[at..at + 4].copy_from_slice(&(rng.below(3) as u32).to_le_bytes());
                // fuel: small
                buf[at + 16..at + 24].copy_from_slice(&rng.below(100_000).to_le_bytes());
            }
            if cmd == ioctl::LIST {
                let p = bad_pointer(&mut rng, valid + 1024, unmapped, unmapped - 100);
                buf[..8].copy_from_slice(&p.to_le_bytes());
                buf[8..12].copy_from_slice(&(rng.below(64) as u32).to_le_bytes());
            }
            if cmd == ioctl::MAP_GET || cmd == ioctl::MAP_SET {
                let at = ioctl::NAME_LEN;
                // map, index, count small
                buf[at..at + 4].copy_from_slice(&(rng.below(3) as u32).to_le_bytes());
                buf[at + 4..at + 8].copy_from_slice(&(rng.below(4) as u32).to_le_bytes());
                buf[at + 8..at + 12].copy_from_slice(&(rng.below(4) as u32).to_le_bytes());
                let p = bad_pointer(&mut rng, valid + 1024, unmapped, unmapped - 8);
                buf[at + 24..at + 32].copy_from_slice(&p.to_le_bytes());
            }
            if cmd == ioctl::MAP_ELEM {
                // MapElemReq: map, op, flags and cursor small; key and
                // value pointers anywhere; sizes mostly those of
                // guests/wat/hash.wat's hash map (4 and 16).
                let at = ioctl::NAME_LEN;
                for (i, n) in [3, 5, 6, 40].into_iter().enumerate() {
                    let v = rng.below(n) as u32;
                    buf[at + 4 * i..at + 4 * i + 4].copy_from_slice(&v.to_le_bytes());
                }
                for i in 0..2 {
                    let p = bad_pointer(&mut rng, valid + 1024, unmapped, unmapped - 8);
                    buf[at + 16 + 8 * i..at + 24 + 8 * i].copy_from_slice(&p.to_le_bytes());
                }
                let (k, v) = match rng.below(3) {
                    0 => (rng.below(300) as u32, rng.below(300) as u32),
                    _ => (4, 16),
                };
                buf[at + 32..at + 36].copy_from_slice(&k.to_le_bytes());
                buf[at + 36..at + 40].copy_from_slice(&v.to_le_bytes());
            }
            if cmd == ioctl::EVENTS {
                // EventsReq: map small or the log ring, a length up to
                // past the cap, the buffer anywhere (a fault must lose no
                // record: the ring is consumed only after the copy).
                let at = ioctl::NAME_LEN;
                let map = match rng.below(4) {
                    0 => ioctl::LOG_RING,
                    _ => rng.below(3) as u32,
                };
                buf[at..at + 4].copy_from_slice(&map.to_le_bytes());
                let len = rng.below(u64::from(ioctl::EVENTS_MAX_READ) * 2) as u32;
                buf[at + 4..at + 8].copy_from_slice(&len.to_le_bytes());
                let p = bad_pointer(&mut rng, valid + 1024, unmapped, unmapped - 16);
                buf[at + 8..at + 16].copy_from_slice(&p.to_le_bytes());
            }
            if cmd == ioctl::ATTACH || cmd == ioctl::DETACH {
                // Valid family/hook sometimes; leave the program attached
                // somewhere harmless at worst.
                let at = ioctl::NAME_LEN;
                let fam = if rng.below(2) == 0 {
                    ioctl::FAMILY_IPV4
                } else {
                    ioctl::FAMILY_IPV6
                };
                buf[at..at + 4].copy_from_slice(&fam.to_le_bytes());
                buf[at + 4..at + 8].copy_from_slice(&(rng.below(7) as u32).to_le_bytes());
            }
        }
        let arg = match rng.below(6) {
            0 => 0u64,
            1 => unmapped,
            // The record ends in the unmapped page.
            2 => unmapped - (size as u64 / 2).max(1),
            3 => 0xffff_ffff_8100_0000,
            _ => valid,
        };
        // SAFETY: the kernel validates every pointer; we pass addresses the
        // kernel may read/write only inside our own mapping or not at all.
        let rc = unsafe { libc::ioctl(fd, cmd as _, arg) };
        let errno = if rc < 0 {
            std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
        } else {
            0
        };
        *by_errno.entry(errno).or_default() += 1;
    }
    // The device still answers a well-formed request.
    let mut layout = [0u8; ioctl::ModuleLayout::SIZE];
    // SAFETY: a buffer of exactly the record size.
    let rc = unsafe { libc::ioctl(fd, ioctl::MODULE_LAYOUT as _, layout.as_mut_ptr()) };
    let summary: Vec<String> = by_errno
        .iter()
        .map(|(e, n)| {
            if *e == 0 {
                format!("ok={n}")
            } else {
                format!("{}={n}", errno_name(*e))
            }
        })
        .collect();
    println!("fuzz-ioctl: {} ioctls: {}", a.iterations, summary.join(" "));
    if rc != 0 {
        bail!(
            "/dev/kwasm no longer answers MODULE_LAYOUT: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

fn errno_name(e: i32) -> String {
    match e {
        libc::EPERM => "EPERM".into(),
        libc::ENOENT => "ENOENT".into(),
        libc::EFAULT => "EFAULT".into(),
        libc::EINVAL => "EINVAL".into(),
        libc::ENOTTY => "ENOTTY".into(),
        libc::EEXIST => "EEXIST".into(),
        libc::ENOSPC => "ENOSPC".into(),
        libc::EBUSY => "EBUSY".into(),
        libc::ENOMEM => "ENOMEM".into(),
        libc::ENODEV => "ENODEV".into(),
        _ => format!("errno{e}"),
    }
}
