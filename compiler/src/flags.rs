//! The compile options as command-line flags. `kwasmc compile` and the
//! `kwasm` commands that take a `.wasm` (`load`, `run`) flatten these, so
//! a module compiled either way gets the same options, spelt the same.

use crate::{CompileOptions, DEFAULT_TARGET, OptLevel};

/// `--opt` and `--no-spectre-guards`. The target is not here: `kwasmc`
/// takes `--target`, and `kwasm` always compiles for the machine it runs on.
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
}

/// `--opt`'s values.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum OptArg {
    None,
    Speed,
}

impl CompileFlags {
    /// The options these flags give, for the machine this runs on.
    pub fn options(&self) -> CompileOptions {
        CompileOptions {
            target: DEFAULT_TARGET,
            opt: match self.opt {
                OptArg::None => OptLevel::None,
                OptArg::Speed => OptLevel::Speed,
            },
            spectre_guards: !self.no_spectre_guards,
        }
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
        assert_eq!(c.flags.options(), CompileOptions::default());
        let c = Cli::parse_from(["x", "--opt", "none", "--no-spectre-guards"]);
        assert_eq!(c.flags.options().opt, OptLevel::None);
        assert!(!c.flags.options().spectre_guards);
    }
}
