//! `cargo xtask module`: kwasm.ko (`kloader/`), the VM's test module
//! (`vm/testmod/`) and the native C baseline of `kwasm bench`
//! (`guests/bench/native/`), built out of tree against the kernel from
//! `kernel.rs`.

use std::fs;
use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::kernel::KernelTree;
use crate::util::{self, Log};

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
    let root = util::root();
    let kloader = root.join("kloader");
    let testmod = root.join("vm/testmod");
    let native = root.join("guests/bench/native");
    let log_path = util::out_dir().join("module.log");
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
