//! `cargo xtask kernel`: the Linux 6.12 test kernel with Rust support.
//!
//! The source comes from Debian's `linux-source-6.12` package. It is extracted
//! into `~/.cache/kwasm/linux-<flavor>-<hash>/` (x86-64) or
//! `linux-<arch>-<flavor>-<hash>/` (`--arch aarch64`: `linux-arm64-base-..`),
//! where the hash covers the architecture, the config fragments, the patches
//! in `vm/patches/`, the source tarball and the toolchain versions, so any
//! change gives a fresh tree. The tree is built in place (`tinyconfig` +
//! fragments, then `make all`), which also produces `Module.symvers` for
//! out-of-tree modules. A stamp file marks a finished build, so later runs
//! return at once. `KDIR=/path` uses a prebuilt tree.
//!
//! Other architectures than x86-64 are cross-compiled by the same clang
//! (`ARCH=arm64 LLVM=-19`; no cross gcc or binutils needed).

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::util::{self, Fnv, Log};
use crate::{Arch, KernelArgs};

/// Bump when the build recipe below changes in a way that needs a rebuild.
const RECIPE: &str = "kwasm-kernel-recipe-1";
const DEFAULT_TARBALL: &str = "/usr/src/linux-source-6.12.tar.xz";
const STAMP: &str = ".kwasm-built";

/// A configured and built kernel tree.
pub struct KernelTree {
    /// The tree (`KDIR`) to build external modules against.
    pub dir: PathBuf,
    /// The boot image (`bzImage` on x86-64, the uncompressed `Image` on
    /// arm64).
    pub image: PathBuf,
    /// The architecture it is built for.
    pub arch: Arch,
    /// The `LLVM=` make variable (`-19` for Debian's clang-19, or `1`).
    pub llvm: String,
    /// Environment for every `make` in the tree (toolchain selection).
    env: Vec<(String, String)>,
}

impl KernelTree {
    /// `make -C <tree> LLVM=<..>` with the tree's environment (the
    /// toolchain's, and `ARCH` when cross-compiling: [`tree_env`]), and with
    /// any jobserver of an outer `make` removed (we pass our own `-j`).
    pub fn make(&self) -> Command {
        self.make_cmd(false)
    }

    /// As [`KernelTree::make`], under `nice -n 10` when `nice` is set: the
    /// kernel build shares the machine with other work.
    fn make_cmd(&self, nice: bool) -> Command {
        let mut c = if nice {
            let mut c = Command::new("nice");
            c.args(["-n", "10", "make"]);
            c
        } else {
            Command::new("make")
        };
        c.arg("-C")
            .arg(&self.dir)
            .arg(format!("LLVM={}", self.llvm));
        for (k, v) in &self.env {
            c.env(k, v);
        }
        for k in ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"] {
            c.env_remove(k);
        }
        c
    }
}

/// The `LLVM=` setting: `$KWASM_LLVM`, else `-19` when Debian's clang-19 is
/// installed (what `make setup` installs), else `1`.
pub fn llvm_setting() -> String {
    if let Ok(v) = std::env::var("KWASM_LLVM") {
        return v;
    }
    if util::have("clang-19") {
        "-19".into()
    } else {
        "1".into()
    }
}

/// Environment that pins the kernel's Rust toolchain to the workspace's.
///
/// The kernel tree lives outside the workspace, so rustup would otherwise pick
/// its default toolchain there rather than the one in `rust-toolchain.toml`.
/// bindgen must load the libclang that matches the C compiler.
fn toolchain_env(llvm: &str) -> Vec<(String, String)> {
    let mut env = Vec::new();
    if std::env::var_os("RUSTUP_TOOLCHAIN").is_none()
        && util::have("rustup")
        && let Ok(out) = util::capture(
            Command::new("rustup")
                .args(["show", "active-toolchain"])
                .current_dir(util::root()),
        )
        && let Some(tc) = out.split_whitespace().next()
    {
        env.push(("RUSTUP_TOOLCHAIN".into(), tc.to_string()));
    }
    if std::env::var_os("LIBCLANG_PATH").is_none()
        && let Some(ver) = llvm.strip_prefix('-')
    {
        let dir = format!("/usr/lib/llvm-{ver}/lib");
        if Path::new(&dir).is_dir() {
            env.push(("LIBCLANG_PATH".into(), dir));
        }
    }
    env
}

/// Version text of a tool, or a note that it is missing (still hashed, so
/// installing it later changes the key).
fn tool_version(env: &[(String, String)], tool: &str, args: &[&str]) -> String {
    let mut c = Command::new(tool);
    c.args(args).current_dir(util::root());
    for (k, v) in env {
        c.env(k, v);
    }
    util::capture(&mut c).unwrap_or_else(|_| format!("{tool}: missing"))
}

