//! `kwasm`: run kwasm programs in userspace, and load and manage them in the
//! kernel (`kwasm.ko`, through `/dev/kwasm`; see `commands/`).
//!
//! Exit status: 0 on success, 1 on a usage, load or link error
//! (`kwasm: <file>: <reason>`), 2 when the program trapped.

mod commands;

use clap::{Parser, Subcommand};
use commands::{Ctx, kernel, spec_kernel, tools};
use kwasm_runtime::{Artifact, InstantiateError, InvokeError, Store, StoreConfig, Val};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;

#[derive(Parser)]
#[command(
    name = "kwasm",
    version,
    about = "Run and manage kwasm programs (.kw artifacts built by `kwasmc compile`)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Drop to this uid right after opening /dev/kwasm (tests the kernel's
    /// permission checks).
    #[arg(long, global = true, hide = true, value_name = "UID")]
    as_uid: Option<u32>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a .kw program in userspace and call one of its exports.
    ///
    /// The module is instantiated (imports from the `kwasm` host module and
    /// `env._debug` are provided; `log` writes to stderr), its start function
    /// runs, then the export is called with ARGS, parsed according to its
    /// parameter types: integers in decimal or 0x-hex (signed or unsigned
    /// range), floats as decimals, `inf`, `-inf`, `nan`, `nan:0xPAYLOAD` or
    /// `bits:0xPATTERN`, references only as `null`.
    ///
    /// Each result is printed on its own line: integers in signed decimal,
    /// floats in the shortest decimal that reads back exactly (`nan`, `inf`,
    /// `-0.0`, `nan:0x...` for NaNs with other payloads), references as
    /// `null`, `funcref` or `externref:N`. With `--typed` each line is
    /// prefixed by its type, e.g. `i32:42`.
    ///
    /// Exit status: 0 on success; 2 when the program traps (the trap, e.g.
    /// `trap: integer divide by zero in function 3 (parse_header)`, goes to
    /// stderr); 1 on any other error (`kwasm: <file>: <reason>`).
    Run(RunArgs),

    /// Load a .kw program into the kernel (needs kwasm.ko and root).
    ///
    /// The file is validated in userspace first (ELF, metadata, imports
    /// against the kernel's host API), then wrapped as a kernel module for
    /// the running kernel and loaded with init_module(2); kwasm.ko validates
    /// it again. With --attach the program is attached to netfilter hooks
    /// too; if that fails it is unloaded again.
    ///
    /// Example: kwasm load port_filter.kw --name pf --attach ipv4:input
    Load(kernel::LoadArgs),
    /// Detach a program from every hook and unload it.
    Unload {
        /// Program name (see `kwasm list`).
        name: String,
    },
    /// List the loaded programs: id, name, attach points, functions, code
    /// and memory size, invocations, traps, average run time.
    List {
        /// One JSON array of program objects.
        #[arg(long)]
        json: bool,
    },
    /// Show all counters of a program: invocations, verdicts, run time (total
    /// and per invocation, in ns) and traps by kind, as `key: value` lines.
    Stats {
        /// Program name (see `kwasm list`).
        name: String,
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Attach a loaded program to a netfilter hook.
    Attach {
        /// Program name.
        name: String,
        /// ipv4|ipv6 : prerouting|input|forward|output|postrouting, e.g.
        /// ipv4:input.
        point: String,
        /// Netfilter priority (lower runs earlier).
        #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
        priority: i32,
    },
    /// Detach a program from a netfilter hook.
    Detach {
        /// Program name.
        name: String,
        /// The attach point, e.g. ipv4:input.
        point: String,
    },
    /// Read and write a program's maps (arrays of u64 shared with userspace).
    #[command(subcommand)]
    Map(kernel::MapCmd),
    /// Call an export of a loaded program inside the kernel.
    ///
    /// The call runs on the current CPU's instance of the program. With
    /// --kw the arguments are parsed and the results printed exactly as
    /// `kwasm run` does, so the outputs of the two can be compared; without
    /// it arguments must be typed (`i32:5 f64:1.5`) and results are printed
    /// as raw 64-bit slots in hex.
    ///
    /// Exit status: 0 on success; 2 when the program traps (the trap goes to
    /// stderr, worded as by `kwasm run`); 1 on any other error.
    Invoke(kernel::InvokeArgs),

    /// Run the invoke/assert_return/assert_trap commands of spec .wast files
    /// through INVOKE in the kernel.
    #[command(hide = true)]
    SpecKernel {
        files: Vec<PathBuf>,
        /// Print every failure (default: the first 10 per file).
        #[arg(long)]
        verbose: bool,
    },
    /// Send UDP datagrams (test tool).
    #[command(hide = true)]
    UdpSend(tools::UdpSendArgs),
    /// Send datagrams to a local port and count those that arrive (test tool).
    #[command(hide = true)]
    UdpCheck(tools::UdpCheckArgs),
    /// Send random ioctls to /dev/kwasm (test tool).
    #[command(hide = true)]
    FuzzIoctl(tools::FuzzArgs),
    /// Write a deliberately broken copy of a .kw (test tool).
    #[command(hide = true)]
    ForgeKw(tools::ForgeArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// The .kw artifact (from `kwasmc compile`).
    file: PathBuf,
    /// Export to call; defaults to the program's entry export (e.g. `filter`).
    #[arg(long, value_name = "NAME")]
    invoke: Option<String>,
    /// Fuel for the call, in units of work: one per wasm operator (more for
    /// memory accesses and calls), one per 16 bytes of a bulk memory
    /// operation, and a host call's cost (see abi/src/fuel.rs). The call
    /// traps with "out of fuel" when it runs out. The default is the
    /// kernel's; raise it for long-running programs such as benchmarks.
    #[arg(long, value_name = "N", default_value_t = kwasm_abi::fuel::DEFAULT)]
    fuel: u64,
    /// Size of the wasm stack in KiB.
    #[arg(long, value_name = "KIB", default_value_t = 1024)]
    stack_kib: usize,
    /// File whose bytes `kwasm.pkt_len`/`kwasm.pkt_load` expose as the packet.
    #[arg(long, value_name = "FILE")]
    packet: Option<PathBuf>,
    /// Prefix each result with its type (`i32:42`).
    #[arg(long)]
    typed: bool,
    /// Arguments for the export. Values may start with `-` (`-1`, `-inf`);
    /// options such as `--fuel N` may come before or after them.
    #[arg(value_name = "ARGS", allow_hyphen_values = true)]
    args: Vec<String>,
}

/// A failure and its exit status.
struct Failure {
    status: u8,
    message: String,
}

fn fail(file: &Path, reason: impl std::fmt::Display) -> Failure {
    Failure {
        status: 1,
        message: format!("kwasm: {}: {reason}", file.display()),
    }
}

/// A kernel command's error: `kwasm: <what went wrong and what to do>`.
fn failure(e: anyhow::Error) -> Failure {
    Failure {
        status: 1,
        message: format!("kwasm: {e:#}"),
    }
}

/// Ok(false) from a check-like command: exit status 1, nothing more to say.
fn check_status(r: anyhow::Result<bool>) -> Result<(), Failure> {
    match r {
        Ok(true) => Ok(()),
        Ok(false) => Err(Failure {
            status: 1,
            message: String::new(),
        }),
        Err(e) => Err(failure(e)),
    }
}

fn run(a: RunArgs) -> Result<(), Failure> {
    let file = a.file.as_path();
    let packet = match &a.packet {
        Some(p) => std::fs::read(p).map_err(|e| fail(p, format!("cannot read packet: {e}")))?,
        None => Vec::new(),
    };
    let artifact = Artifact::from_file(file).map_err(|e| Failure {
        status: 1,
        message: format!("kwasm: {e}"),
    })?;
    let artifact = Rc::new(artifact);
    let name = match &a.invoke {
        Some(n) => n.clone(),
        None => {
            let m = artifact.meta();
            match m.exports().get(m.entry_export) {
                Some(e) => m.str(e.name).to_string(),
                None => {
                    return Err(fail(
                        file,
                        "no --invoke given and the program has no entry export",
                    ));
                }
            }
        }
    };
    let ty = artifact
        .exported_funcs()
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| t)
        .ok_or_else(|| fail(file, format!("no exported function named `{name}`")))?;
    if a.args.len() != ty.params.len() {
        return Err(fail(
            file,
            format!(
                "`{name}` has type {ty}: expected {} arguments, got {}",
                ty.params.len(),
                a.args.len()
            ),
        ));
    }
    let args = a
        .args
        .iter()
        .zip(ty.params.iter())
        .map(|(s, t)| Val::parse(s, *t))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(file, e))?;

    let mut store = Store::new(StoreConfig {
        fuel: a.fuel,
        stack_size: a.stack_kib.saturating_mul(1024).max(64 * 1024),
        packet,
        ..StoreConfig::default()
    });
    let inst = match store.instantiate(&artifact) {
        Ok(i) => i,
        Err(InstantiateError::Trap(t)) => {
            return Err(Failure {
                status: 2,
                message: format!("{t} (during instantiation)"),
            });
        }
        Err(e) => return Err(fail(file, e)),
    };
    match store.invoke(inst, &name, &args) {
        Ok(results) => {
            for r in results {
                if a.typed {
                    println!("{}:{r}", r.ty().name());
                } else {
                    println!("{r}");
                }
            }
            Ok(())
        }
        Err(InvokeError::Trap(t)) => Err(Failure {
            status: 2,
            message: t.to_string(),
        }),
        Err(e) => Err(fail(file, e)),
    }
}

