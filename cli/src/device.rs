//! The `/dev/kwasm` client: typed ioctls and the module syscalls.
//!
//! Every request is a [`Record`] encoded into a byte buffer of exactly its
//! size (the size the ioctl number carries); errors are turned into messages
//! that say what to do about them.

use anyhow::{Context, Result, anyhow, bail};
use kwasm_abi::ioctl::{self, DEVICE_PATH, ModuleLayout, ProgInfo, Record};
use kwasm_abi::maps::MapKind;
use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;

/// An open control device.
pub struct Device {
    file: File,
}

impl Device {
    /// Open `/dev/kwasm` with a helpful error when the module is missing.
    pub fn open() -> Result<Device> {
        match OpenOptions::new().read(true).write(true).open(DEVICE_PATH) {
            Ok(file) => Ok(Device { file }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                bail!("{DEVICE_PATH} not found: is kwasm.ko loaded? (insmod kwasm.ko)")
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                bail!("{DEVICE_PATH}: permission denied: run as root (CAP_NET_ADMIN)")
            }
            Err(e) => Err(e).with_context(|| format!("opening {DEVICE_PATH}")),
        }
    }

    /// Issue one ioctl with `req` as its in/out record.
    fn call<R: Record>(&self, what: &str, cmd: u32, req: &mut R) -> Result<()> {
        self.call_explained(what, cmd, req, None)
    }

    /// [`Device::call`], with what EINVAL means for this request.
    fn call_explained<R: Record>(
        &self,
        what: &str,
        cmd: u32,
        req: &mut R,
        einval: Option<&str>,
    ) -> Result<()> {
        match self.ioctl(cmd, req) {
            Ok(()) => Ok(()),
            Err(e) => match (e.raw_os_error(), einval) {
                (Some(libc::EINVAL), Some(hint)) => Err(anyhow!("{what}: {hint} ({e})")),
                _ => Err(explain(what, e)),
            },
        }
    }

