//! `kwasm new NAME --lang rust|c|zig|as`: a ready-to-build program
//! skeleton (a filter with one map and a log line, its SDK and its build
//! file), from templates in `cli/templates/` and the SDKs in `guests/`,
//! compiled into the binary.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Rust,
    C,
    Zig,
    /// AssemblyScript
    As,
}

#[derive(clap::Args)]
pub struct NewArgs {
    /// Program name: letters, digits and `_`; also the directory, the
    /// source file and the `.wasm`.
    pub name: String,
    /// The language.
    #[arg(long, value_enum)]
    pub lang: Lang,
    /// Where to create the project [default: ./NAME].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The Rust SDK (guests/sdk of a kwasm checkout) the project depends on
    /// [default: the one this kwasm was built from].
    #[arg(long, value_name = "DIR")]
    pub sdk: Option<PathBuf>,
}

/// The Rust SDK of the checkout this binary was built from.
const DEFAULT_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../guests/sdk");

/// The files of a project: (path relative to the project, contents with
/// `{{name}}` and `{{sdk}}` still in them).
fn files(lang: Lang) -> Vec<(&'static str, &'static str)> {
    match lang {
        Lang::C => vec![
            ("{{name}}.c", include_str!("../../templates/c/prog.c")),
            ("Makefile", include_str!("../../templates/c/Makefile")),
            ("kwasm.h", include_str!("../../../guests/c/kwasm.h")),
            ("kwasm_abi.h", include_str!("../../../guests/c/kwasm_abi.h")),
        ],
        Lang::Zig => vec![
            ("{{name}}.zig", include_str!("../../templates/zig/prog.zig")),
            ("Makefile", include_str!("../../templates/zig/Makefile")),
            ("kwasm.zig", include_str!("../../../guests/zig/kwasm.zig")),
            (
                "kwasm_abi.zig",
                include_str!("../../../guests/zig/kwasm_abi.zig"),
            ),
        ],
        Lang::As => vec![
            ("{{name}}.ts", include_str!("../../templates/as/prog.ts")),
            ("Makefile", include_str!("../../templates/as/Makefile")),
            (
                "package.json",
                include_str!("../../templates/as/package.json"),
            ),
            ("kwasm.ts", include_str!("../../../guests/as/kwasm.ts")),
            (
                "kwasm_abi.ts",
                include_str!("../../../guests/as/kwasm_abi.ts"),
            ),
        ],
        Lang::Rust => vec![
            ("src/lib.rs", include_str!("../../templates/rust/lib.rs")),
            (
                "Cargo.toml",
                include_str!("../../templates/rust/Cargo.toml"),
            ),
            ("Makefile", include_str!("../../templates/rust/Makefile")),
        ],
    }
}

/// How to build and load the project, once written.
fn next_steps(lang: Lang, dir: &Path, name: &str) -> String {
    let build = match lang {
        Lang::As => "npm install && make",
        _ => "make",
    };
    format!(
        "kwasm: created {dir}\n  cd {dir} && {build}\n  kwasm run {name}.wasm 0\n  kwasm load {name}.wasm --attach ipv4:input",
        dir = dir.display()
    )
}

pub fn new(a: &NewArgs) -> Result<()> {
    let name = &a.name;
    if name.is_empty()
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        || name.as_bytes()[0].is_ascii_digit()
        || name.len() >= kwasm_abi::ioctl::NAME_LEN
    {
        bail!(
            "`{name}`: a program name has 1 to {} letters, digits and `_`, and does not start with a digit",
            kwasm_abi::ioctl::NAME_LEN - 1
        );
    }
    let dir = a.dir.clone().unwrap_or_else(|| PathBuf::from(name));
    if dir.exists()
        && dir
            .read_dir()
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        bail!(
            "{}: exists and is not empty: choose another NAME or --dir",
            dir.display()
        );
    }
    let sdk = a.sdk.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_SDK));
    if a.lang == Lang::Rust && !sdk.join("Cargo.toml").is_file() {
        bail!(
            "{}: not the kwasm Rust SDK (no Cargo.toml): pass --sdk DIR, the guests/sdk of a kwasm checkout",
            sdk.display()
        );
    }
    let sdk = std::fs::canonicalize(&sdk).unwrap_or(sdk);
    for (path, text) in files(a.lang) {
        let path = dir.join(path.replace("{{name}}", name));
        let text = text
            .replace("{{name}}", name)
            .replace("{{sdk}}", &sdk.display().to_string());
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    println!("{}", next_steps(a.lang, &dir, name));
    Ok(())
}