fn fragments(args: &KernelArgs) -> Result<Vec<PathBuf>> {
    let root = util::root();
    let vm = root.join("vm");
    let mut f = vec![root.join(args.arch.base_fragment())];
    if args.arch != Arch::X86_64 && (args.debug_kernel || args.hardened) {
        // vm/kernel-debug.config and vm/kernel-hardened.config name x86-only
        // options (ORC unwinder, IBT, retpolines).
        bail!(
            "--debug-kernel and --hardened are x86-64 only for now (the {} base \
             kernel already has PAC and BTI)",
            args.arch.name()
        );
    }
    if args.debug_kernel {
        f.push(vm.join("kernel-debug.config"));
    }
    if args.hardened {
        f.push(vm.join("kernel-hardened.config"));
    }
    Ok(f)
}

/// Environment for everything run in the tree, `make` and the scripts
/// besides it (`merge_config.sh`): the toolchain's, plus `ARCH` when
/// cross-compiling.
fn tree_env(arch: Arch, mut env: Vec<(String, String)>) -> Vec<(String, String)> {
    if arch != Arch::X86_64 {
        env.push(("ARCH".into(), arch.kernel_arch().into()));
    }
    env
}

/// The prefix of the cache directories of one architecture and flavor:
/// `linux-<flavor>-` for x86-64 (the names from before `--arch`, so the
/// cached x86 trees stay valid), `linux-<arch>-<flavor>-` otherwise.
fn tree_prefix(arch: Arch, flavor: &str) -> String {
    match arch {
        Arch::X86_64 => format!("linux-{flavor}-"),
        _ => format!("linux-{}-{flavor}-", arch.kernel_arch()),
    }
}

fn patches() -> Result<Vec<PathBuf>> {
    let dir = util::root().join("vm/patches");
    let mut v = Vec::new();
    if dir.is_dir() {
        for e in fs::read_dir(&dir)? {
            let p = e?.path();
            if p.extension().is_some_and(|x| x == "patch") {
                v.push(p);
            }
        }
    }
    v.sort();
    Ok(v)
}

/// Returns a built kernel tree, building it first if needed.
pub fn ensure(args: &KernelArgs) -> Result<KernelTree> {
    let llvm = llvm_setting();
    let env = tree_env(args.arch, toolchain_env(&llvm));
    if let Some(kdir) = std::env::var_os("KDIR") {
        return prebuilt(PathBuf::from(kdir), args, llvm, env);
    }

    let tarball = std::env::var_os("KWASM_LINUX_TARBALL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_TARBALL));
    let meta = fs::metadata(&tarball).with_context(|| {
        format!(
            "kernel source {} not found: run `make setup` (apt-get install linux-source-6.12), \
             or set KDIR to a built kernel tree",
            tarball.display()
        )
    })?;
    let frags = fragments(args)?;
    let patches = patches()?;
    let clang = if llvm == "1" {
        "clang".to_string()
    } else {
        format!("clang{llvm}")
    };

    let mut h = Fnv::new();
    h.update(RECIPE.as_bytes());
    // (Not for x86-64, whose keys predate `--arch`.)
    if args.arch != Arch::X86_64 {
        h.update(format!("ARCH={}", args.arch.kernel_arch()).as_bytes());
    }
    h.update(llvm.as_bytes());
    h.update(tarball.as_os_str().as_encoded_bytes());
    h.update(&meta.len().to_le_bytes());
    if let Ok(m) = meta.modified() {
        h.update(format!("{m:?}").as_bytes());
    }
    for f in frags.iter().chain(&patches) {
        h.update(f.file_name().unwrap_or_default().as_encoded_bytes());
        h.update(&fs::read(f).with_context(|| format!("reading {}", f.display()))?);
    }
    for (tool, args) in [
        ("rustc", &["-vV"][..]),
        ("bindgen", &["--version"][..]),
        (clang.as_str(), &["--version"][..]),
    ] {
        h.update(tool_version(&env, tool, args).as_bytes());
    }
    let flavor = args.flavor();
    let cache = util::cache_dir()?;
    fs::create_dir_all(&cache).with_context(|| format!("creating {}", cache.display()))?;
    let prefix = tree_prefix(args.arch, flavor);
    let dir = cache.join(format!("{prefix}{}", h.hex()));
    let tree = KernelTree {
        image: dir.join(args.arch.image()),
        arch: args.arch,
        dir: dir.clone(),
        llvm,
        env,
    };

    // One builder per tree at a time; a second `cargo xtask` waits here.
    let lock = File::create(dir.with_extension("lock"))?;
    lock.lock()?;
    if dir.join(STAMP).is_file() && tree.image.is_file() {
        return Ok(tree);
    }

    let start = Instant::now();
    let pb = util::spinner("kernel");
    let res = build(&tree, &tarball, &frags, &patches, &pb);
    pb.finish_and_clear();
    res?;
    prune(&cache, &prefix, &tree.dir);
    let t = start.elapsed().as_secs();
    eprintln!(
        "kernel: built {} in {}m{:02}s",
        tree.dir.display(),
        t / 60,
        t % 60
    );
    Ok(tree)
}

/// Removes older trees of the same architecture and flavor (their names
/// start with `prefix` and go on with the hash; a few GB each), unless
/// another xtask holds their lock.
fn prune(cache: &Path, prefix: &str, keep: &Path) {
    let Ok(entries) = fs::read_dir(cache) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        // The rest of the name is the hash: `linux-base-` must not take
        // `linux-base-arm64-..`, should a flavor ever be named so.
        let is_tree = name
            .strip_prefix(prefix)
            .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()));
        if path == keep || !is_tree || !path.is_dir() {
            continue;
        }
        let Ok(lock) = File::create(path.with_extension("lock")) else {
            continue;
        };
        if lock.try_lock().is_err() {
            continue;
        }
        eprintln!("kernel: removing old tree {}", path.display());
        let _ = fs::remove_dir_all(&path);
        for ext in ["log", "tmp"] {
            let p = path.with_extension(ext);
            let _ = if p.is_dir() {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
        }
        let _ = fs::remove_file(path.with_extension("lock"));
    }
}