    /// One ioctl with `req` as its in/out record, and the OS error as is.
    fn ioctl<R: Record>(&self, cmd: u32, req: &mut R) -> io::Result<()> {
        let mut buf = vec![0u8; R::SIZE];
        req.write(&mut buf);
        // SAFETY: `buf` is a live, exclusively borrowed buffer of exactly the
        // size encoded in `cmd`, which is all the kernel reads or writes.
        let rc = unsafe { libc::ioctl(self.file.as_raw_fd(), cmd as _, buf.as_mut_ptr()) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        *req = R::read(&buf);
        Ok(())
    }

    pub fn module_layout(&self) -> Result<ModuleLayout> {
        let mut l = ModuleLayout::default();
        self.call("MODULE_LAYOUT", ioctl::MODULE_LAYOUT, &mut l)?;
        if l.version != ioctl::IOCTL_VERSION {
            bail!(
                "kwasm.ko speaks ioctl version {}, this kwasm speaks {}: rebuild one of them",
                l.version,
                ioctl::IOCTL_VERSION
            );
        }
        Ok(l)
    }

    pub fn list(&self) -> Result<Vec<ProgInfo>> {
        let mut cap = 16u32;
        loop {
            let mut buf = vec![0u8; cap as usize * ProgInfo::SIZE];
            let mut req = ioctl::ListReq {
                buf: buf.as_mut_ptr() as u64,
                cap,
                count: 0,
            };
            self.call("LIST", ioctl::LIST, &mut req)?;
            if req.count <= cap {
                return Ok(buf
                    .chunks_exact(ProgInfo::SIZE)
                    .take(req.count as usize)
                    .map(ProgInfo::read)
                    .collect());
            }
            cap = req.count;
        }
    }

    pub fn stats(&self, name: &str) -> Result<ProgInfo> {
        let mut req = ioctl::StatsReq {
            name: prog_name(name)?,
            ..Default::default()
        };
        self.call(&format!("STATS {name}"), ioctl::STATS, &mut req)?;
        Ok(req.info)
    }

    pub fn attach(&self, name: &str, point: &str, priority: i32, detach: bool) -> Result<()> {
        let (family, hook) = attach_point(point)?;
        let mut req = ioctl::AttachReq {
            name: prog_name(name)?,
            family,
            hook,
            priority,
            pad: 0,
        };
        let (what, cmd) = if detach {
            ("DETACH", ioctl::DETACH)
        } else {
            ("ATTACH", ioctl::ATTACH)
        };
        self.call(&format!("{what} {name} {point}"), cmd, &mut req)
    }

    /// Call an export inside the kernel.
    pub fn invoke(
        &self,
        name: &str,
        export: &str,
        args: &[u64],
        fuel: u64,
    ) -> Result<ioctl::InvokeReq> {
        if args.len() > ioctl::MAX_INVOKE_VALUES {
            bail!("at most {} arguments", ioctl::MAX_INVOKE_VALUES);
        }
        if fuel > kwasm_abi::fuel::MAX {
            bail!(
                "fuel {fuel} is above the kernel's ceiling of {} per call",
                kwasm_abi::fuel::MAX
            );
        }
        let mut export_raw = [0u8; ioctl::EXPORT_LEN];
        if export.is_empty() || export.len() >= ioctl::EXPORT_LEN || export.contains('\0') {
            bail!("export name '{export}' is empty or too long");
        }
        export_raw[..export.len()].copy_from_slice(export.as_bytes());
        let mut values = [0u64; ioctl::MAX_INVOKE_VALUES];
        values[..args.len()].copy_from_slice(args);
        let mut req = ioctl::InvokeReq {
            name: prog_name(name)?,
            export: export_raw,
            nargs: args.len() as u32,
            fuel,
            values,
            ..Default::default()
        };
        self.call_explained(
            &format!("INVOKE {name}.{export}"),
            ioctl::INVOKE,
            &mut req,
            Some(&format!(
                "the kernel refused the call: an argument does not fit the type of \
                 `{export}`'s parameter (reference parameters take only null, i32 and \
                 f32 values must fit 32 bits), the argument count is wrong, or `{export}` \
                 is not a function export; dmesg names the argument"
            )),
        )?;
        Ok(req)
    }

    /// Read `count` entries of a map from `index` on: for a per-CPU map,
    /// CPU `cpu`'s copies or with `maps::ALL_CPUS` their sums.
    pub fn map_get(
        &self,
        name: &str,
        map: u32,
        index: u32,
        count: u32,
        cpu: u32,
    ) -> Result<MapRead> {
        let mut values = vec![0u64; count as usize];
        let mut req = ioctl::MapReq {
            name: prog_name(name)?,
            map,
            index,
            count,
            cpu,
            buf: values.as_mut_ptr() as u64,
            ..Default::default()
        };
        self.call(
            &format!("MAP_GET {name} map {map}"),
            ioctl::MAP_GET,
            &mut req,
        )?;
        let kind = MapKind::from_u32(req.kind).ok_or_else(|| {
            anyhow!(
                "kwasm.ko reported an unknown kind {} for map {map}",
                req.kind
            )
        })?;
        Ok(MapRead {
            values,
            len: req.len,
            kind,
            copies: req.copies,
            key_size: req.key_size,
            value_size: req.value_size,
            used: req.used,
        })
    }

    /// One `MAP_ELEM` operation (`ioctl::ELEM_*`) on hash map `map`, whose
    /// key and value sizes are `key.len()` and `value.len()`: the bucket
    /// of the entry found by `ELEM_NEXT`, else `cursor`. A failed
    /// operation is the OS error, whose errno is a `maps::MapStatus`'s
    /// (`ENOENT`: no such key, or no entry after `cursor`).
    pub fn map_elem(
        &self,
        name: &str,
        map: u32,
        op: ElemOp,
        key: &mut [u8],
        value: &mut [u8],
    ) -> Result<io::Result<u32>> {
        let mut req = ioctl::MapElemReq {
            name: prog_name(name)?,
            map,
            op: op.op,
            flags: op.flags,
            cursor: op.cursor,
            key: key.as_mut_ptr() as u64,
            value: value.as_mut_ptr() as u64,
            key_size: key.len() as u32,
            value_size: value.len() as u32,
        };
        Ok(self.ioctl(ioctl::MAP_ELEM, &mut req).map(|()| req.cursor))
    }

    /// Store `value` at entry `index` of a map: for a per-CPU map in CPU
    /// `cpu`'s copy, or with `maps::ALL_CPUS` in every copy.
    pub fn map_set(&self, name: &str, map: u32, index: u32, value: u64, cpu: u32) -> Result<()> {
        let mut req = ioctl::MapReq {
            name: prog_name(name)?,
            map,
            index,
            value,
            cpu,
            count: 1,
            ..Default::default()
        };
        self.call(
            &format!("MAP_SET {name} map {map}"),
            ioctl::MAP_SET,
            &mut req,
        )
    }
}

/// What one `EVENTS` drained: the records' bytes (parse them with
/// `kwasm_abi::ring::records`) and the ring's counters.
pub struct Drained {
    pub buf: Vec<u8>,
    pub records: u32,
    /// Records the ring has dropped since the program loaded.
    pub dropped: u64,
    /// Bytes still in the ring.
    pub pending: u64,
}

impl Device {
    /// `EVENTS`: drains up to `max` bytes of whole records of ring buffer
    /// `map` (or `ioctl::LOG_RING`) of program `name`.
    pub fn events(&self, name: &str, map: u32, max: u32) -> Result<Drained> {
        let mut buf = vec![0u8; max as usize];
        let mut req = ioctl::EventsReq {
            name: prog_name(name)?,
            map,
            buf_len: max,
            buf: buf.as_mut_ptr() as u64,
            ..Default::default()
        };
        let what = match map {
            ioctl::LOG_RING => format!("EVENTS {name} log"),
            m => format!("EVENTS {name} map {m}"),
        };
        self.call_explained(
            &what,
            ioctl::EVENTS,
            &mut req,
            Some("that map is not a ring_buf (see `kwasm map list`)"),
        )?;
        buf.truncate(req.bytes as usize);
        Ok(Drained {
            buf,
            records: req.records,
            dropped: req.dropped,
            pending: req.pending,
        })
    }
}

/// A `MAP_ELEM` operation: `ioctl::ELEM_*`, with its update flags or its
/// scan's start.
#[derive(Clone, Copy, Debug)]
pub struct ElemOp {
    pub op: u32,
    pub flags: u32,
    pub cursor: u32,
}

impl ElemOp {
    pub fn lookup() -> ElemOp {
        ElemOp {
            op: ioctl::ELEM_LOOKUP,
            flags: 0,
            cursor: 0,
        }
    }
    /// With `hash::UPDATE_*` flags.
    pub fn update(flags: u32) -> ElemOp {
        ElemOp {
            op: ioctl::ELEM_UPDATE,
            flags,
            cursor: 0,
        }
    }
    pub fn delete() -> ElemOp {
        ElemOp {
            op: ioctl::ELEM_DELETE,
            flags: 0,
            cursor: 0,
        }
    }
    /// The first entry at or after bucket `cursor`.
    pub fn next(cursor: u32) -> ElemOp {
        ElemOp {
            op: ioctl::ELEM_NEXT,
            flags: 0,
            cursor,
        }
    }
}

/// What `MAP_GET` returns: the values read, and the map's entry count, kind
/// and copies of each entry (its CPUs when per-CPU, else 1).
pub struct MapRead {
    pub values: Vec<u64>,
    pub len: u32,
    pub kind: MapKind,
    pub copies: u32,
    pub key_size: u32,
    pub value_size: u32,
    /// Keys a hash map holds (an array: `len`).
    pub used: u32,
}

/// `(family, hook)` of an attach point such as `ipv4:input`, or an error
/// that lists the valid ones (for kwasm, eBPF and native attachments alike).
pub fn attach_point(point: &str) -> Result<(u32, u32)> {
    ioctl::parse_attach_point(point).ok_or_else(|| {
        anyhow!("bad attach point '{point}': use ipv4|ipv6 : prerouting|input|forward|output|postrouting, e.g. ipv4:input")
    })
}

/// A `BENCH` request: `repeat` calls of `name`'s `filter` on `packet`.
pub struct BenchRun<'a> {
    pub name: &'a str,
    pub packet: &'a [u8],
    pub repeat: u32,
    /// Calls per batch, 0 = automatic.
    pub batch: u32,
}