/// `kwasm run f.kw --invoke g -1 -inf --fuel 10`: ARGS accept values that
/// start with `-`, so clap hands trailing options to ARGS too. Move every
/// `--long` option of `run` (or `invoke`) found among ARGS (and its value)
/// in front of them.
fn hoist_run_options(argv: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    // The subcommand is the first argument that is not an option.
    let Some(pos) = argv
        .iter()
        .skip(1)
        .position(|a| !a.to_string_lossy().starts_with('-'))
        .map(|p| p + 1)
        .filter(|&p| argv[p] == "run" || argv[p] == "invoke")
    else {
        return argv;
    };
    let Some(run) = cmd.find_subcommand(argv[pos].to_string_lossy().as_ref()) else {
        return argv;
    };
    let takes_value = |name: &str| -> Option<bool> {
        run.get_arguments()
            .find(|a| a.get_long() == Some(name))
            .map(|a| a.get_action().takes_values())
    };
    let (head, tail) = argv.split_at(pos + 1);
    let mut options = Vec::new();
    let mut rest = Vec::new();
    let mut i = 0;
    while i < tail.len() {
        let t = &tail[i];
        let s = t.to_string_lossy();
        if s == "--" {
            rest.extend_from_slice(&tail[i..]);
            break;
        }
        let long = s
            .strip_prefix("--")
            .map(|l| l.split('=').next().unwrap_or(l));
        match long.and_then(takes_value) {
            Some(true) if !s.contains('=') => {
                options.extend(tail[i..(i + 2).min(tail.len())].iter().cloned());
                i += 2;
            }
            Some(_) => {
                options.push(t.clone());
                i += 1;
            }
            None => {
                rest.push(t.clone());
                i += 1;
            }
        }
    }
    let mut out = head.to_vec();
    out.extend(options);
    out.extend(rest);
    out
}

