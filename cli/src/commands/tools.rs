//! Hidden test tools for the in-VM checks (`vm/checks/`): UDP traffic
//! (busybox `nc` has no UDP mode), an ioctl fuzzer and forged `.kw` files.

use anyhow::{Context, Result, anyhow, bail};
use kwasm_abi::ioctl;
use kwasm_abi::meta::{self, Meta, Record};
use kwasm_runtime::artifact::raw_sections;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct UdpSendArgs {
    /// Destination port on --addr.
    #[arg(long)]
    pub port: u16,
    #[arg(long, default_value = "127.0.0.1")]
    pub addr: Ipv4Addr,
    /// Datagrams to send (0: until --seconds have passed).
    #[arg(long, default_value_t = 1)]
    pub count: u64,
    /// Stop after this many seconds (0: no limit).
    #[arg(long, default_value_t = 0)]
    pub seconds: u64,
    /// Payload bytes per datagram.
    #[arg(long, default_value_t = 32)]
    pub size: usize,
}

/// Send datagrams; prints `sent N, failed M`.
pub fn udp_send(a: &UdpSendArgs) -> Result<()> {
    let sock = UdpSocket::bind("0.0.0.0:0").context("binding a UDP socket")?;
    let dst = SocketAddrV4::new(a.addr, a.port);
    let payload = vec![b'k'; a.size];
    let start = Instant::now();
    let (mut sent, mut failed) = (0u64, 0u64);
    loop {
        if a.count != 0 && sent + failed >= a.count {
            break;
        }
        if a.seconds != 0 && start.elapsed() >= Duration::from_secs(a.seconds) {
            break;
        }
        if a.count == 0 && a.seconds == 0 {
            bail!("give --count or --seconds");
        }
        match sock.send_to(&payload, dst) {
            Ok(_) => sent += 1,
            Err(_) => failed += 1,
        }
    }
    println!("sent {sent}, failed {failed}");
    Ok(())
}

#[derive(clap::Args)]
pub struct UdpCheckArgs {
    /// Port on 127.0.0.1 to listen on and send to.
    #[arg(long)]
    pub port: u16,
    /// Datagrams to send.
    #[arg(long, default_value_t = 10)]
    pub count: u64,
    /// Milliseconds to wait for more datagrams after the last one.
    #[arg(long, default_value_t = 500)]
    pub wait_ms: u64,
    /// Exit with status 1 unless exactly this many arrive.
    #[arg(long)]
    pub expect: Option<u64>,
}

/// Bind a receiver on 127.0.0.1:PORT, send COUNT datagrams to it, count what
/// arrives; prints `sent N, failed M, received R`.
pub fn udp_check(a: &UdpCheckArgs) -> Result<bool> {
    let rx = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, a.port))
        .with_context(|| format!("binding 127.0.0.1:{}", a.port))?;
    rx.set_read_timeout(Some(Duration::from_millis(a.wait_ms.max(1))))?;
    let tx = UdpSocket::bind("127.0.0.1:0")?;
    let (mut sent, mut failed, mut received) = (0u64, 0u64, 0u64);
    let mut buf = [0u8; 2048];
    for i in 0..a.count {
        let payload = format!("kwasm datagram {i}");
        match tx.send_to(payload.as_bytes(), rx.local_addr()?) {
            Ok(_) => sent += 1,
            Err(_) => failed += 1,
        }
        // Keep the receive queue short.
        rx.set_nonblocking(true)?;
        while rx.recv(&mut buf).is_ok() {
            received += 1;
        }
        rx.set_nonblocking(false)?;
    }
    while rx.recv(&mut buf).is_ok() {
        received += 1;
    }
    println!("sent {sent}, failed {failed}, received {received}");
    Ok(a.expect.is_none_or(|e| e == received))
}