fn build(
    tree: &KernelTree,
    tarball: &Path,
    frags: &[PathBuf],
    patches: &[PathBuf],
    pb: &indicatif::ProgressBar,
) -> Result<()> {
    let dir = &tree.dir;
    let log_path = dir.with_extension("log");
    let mut log = Log::open(&log_path)?;
    util::say(
        pb,
        format_args!(
            "kernel: building {} (log: {})",
            dir.display(),
            log_path.display()
        ),
    );

    if !dir.join("Makefile").is_file() {
        // Extract next to the final place, then rename, so an interrupted
        // extraction never looks like a tree.
        let tmp = dir.with_extension("tmp");
        if tmp.exists() {
            fs::remove_dir_all(&tmp)?;
        }
        fs::create_dir_all(&tmp)?;
        util::run_logged(
            Command::new("tar")
                .arg("-xf")
                .arg(tarball)
                .arg("--strip-components=1")
                .arg("-C")
                .arg(&tmp),
            "extract",
            pb,
            &mut log,
        )?;
        for p in patches {
            util::run_logged(
                Command::new("patch")
                    .args(["-p1", "--forward", "-i"])
                    .arg(p)
                    .current_dir(&tmp),
                &format!("patch {}", p.display()),
                pb,
                &mut log,
            )?;
        }
        if dir.exists() {
            fs::remove_dir_all(dir)?;
        }
        fs::rename(&tmp, dir)?;
    }

    util::run_logged(tree.make().arg("tinyconfig"), "tinyconfig", pb, &mut log)?;
    util::run_logged(
        tree.make_in_tree("scripts/kconfig/merge_config.sh")
            .args(["-m", ".config"])
            .args(frags),
        "merge fragments",
        pb,
        &mut log,
    )?;
    util::run_logged(
        tree.make().arg("olddefconfig"),
        "olddefconfig",
        pb,
        &mut log,
    )?;
    verify_config(tree, frags, pb, &mut log)?;

    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get());
    util::run_logged(
        tree.make_cmd(true).arg(format!("-j{jobs}")).arg("all"),
        "make all",
        pb,
        &mut log,
    )?;

    for f in [tree.arch.image(), "Module.symvers", "rust/libkernel.rmeta"] {
        if !dir.join(f).is_file() {
            bail!(
                "kernel build finished but {f} is missing (log: {})",
                log.path().display()
            );
        }
    }
    fs::write(dir.join(STAMP), RECIPE)?;
    Ok(())
}

impl KernelTree {
    /// A tool from the tree's `scripts/`, run in the tree.
    fn make_in_tree(&self, script: &str) -> Command {
        let mut c = Command::new(self.dir.join(script));
        c.current_dir(&self.dir);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }
}

