//! What the in-VM checks and the demo need besides busybox and the modules:
//! the static `kwasm` (glibc, with the `bpf` feature: libbpf is C and is
//! linked statically with libelf, zlib and zstd from Debian's -dev packages)
//! and `kwasm-tools` (the same, built by the same cargo command so that the
//! two share every dependency: one release build of Cranelift per
//! architecture, not two), the guest programs compiled to `.kw` by the
//! host's `kwasmc`, and a few spec test files.
//!
//! VM layout (see `vm/checks/`):
//!
//! | path                      | what                                              |
//! |---------------------------|---------------------------------------------------|
//! | `/opt/kwasm/bin/kwasm`    | `cargo build --release --target x86_64-unknown-linux-gnu -p kwasm -p kwasm-tools --features kwasm/bpf`, `+crt-static` ([`cargo_cli`]) |
//! | `/opt/kwasm/bin/kwasm-tools` | the test tools, from the same command     |
//! | `/opt/kwasm/kw/*.kw`      | `guests/out/*.wasm` through `kwasmc compile`      |
//! | `/opt/kwasm/kw/traps/*.kw`| `guests/out/traps/*.wasm` (those kwasmc accepts)  |
//! | `/opt/kwasm/kw/foreign/port_filter.kw` | the port filter for the other architecture |
//! | `/opt/kwasm/kw/cpu/compute-*.kw` | x86-64 only: `compute` with `--cpu` extensions ([`CPU_VARIANTS`]) |
//! | `/opt/kwasm/spec/*.wast`  | [`SPEC_FILES`] from `../shared/spec-testsuite`    |
//! | `/opt/kwasm/bench/bpf/*.bpf.o`| `guests/bench/bpf/*.bpf.c` through `clang -target bpf` ([`bpf_objects`]) |
//!
//! That is the x86-64 VM. For `--arch aarch64` the CLI is the same for
//! `aarch64-unknown-linux-gnu` (cross-linked by `aarch64-linux-gnu-gcc`
//! against the arm64 libelf, zlib and zstd that `make setup` unpacks into
//! the cache), and so is `kwasm-tools`, and the guests are compiled with `kwasmc
//! compile --target aarch64`; the eBPF objects are the same. Everything
//! lands in `target/kwasm-vm/aarch64/payload/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::Arch;
use crate::util::{self, Log};

/// Spec files whose commands `kwasm-tools spec-kernel` runs in the kernel.
pub const SPEC_FILES: &[&str] = &[
    "i32.wast",
    "i64.wast",
    "memory.wast",
    "call_indirect.wast",
    "conversions.wast",
    // Rounding: inline sequences at the baseline, `roundss`/`roundsd` with
    // `--cpu sse4.1` (vm/checks/60-agreement.sh runs both).
    "f32.wast",
    "f64.wast",
    // The bulk-memory libcalls (kwasm.ko's own, over abi::bulk).
    "bulk.wast",
    "memory_fill.wast",
];

/// `compute.kw` compiled with CPU extensions, for the x86-64 VM, whose CPU
/// is QEMU's model without ABM (`lzcnt`; see `xtask/src/vm.rs`): the first
/// must be refused by userspace and by kwasm.ko, the second must load and
/// run (vm/checks/50-hostile.sh).
pub const CPU_VARIANTS: &[(&str, &str)] = &[
    ("compute-lzcnt", "lzcnt"),
    ("compute-bmi2", "popcnt,bmi1,bmi2,sse4.1,sse4.2,avx"),
];

/// The static binaries installed under `/opt/kwasm/bin`: the operator's
/// CLI and the test tools, both static glibc (see [`cargo_cli`]).
const BINS: [&str; 2] = ["kwasm", "kwasm-tools"];

