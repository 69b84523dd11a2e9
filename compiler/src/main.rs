//! `kwasmc`: compile WebAssembly to a `.kw` artifact.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Parser, Subcommand};
use kwasm_compiler::flags::CompileFlags;
use kwasm_compiler::{Arch, compile, maps_section};

#[derive(Parser)]
#[command(
    name = "kwasmc",
    version,
    about = "Compile WebAssembly to sandboxed native code for kwasm (.kw)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Compile a .wasm (or .wat) module to a .kw artifact
    Compile(CompileArgs),
    /// Append a kwasm.maps section declaring maps to a .wasm, for
    /// toolchains that cannot write custom sections (AssemblyScript)
    AddMaps(AddMapsArgs),
}

#[derive(clap::Args)]
struct AddMapsArgs {
    /// Input module: a WebAssembly binary
    input: PathBuf,
    /// Output path [default: the input, rewritten]
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// A map, in map order: array:ENTRIES, per_cpu_array:ENTRIES,
    /// hash:KEY_SIZE:VALUE_SIZE:ENTRIES or ring_buf:BYTES (repeatable)
    #[arg(long = "map", value_name = "SPEC", required = true)]
    maps: Vec<String>,
}

fn add_maps(args: &AddMapsArgs) -> Result<(), String> {
    let input = std::fs::read(&args.input).map_err(|e| e.to_string())?;
    let decls = args
        .maps
        .iter()
        .enumerate()
        .map(|(i, s)| maps_section::parse_spec(s, i as u32))
        .collect::<Result<Vec<_>, _>>()?;
    let out = maps_section::append(&input, &decls)?;
    let path = args.output.as_ref().unwrap_or(&args.input);
    std::fs::write(path, out).map_err(|e| format!("writing {}: {e}", path.display()))
}

#[derive(clap::Args)]
struct CompileArgs {
    /// Input module: a WebAssembly binary or WAT text
    input: PathBuf,
    /// Output path [default: the input path with a .kw extension]
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Target architecture [default: this machine's]
    #[arg(long, default_value_t = kwasm_compiler::DEFAULT_TARGET, hide_default_value = true, value_parser = arch_parser())]
    target: Arch,
    #[command(flatten)]
    flags: CompileFlags,
}

/// `--target`: abi's architecture names (`Arch::ALL`), which clap lists in
/// `--help` and checks, turned into an `Arch` by abi's own parser. A new
/// architecture in abi appears here without a change.
fn arch_parser() -> impl TypedValueParser<Value = Arch> {
    PossibleValuesParser::new(Arch::ALL.map(|a| PossibleValue::new(a.name())))
        .try_map(|s: String| Arch::from_name(&s).ok_or("unknown architecture"))
}

fn run(args: &CompileArgs) -> Result<(), String> {
    let input = std::fs::read(&args.input).map_err(|e| e.to_string())?;
    let opts = args.flags.options_for(args.target)?;
    let kw = compile(&input, &opts).map_err(|e| e.to_string())?;
    let out = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(&args.input));
    std::fs::write(&out, kw).map_err(|e| format!("writing {}: {e}", out.display()))
}

fn default_output(input: &Path) -> PathBuf {
    input.with_extension("kw")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `compile` turns an (unexpected) panic into an internal-error message;
    // keep the default hook from printing a second, multi-line report.
    std::panic::set_hook(Box::new(|_| {}));
    match cli.cmd {
        Cmd::Compile(args) => match run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("kwasmc: {}: {}", args.input.display(), e.replace('\n', " "));
                ExitCode::FAILURE
            }
        },
        Cmd::AddMaps(args) => match add_maps(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("kwasmc: {}: {e}", args.input.display());
                ExitCode::FAILURE
            }
        },
    }
}
