//! Programs in the kernel: `kwasm load|unload|list|stats|attach|detach|invoke`
//! (through `/dev/kwasm` and the module syscalls).

use super::{Failure, arity_error, export_type, source};
use crate::output::{self, Align, KeyValues, Ordered, Table};
use anyhow::{Context, Result, anyhow, bail};
use kwasm::Ctx;
use kwasm::device;
use kwasm::kmod;
use kwasm::program::{load_config, load_program, unload_module};
use kwasm_abi::host;
use kwasm_abi::ioctl::{self, ProgInfo};
use kwasm_abi::link::{self, Linking};
use kwasm_abi::meta::Meta;
use kwasm_abi::trap::{ALL_TRAPS, TrapCode};
use kwasm_compiler::flags::CompileFlags;
use kwasm_runtime::artifact::raw_sections;
use kwasm_runtime::{Artifact, Val, ValType};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Verdict to use when the program traps or returns something else than
/// accept (1) or drop (0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OnTrap {
    Accept,
    Drop,
}

#[derive(clap::Args)]
pub struct LoadArgs {
    /// The program: a .kw artifact (from `kwasmc compile`), or a
    /// WebAssembly module (.wasm or .wat), compiled first as `kwasmc
    /// compile` would with the options below.
    pub file: PathBuf,
    #[command(flatten)]
    pub compile: CompileFlags,
    /// Program name ([A-Za-z0-9_], at most 31 characters); defaults to the
    /// file name without extension, other characters replaced by `_`.
    #[arg(long)]
    pub name: Option<String>,
    /// Attach to a netfilter hook after loading, e.g. `ipv4:input`
    /// (ipv4|ipv6 : prerouting|input|forward|output|postrouting). Repeatable.
    #[arg(long, value_name = "POINT")]
    pub attach: Vec<String>,
    /// Netfilter priority of the attachments (lower runs earlier).
    #[arg(
        long,
        value_name = "P",
        default_value_t = 0,
        allow_hyphen_values = true
    )]
    pub priority: i32,
    /// Fuel per invocation, in units of work (a wasm operator, 16 bytes of a
    /// bulk copy; see docs/fuel.md) before the program traps with "out of
    /// fuel" [default: 1000000, at most 20000000].
    #[arg(long, value_name = "N")]
    pub fuel: Option<u64>,
    /// Size of the wasm stack per CPU, in KiB (32..=1024) [default: 64].
    #[arg(long = "stack", value_name = "KIB")]
    pub stack_kib: Option<u32>,
    /// Verdict for a packet when the program traps or returns an invalid
    /// verdict.
    #[arg(long, value_enum, default_value = "accept")]
    pub on_trap: OnTrap,
    /// Skip the userspace validation and hand the bytes to the kernel as they
    /// are (tests the kernel's own validation).
    #[arg(long, hide = true)]
    pub unchecked: bool,
}

/// The default program name for a file: its stem, sanitized.
pub fn default_name(file: &Path) -> String {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut s: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    s.truncate(ioctl::NAME_LEN - 1);
    if s.is_empty() { "prog".into() } else { s }
}