impl Device {
    /// `BENCH`: a test run of `filter` in the kernel on the caller's CPU.
    pub fn bench(&self, b: &BenchRun<'_>) -> Result<ioctl::BenchReq> {
        let name = b.name;
        let mut req = ioctl::BenchReq {
            name: prog_name(name)?,
            packet: b.packet.as_ptr() as u64,
            packet_len: u32::try_from(b.packet.len()).unwrap_or(u32::MAX),
            repeat: b.repeat,
            batch: b.batch,
            ..Default::default()
        };
        let what = format!("BENCH {name}");
        self.call_explained(
            &what,
            ioctl::BENCH,
            &mut req,
            Some(&format!(
                "the kernel refused the bench: {name} has no `filter` export, or the \
                 packet is empty, --repeat is 0 or --batch is above {}",
                ioctl::BENCH_MAX_BATCH
            )),
        )?;
        Ok(req)
    }
}

/// Encode a program name, with a clear error.
pub fn prog_name(name: &str) -> Result<[u8; ioctl::NAME_LEN]> {
    ioctl::encode_name(name).ok_or_else(|| {
        anyhow!(
            "bad program name '{name}': use 1-{} characters of [A-Za-z0-9_]",
            ioctl::NAME_LEN - 1
        )
    })
}

fn explain(what: &str, e: io::Error) -> anyhow::Error {
    let hint = match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            "permission denied: need CAP_NET_ADMIN (run as root)"
        }
        Some(libc::ENOENT) => "no such program (see `kwasm list`)",
        Some(libc::EEXIST) => "already exists (already loaded or attached)",
        Some(libc::ENOTTY) => {
            "kwasm.ko does not know this request: is it the same version as this kwasm?"
        }
        Some(libc::EINVAL) => "the kernel rejected the request as invalid (see dmesg)",
        Some(libc::EBUSY) => "busy: detach the program first",
        Some(libc::ENOSPC) => "no room: too many attachments or programs",
        Some(libc::E2BIG) => "too large: the packet or the repeat count is above the kernel's cap",
        Some(libc::EINTR) => "interrupted by a signal",
        _ => "",
    };
    if hint.is_empty() {
        anyhow!("{what}: {e}")
    } else {
        anyhow!("{what}: {hint} ({e})")
    }
}

/// `init_module(2)`: load a module image.
pub fn init_module(image: &[u8]) -> io::Result<()> {
    let params = CString::default();
    // SAFETY: the image pointer/length describe a live buffer and `params`
    // is a NUL-terminated string, as init_module(2) requires.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_init_module,
            image.as_ptr(),
            image.len(),
            params.as_ptr(),
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `delete_module(2)` without waiting.
pub fn delete_module(name: &str) -> io::Result<()> {
    let c = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    let rc = unsafe { libc::syscall(libc::SYS_delete_module, c.as_ptr(), libc::O_NONBLOCK) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
