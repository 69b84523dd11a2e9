//! The compile options as command-line flags. `kwasmc compile` and the
//! `kwasm` commands that take a `.wasm` (`load`, `run`) flatten these, so
//! a module compiled either way gets the same options, spelt the same.

use crate::{CompileOptions, DEFAULT_TARGET, OptLevel};
use kwasm_abi::{Arch, cpu};

/// `--opt`, `--no-spectre-guards` and `--cpu`. The target is not here:
/// `kwasmc` takes `--target`, and `kwasm` always compiles for the machine
/// it runs on.
#[derive(clap::Args, Clone, Copy, Debug)]
pub struct CompileFlags {
    /// Optimisation level (of the compiled code)
    #[arg(long, value_enum, default_value_t = OptArg::Speed)]
    pub opt: OptArg,
    /// Leave out the speculation guards on heap addresses and table indices
    /// (DESIGN 12). For measuring what they cost only: code compiled this
    /// way can be steered by a mispredicted bounds check to read kernel
    /// memory speculatively.
    #[arg(long)]
    pub no_spectre_guards: bool,
    /// Optional CPU extensions the code may use: `baseline` (none, runs on
    /// every CPU of the target architecture), `native` (those of the CPU
    /// compiling) or a comma-separated list (x86-64: popcnt, lzcnt, bmi1,
    /// bmi2, sse4.1, sse4.2, avx; popcnt is used only with sse4.2). They
    /// are recorded in the .kw, and kwasm refuses to run it on a CPU that
    /// lacks one
    #[arg(long, value_name = "EXTENSIONS", default_value = "baseline", value_parser = parse_cpu)]
    pub cpu: CpuArg,
}

/// `--cpu`'s value: names are checked when parsed, the architecture when
/// the target is known ([`CompileFlags::options_for`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuArg {
    /// The extensions the CPU running the compiler has.
    Native,
    /// These extensions ([`cpu`] bits; empty for `baseline`).
    List(u32),
}

fn parse_cpu(s: &str) -> Result<CpuArg, String> {
    if s == "native" {
        return Ok(CpuArg::Native);
    }
    let mask = cpu::parse_names(s).map_err(|name| {
        let all: Vec<&str> = cpu::EXTENSIONS.iter().map(|e| e.name).collect();
        format!(
            "unknown CPU extension `{name}`: use baseline, native or a list of {}",
            all.join(", ")
        )
    })?;
    Ok(CpuArg::List(mask))
}

/// `--opt`'s values.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum OptArg {
    None,
    Speed,
}

impl CompileFlags {
    /// The options these flags give, for the machine this runs on.
    pub fn options(&self) -> Result<CompileOptions, String> {
        self.options_for(DEFAULT_TARGET)
    }

    /// The options these flags give, for `target`. Fails when `--cpu`
    /// names an extension of another architecture, or is `native` for a
    /// target that is not this machine.
    pub fn options_for(&self, target: Arch) -> Result<CompileOptions, String> {
        let cpu = match self.cpu {
            CpuArg::Native if Some(target) != Arch::HOST => {
                return Err(format!(
                    "--cpu native: this machine is not {}; name the extensions instead",
                    target.name()
                ));
            }
            CpuArg::Native => kwasm_abi::host_cpu::host(target),
            CpuArg::List(mask) => {
                cpu::check(mask, target).map_err(|e| format!("--cpu: {e}"))?;
                mask
            }
        };
        Ok(CompileOptions {
            target,
            opt: match self.opt {
                OptArg::None => OptLevel::None,
                OptArg::Speed => OptLevel::Speed,
            },
            spectre_guards: !self.no_spectre_guards,
            cpu,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        flags: CompileFlags,
    }

    #[test]
    fn defaults_are_compile_options_defaults() {
        let c = Cli::parse_from(["x"]);
        assert_eq!(c.flags.options(), Ok(CompileOptions::default()));
        let c = Cli::parse_from(["x", "--opt", "none", "--no-spectre-guards"]);
        let o = c.flags.options().unwrap();
        assert_eq!(o.opt, OptLevel::None);
        assert!(!o.spectre_guards);
    }

    #[test]
    fn cpu_lists_are_checked_against_the_target() {
        let c = Cli::parse_from(["x", "--cpu", "bmi1,bmi2"]);
        let o = c.flags.options_for(Arch::X86_64).unwrap();
        assert_eq!(o.cpu, cpu::BMI1 | cpu::BMI2);
        let e = c.flags.options_for(Arch::Aarch64).unwrap_err();
        assert!(e.contains("bmi1") && e.contains("x86_64"), "{e}");
        let c = Cli::parse_from(["x", "--cpu", "baseline"]);
        assert_eq!(c.flags.options_for(Arch::Aarch64).unwrap().cpu, 0);
        let e = Cli::try_parse_from(["x", "--cpu", "bmi3"])
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("unknown CPU extension `bmi3`") && e.contains("lzcnt"),
            "{e}"
        );
        let c = Cli::parse_from(["x", "--cpu", "native"]);
        let here = DEFAULT_TARGET;
        assert_eq!(
            c.flags.options_for(here).unwrap().cpu,
            kwasm_abi::host_cpu::host(here)
        );
        let other = Arch::ALL.into_iter().find(|a| *a != here).unwrap();
        assert!(c.flags.options_for(other).is_err());
    }
}
