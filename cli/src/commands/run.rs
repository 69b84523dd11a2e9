//! `kwasm run`: run a `.kw` in userspace with `kwasm-runtime` and call one
//! of its exports.

use super::{Failure, arity_error, export_type, fail, source};
use crate::output;
use kwasm_abi::maps::MapKind;
use kwasm_compiler::flags::CompileFlags;
use kwasm_runtime::InstanceId;
use kwasm_runtime::{Artifact, InstantiateError, InvokeError, Store, StoreConfig, Val};
use std::path::PathBuf;
use std::rc::Rc;

/// `--events`: drains every ring_buf map of the instance.
fn print_events(store: &Store, inst: InstanceId, artifact: &Artifact) {
    let meta = artifact.meta();
    for (m, rec) in meta.maps().iter().enumerate() {
        if rec.decl().map(|d| d.kind) != Some(MapKind::RingBuf) {
            continue;
        }
        let Some((events, dropped)) = store.drain_events(inst, m as u32) else {
            continue;
        };
        for e in events {
            println!(
                "event {m}: {}",
                crate::mapbytes::render_text(&e.data, false)
            );
        }
        if dropped > 0 {
            println!("event {m}: {dropped} dropped (ring full)");
        }
    }
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// The program: a .kw artifact (from `kwasmc compile`), or a
    /// WebAssembly module (.wasm or .wat), compiled first as `kwasmc
    /// compile` would with the options below.
    file: PathBuf,
    #[command(flatten)]
    compile: CompileFlags,
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
    /// After the call, print the records the program wrote to its ring_buf
    /// maps, one `event MAP: DATA` line each (data as text when printable,
    /// else hex), and how many were dropped.
    #[arg(long)]
    events: bool,
    /// Arguments for the export. Values may start with `-` (`-1`, `-inf`);
    /// options such as `--fuel N` may come before or after them.
    #[arg(value_name = "ARGS", allow_hyphen_values = true)]
    args: Vec<String>,
}

pub fn run(a: RunArgs) -> Result<(), Failure> {
    let file = a.file.as_path();
    let packet = match &a.packet {
        Some(p) => std::fs::read(p).map_err(|e| fail(p, format!("cannot read packet: {e}")))?,
        None => Vec::new(),
    };
    let kw = source::kw_bytes(file, &a.compile).map_err(|e| Failure {
        status: 1,
        message: format!("kwasm: {e}"),
    })?;
    let artifact = Artifact::from_bytes(&file.display().to_string(), &kw).map_err(|e| Failure {
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
    let ty = export_type(&artifact, &name)
        .ok_or_else(|| fail(file, format!("no exported function named `{name}`")))?;
    if let Some(e) = arity_error(&name, &ty, a.args.len()) {
        return Err(fail(file, e));
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
            return Err(Failure::trap(format_args!("{t} (during instantiation)")));
        }
        Err(e) => return Err(fail(file, e)),
    };
    match store.invoke(inst, &name, &args) {
        Ok(results) => {
            for r in &results {
                output::value(r, a.typed);
            }
            if a.events {
                print_events(&store, inst, &artifact);
            }
            Ok(())
        }
        Err(InvokeError::Trap(t)) => Err(Failure::trap(t)),
        Err(e) => Err(fail(file, e)),
    }
}
