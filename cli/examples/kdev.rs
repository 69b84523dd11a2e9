//! `kdev`: a stopgap driver for kwasm.ko used by the kernel runtime's
//! in-VM smoke test (`vm/dev/kloader-smoke.sh`) until `kwasm load` and
//! friends exist. It uses only the library (`kwasm_cli::kmod::wrap`,
//! `kwasm_cli::device::Device`), so it exercises the same code paths.
//!
//! ```text
//! kdev load FILE.kw NAME [FUEL [STACK_KIB [FLAGS]]]
//! kdev unload NAME
//! kdev invoke NAME EXPORT [ARG...]    (integers; prints results or the trap)
//! kdev attach|detach NAME ipv4:input [PRIORITY]
//! kdev stats NAME | list
//! kdev mapget NAME MAP INDEX COUNT | mapset NAME MAP INDEX VALUE
//! kdev udp-send ADDR:PORT COUNT       (busybox nc has no UDP)
//! kdev udp-recv PORT MILLIS           (prints the number of datagrams received)
//! kdev fuzz ITERATIONS [NAME...]      (hostile ioctls; NAMEs are loaded programs)
//! ```

use anyhow::{Context, Result, bail};
use kwasm_abi::ioctl::{self, LoadConfig};
use kwasm_abi::trap::TrapCode;
use kwasm_cli::device::Device;
use kwasm_cli::kmod::{self, ModuleParts};
use std::ffi::CString;

fn num<T: std::str::FromStr>(s: Option<&String>, what: &str) -> Result<T> {
    s.with_context(|| format!("missing {what}"))?
        .parse()
        .ok()
        .with_context(|| format!("bad {what}"))
}

fn load(args: &[String]) -> Result<()> {
    let path = args.first().context("missing FILE.kw")?;
    let name = args.get(1).context("missing NAME")?;
    let bytes = std::fs::read(path).with_context(|| format!("reading {path}"))?;
    let sect = |n: &str| elf_section(&bytes, n).with_context(|| format!("{path}: no {n}"));
    let text = sect(".text")?;
    let meta = sect(kwasm_abi::meta::SECTION_NAME)?;
    let config = LoadConfig {
        magic: ioctl::LOAD_CONFIG_MAGIC,
        version: ioctl::IOCTL_VERSION,
        name: ioctl::encode_name(name).context("bad program name")?,
        fuel: args.get(2).map_or(Ok(0), |s| s.parse())?,
        stack_kib: args.get(3).map_or(Ok(0), |s| s.parse())?,
        flags: args.get(4).map_or(Ok(0), |s| s.parse())?,
    };
    let dev = Device::open()?;
    let layout = dev.module_layout()?;
    let image = kmod::wrap(
        &ModuleParts {
            name,
            text: &text,
            meta: &meta,
            config,
        },
        &layout,
    )?;
    let params = CString::new("")?;
    // SAFETY: image and params are valid for the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_init_module,
            image.as_ptr(),
            image.len(),
            params.as_ptr(),
        )
    };
    if rc != 0 {
        bail!(
            "init_module: {} (see dmesg)",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

/// Contents of the ELF64 little-endian section `name` (a `.kw` is one).
fn elf_section(b: &[u8], name: &str) -> Option<Vec<u8>> {
    let u16_at = |o: usize| Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?) as usize);
    let u32_at = |o: usize| Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?) as usize);
    let u64_at = |o: usize| Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?) as usize);
    if b.get(..4)? != b"\x7fELF" {
        return None;
    }
    let (shoff, shentsize, shnum, shstrndx) =
        (u64_at(0x28)?, u16_at(0x3a)?, u16_at(0x3c)?, u16_at(0x3e)?);
    let sh = |i: usize| shoff + i * shentsize;
    let strtab = u64_at(sh(shstrndx) + 0x18)?;
    for i in 0..shnum {
        let n = strtab + u32_at(sh(i))?;
        let end = n + b.get(n..)?.iter().position(|&c| c == 0)?;
        if &b[n..end] == name.as_bytes() {
            let (off, size) = (u64_at(sh(i) + 0x18)?, u64_at(sh(i) + 0x20)?);
            return Some(b.get(off..off + size)?.to_vec());
        }
    }
    None
}