#[derive(clap::Args)]
pub struct FuzzArgs {
    /// Number of ioctls to send.
    #[arg(long, default_value_t = 20000)]
    pub iterations: u64,
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
pub fn fuzz_ioctl(ctx: &super::Ctx, a: &FuzzArgs) -> Result<()> {
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
                | ioctl::MAP_SET => buf[..ioctl::NAME_LEN].copy_from_slice(&n),
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

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ForgeMode {
    /// Cut the file in half.
    TruncateFile,
    /// Cut 16 bytes off the end of the metadata section.
    TruncateMeta,
    /// Point the first function's code outside .text; re-stamp the checksum.
    CorruptMeta,
    /// Give the first import another type of the module; re-stamp the
    /// checksum.
    BadImport,
}

#[derive(clap::Args)]
pub struct ForgeArgs {
    pub input: PathBuf,
    pub output: PathBuf,
    #[arg(long, value_enum)]
    pub mode: ForgeMode,
}

/// Offset of the stored checksum in a valid blob: the 4 bytes that equal
/// the CRC-32 of the blob with themselves read as zero. Found rather than
/// hard-coded so that the forger follows the format.
fn checksum_offset(blob: &[u8]) -> Option<usize> {
    (0..blob.len().saturating_sub(4)).step_by(4).find(|&p| {
        let stored = u32::from_le_bytes([blob[p], blob[p + 1], blob[p + 2], blob[p + 3]]);
        let c = meta::crc32(0, &blob[..p]);
        let c = meta::crc32(c, &[0; 4]);
        meta::crc32(c, &blob[p + 4..]) == stored
    })
}

fn restamp(blob: &mut [u8], at: usize) {
    blob[at..at + 4].fill(0);
    let c = meta::crc32(0, blob);
    blob[at..at + 4].copy_from_slice(&c.to_le_bytes());
}

/// Offset of the only occurrence of `rec`'s encoding in `blob`.
fn find_record<R: meta::Record>(blob: &[u8], rec: &R) -> Result<usize> {
    let mut enc = vec![0u8; R::SIZE];
    rec.write(&mut enc);
    let hits: Vec<usize> = blob
        .windows(R::SIZE)
        .enumerate()
        .filter(|(_, w)| *w == enc.as_slice())
        .map(|(i, _)| i)
        .collect();
    match hits.as_slice() {
        [one] => Ok(*one),
        _ => bail!("found the record {} times in the metadata", hits.len()),
    }
}

/// Write a deliberately broken copy of a valid `.kw`.
pub fn forge(a: &ForgeArgs) -> Result<()> {
    let mut bytes =
        std::fs::read(&a.input).with_context(|| format!("cannot read {}", a.input.display()))?;
    let (text_len, meta_off, meta_len) = {
        let (text, m) = raw_sections(&bytes).map_err(|e| anyhow!("{}: {e}", a.input.display()))?;
        (
            text.len(),
            m.as_ptr() as usize - bytes.as_ptr() as usize,
            m.len(),
        )
    };
    match a.mode {
        ForgeMode::TruncateFile => bytes.truncate(bytes.len() / 2),
        ForgeMode::TruncateMeta => {
            // Shrink .kwasm.meta's sh_size in its section header.
            let elf = goblin::elf::Elf::parse(&bytes)?;
            let idx = elf
                .section_headers
                .iter()
                .position(|s| elf.shdr_strtab.get_at(s.sh_name) == Some(meta::SECTION_NAME))
                .context("no metadata section")?;
            let at = elf.header.e_shoff as usize + idx * elf.header.e_shentsize as usize + 32;
            let new = (meta_len as u64).saturating_sub(16);
            bytes[at..at + 8].copy_from_slice(&new.to_le_bytes());
        }
        ForgeMode::CorruptMeta => {
            let blob = &mut bytes[meta_off..meta_off + meta_len];
            let (at, sum) = {
                let m = Meta::parse(blob).map_err(|e| anyhow!("invalid metadata: {e}"))?;
                let f = m.funcs().get(0).context("the program has no functions")?;
                (find_record(blob, &f)?, checksum_offset(blob))
            };
            let sum = sum.context("cannot find the metadata checksum")?;
            // FuncRec { type_idx, text_off, .. }: the code lies past .text.
            blob[at + 4..at + 8].copy_from_slice(&(text_len as u32 + 64).to_le_bytes());
            restamp(blob, sum);
        }
        ForgeMode::BadImport => {
            let blob = &mut bytes[meta_off..meta_off + meta_len];
            let (imp, at, sum) = {
                let m = Meta::parse(blob).map_err(|e| anyhow!("invalid metadata: {e}"))?;
                let imp = m.imports().get(0).context("the program has no imports")?;
                let cur = m.types().get(imp.index).context("bad import type")?;
                let sig = |t| {
                    (
                        m.params(t).collect::<Vec<_>>(),
                        m.results(t).collect::<Vec<_>>(),
                    )
                };
                let cur_sig = sig(cur);
                let new = (0..m.types().len())
                    .find(|&i| m.types().get(i).is_some_and(|t| sig(t) != cur_sig))
                    .context("the program has no other function type to use")?;
                let at = find_record(blob, &imp)?;
                let mut imp = imp;
                imp.index = new;
                (imp, at, checksum_offset(blob))
            };
            let sum = sum.context("cannot find the metadata checksum")?;
            let mut enc = vec![0u8; meta::ImportRec::SIZE];
            imp.write(&mut enc);
            blob[at..at + enc.len()].copy_from_slice(&enc);
            restamp(blob, sum);
            Meta::parse(blob).map_err(|e| anyhow!("forged metadata does not parse: {e}"))?;
        }
    }
    std::fs::write(&a.output, &bytes)
        .with_context(|| format!("cannot write {}", a.output.display()))?;
    Ok(())
}
