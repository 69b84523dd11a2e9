//! `cargo xtask initramfs`: the VM's root filesystem.
//!
//! Layout (keep in sync with `vm/init`):
//!
//! | path                    | what                                          |
//! |-------------------------|-----------------------------------------------|
//! | `/init`                 | `vm/init`, PID 1                              |
//! | `/bin/busybox`, `/bin/sh` | busybox-static; `/init` installs the applets |
//! | `/lib/kwasm.ko`         | the module under test                         |
//! | `/lib/kwasm_probe.ko`   | test module calling kwasm.ko's exports        |
//! | `/lib/native_bench.ko`  | native C baseline of `kwasm bench`            |
//! | `/opt/kwasm/checks/*.sh`| `vm/checks/*.sh`, sourced by `/init` in order |
//! | `/opt/kwasm/bin/`       | on `PATH` (e.g. the static `kwasm` CLI)       |
//! | `/opt/kwasm/...`        | anything given with `--add HOST[:GUEST]`      |
//!
//! Every binary is for the VM's architecture (`--arch`).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::Arch;
use crate::cpio::Archive;
use crate::module::Modules;
use crate::util;

/// The static busybox for `arch`: `$KWASM_BUSYBOX` or Debian's
/// busybox-static for x86-64; `$KWASM_BUSYBOX_ARM64` or the arm64 package
/// that `make setup` unpacks into `~/.cache/kwasm/busybox-arm64/` (it cannot
/// be installed beside the amd64 one).
fn busybox(arch: Arch) -> Result<PathBuf> {
    let (var, candidates): (_, Vec<PathBuf>) = match arch {
        Arch::X86_64 => (
            "KWASM_BUSYBOX",
            vec!["/bin/busybox".into(), "/usr/bin/busybox".into()],
        ),
        Arch::Aarch64 => {
            let mut v = vec![util::cache_dir()?.join("busybox-arm64/bin/busybox")];
            if let Some(home) = std::env::var_os("HOME") {
                v.push(PathBuf::from(home).join(".cache/kwasm/busybox-arm64/bin/busybox"));
            }
            ("KWASM_BUSYBOX_ARM64", v)
        }
    };
    let candidates = match std::env::var_os(var) {
        Some(p) => vec![PathBuf::from(p)],
        None => candidates,
    };
    for p in candidates {
        if p.is_file() {
            if !util::is_static_elf(&p)? {
                bail!(
                    "{} is dynamically linked: install busybox-static (`make setup`) \
                     or set {var}",
                    p.display()
                );
            }
            if util::elf_machine(&p)? != arch.elf_machine() {
                bail!(
                    "{} is not a {} executable: set {var}",
                    p.display(),
                    arch.name()
                );
            }
            return Ok(p);
        }
    }
    match arch {
        Arch::X86_64 => {
            bail!("busybox not found: install busybox-static (`make setup`) or set {var}")
        }
        _ => bail!(
            "busybox for {} not found: `make setup` unpacks busybox-static:arm64 into \
             ~/.cache/kwasm/busybox-arm64/, or set {var}",
            arch.name()
        ),
    }
}

/// Adds a host file or directory tree at `guest`, keeping the executable bit.
fn add_host(a: &mut Archive, host: &Path, guest: &str) -> Result<()> {
    let meta = fs::metadata(host).with_context(|| format!("--add {}", host.display()))?;
    if meta.is_dir() {
        a.dir(guest, 0o755)?;
        let mut entries: Vec<_> = fs::read_dir(host)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name();
            let name = name.to_str().context("non-UTF-8 file name")?;
            add_host(a, &e.path(), &format!("{guest}/{name}"))?;
        }
    } else {
        let perm = if meta.permissions().mode() & 0o111 != 0 {
            0o755
        } else {
            0o644
        };
        let data = fs::read(host).with_context(|| format!("reading {}", host.display()))?;
        a.file(guest, perm, data)?;
    }
    Ok(())
}

/// Parses `HOST[:GUEST]`; GUEST defaults to `/opt/kwasm/<file name>`.
fn parse_add(spec: &str) -> Result<(PathBuf, String)> {
    let (host, guest) = match spec.split_once(':') {
        Some((h, g)) => (PathBuf::from(h), g.to_string()),
        None => {
            let host = PathBuf::from(spec);
            let name = host
                .file_name()
                .and_then(|n| n.to_str())
                .with_context(|| format!("--add {spec}: no file name"))?
                .to_string();
            (host, format!("/opt/kwasm/{name}"))
        }
    };
    Ok((host, guest))
}

/// Writes the initramfs for `arch` to `out`: busybox, `/init`, every check
/// script, the modules `m`, and `extra` (the payload, then `--add`).
pub fn build(arch: Arch, m: &Modules, extra: &[String], out: &Path) -> Result<()> {
    let root = util::root();
    let mut a = Archive::default();
    for d in [
        "dev", "proc", "sys", "run", "etc", "root", "sbin", "usr/bin", "usr/sbin",
    ] {
        a.dir(d, 0o755)?;
    }
    a.dir("tmp", 0o1777)?;
    a.dir("opt/kwasm/bin", 0o755)?;
    // The kernel opens /dev/console for PID 1 before /init can mount devtmpfs.
    a.char_dev("dev/console", 0o600, 5, 1)?;
    a.file(
        "etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n".to_vec(),
    )?;
    a.file(
        "etc/group",
        0o644,
        b"root:x:0:\nnogroup:x:65534:\n".to_vec(),
    )?;

    a.file("bin/busybox", 0o755, fs::read(busybox(arch)?)?)?;
    a.symlink("bin/sh", "busybox")?;
    a.file("init", 0o755, fs::read(root.join("vm/init"))?)?;
    add_host(&mut a, &root.join("vm/checks"), "opt/kwasm/checks")?;
    a.file("lib/kwasm.ko", 0o644, fs::read(&m.kwasm_ko)?)?;
    a.file("lib/kwasm_probe.ko", 0o644, fs::read(&m.probe_ko)?)?;
    a.file("lib/native_bench.ko", 0o644, fs::read(&m.native_ko)?)?;
    for spec in extra {
        let (host, guest) = parse_add(spec)?;
        add_host(&mut a, &host, &guest)?;
    }

    if let Some(d) = out.parent() {
        fs::create_dir_all(d)?;
    }
    let mut buf = Vec::new();
    a.write(&mut buf)?;
    fs::write(out, buf).with_context(|| format!("writing {}", out.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_spec() {
        let (h, g) = parse_add("target/x/kwasm").unwrap();
        assert_eq!(h, PathBuf::from("target/x/kwasm"));
        assert_eq!(g, "/opt/kwasm/kwasm");
        let (h, g) = parse_add("a.kw:/opt/kwasm/tests/a.kw").unwrap();
        assert_eq!(h, PathBuf::from("a.kw"));
        assert_eq!(g, "/opt/kwasm/tests/a.kw");
    }
}
