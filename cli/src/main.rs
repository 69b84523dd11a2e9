//! `kwasm`: run kwasm programs in userspace, and load and manage them in the
//! kernel (`kwasm.ko`, through `/dev/kwasm`). One module per command family
//! in `commands/`; `output` formats what they print (wasm values, tables,
//! `key: value` and `INDEX: VALUE` lines, JSON). The VM test tools are a
//! separate binary, `kwasm-tools`.
//!
//! Exit status: 0 on success, 1 on a usage, load or link error
//! (`kwasm: <file>: <reason>`), 2 when the program trapped.

mod commands;
mod mapbytes;
mod output;

use clap::{Parser, Subcommand};
use commands::{Failure, bench, events, exporter, map, new, prog, run};
use kwasm::Ctx;
use std::process::ExitCode;

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
    Run(run::RunArgs),

    /// Load a .kw program into the kernel (needs kwasm.ko and root).
    ///
    /// The file is validated in userspace first (ELF, metadata, and the
    /// kernel's linking rules: imports from its host API only, a `filter`
    /// export of type (i32) -> (i32)), then wrapped as a kernel module for
    /// the running kernel and loaded with init_module(2); kwasm.ko validates
    /// it again. With --attach the program is attached to netfilter hooks
    /// too; if that fails it is unloaded again.
    ///
    /// Example: kwasm load port_filter.kw --name pf --attach ipv4:input
    Load(prog::LoadArgs),
    /// Detach a program from every hook and unload it.
    Unload(prog::UnloadArgs),
    /// List the loaded programs: id, name, attach points, functions, code
    /// and memory size, invocations, traps, average run time.
    List(prog::ListArgs),
    /// Show all counters of a program: invocations, verdicts, run time (total
    /// and per invocation, in ns) and traps by kind, as `key: value` lines.
    Stats(prog::StatsArgs),
    /// Attach a loaded program to a netfilter hook.
    Attach(prog::AttachArgs),
    /// Detach a program from a netfilter hook.
    Detach(prog::DetachArgs),
    /// Read and write a program's maps: arrays of u64, per-CPU arrays and
    /// hash maps, in the style of `bpftool map`.
    #[command(subcommand)]
    Map(map::MapCmd),
    /// Read the records a program writes with `kwasm.event_output` to a
    /// ring_buf map, in order, draining them; with --follow, as they come.
    ///
    /// Each record is printed as `[seconds] cpuN: data` (data as text when
    /// printable, else hex), or with --json as one object per line with
    /// `cpu`, `time_ns` (the kernel's monotonic clock), `len`, `data` and
    /// `hex`. Records the program could not write because the ring was full
    /// are counted by the kernel; their number is reported on stderr.
    Events(events::EventsArgs),
    /// Read a program's log: every `kwasm.log` line, from its log ring in
    /// the kernel (the console gets them rate-limited), like `bpftool prog
    /// tracelog`. Draining: each line is shown once.
    Log(events::LogArgs),
    /// Serve every loaded program's counters and maps as Prometheus metrics
    /// on http://ADDR:PORT/metrics (default 127.0.0.1:9435): invocations,
    /// verdicts, traps by kind and run time per program; map values
    /// labelled by program, map and key (per-CPU arrays summed, hash values
    /// per u64 word); hash map and ring occupancy; ring drops. Each scrape
    /// reads the kernel afresh; --once prints one scrape and exits.
    Exporter(exporter::ExporterArgs),
    /// Create a ready-to-build program in Rust, C, Zig or AssemblyScript:
    /// a filter with one map and a log line, its SDK and a Makefile.
    ///
    /// Example: kwasm new demo --lang c && cd demo && make &&
    /// kwasm load demo.wasm --attach ipv4:input
    New(new::NewArgs),
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
    Invoke(prog::InvokeArgs),
    /// Time a program's `filter` per packet, inside the kernel.
    ///
    /// A test run, as eBPF's BPF_PROG_TEST_RUN: kwasm.ko builds an skb from
    /// the packet (the IP header at offset 0, as the hook sees it) and calls
    /// `filter` on it --repeat times exactly as the netfilter hook does
    /// (this CPU's instance, the program's fuel, FPU handling, verdict
    /// checking), in batches with bottom halves disabled, yielding and
    /// honouring signals between batches. Bench calls are not counted in
    /// the program's stats. Times come from sched_clock on the CPU the
    /// bench ran on: the mean per call, and the median, p99, min and max of
    /// the batches' per-call means.
    ///
    /// PROGRAM is a loaded program's name or a .kw file (loaded under a
    /// temporary name and unloaded after). With --user the same
    /// measurement runs in the userspace runner instead (needs a .kw file).
    ///
    /// Limits: the packet has 1..=65535 bytes, --repeat is 1..=100000000,
    /// --batch at most 65536 (and about 1 ms of calls).
    ///
    /// Example: kwasm bench port_filter.kw --udp 9999 --repeat 100000 --cpu 0
    Bench(bench::BenchArgs),
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
    let cli: Cli = match kwasm::parse_args(argv) {
        Ok(c) => c,
        Err(status) => return status,
    };
    let ctx = Ctx { as_uid: cli.as_uid };
    let r = match cli.command {
        Command::Run(a) => run::run(a),
        Command::Load(a) => prog::load(&ctx, &a).map_err(Failure::from),
        Command::Unload(a) => prog::unload(&ctx, &a).map_err(Failure::from),
        Command::List(a) => prog::list(&ctx, &a).map_err(Failure::from),
        Command::Stats(a) => prog::stats(&ctx, &a).map_err(Failure::from),
        Command::Attach(a) => prog::attach(&ctx, &a).map_err(Failure::from),
        Command::Detach(a) => prog::detach(&ctx, &a).map_err(Failure::from),
        Command::Map(m) => map::map(&ctx, &m).map_err(Failure::from),
        Command::Events(a) => events::events(&ctx, &a).map_err(Failure::from),
        Command::Log(a) => events::log(&ctx, &a).map_err(Failure::from),
        Command::Exporter(a) => exporter::exporter(&ctx, &a).map_err(Failure::from),
        Command::New(a) => new::new(&a).map_err(Failure::from),
        Command::Invoke(a) => prog::invoke(&ctx, &a),
        Command::Bench(a) => bench::bench(&ctx, &a),
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
