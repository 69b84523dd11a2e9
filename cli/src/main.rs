//! `kwasm`: run kwasm programs in userspace (and, later, load them into the
//! kernel).
//!
//! Exit status: 0 on success, 1 on a usage, load or link error
//! (`kwasm: <file>: <reason>`), 2 when the program trapped.

use clap::{Parser, Subcommand};
use kwasm_cli::runtime::{Artifact, InstantiateError, InvokeError, Store, StoreConfig, Val};
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
}

#[derive(clap::Args)]
struct RunArgs {
    /// The .kw artifact (from `kwasmc compile`).
    file: PathBuf,
    /// Export to call; defaults to the program's entry export (e.g. `filter`).
    #[arg(long, value_name = "NAME")]
    invoke: Option<String>,
    /// Fuel for the call: function entries and loop iterations it may
    /// execute before trapping with "out of fuel".
    #[arg(long, value_name = "N", default_value_t = 1 << 40)]
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
/// `--long` option of `run` found among ARGS (and its value) in front of them.
fn hoist_run_options(argv: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    let Some(run) = cmd.find_subcommand("run") else {
        return argv;
    };
    // The subcommand is the first argument that is not an option.
    let Some(pos) = argv
        .iter()
        .skip(1)
        .position(|a| !a.to_string_lossy().starts_with('-'))
        .map(|p| p + 1)
        .filter(|&p| argv[p] == "run")
    else {
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
    let r = match cli.command {
        Command::Run(a) => run(a),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("{}", f.message);
            ExitCode::from(f.status)
        }
    }
}
