//! `kwasm-tools`: the test tools the in-VM checks (`vm/checks/`) and the
//! demo use, kept out of the operator's `kwasm` (this binary links the
//! compiler and `wast` for `spec-kernel`).
//!
//! Exit status: 0 on success, 1 on an error (`kwasm-tools: <reason>`) or a
//! failed check (`spec-kernel` with a failure, `udp-check --expect`
//! unmet).

mod forge;
mod fuzz_ioctl;
mod native;
mod packet;
mod spec_kernel;
mod udp;

use clap::{Parser, Subcommand};
use kwasm::Ctx;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "kwasm-tools",
    version,
    about = "Test tools for kwasm.ko (the VM checks): spec suite in the kernel, UDP traffic, ioctl fuzzing, forged .kw files, native_bench.ko"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Drop to this uid right after opening /dev/kwasm or /dev/kwasm-native
    /// (tests the kernel's permission checks).
    #[arg(long, global = true, value_name = "UID")]
    as_uid: Option<u32>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the invoke/assert_return/assert_trap commands of spec .wast files
    /// through INVOKE in the kernel (needs kwasm.ko and root).
    ///
    /// Each module is compiled, loaded as a program and unloaded when no
    /// command refers to it any more. Prints one line per file and a total;
    /// fails when any command failed.
    SpecKernel {
        /// The .wast files.
        files: Vec<PathBuf>,
        /// Print every failure (default: the first 10 per file).
        #[arg(long)]
        verbose: bool,
        #[command(flatten)]
        flags: kwasm_compiler::flags::CompileFlags,
    },
    /// Send UDP datagrams; prints `sent N, failed M`.
    UdpSend(udp::UdpSendArgs),
    /// Send datagrams to a local port and count those that arrive; prints
    /// `sent N, failed M, received R`.
    UdpCheck(udp::UdpCheckArgs),
    /// Send random ioctls to /dev/kwasm; prints a summary by errno and fails
    /// only if the device stops answering.
    FuzzIoctl(fuzz_ioctl::FuzzArgs),
    /// Write a deliberately broken copy of a .kw.
    ForgeKw(forge::ForgeArgs),
    /// One RUN ioctl of native_bench.ko with the values as given; prints
    /// the verdict, accept and drop counts and ns.
    NativeRun(native::NativeRunArgs),
    /// Attach (or --detach) a native_bench.ko filter as a netfilter hook.
    NativeAttach(native::NativeAttachArgs),
    /// Print a native_bench.ko filter's counter map as `INDEX: VALUE` lines.
    NativeMap(native::NativeMapArgs),
    /// Write an IPv4/IPv6 UDP or TCP packet (optionally a DNS query) for
    /// `kwasm bench --packet`.
    Packet(packet::PacketArgs),
}

fn main() -> ExitCode {
    let cli: Cli = match kwasm::parse_args(std::env::args_os()) {
        Ok(c) => c,
        Err(status) => return status,
    };
    let ctx = Ctx { as_uid: cli.as_uid };
    // Ok(false): a check failed, and the tool has said so on stdout.
    let r = match cli.command {
        Command::SpecKernel {
            files,
            verbose,
            flags,
        } => spec_kernel::run(&ctx, &files, &flags, verbose),
        Command::UdpSend(a) => udp::udp_send(&a).map(|()| true),
        Command::UdpCheck(a) => udp::udp_check(&a),
        Command::FuzzIoctl(a) => fuzz_ioctl::fuzz_ioctl(&ctx, &a).map(|()| true),
        Command::ForgeKw(a) => forge::forge(&a).map(|()| true),
        Command::NativeRun(a) => native::native_run(&ctx, &a).map(|()| true),
        Command::NativeAttach(a) => native::native_attach(&ctx, &a).map(|()| true),
        Command::NativeMap(a) => native::native_map(&ctx, &a).map(|()| true),
        Command::Packet(a) => packet::packet(&a).map(|()| true),
    };
    match r {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("kwasm-tools: {e:#}");
            ExitCode::from(1)
        }
    }
}