/// `cargo build` of the VM's CLI with the `bpf` feature and of the test
/// tools (and `kwasmc` with `with_kwasmc`), static glibc, in one command:
/// the tools link the CLI's library and the compiler, so all share every
/// dependency's build. On arm64, libbpf-sys compiles libbpf with the cross gcc against the libelf
/// and zlib headers, and links the static libelf, zlib and zstd, of the
/// arm64 packages that `make setup` unpacks into the cache
/// (`arm64-sysroot`); `cli/build.rs` reads the same directory.
fn cargo_cli(arch: Arch, with_kwasmc: bool) -> Result<Command> {
    let target = arch.gnu_target();
    let mut c = cargo();
    c.args(["build", "--release", "--target", target]);
    for b in BINS {
        c.args(["-p", b, "--bin", b]);
    }
    if with_kwasmc {
        c.args(["-p", "kwasm-compiler", "--bin", "kwasmc"]);
    }
    c.args(["--features", "kwasm/bpf"]);
    // RUSTFLAGS for the target only: build scripts and proc macros stay
    // dynamic.
    let t = target.replace('-', "_");
    c.env(
        format!("CARGO_TARGET_{}_RUSTFLAGS", t.to_uppercase()),
        "-C target-feature=+crt-static",
    );
    if arch == Arch::Aarch64 && !arch.is_host() {
        let sysroot = util::cache_dir()?.join("arm64-sysroot");
        let lib = sysroot.join(format!("usr/lib/{}-linux-gnu", arch.name()));
        if !lib.join("libelf.a").is_file() {
            bail!(
                "{} has no static libelf for {}: run `make setup` (it unpacks libelf-dev, \
                 zlib1g-dev and libzstd-dev for arm64 there)",
                lib.display(),
                arch.name()
            );
        }
        c.env(format!("LIBBPF_SYS_LIBRARY_PATH_{t}"), &lib);
        c.env(
            format!("CFLAGS_{t}"),
            format!("-I{}", sysroot.join("usr/include").display()),
        );
    }
    Ok(c)
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(util::root());
    c
}

fn run(cmd: &mut Command, what: &str, log: &mut Log) -> Result<()> {
    let pb = util::spinner("payload");
    let r = util::run_logged(cmd, what, &pb, log);
    pb.finish_and_clear();
    r.map(|_| ())
}

/// Whether `out` is missing or older than any file under `srcs`.
fn stale(out: &Path, srcs: &[PathBuf]) -> bool {
    let Ok(t) = fs::metadata(out).and_then(|m| m.modified()) else {
        return true;
    };
    fn newer(p: &Path, t: std::time::SystemTime) -> bool {
        let Ok(m) = fs::symlink_metadata(p) else {
            return false;
        };
        if m.is_dir() {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name == "target" || name == "out" {
                return false;
            }
            fs::read_dir(p)
                .map(|rd| rd.flatten().any(|e| newer(&e.path(), t)))
                .unwrap_or(false)
        } else {
            m.modified().is_ok_and(|mt| mt > t)
        }
    }
    srcs.iter().any(|s| newer(s, t))
}

/// Builds everything for a VM of `arch` and returns `--add` specs for the
/// initramfs.
/// The languages of `kwasm new`, whose skeletons the VM loads.
const NEW_LANGS: [&str; 4] = ["rust", "c", "zig", "as"];