fn unload(name: &str) -> Result<()> {
    let m = CString::new(kmod::module_name(name))?;
    // SAFETY: `m` is a valid C string.
    let rc = unsafe { libc::syscall(libc::SYS_delete_module, m.as_ptr(), libc::O_NONBLOCK) };
    if rc != 0 {
        bail!("delete_module: {}", std::io::Error::last_os_error());
    }
    Ok(())
}

fn print_info(i: &ioctl::ProgInfo) {
    let s = &i.stats;
    print!(
        "{} id={} funcs={} text={} invocations={} accepts={} drops={} bad_verdicts={} fpu_unavailable={} run_ns={}",
        ioctl::decode_name(&i.name).unwrap_or("?"),
        i.id,
        i.funcs,
        i.text_len,
        s.invocations,
        s.accepts,
        s.drops,
        s.bad_verdicts,
        s.fpu_unavailable,
        s.run_ns
    );
    for (k, n) in s.traps.iter().enumerate() {
        if *n != 0 {
            print!(" {}={n}", kwasm_abi::trap::ALL_TRAPS[k].name());
        }
    }
    for a in 0..i.nattach as usize {
        let (f, h, p) = i.attachment(a);
        let (f, h) = ioctl::attach_point_name(f, h);
        print!(" attach={f}:{h}@{p}");
    }
    println!();
}

