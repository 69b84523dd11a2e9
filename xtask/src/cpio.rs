//! A minimal writer for the "newc" cpio format that the kernel unpacks as
//! initramfs (Documentation/driver-api/early-userspace/buffer-format.rst).
//!
//! Written here rather than by `cpio -o` so that the archive can hold device
//! nodes (`/dev/console`) without root, and so that it is reproducible (all
//! owners root, all times zero). The archive is left uncompressed: the kernel
//! always accepts that, whatever its RD_* options.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::{Result, bail};

const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFCHR: u32 = 0o020_000;

enum Entry {
    Dir(u32),
    File(u32, Vec<u8>),
    Symlink(String),
    CharDev(u32, u32, u32),
}

/// An in-memory archive; parents of added paths are created as needed.
#[derive(Default)]
pub struct Archive {
    entries: BTreeMap<String, Entry>,
}

fn clean(path: &str) -> Result<String> {
    let p = path.trim_matches('/');
    if p.is_empty() || p.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        bail!("bad initramfs path {path:?}");
    }
    Ok(p.to_string())
}

impl Archive {
    fn insert(&mut self, path: &str, e: Entry) -> Result<()> {
        let p = clean(path)?;
        let mut parent = p.as_str();
        while let Some((dir, _)) = parent.rsplit_once('/') {
            self.entries
                .entry(dir.to_string())
                .or_insert(Entry::Dir(0o755));
            parent = dir;
        }
        self.entries.insert(p, e);
        Ok(())
    }

    pub fn dir(&mut self, path: &str, perm: u32) -> Result<()> {
        self.insert(path, Entry::Dir(perm))
    }

    pub fn file(&mut self, path: &str, perm: u32, data: Vec<u8>) -> Result<()> {
        self.insert(path, Entry::File(perm, data))
    }

    pub fn symlink(&mut self, path: &str, target: &str) -> Result<()> {
        self.insert(path, Entry::Symlink(target.to_string()))
    }

    pub fn char_dev(&mut self, path: &str, perm: u32, major: u32, minor: u32) -> Result<()> {
        self.insert(path, Entry::CharDev(perm, major, minor))
    }

    /// Serializes the archive. Parents sort before their children.
    pub fn write(&self, out: &mut impl Write) -> Result<()> {
        let mut n = 0;
        for (ino, (name, e)) in self.entries.iter().enumerate() {
            let (mode, data, rdev): (u32, &[u8], (u32, u32)) = match e {
                Entry::Dir(p) => (S_IFDIR | p, &[], (0, 0)),
                Entry::File(p, d) => (S_IFREG | p, d, (0, 0)),
                Entry::Symlink(t) => (S_IFLNK | 0o777, t.as_bytes(), (0, 0)),
                Entry::CharDev(p, ma, mi) => (S_IFCHR | p, &[], (*ma, *mi)),
            };
            let nlink = if matches!(e, Entry::Dir(_)) { 2 } else { 1 };
            n += record(out, ino as u32 + 1, mode, nlink, rdev, name, data)?;
        }
        n += record(out, 0, 0, 1, (0, 0), "TRAILER!!!", &[])?;
        // Pad to a 512-byte block like cpio(1); harmless for the kernel.
        out.write_all(&vec![0; (512 - n % 512) % 512])?;
        Ok(())
    }
}

fn pad4(out: &mut impl Write, len: usize) -> Result<usize> {
    let p = (4 - len % 4) % 4;
    out.write_all(&[0; 3][..p])?;
    Ok(p)
}

fn record(
    out: &mut impl Write,
    ino: u32,
    mode: u32,
    nlink: u32,
    rdev: (u32, u32),
    name: &str,
    data: &[u8],
) -> Result<usize> {
    let Ok(size) = u32::try_from(data.len()) else {
        bail!("{name}: too large for cpio");
    };
    let fields = [
        ino,
        mode,
        0, // uid
        0, // gid
        nlink,
        0, // mtime
        size,
        0, // devmajor
        0, // devminor
        rdev.0,
        rdev.1,
        name.len() as u32 + 1,
        0, // check
    ];
    let mut hdr = String::from("070701");
    for f in fields {
        hdr.push_str(&format!("{f:08x}"));
    }
    out.write_all(hdr.as_bytes())?;
    out.write_all(name.as_bytes())?;
    out.write_all(&[0])?;
    let mut n = hdr.len() + name.len() + 1;
    n += pad4(out, n)?;
    out.write_all(data)?;
    n += data.len();
    n += pad4(out, n)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let mut a = Archive::default();
        a.file("bin/x", 0o755, b"hello".to_vec()).unwrap();
        a.char_dev("/dev/console", 0o600, 5, 1).unwrap();
        let mut out = Vec::new();
        a.write(&mut out).unwrap();
        assert_eq!(out.len() % 512, 0);
        let s = String::from_utf8_lossy(&out);
        // Parents first, each record 4-aligned.
        let bin = s.find("bin\0").unwrap();
        let x = s.find("bin/x\0").unwrap();
        assert!(bin < x);
        assert_eq!((x - 110) % 4, 0);
        assert!(s.contains("TRAILER!!!"));
        assert!(a.file("../etc", 0o644, vec![]).is_err());
    }
}