pub fn build(arch: Arch) -> Result<Vec<String>> {
    let root = util::root();
    let out = arch.out_dir().join("payload");
    let log_path = arch.out_dir().join("payload.log");
    fs::create_dir_all(arch.out_dir())?;
    let _ = fs::remove_file(&log_path);
    let mut log = Log::open(&log_path)?;

    // Guest programs (Rust + WAT) into guests/out.
    let guests = root.join("guests");
    let stamp = guests.join("out/port_filter.wasm");
    if stale(
        &stamp,
        &[
            guests.join("examples"),
            guests.join("bench"),
            guests.join("sdk"),
            guests.join("wat"),
            guests.join("build.sh"),
        ],
    ) {
        run(
            Command::new(guests.join("build.sh")).current_dir(&guests),
            "guests/build.sh",
            &mut log,
        )?;
    }

    // The static kwasm and kwasm-tools for the VM. The host's build also
    // brings kwasmc: it compiles the guests and, with the host's kwasm,
    // serves `kwasm new` below, so no separate dynamic host build of the
    // same crates is needed (228 s of a cold make test). On an x86-64 host
    // the x86-64 VM's command is the arm64 VM's first one, done once.
    let host = Arch::host();
    run(
        &mut cargo_cli(host, true)?,
        &format!(
            "kwasmc, kwasm (with eBPF) and kwasm-tools for {} (static glibc)",
            host.name()
        ),
        &mut log,
    )?;
    if arch != host {
        run(
            &mut cargo_cli(arch, false)?,
            &format!(
                "kwasm (with eBPF) and kwasm-tools for {} (static glibc)",
                arch.name()
            ),
            &mut log,
        )?;
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let host_bin = target.join(host.gnu_target()).join("release");
    let kwasmc = host_bin.join("kwasmc");
    let bins = BINS.map(|b| target.join(arch.gnu_target()).join("release").join(b));
    for b in &bins {
        if !util::is_static_elf(b)? {
            bail!("{} is not a static executable", b.display());
        }
        if util::elf_machine(b)? != arch.elf_machine() {
            bail!("{} is not a {} executable", b.display(), arch.name());
        }
    }

    let _ = fs::remove_dir_all(&out);
    fs::create_dir_all(out.join("bin"))?;
    fs::create_dir_all(out.join("kw/traps"))?;
    fs::create_dir_all(out.join("kw/foreign"))?;
    fs::create_dir_all(out.join("spec"))?;
    fs::create_dir_all(out.join("bench/bpf"))?;
    for (b, name) in bins.iter().zip(BINS) {
        fs::copy(b, out.join("bin").join(name))?;
    }

    // Compile the guests.
    let mut n = 0;
    for (dir, sub) in [
        (guests.join("out"), "kw"),
        (guests.join("out/traps"), "kw/traps"),
    ] {
        let mut entries: Vec<_> = fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
            .collect();
        entries.sort();
        for w in entries {
            let stem = w.file_stem().unwrap().to_string_lossy().into_owned();
            // These exist to be refused by kwasmc (bad host imports).
            if matches!(stem.as_str(), "bad_import" | "unknown_import") {
                continue;
            }
            // The module itself too: `kwasm load x.wasm` compiles in the VM.
            fs::copy(&w, out.join(sub).join(format!("{stem}.wasm")))?;
            let kw = out.join(sub).join(format!("{stem}.kw"));
            util::capture(
                Command::new(&kwasmc)
                    .arg("compile")
                    .arg(&w)
                    .args(["--target", arch.name()])
                    .arg("-o")
                    .arg(&kw),
            )
            .with_context(|| format!("kwasmc compile {}", w.display()))?;
            n += 1;
        }
    }

    // `kwasm new demo --lang L && make` for every language, exactly as a
    // user would: the VM loads each result as a .wasm
    // (vm/checks/42-new.sh).
    for lang in NEW_LANGS {
        let name = format!("new_{lang}");
        let dir = arch.out_dir().join("new").join(lang);
        let _ = fs::remove_dir_all(&dir);
        run(
            Command::new(host_bin.join("kwasm"))
                .args(["new", &name, "--lang", lang, "--dir"])
                .arg(&dir),
            &format!("kwasm new {name} --lang {lang}"),
            &mut log,
        )?;
        run(
            Command::new("make")
                .current_dir(&dir)
                .env("KWASMC", host_bin.join("kwasmc"))
                .env("ASC", guests.join("as/node_modules/.bin/asc")),
            &format!("make ({name})"),
            &mut log,
        )?;
        fs::copy(
            dir.join(format!("{name}.wasm")),
            out.join(format!("kw/{name}.wasm")),
        )?;
    }

    // One program for the other architecture, which must be refused.
    let foreign = out.join("kw/foreign/port_filter.kw");
    util::capture(
        Command::new(&kwasmc)
            .arg("compile")
            .arg(guests.join("out/port_filter.wasm"))
            .args(["--target", arch.other().name()])
            .arg("-o")
            .arg(&foreign),
    )
    .context("kwasmc compile port_filter.wasm for the other architecture")?;

    // Code with CPU extensions (only x86-64 has any).
    if arch == Arch::X86_64 {
        fs::create_dir_all(out.join("kw/cpu"))?;
        for (name, cpu) in CPU_VARIANTS {
            util::capture(
                Command::new(&kwasmc)
                    .arg("compile")
                    .arg(guests.join("out/compute.wasm"))
                    .args(["--target", arch.name(), "--cpu", cpu])
                    .arg("-o")
                    .arg(out.join(format!("kw/cpu/{name}.kw"))),
            )
            .with_context(|| format!("kwasmc compile compute.wasm --cpu {cpu}"))?;
        }
    }

    // eBPF bytecode is the same for every architecture.
    let nbpf = bpf_objects(&guests.join("bench/bpf"), &out.join("bench/bpf"), &mut log)?;

    // Spec files (read from the shared suite, never copied into the repo).
    let spec_dir = root.join("../shared/spec-testsuite");
    for f in SPEC_FILES {
        let src = spec_dir.join(f);
        fs::copy(&src, out.join("spec").join(f))
            .with_context(|| format!("copying {}", src.display()))?;
    }
    eprintln!(
        "payload: kwasm and kwasm-tools (static, {}), {n} .kw programs, {nbpf} eBPF objects, {} spec files",
        arch.name(),
        SPEC_FILES.len()
    );

    let spec = |p: &str, g: &str| format!("{}:{g}", out.join(p).display());
    let mut adds: Vec<String> = BINS
        .iter()
        .map(|b| spec(&format!("bin/{b}"), &format!("/opt/kwasm/bin/{b}")))
        .collect();
    adds.extend([
        spec("kw", "/opt/kwasm/kw"),
        spec("spec", "/opt/kwasm/spec"),
        spec("bench", "/opt/kwasm/bench"),
        format!("{}:/opt/kwasm/demo.sh", root.join("vm/demo.sh").display()),
        format!("{}:/opt/kwasm/bench.sh", root.join("vm/bench.sh").display()),
    ]);
    Ok(adds)
}

/// The eBPF programs of `kwasm bench` (`guests/bench/bpf/*.bpf.c`): compiled
/// with clang for the BPF target into `out/<name>.bpf.o`, with BTF (`-g`)
/// for libbpf, and `-mcpu=v3` (32-bit subregisters and jumps, which the
/// 6.12 verifier and JIT take: the tightest code clang makes for eBPF, so
/// the comparison gives eBPF its best). Warnings are errors, as for the
/// kernel modules. Returns how many were built.
fn bpf_objects(src: &Path, out: &Path, log: &mut Log) -> Result<usize> {
    let clang = if util::have("clang-19") {
        "clang-19"
    } else {
        "clang"
    };
    // The UAPI headers include <asm/types.h>, which Debian keeps under the
    // multiarch directory; clang -target bpf does not search it.
    let multiarch = util::capture(Command::new("cc").arg("-print-multiarch"))
        .ok()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| format!("{}-linux-gnu", std::env::consts::ARCH));
    let mut srcs: Vec<_> = fs::read_dir(src)
        .with_context(|| format!("reading {}", src.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".bpf.c"))
        .collect();
    srcs.sort();
    for c in &srcs {
        let name = c
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".bpf.c", ".bpf.o");
        run(
            Command::new(clang)
                .args(["-target", "bpf", "-mcpu=v3", "-O2", "-g"])
                .args(["-Wall", "-Wextra", "-Werror"])
                .arg(format!("-I/usr/include/{multiarch}"))
                .arg("-c")
                .arg(c)
                .arg("-o")
                .arg(out.join(&name)),
            &format!("{name} ({clang} -target bpf)"),
            log,
        )
        .with_context(|| format!("compiling {}", c.display()))?;
    }
    Ok(srcs.len())
}
