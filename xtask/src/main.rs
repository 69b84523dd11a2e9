//! `cargo xtask`: developer tasks for kwasm.
//!
//! - `kernel`: build (or reuse) the Linux 6.12 test kernel with Rust support.
//! - `module`: build `kloader/` (kwasm.ko) out of tree against that kernel.
//! - `initramfs`: pack busybox, `vm/init`, the modules and extra files.
//! - `vm-test`: all of the above, then boot QEMU and check the results.
//! - `vm-shell`: the same VM with an interactive shell after the checks.
//! - `demo`: the same VM running the port-filter demo (`vm/demo.sh`).
//! - `bench`: the same VM running the kwasm/eBPF/native comparison
//!   (`vm/bench.sh`); results in `target/bench/`.
//!
//! Each takes `--arch x86_64|aarch64` (default x86_64): the arm64 kernel is
//! built with the same LLVM (`ARCH=arm64`) and boots on
//! `qemu-system-aarch64 -M virt` under TCG.

mod arch;
mod bench;
mod cpio;
mod initramfs;
mod kernel;
mod module;
mod payload;
mod util;
mod vm;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

pub use crate::arch::Arch;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "kwasm developer tasks",
    version
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build the VM kernel (cached under ~/.cache/kwasm; `KDIR=/path` uses a prebuilt tree)
    Kernel(KernelArgs),
    /// Build kloader/ (kwasm.ko) and the VM's test modules against the kernel
    Module(ModuleArgs),
    /// Pack the VM initramfs: busybox, vm/init, vm/checks, modules, extra files
    Initramfs(InitramfsArgs),
    /// Boot the VM in QEMU, run the in-VM checks and report the results
    VmTest(VmArgs),
    /// Boot the VM with the console attached; a shell starts after the checks
    VmShell(VmArgs),
    /// Boot the VM, load the port filter, send traffic, show `kwasm list` and stats
    Demo(VmArgs),
    /// Boot the VM and compare kwasm, eBPF and native C per packet (test runs
    /// and the real hook path); writes target/bench/results.json and bench.svg
    Bench(bench::BenchArgs),
}

#[derive(Args, Clone, Debug, Default)]
pub struct KernelArgs {
    /// Architecture of the kernel and the VM (`arm64` is an alias of aarch64)
    #[arg(long, value_enum, default_value_t = Arch::X86_64)]
    pub arch: Arch,
    /// Use the debug kernel (adds vm/kernel-debug.config: KASAN, lockdep, ...)
    #[arg(long, conflicts_with = "hardened")]
    pub debug_kernel: bool,
    /// Use the hardened kernel (adds vm/kernel-hardened.config: IBT, kCFI,
    /// retpolines and return thunks, stack protector, lockup detectors)
    #[arg(long)]
    pub hardened: bool,
}

impl KernelArgs {
    /// The kernel flavour's name, used in cache paths and messages.
    pub fn flavor(&self) -> &'static str {
        if self.debug_kernel {
            "debug"
        } else if self.hardened {
            "hardened"
        } else {
            "base"
        }
    }
}

#[derive(Args, Clone, Debug)]
pub struct ModuleArgs {
    #[command(flatten)]
    pub kernel: KernelArgs,
    /// Also run clippy on the module's Rust code (kbuild's CLIPPY=1)
    #[arg(long)]
    pub clippy: bool,
}

#[derive(Args, Clone, Debug)]
pub struct InitramfsArgs {
    #[command(flatten)]
    pub kernel: KernelArgs,
    /// Extra file for the VM: HOST[:GUEST]. GUEST defaults to /opt/kwasm/<name>.
    /// Repeatable.
    #[arg(long = "add", value_name = "HOST[:GUEST]")]
    pub add: Vec<String>,
    /// Where to write the initramfs (uncompressed newc cpio)
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

#[derive(Args, Clone, Debug)]
pub struct VmArgs {
    #[command(flatten)]
    pub kernel: KernelArgs,
    /// Extra file for the VM: HOST[:GUEST]. GUEST defaults to /opt/kwasm/<name>.
    /// Repeatable.
    #[arg(long = "add", value_name = "HOST[:GUEST]")]
    pub add: Vec<String>,
    /// Give up after this many seconds
    #[arg(long, env = "KWASM_VM_TIMEOUT", default_value_t = 600)]
    pub timeout: u64,
    /// Number of CPUs (the kernel supports up to CONFIG_NR_CPUS=4)
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=4))]
    pub cpus: u32,
    /// Extra kernel command line arguments
    #[arg(long, value_name = "ARGS")]
    pub cmdline: Option<String>,
    /// Print the whole serial console, not only the check results
    #[arg(short, long)]
    pub verbose: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let res = match cli.cmd {
        Cmd::Kernel(a) => kernel::ensure(&a).map(|k| {
            println!("kernel: {}", k.image.display());
            println!("KDIR={}", k.dir.display());
            ExitCode::SUCCESS
        }),
        Cmd::Module(a) => run_module(&a),
        Cmd::Initramfs(a) => run_initramfs(&a),
        Cmd::VmTest(a) => return vm::vm_test(&a),
        Cmd::VmShell(a) => vm::vm_shell(&a).map(|()| ExitCode::SUCCESS),
        Cmd::Demo(a) => return vm::demo(&a),
        Cmd::Bench(a) => return bench::bench(&a),
    };
    match res {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_module(a: &ModuleArgs) -> Result<ExitCode> {
    let k = kernel::ensure(&a.kernel)?;
    let m = module::build(&k, a.clippy)?;
    println!("module: {}", m.kwasm_ko.display());
    Ok(ExitCode::SUCCESS)
}

fn run_initramfs(a: &InitramfsArgs) -> Result<ExitCode> {
    let k = kernel::ensure(&a.kernel)?;
    let m = module::build(&k, false)?;
    let out = a
        .output
        .clone()
        .unwrap_or_else(|| a.kernel.arch.out_dir().join("initramfs.cpio"));
    initramfs::build(a.kernel.arch, &m, &a.add, &out)?;
    println!("initramfs: {}", out.display());
    Ok(ExitCode::SUCCESS)
}
