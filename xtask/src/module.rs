//! `cargo xtask module`: kwasm.ko (`kloader/`), the VM's test module
//! (`vm/testmod/`) and the native C baseline of `kwasm bench`
//! (`guests/bench/native/`), built out of tree against the kernel from
//! `kernel.rs`.
//!
//! For x86-64 Kbuild builds in the source directories, as always. For
//! another architecture it builds in a mirror of them under
//! `target/kwasm-vm/<arch>/modules/` (symbolic links to the sources), so that
//! the two builds never clean or overwrite each other's objects.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::Arch;
use crate::kernel::KernelTree;
use crate::util::{self, Log};

/// The module directories, relative to the workspace root.
const KLOADER: &str = "kloader";
const TESTMOD: &str = "vm/testmod";
const NATIVE: &str = "guests/bench/native";
/// What the module sources reach by relative path (kloader's
/// `#[path = "../abi/src/.."]`, native's `-I$(src)/../c`): linked whole into
/// a mirror.
const SHARED: [&str; 2] = ["abi", "guests/bench/c"];

/// Built modules, ready for the initramfs.
pub struct Modules {
    /// `kloader/kwasm.ko`.
    pub kwasm_ko: PathBuf,
    /// `vm/testmod/kwasm_probe.ko`: links against kwasm.ko's exports.
    pub probe_ko: PathBuf,
    /// `guests/bench/native/native_bench.ko`: the bench filters as plain C.
    pub native_ko: PathBuf,
}

/// Builds the modules. Any compiler warning fails the build: the modules
/// must stay warning-free.
pub fn build(k: &KernelTree, clippy: bool) -> Result<Modules> {
    let root = match k.arch {
        Arch::X86_64 => util::root(),
        arch => mirror(&arch.out_dir().join("modules"))?,
    };
    let kloader = root.join(KLOADER);
    let testmod = root.join(TESTMOD);
    let native = root.join(NATIVE);
    let log_path = k.arch.out_dir().join("module.log");
    let _ = fs::remove_file(&log_path);
    let mut log = Log::open(&log_path)?;
    let pb = util::spinner("module");
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get());

    // Kbuild does not notice that objects in M= were built against another
    // kernel tree (the base, debug and hardened flavours differ in
    // retpolines, KASAN and CFI): clean both directories when the tree
    // changes, remembered in a stamp beside the sources.
    let stamp = kloader.join(".kwasm-kdir");
    let tree = k.dir.display().to_string();
    if fs::read_to_string(&stamp).ok().as_deref() != Some(tree.as_str()) {
        for dir in [&kloader, &testmod, &native] {
            let mut clean = k.make();
            clean.arg(format!("M={}", dir.display())).arg("clean");
            util::run_logged(&mut clean, "clean", &pb, &mut log)?;
        }
        fs::write(&stamp, &tree)?;
    }

    let mut lines = Vec::new();
    let mut make = k.make();
    make.arg(format!("M={}", kloader.display()))
        .arg(format!("-j{jobs}"));
    if clippy {
        make.arg("CLIPPY=1");
    }
    let res = util::run_logged(make.arg("modules"), "kwasm.ko", &pb, &mut log).and_then(|l| {
        lines.extend(l);
        util::run_logged(
            k.make()
                .arg(format!("M={}", testmod.display()))
                .arg(format!(
                    "KBUILD_EXTRA_SYMBOLS={}",
                    kloader.join("Module.symvers").display()
                ))
                .arg("modules"),
            "kwasm_probe.ko",
            &pb,
            &mut log,
        )
        .and_then(|l| {
            lines.extend(l);
            util::run_logged(
                k.make()
                    .arg(format!("M={}", native.display()))
                    .arg("modules"),
                "native_bench.ko",
                &pb,
                &mut log,
            )
        })
    });
    pb.finish_and_clear();
    lines.extend(res?);

    let warnings: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("warning:") || l.contains("warning["))
        .collect();
    if !warnings.is_empty() {
        let mut msg = format!(
            "module build printed warnings (full log: {}):\n",
            log.path().display()
        );
        for w in warnings {
            msg.push_str(&format!("  {w}\n"));
        }
        bail!(msg);
    }
    let m = Modules {
        kwasm_ko: kloader.join("kwasm.ko"),
        probe_ko: testmod.join("kwasm_probe.ko"),
        native_ko: native.join("native_bench.ko"),
    };
    for f in [&m.kwasm_ko, &m.probe_ko, &m.native_ko] {
        if !f.is_file() {
            bail!(
                "{} was not produced (log: {})",
                f.display(),
                log.path().display()
            );
        }
    }
    Ok(m)
}

/// Makes `dir` a mirror of the module sources (see the module's docs):
/// real directories holding a symbolic link per source file (so Kbuild's
/// objects land in the mirror), and [`SHARED`] linked whole. Links of
/// deleted sources go away; build products stay. Returns `dir`.
fn mirror(dir: &Path) -> Result<PathBuf> {
    let root = util::root();
    // (`*.mod.c` is Kbuild's: a link to the x86 one would be written
    // through.)
    let is_source = |name: &str| {
        matches!(name, "Kbuild" | "Makefile")
            || ([".rs", ".c", ".h", ".S"].iter().any(|x| name.ends_with(x))
                && !name.ends_with(".mod.c"))
    };
    for sub in [KLOADER, TESTMOD, NATIVE] {
        let (src, dst) = (root.join(sub), dir.join(sub));
        fs::create_dir_all(&dst).with_context(|| format!("creating {}", dst.display()))?;
        for e in fs::read_dir(&dst)? {
            let e = e?;
            let p = e.path();
            if p.is_symlink() && (!p.exists() || !e.file_name().to_str().is_some_and(is_source)) {
                fs::remove_file(&p)?;
            }
        }
        for e in fs::read_dir(&src).with_context(|| format!("reading {}", src.display()))? {
            let e = e?;
            let name = e.file_name();
            if !e.file_type()?.is_file() || !name.to_str().is_some_and(is_source) {
                continue;
            }
            link(&e.path(), &dst.join(&name))?;
        }
    }
    for sub in SHARED {
        let dst = dir.join(sub);
        if let Some(p) = dst.parent() {
            fs::create_dir_all(p)?;
        }
        link(&root.join(sub), &dst)?;
    }
    Ok(dir.to_path_buf())
}

/// Makes `dst` a symbolic link to `src` unless it already is one.
fn link(src: &Path, dst: &Path) -> Result<()> {
    if fs::read_link(dst).is_ok_and(|t| t == src) {
        return Ok(());
    }
    if dst.is_symlink() || dst.is_file() {
        fs::remove_file(dst)?;
    }
    std::os::unix::fs::symlink(src, dst)
        .with_context(|| format!("linking {} to {}", dst.display(), src.display()))
}