fn main() -> ExitCode {
    let argv = hoist_run_options(std::env::args_os().collect());
    let cli = match Cli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let ctx = Ctx { as_uid: cli.as_uid };
    let r = match cli.command {
        Command::Run(a) => run(a),
        Command::Load(a) => kernel::load(&ctx, &a).map_err(failure),
        Command::Unload { name } => kernel::unload(&ctx, &name).map_err(failure),
        Command::List { json } => kernel::list(&ctx, json).map_err(failure),
        Command::Stats { name, json } => kernel::stats(&ctx, &name, json).map_err(failure),
        Command::Attach {
            name,
            point,
            priority,
        } => kernel::attach(&ctx, &name, &point, priority, false).map_err(failure),
        Command::Detach { name, point } => {
            kernel::attach(&ctx, &name, &point, 0, true).map_err(failure)
        }
        Command::Map(m) => kernel::map(&ctx, &m).map_err(failure),
        Command::Invoke(a) => match kernel::invoke(&ctx, &a) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(kernel::TRAP_STATUS),
            Err(e) => Err(failure(e)),
        },
        Command::SpecKernel { files, verbose } => {
            check_status(spec_kernel::run(&ctx, &files, verbose))
        }
        Command::UdpSend(a) => tools::udp_send(&a).map_err(failure),
        Command::UdpCheck(a) => check_status(tools::udp_check(&a)),
        Command::FuzzIoctl(a) => tools::fuzz_ioctl(&ctx, &a).map_err(failure),
        Command::ForgeKw(a) => tools::forge(&a).map_err(failure),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("{}", f.message);
            }
            ExitCode::from(f.status)
        }
    }
}
