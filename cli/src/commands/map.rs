//! `kwasm map get|set|dump`: a loaded program's maps (arrays of u64 shared
//! with userspace).

use super::{parse_u32, parse_u64};
use crate::output;
use anyhow::Result;
use kwasm::Ctx;

/// Which entry of which map: the arguments every map command starts with.
#[derive(clap::Args)]
pub struct MapRef {
    /// Program name (see `kwasm list`).
    pub name: String,
    /// Map number, as the program passes it to `kwasm.map_get` (0 is the
    /// first map its `kwasm.maps` section declares).
    pub map: String,
}

#[derive(clap::Subcommand)]
pub enum MapCmd {
    /// Print entry INDEX of map MAP.
    Get {
        #[command(flatten)]
        map: MapRef,
        /// Entry index (decimal or 0x-hex).
        index: String,
    },
    /// Set entry INDEX of map MAP to VALUE (u64, decimal or 0x-hex; a
    /// negative value is stored as its two's complement).
    Set {
        #[command(flatten)]
        map: MapRef,
        /// Entry index (decimal or 0x-hex).
        index: String,
        /// The new value.
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
    /// Print every entry of map MAP as `INDEX: VALUE` lines.
    Dump {
        #[command(flatten)]
        map: MapRef,
        /// One JSON array of the values, entry 0 first.
        #[arg(long)]
        json: bool,
    },
}

pub fn map(ctx: &Ctx, cmd: &MapCmd) -> Result<()> {
    let dev = ctx.device()?;
    match cmd {
        MapCmd::Get { map, index } => {
            let (v, _) = dev.map_get(&map.name, parse_u32(&map.map)?, parse_u32(index)?, 1)?;
            println!("{}", v[0]);
        }
        MapCmd::Set { map, index, value } => dev.map_set(
            &map.name,
            parse_u32(&map.map)?,
            parse_u32(index)?,
            parse_u64(value)?,
        )?,
        MapCmd::Dump { map, json } => {
            let m = parse_u32(&map.map)?;
            let (_, len) = dev.map_get(&map.name, m, 0, 0)?;
            let (vals, _) = dev.map_get(&map.name, m, 0, len)?;
            if *json {
                output::json(&vals);
            } else {
                output::indexed(&vals);
            }
        }
    }
    Ok(())
}
