//! `kwasm-tools forge-kw`: deliberately broken copies of a valid `.kw`, for
//! the checks that the loader and the kernel refuse them.

use anyhow::{Context, Result, anyhow, bail};
use kwasm_abi::meta::{self, Meta, Record};
use kwasm_runtime::artifact::raw_sections;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ForgeMode {
    /// Cut the file in half.
    TruncateFile,
    /// Cut 16 bytes off the end of the metadata section.
    TruncateMeta,
    /// Point the first function's code outside .text; re-stamp the checksum.
    CorruptMeta,
    /// Give the first import another type of the module; re-stamp the
    /// checksum.
    BadImport,
}

#[derive(clap::Args)]
pub struct ForgeArgs {
    /// A valid .kw (from `kwasmc compile`).
    pub input: PathBuf,
    /// Where to write the broken copy.
    pub output: PathBuf,
    /// What to break.
    #[arg(long, value_enum)]
    pub mode: ForgeMode,
}

/// Offset of the stored checksum in a valid blob: the 4 bytes that equal
/// the CRC-32 of the blob with themselves read as zero. Found rather than
/// hard-coded so that the forger follows the format.
fn checksum_offset(blob: &[u8]) -> Option<usize> {
    (0..blob.len().saturating_sub(4)).step_by(4).find(|&p| {
        let stored = u32::from_le_bytes([blob[p], blob[p + 1], blob[p + 2], blob[p + 3]]);
        let c = meta::crc32(0, &blob[..p]);
        let c = meta::crc32(c, &[0; 4]);
        meta::crc32(c, &blob[p + 4..]) == stored
    })
}

fn restamp(blob: &mut [u8], at: usize) {
    blob[at..at + 4].fill(0);
    let c = meta::crc32(0, blob);
    blob[at..at + 4].copy_from_slice(&c.to_le_bytes());
}

/// Offset of the only occurrence of `rec`'s encoding in `blob`.
fn find_record<R: meta::Record>(blob: &[u8], rec: &R) -> Result<usize> {
    let mut enc = vec![0u8; R::SIZE];
    rec.write(&mut enc);
    let hits: Vec<usize> = blob
        .windows(R::SIZE)
        .enumerate()
        .filter(|(_, w)| *w == enc.as_slice())
        .map(|(i, _)| i)
        .collect();
    match hits.as_slice() {
        [one] => Ok(*one),
        _ => bail!("found the record {} times in the metadata", hits.len()),
    }
}

/// Write a deliberately broken copy of a valid `.kw`.
pub fn forge(a: &ForgeArgs) -> Result<()> {
    let mut bytes =
        std::fs::read(&a.input).with_context(|| format!("cannot read {}", a.input.display()))?;
    let (text_len, meta_off, meta_len) = {
        let (text, m) = raw_sections(&bytes).map_err(|e| anyhow!("{}: {e}", a.input.display()))?;
        (
            text.len(),
            m.as_ptr() as usize - bytes.as_ptr() as usize,
            m.len(),
        )
    };
    match a.mode {
        ForgeMode::TruncateFile => bytes.truncate(bytes.len() / 2),
        ForgeMode::TruncateMeta => {
            // Shrink .kwasm.meta's sh_size in its section header.
            let elf = goblin::elf::Elf::parse(&bytes)?;
            let idx = elf
                .section_headers
                .iter()
                .position(|s| elf.shdr_strtab.get_at(s.sh_name) == Some(meta::SECTION_NAME))
                .context("no metadata section")?;
            let at = elf.header.e_shoff as usize + idx * elf.header.e_shentsize as usize + 32;
            let new = (meta_len as u64).saturating_sub(16);
            bytes[at..at + 8].copy_from_slice(&new.to_le_bytes());
        }
        ForgeMode::CorruptMeta => {
            let blob = &mut bytes[meta_off..meta_off + meta_len];
            let (at, sum) = {
                let m = Meta::parse(blob).map_err(|e| anyhow!("invalid metadata: {e}"))?;
                let f = m.funcs().get(0).context("the program has no functions")?;
                (find_record(blob, &f)?, checksum_offset(blob))
            };
            let sum = sum.context("cannot find the metadata checksum")?;
            // FuncRec { type_idx, text_off, .. }: the code lies past .text.
            blob[at + 4..at + 8].copy_from_slice(&(text_len as u32 + 64).to_le_bytes());
            restamp(blob, sum);
        }
        ForgeMode::BadImport => {
            let blob = &mut bytes[meta_off..meta_off + meta_len];
            let (imp, at, sum) = {
                let m = Meta::parse(blob).map_err(|e| anyhow!("invalid metadata: {e}"))?;
                let imp = m.imports().get(0).context("the program has no imports")?;
                let cur = m.types().get(imp.index).context("bad import type")?;
                let sig = |t| {
                    (
                        m.params(t).collect::<Vec<_>>(),
                        m.results(t).collect::<Vec<_>>(),
                    )
                };
                let cur_sig = sig(cur);
                let new = (0..m.types().len())
                    .find(|&i| m.types().get(i).is_some_and(|t| sig(t) != cur_sig))
                    .context("the program has no other function type to use")?;
                let at = find_record(blob, &imp)?;
                let mut imp = imp;
                imp.index = new;
                (imp, at, checksum_offset(blob))
            };
            let sum = sum.context("cannot find the metadata checksum")?;
            let mut enc = vec![0u8; meta::ImportRec::SIZE];
            imp.write(&mut enc);
            blob[at..at + enc.len()].copy_from_slice(&enc);
            restamp(blob, sum);
            Meta::parse(blob).map_err(|e| anyhow!("forged metadata does not parse: {e}"))?;
        }
    }
    std::fs::write(&a.output, &bytes)
        .with_context(|| format!("cannot write {}", a.output.display()))?;
    Ok(())
}