pub fn load(ctx: &Ctx, a: &LoadArgs) -> Result<()> {
    let name = a.name.clone().unwrap_or_else(|| default_name(&a.file));
    let name_raw = device::prog_name(&name)?;
    let file = a.file.display().to_string();
    let bytes = match a.unchecked {
        // As they are: the kernel's own validation is what is tested.
        true => std::fs::read(&a.file).with_context(|| format!("cannot read {file}"))?,
        false => source::kw_bytes(&a.file, &a.compile)?,
    };
    let mut flags = 0;
    if a.on_trap == OnTrap::Drop {
        flags |= ioctl::PROG_DROP_ON_TRAP;
    }
    if !a.unchecked {
        // The kernel's linking rules, checked here first for a clearer error.
        let art = Artifact::from_bytes(&file, &bytes)?;
        let meta = art.meta();
        link::check_imports(&meta, Linking::Kernel).map_err(|e| anyhow!("{file}: {e}"))?;
        let entry = link::entry(&meta).map_err(|e| anyhow!("{file}: {e}"))?;
        if entry.is_none() && !a.attach.is_empty() {
            bail!(
                "{file}: cannot attach: the program has no `{}` export",
                host::FILTER_EXPORT
            );
        }
        if meta.uses_float() {
            flags |= ioctl::PROG_USES_FLOAT;
        }
    } else if let Ok(m) = Meta::parse(raw_sections(&bytes).map(|s| s.1).unwrap_or(&[]))
        && m.uses_float()
    {
        flags |= ioctl::PROG_USES_FLOAT;
    }
    if let Some(k) = a.stack_kib
        && !(ioctl::MIN_STACK_KIB..=ioctl::MAX_STACK_KIB).contains(&k)
        && !a.unchecked
    {
        bail!(
            "--stack {k}: the wasm stack must be {}..={} KiB",
            ioctl::MIN_STACK_KIB,
            ioctl::MAX_STACK_KIB
        );
    }
    if let Some(f) = a.fuel
        && f > kwasm_abi::fuel::MAX
        && !a.unchecked
    {
        bail!(
            "--fuel {f}: the kernel allows at most {} per invocation (twenty times the \
             default: a program runs with bottom halves disabled; see docs/fuel.md)",
            kwasm_abi::fuel::MAX
        );
    }
    for p in &a.attach {
        kwasm::device::attach_point(p)?;
    }
    let (text, meta) = raw_sections(&bytes).map_err(|e| anyhow!("{file}: {e}"))?;
    let config = load_config(
        name_raw,
        a.fuel.unwrap_or(kwasm_abi::fuel::DEFAULT),
        a.stack_kib.unwrap_or(ioctl::DEFAULT_STACK_KIB),
        flags,
    );
    let dev = ctx.device()?;
    load_program(&dev, ctx, &name, text, meta, config, a.unchecked)?;
    for p in &a.attach {
        if let Err(e) = dev.attach(&name, p, a.priority, false) {
            let undo = match device::delete_module(&kmod::module_name(&name)) {
                Ok(()) => "the program was unloaded again".to_string(),
                Err(u) => format!("unloading it again also failed: {u}"),
            };
            return Err(e.context(format!("{name} loaded but could not be attached; {undo}")));
        }
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct UnloadArgs {
    /// Program name (see `kwasm list`).
    pub name: String,
}

pub fn unload(ctx: &Ctx, a: &UnloadArgs) -> Result<()> {
    let dev = ctx.device()?;
    let info = dev.stats(&a.name)?;
    for i in 0..(info.nattach as usize).min(ioctl::MAX_ATTACH) {
        let (f, h, _) = info.attachment(i);
        let (fam, hook) = ioctl::attach_point_name(f, h);
        dev.attach(&a.name, &format!("{fam}:{hook}"), 0, true)?;
    }
    unload_module(&a.name)
}

/// A program as `list` and `stats` show it; serialized as is by `--json`
/// (the key names and types are an interface: scripts read them).
#[derive(Serialize)]
struct ProgView<'a> {
    id: u32,
    name: &'a str,
    /// `ipv4:input`, with `@PRIORITY` when it is not 0.
    attach: Vec<String>,
    funcs: u32,
    code_bytes: u32,
    mem_pages: u32,
    stack_kib: u32,
    fuel: u64,
    uses_float: bool,
    /// `accept` or `drop`.
    on_trap: &'static str,
    maps: u32,
    /// The counters, named as `stats` and the JSON name them (see
    /// [`ProgView::new`]), in this order.
    #[serde(flatten)]
    counters: Ordered<&'static str, u64>,
    /// Traps by kind, in `ALL_TRAPS` order.
    trap_kinds: Ordered<&'static str, u64>,
}

impl<'a> ProgView<'a> {
    fn new(info: &'a ProgInfo) -> Self {
        let s = &info.stats;
        let attach = (0..(info.nattach as usize).min(ioctl::MAX_ATTACH))
            .map(|i| {
                let (f, h, p) = info.attachment(i);
                let (fam, hook) = ioctl::attach_point_name(f, h);
                if p == 0 {
                    format!("{fam}:{hook}")
                } else {
                    format!("{fam}:{hook}@{p}")
                }
            })
            .collect();
        ProgView {
            id: info.id,
            name: ioctl::decode_name(&info.name).unwrap_or("?"),
            attach,
            funcs: info.funcs,
            code_bytes: info.text_len,
            mem_pages: info.mem_pages,
            stack_kib: info.stack_kib,
            fuel: info.fuel,
            uses_float: info.flags & ioctl::PROG_USES_FLOAT != 0,
            on_trap: if info.flags & ioctl::PROG_DROP_ON_TRAP != 0 {
                "drop"
            } else {
                "accept"
            },
            maps: info.nmaps,
            counters: Ordered(vec![
                ("invocations", s.invocations),
                ("accepts", s.accepts),
                ("drops", s.drops),
                ("bad_verdicts", s.bad_verdicts),
                ("fpu_unavailable", s.fpu_unavailable),
                ("run_ns", s.run_ns),
                ("avg_ns", s.run_ns.checked_div(s.invocations).unwrap_or(0)),
                ("traps", s.traps.iter().sum()),
            ]),
            trap_kinds: Ordered(
                ALL_TRAPS
                    .iter()
                    .map(|t| (t.name(), s.traps[t.index()]))
                    .collect(),
            ),
        }
    }

    /// The counter named `key` (one of [`ProgView::counters`]).
    fn counter(&self, key: &str) -> u64 {
        let c = self.counters.0.iter().find(|(k, _)| *k == key);
        c.map_or(0, |(_, n)| *n)
    }

    /// The attach points, comma-separated, or `-`.
    fn attached(&self) -> String {
        if self.attach.is_empty() {
            "-".into()
        } else {
            self.attach.join(",")
        }
    }
}

#[derive(clap::Args)]
pub struct ListArgs {
    /// One JSON array of program objects (the keys of `kwasm stats --json`).
    #[arg(long)]
    pub json: bool,
}

pub fn list(ctx: &Ctx, a: &ListArgs) -> Result<()> {
    let progs = ctx.device()?.list()?;
    let views: Vec<ProgView<'_>> = progs.iter().map(ProgView::new).collect();
    if a.json {
        output::json(&views);
    } else if views.is_empty() {
        println!("no programs loaded");
    } else {
        print!("{}", list_table(&views));
    }
    Ok(())
}

fn list_table(views: &[ProgView<'_>]) -> Table<9> {
    let (l, r) = (Align::Left, Align::Right);
    let mut t = Table::new([
        ("ID", r),
        ("NAME", l),
        ("ATTACHED", l),
        ("FUNCS", r),
        ("CODE", r),
        ("MEM", r),
        ("INVOCATIONS", r),
        ("TRAPS", r),
        ("AVG_NS", r),
    ]);
    for v in views {
        t.row([
            v.id.to_string(),
            v.name.to_string(),
            v.attached(),
            v.funcs.to_string(),
            format!("{}B", v.code_bytes),
            format!("{}K", v.mem_pages as u64 * 64),
            v.counter("invocations").to_string(),
            v.counter("traps").to_string(),
            v.counter("avg_ns").to_string(),
        ]);
    }
    t
}

#[derive(clap::Args)]
pub struct StatsArgs {
    /// Program name (see `kwasm list`).
    pub name: String,
    /// One JSON object (the keys of `kwasm list --json`).
    #[arg(long)]
    pub json: bool,
}

pub fn stats(ctx: &Ctx, a: &StatsArgs) -> Result<()> {
    let info = ctx.device()?.stats(&a.name)?;
    let v = ProgView::new(&info);
    if a.json {
        output::json(&v);
    } else {
        print!("{}", stats_lines(&v));
    }
    Ok(())
}

fn stats_lines(v: &ProgView<'_>) -> KeyValues {
    let mut kv = KeyValues::default();
    kv.add("name", v.name)
        .add("id", v.id)
        .add("attached", v.attached())
        .add("functions", v.funcs)
        .add("code_bytes", v.code_bytes)
        .add("memory_pages", v.mem_pages)
        .add("stack_kib", v.stack_kib)
        .add("fuel", v.fuel)
        .add("uses_float", v.uses_float)
        .add("on_trap", v.on_trap)
        .add("maps", v.maps);
    for (key, n) in &v.counters.0 {
        kv.add(key, n);
    }
    for (kind, n) in &v.trap_kinds.0 {
        kv.add(&format!("trap.{kind}"), n);
    }
    kv
}

#[derive(clap::Args)]
pub struct AttachArgs {
    /// Program name (see `kwasm list`).
    pub name: String,
    /// ipv4|ipv6 : prerouting|input|forward|output|postrouting, e.g.
    /// ipv4:input.
    pub point: String,
    /// Netfilter priority (lower runs earlier).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    pub priority: i32,
}

pub fn attach(ctx: &Ctx, a: &AttachArgs) -> Result<()> {
    ctx.device()?.attach(&a.name, &a.point, a.priority, false)
}

#[derive(clap::Args)]
pub struct DetachArgs {
    /// Program name (see `kwasm list`).
    pub name: String,
    /// The attach point, e.g. ipv4:input.
    pub point: String,
}

pub fn detach(ctx: &Ctx, a: &DetachArgs) -> Result<()> {
    ctx.device()?.attach(&a.name, &a.point, 0, true)
}

#[derive(clap::Args)]
pub struct InvokeArgs {
    /// Program name (see `kwasm list`).
    pub name: String,
    /// Exported function to call.
    pub export: String,
    /// The program's .kw file: types ARGS and results by the export's
    /// signature, exactly as `kwasm run` does.
    #[arg(long, value_name = "FILE")]
    pub kw: Option<PathBuf>,
    /// Fuel for this call [default: the program's --fuel].
    #[arg(long, value_name = "N")]
    pub fuel: Option<u64>,
    /// Prefix each result with its type (`i32:42`), as `kwasm run --typed`.
    #[arg(long)]
    pub typed: bool,
    /// Arguments. With --kw: plain values parsed by parameter type, as for
    /// `kwasm run`. Without: typed values `i32:5`, `i64:-1`, `f32:1.5`,
    /// `f64:nan`, `f64:bits:0x7ff8000000000001`, `funcref:null`. The
    /// kernel accepts only null for reference parameters, and returns
    /// reference results as 0 (null) or 1 (non-null), never as addresses.
    #[arg(value_name = "ARGS", allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// Parse `TYPE:VALUE`.
fn typed_arg(s: &str) -> Result<Val> {
    let (t, v) = s.split_once(':').ok_or_else(|| {
        anyhow!("argument `{s}` needs a type without --kw: i32:5, i64:5, f32:1.5 or f64:1.5")
    })?;
    let ty = match t {
        "i32" => ValType::I32,
        "i64" => ValType::I64,
        "f32" => ValType::F32,
        "f64" => ValType::F64,
        "funcref" => ValType::FuncRef,
        "externref" => ValType::ExternRef,
        _ => bail!(
            "argument `{s}`: unknown type `{t}` (i32, i64, f32, f64, funcref:null or externref:null)"
        ),
    };
    Val::parse(v, ty).map_err(|e| anyhow!(e))
}

/// Calls the export in the kernel; a trap is a [`Failure::trap`] naming it
/// as `kwasm run` does.
pub fn invoke(ctx: &Ctx, a: &InvokeArgs) -> Result<(), Failure> {
    let art = match &a.kw {
        Some(p) => Some(Artifact::from_file(p).map_err(anyhow::Error::from)?),
        None => None,
    };
    let ty = match &art {
        Some(art) => {
            let t = export_type(art, &a.export);
            let why = || anyhow!("{}: no exported function named `{}`", art.name(), a.export);
            Some(t.ok_or_else(why)?)
        }
        None => None,
    };
    let args: Vec<Val> = match &ty {
        Some(ty) => {
            if let Some(e) = arity_error(&a.export, ty, a.args.len()) {
                return Err(anyhow!(e).into());
            }
            a.args
                .iter()
                .zip(ty.params.iter())
                .map(|(s, t)| match typed_arg(s) {
                    Ok(v) if v.ty() == *t => Ok(v),
                    Ok(v) => bail!(
                        "argument `{s}` is {}, `{}` wants {}",
                        v.ty().name(),
                        a.export,
                        t.name()
                    ),
                    Err(_) => Val::parse(s, *t).map_err(|e| anyhow!(e)),
                })
                .collect::<Result<_>>()?
        }
        None => a.args.iter().map(|s| typed_arg(s)).collect::<Result<_>>()?,
    };
    let raw: Vec<u64> = args.iter().map(Val::to_raw).collect();
    let dev = ctx.device()?;
    let r = dev.invoke(&a.name, &a.export, &raw, a.fuel.unwrap_or(0))?;
    if r.trap != 0 {
        let mut msg = match TrapCode::from_u32(r.trap) {
            Some(t) => format!("trap: {}", t.message()),
            None => format!("trap: unknown trap code {}", r.trap),
        };
        if r.trap_func != u32::MAX {
            let _ = write!(msg, " in function {}", r.trap_func);
            if let Some(art) = &art {
                let n = art.meta().func_name(r.trap_func);
                if !n.is_empty() {
                    let _ = write!(msg, " ({n})");
                }
            }
        }
        return Err(Failure::trap(msg));
    }
    let n = (r.nresults as usize).min(ioctl::MAX_INVOKE_VALUES);
    for (i, raw) in r.values[..n].iter().enumerate() {
        match ty.as_ref().and_then(|t| t.results.get(i)) {
            Some(t) => output::value(&Val::from_raw(*raw, *t), a.typed),
            None => output::raw_slot(*raw),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two programs; the outputs below are what `kwasm` printed before its
    /// output went through `output` and serde (scripts depend on them).
    fn sample() -> [ProgInfo; 2] {
        let mut p = ProgInfo {
            name: ioctl::encode_name("pf").unwrap(),
            id: 3,
            flags: ioctl::PROG_USES_FLOAT | ioctl::PROG_DROP_ON_TRAP,
            funcs: 4,
            text_len: 1234,
            mem_pages: 2,
            stack_kib: 64,
            fuel: 1_000_000,
            nattach: 2,
            nmaps: 1,
            ..ProgInfo::default()
        };
        p.set_attachment(0, ioctl::FAMILY_IPV4, 1, 0);
        p.set_attachment(1, ioctl::FAMILY_IPV6, 3, -5);
        p.stats.invocations = 10;
        p.stats.accepts = 7;
        p.stats.drops = 3;
        p.stats.run_ns = 12345;
        p.stats.traps[TrapCode::IntegerDivisionByZero.index()] = 2;
        p.stats.traps[TrapCode::UndefinedElement.index()] = 1;
        let q = ProgInfo {
            name: ioctl::encode_name("a_much_longer_name").unwrap(),
            id: 12,
            nattach: 0,
            ..p
        };
        [p, q]
    }

    #[test]
    fn list_prints_the_same_table_and_json() {
        let progs = sample();
        let views: Vec<ProgView<'_>> = progs.iter().map(ProgView::new).collect();
        assert_eq!(
            list_table(&views).to_string(),
            r#"ID  NAME                ATTACHED                   FUNCS   CODE   MEM  INVOCATIONS  TRAPS  AVG_NS
 3  pf                  ipv4:input,ipv6:output@-5      4  1234B  128K           10      3    1234
12  a_much_longer_name  -                              4  1234B  128K           10      3    1234
"#
        );
        assert_eq!(
            serde_json::to_string(&views).unwrap(),
            r#"[{"id":3,"name":"pf","attach":["ipv4:input","ipv6:output@-5"],"funcs":4,"code_bytes":1234,"mem_pages":2,"stack_kib":64,"fuel":1000000,"uses_float":true,"on_trap":"drop","maps":1,"invocations":10,"accepts":7,"drops":3,"bad_verdicts":0,"fpu_unavailable":0,"run_ns":12345,"avg_ns":1234,"traps":3,"trap_kinds":{"unreachable":0,"memory_oob":0,"table_oob":0,"null_call":0,"bad_signature":0,"int_overflow":0,"div_by_zero":2,"bad_conversion":0,"stack_overflow":0,"out_of_fuel":0,"host_error":0,"undefined_element":1}},{"id":12,"name":"a_much_longer_name","attach":[],"funcs":4,"code_bytes":1234,"mem_pages":2,"stack_kib":64,"fuel":1000000,"uses_float":true,"on_trap":"drop","maps":1,"invocations":10,"accepts":7,"drops":3,"bad_verdicts":0,"fpu_unavailable":0,"run_ns":12345,"avg_ns":1234,"traps":3,"trap_kinds":{"unreachable":0,"memory_oob":0,"table_oob":0,"null_call":0,"bad_signature":0,"int_overflow":0,"div_by_zero":2,"bad_conversion":0,"stack_overflow":0,"out_of_fuel":0,"host_error":0,"undefined_element":1}}]"#
        );
    }

    #[test]
    fn stats_prints_the_same_lines_and_json() {
        let progs = sample();
        let v = ProgView::new(&progs[0]);
        assert_eq!(
            stats_lines(&v).to_string(),
            r#"name:                   pf
id:                     3
attached:               ipv4:input,ipv6:output@-5
functions:              4
code_bytes:             1234
memory_pages:           2
stack_kib:              64
fuel:                   1000000
uses_float:             true
on_trap:                drop
maps:                   1
invocations:            10
accepts:                7
drops:                  3
bad_verdicts:           0
fpu_unavailable:        0
run_ns:                 12345
avg_ns:                 1234
traps:                  3
trap.unreachable:       0
trap.memory_oob:        0
trap.table_oob:         0
trap.null_call:         0
trap.bad_signature:     0
trap.int_overflow:      0
trap.div_by_zero:       2
trap.bad_conversion:    0
trap.stack_overflow:    0
trap.out_of_fuel:       0
trap.host_error:        0
trap.undefined_element: 1
"#
        );
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"id":3,"name":"pf","attach":["ipv4:input","ipv6:output@-5"],"funcs":4,"code_bytes":1234,"mem_pages":2,"stack_kib":64,"fuel":1000000,"uses_float":true,"on_trap":"drop","maps":1,"invocations":10,"accepts":7,"drops":3,"bad_verdicts":0,"fpu_unavailable":0,"run_ns":12345,"avg_ns":1234,"traps":3,"trap_kinds":{"unreachable":0,"memory_oob":0,"table_oob":0,"null_call":0,"bad_signature":0,"int_overflow":0,"div_by_zero":2,"bad_conversion":0,"stack_overflow":0,"out_of_fuel":0,"host_error":0,"undefined_element":1}}"#
        );
    }
}
