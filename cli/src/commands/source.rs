//! What `kwasm load` and `kwasm run` take: a `.kw`, or a WebAssembly module
//! (binary or WAT) that they compile first with kwasmc's library, with the
//! options `kwasmc compile` would use. A user can try kwasm without knowing
//! about `.kw`; the `.kw` stays the artifact to deploy.

use anyhow::{Context, Result, anyhow};
use kwasm_compiler::flags::CompileFlags;
use std::path::Path;

/// The ELF magic that starts every `.kw`.
const ELF_MAGIC: &[u8] = b"\x7fELF";

/// The `.kw` bytes of `file`: the file itself when it is an ELF, else the
/// module compiled for this machine with `flags`.
pub fn kw_bytes(file: &Path, flags: &CompileFlags) -> Result<Vec<u8>> {
    let name = file.display();
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {name}"))?;
    if bytes.starts_with(ELF_MAGIC) {
        return Ok(bytes);
    }
    let opts = flags.options().map_err(|e| anyhow!("{name}: {e}"))?;
    kwasm_compiler::compile(&bytes, &opts).map_err(|e| anyhow!("{name}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_wasm_and_wat_and_passes_kw_through() {
        let dir = std::env::temp_dir().join(format!("kwasm-source-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let flags = CompileFlags {
            opt: kwasm_compiler::flags::OptArg::Speed,
            no_spectre_guards: false,
            cpu: kwasm_compiler::flags::CpuArg::List(0),
        };
        let wat = dir.join("p.wat");
        std::fs::write(
            &wat,
            "(module (func (export \"filter\") (param i32) (result i32) i32.const 1))",
        )
        .unwrap();
        let kw = kw_bytes(&wat, &flags).unwrap();
        assert!(kw.starts_with(ELF_MAGIC));
        let kwf = dir.join("p.kw");
        std::fs::write(&kwf, &kw).unwrap();
        assert_eq!(kw_bytes(&kwf, &flags).unwrap(), kw, "a .kw is used as is");
        let bad = dir.join("bad.wasm");
        std::fs::write(&bad, b"\0asm\x01\0\0\0\x05").unwrap();
        let e = kw_bytes(&bad, &flags).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}: ", bad.display())), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