/// Hostile ioctls on /dev/kwasm: random request numbers, the real numbers
/// with other sizes, and real requests with random contents (names of loaded
/// programs and exports mixed in, user pointers to a scratch buffer, null or
/// kernel addresses). Every call must fail or succeed cleanly; the caller
/// checks the kernel log.
fn fuzz(iterations: u32, names: &[String]) -> Result<()> {
    use std::os::fd::AsRawFd;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(ioctl::DEVICE_PATH)?;
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let cmds = [
        ioctl::MODULE_LAYOUT,
        ioctl::LIST,
        ioctl::STATS,
        ioctl::ATTACH,
        ioctl::DETACH,
        ioctl::INVOKE,
        ioctl::MAP_GET,
        ioctl::MAP_SET,
    ];
    let exports = [
        "filter", "fib", "fib_rec", "mem_sum", "dispatch", "bulk", "nope", "memory", "",
    ];
    let mut scratch = vec![0u8; 1 << 16];
    let mut buf = vec![0u8; 1 << 14];
    let (mut ok, mut errs) = (0u32, std::collections::BTreeMap::<i32, u32>::new());
    for _ in 0..iterations {
        let r = rnd();
        let base = cmds[(r % cmds.len() as u64) as usize];
        let cmd = match (r >> 8) % 8 {
            0 => rnd() as u32,
            1 => (base & !(0x3fff << 16)) | (((rnd() % 0x4000) as u32) << 16),
            _ => base,
        };
        for b in buf.iter_mut() {
            *b = rnd() as u8;
        }
        if !names.is_empty() && rnd() % 4 != 0 {
            let n = names[(rnd() % names.len() as u64) as usize].as_bytes();
            buf[..ioctl::NAME_LEN].fill(0);
            buf[..n.len()].copy_from_slice(n);
        }
        if base == ioctl::INVOKE && rnd() % 2 == 0 {
            let e = exports[(rnd() % exports.len() as u64) as usize].as_bytes();
            let at = ioctl::NAME_LEN;
            buf[at..at + ioctl::EXPORT_LEN].fill(0);
            buf[at..at + e.len()].copy_from_slice(e);
            let nargs = (rnd() % 4) as u32;
            buf[at + ioctl::EXPORT_LEN..at + ioctl::EXPORT_LEN + 4]
                .copy_from_slice(&nargs.to_le_bytes());
            // Small fuel, so that runaway loops end quickly.
            let fo = at + ioctl::EXPORT_LEN + 16;
            buf[fo..fo + 8].copy_from_slice(&(rnd() % 100_000).to_le_bytes());
        }
        let ptr: u64 = match rnd() % 4 {
            0 => 0,
            1 => 0xffff_ffff_8100_0000,
            _ => scratch.as_mut_ptr() as u64,
        };
        // User pointers inside requests: LIST.buf at 0, MAP*.buf last.
        if base == ioctl::LIST {
            buf[..8].copy_from_slice(&ptr.to_le_bytes());
            let cap = (rnd() % 64) as u32;
            buf[8..12].copy_from_slice(&cap.to_le_bytes());
        }
        if base == ioctl::MAP_GET || base == ioctl::MAP_SET {
            let at = ioctl::MapReq::SIZE - 8;
            buf[at..at + 8].copy_from_slice(&ptr.to_le_bytes());
            let count = (rnd() % 4) as u32;
            buf[ioctl::NAME_LEN + 8..ioctl::NAME_LEN + 12].copy_from_slice(&count.to_le_bytes());
        }
        let arg: u64 = match rnd() % 16 {
            0 => 0,
            1 => 0xffff_ffff_8100_0000,
            2 => u64::MAX - 16,
            _ => buf.as_mut_ptr() as u64,
        };
        // SAFETY: the kernel writes at most the size encoded in `cmd` (< 16
        // KiB) to `arg`, which is `buf` (16 KiB) or an address it must refuse.
        let rc = unsafe { libc::ioctl(f.as_raw_fd(), cmd as _, arg as *mut u8) };
        if rc == 0 {
            ok += 1;
        } else {
            *errs
                .entry(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
                .or_default() += 1;
        }
    }
    println!("fuzz: {iterations} ioctls, {ok} succeeded, errno counts {errs:?}");
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmd = args.first().map(String::as_str).unwrap_or("");
    let rest = &args[args.len().min(1)..];
    match cmd {
        "load" => load(rest),
        "unload" => unload(rest.first().context("missing NAME")?),
        "invoke" => {
            let name = rest.first().context("missing NAME")?;
            let export = rest.get(1).context("missing EXPORT")?;
            let vals: Vec<u64> = rest[2..]
                .iter()
                .map(|a| {
                    a.parse::<i64>()
                        .map(|v| v as u64)
                        .or_else(|_| a.parse::<u64>())
                })
                .collect::<Result<_, _>>()?;
            let r = Device::open()?.invoke(name, export, &vals, 0)?;
            if r.trap != 0 {
                let t = TrapCode::from_u32(r.trap).map_or("?", |t| t.name());
                println!("trap {t} func {}", r.trap_func);
            } else {
                let v: Vec<String> = r.values[..r.nresults as usize]
                    .iter()
                    .map(|v| v.to_string())
                    .collect();
                println!("{}", v.join(" "));
            }
            Ok(())
        }
        "attach" | "detach" => {
            let name = rest.first().context("missing NAME")?;
            let point = rest.get(1).context("missing POINT")?;
            let prio = rest.get(2).map_or(Ok(0), |s| s.parse())?;
            Device::open()?.attach(name, point, prio, cmd == "detach")
        }
        "stats" => {
            print_info(&Device::open()?.stats(rest.first().context("missing NAME")?)?);
            Ok(())
        }
        "list" => {
            for i in Device::open()?.list()? {
                print_info(&i);
            }
            Ok(())
        }
        "mapget" => {
            let name = rest.first().context("missing NAME")?;
            let (v, len) = Device::open()?.map_get(
                name,
                num(rest.get(1), "MAP")?,
                num(rest.get(2), "INDEX")?,
                num(rest.get(3), "COUNT")?,
            )?;
            println!("len={len} {v:?}");
            Ok(())
        }
        "mapset" => {
            let name = rest.first().context("missing NAME")?;
            Device::open()?.map_set(
                name,
                num(rest.get(1), "MAP")?,
                num(rest.get(2), "INDEX")?,
                num(rest.get(3), "VALUE")?,
            )
        }
        "fuzz" => fuzz(num(rest.first(), "ITERATIONS")?, &rest[1..]),
        "udp-send" => {
            let to = rest.first().context("missing ADDR:PORT")?;
            let n: u32 = num(rest.get(1), "COUNT")?;
            let s = std::net::UdpSocket::bind("0.0.0.0:0")?;
            for i in 0..n {
                // A drop by a netfilter hook shows up as EPERM on send.
                let _ = s.send_to(format!("datagram {i}").as_bytes(), to.as_str());
            }
            Ok(())
        }
        "udp-recv" => {
            let port: u16 = num(rest.first(), "PORT")?;
            let ms: u64 = num(rest.get(1), "MILLIS")?;
            let s = std::net::UdpSocket::bind(("0.0.0.0", port))?;
            s.set_read_timeout(Some(std::time::Duration::from_millis(ms)))?;
            let mut n = 0;
            let mut buf = [0u8; 2048];
            while s.recv(&mut buf).is_ok() {
                n += 1;
            }
            println!("{n}");
            Ok(())
        }
        _ => bail!("usage: kdev load|unload|invoke|attach|detach|stats|list|mapget|mapset ..."),
    }
}