/// Fails unless every option set in the fragments survived olddefconfig.
fn verify_config(
    tree: &KernelTree,
    frags: &[PathBuf],
    pb: &indicatif::ProgressBar,
    log: &mut Log,
) -> Result<()> {
    let config = fs::read_to_string(tree.dir.join(".config"))?;
    let mut missing = Vec::new();
    for f in frags {
        for line in fs::read_to_string(f)?.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("# CONFIG_")
                && let Some(name) = rest.strip_suffix(" is not set")
            {
                let set = format!("CONFIG_{name}=");
                if config.lines().any(|l| l.starts_with(&set)) {
                    missing.push(line.to_string());
                }
            } else if line.starts_with("CONFIG_") && !config.lines().any(|l| l == line) {
                missing.push(line.to_string());
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let mut msg = format!(
        "kernel config: these fragment settings did not survive `make olddefconfig` \
         (a dependency is missing; look them up with `make -C {} LLVM={} menuconfig`, `/` to search):\n",
        tree.dir.display(),
        tree.llvm
    );
    for m in &missing {
        msg.push_str(&format!("  {m}\n"));
    }
    if missing.iter().any(|m| m == "CONFIG_RUST=y") {
        // The usual cause: the Rust toolchain is incomplete. Say why.
        pb.set_message("rustavailable");
        let out = tree
            .make()
            .args(["-s", "rustavailable"])
            .stdin(std::process::Stdio::null())
            .output();
        let text = match out {
            Ok(o) => {
                String::from_utf8_lossy(&o.stdout).into_owned()
                    + &String::from_utf8_lossy(&o.stderr)
            }
            Err(e) => format!("could not run make: {e}"),
        };
        log.line(&format!("==> rustavailable:\n{text}"));
        msg.push_str(&format!(
            "CONFIG_RUST needs a usable Rust toolchain; `make LLVM={} rustavailable` says:\n",
            tree.llvm
        ));
        for l in text.lines().filter(|l| !l.starts_with("make")) {
            msg.push_str(&format!("  | {l}\n"));
        }
        msg.push_str("(`make setup` installs rust-src, bindgen-cli and clang/LLVM 19.)\n");
    }
    bail!(msg)
}

/// A user's prebuilt tree from `KDIR`.
fn prebuilt(
    dir: PathBuf,
    args: &KernelArgs,
    llvm: String,
    env: Vec<(String, String)>,
) -> Result<KernelTree> {
    if args.debug_kernel || args.hardened {
        eprintln!("kernel: KDIR is set, so --debug-kernel and --hardened are ignored");
    }
    let config = fs::read_to_string(dir.join(".config"))
        .with_context(|| format!("KDIR={}: no .config (not a built tree?)", dir.display()))?;
    let arch_opt = match args.arch {
        Arch::X86_64 => "CONFIG_X86_64=y",
        Arch::Aarch64 => "CONFIG_ARM64=y",
    };
    for opt in [arch_opt, "CONFIG_RUST=y", "CONFIG_MODULES=y"] {
        if !config.lines().any(|l| l == opt) {
            bail!("KDIR={}: {opt} is not set in .config", dir.display());
        }
    }
    if !dir.join("Module.symvers").is_file() {
        eprintln!(
            "kernel: warning: KDIR={} has no Module.symvers (run `make modules` there)",
            dir.display()
        );
    }
    Ok(KernelTree {
        image: dir.join(args.arch.image()),
        arch: args.arch,
        dir,
        llvm,
        env,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_keeps_current_and_other_flavors() {
        let tmp = std::env::temp_dir().join(format!("kwasm-prune-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        for d in [
            "linux-base-a",
            "linux-base-b",
            "linux-debug-c",
            "linux-arm64-base-d",
            "linux-arm64-base-e",
        ] {
            fs::create_dir_all(tmp.join(d)).unwrap();
        }
        fs::write(tmp.join("linux-base-a.log"), "x").unwrap();
        prune(
            &tmp,
            &tree_prefix(Arch::X86_64, "base"),
            &tmp.join("linux-base-b"),
        );
        assert!(!tmp.join("linux-base-a").exists());
        assert!(!tmp.join("linux-base-a.log").exists());
        assert!(tmp.join("linux-base-b").is_dir());
        assert!(tmp.join("linux-debug-c").is_dir());
        assert!(tmp.join("linux-arm64-base-d").is_dir());
        prune(
            &tmp,
            &tree_prefix(Arch::Aarch64, "base"),
            &tmp.join("linux-arm64-base-e"),
        );
        assert!(!tmp.join("linux-arm64-base-d").exists());
        assert!(tmp.join("linux-arm64-base-e").is_dir());
        assert!(tmp.join("linux-base-b").is_dir());
        fs::remove_dir_all(&tmp).unwrap();
    }
}
