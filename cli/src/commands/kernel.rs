//! `kwasm load|unload|list|stats|attach|detach|map|invoke`: drive kwasm.ko.

use super::{Ctx, parse_u32, parse_u64};
use anyhow::{Context, Result, anyhow, bail};
use kwasm_abi::host;
use kwasm_abi::ioctl::{self, LoadConfig, ProgInfo};
use kwasm_abi::meta::{Meta, kind};
use kwasm_abi::trap::{ALL_TRAPS, TrapCode};
use kwasm_cli::device::{self, Device};
use kwasm_cli::kmod::{self, ModuleParts};
use kwasm_runtime::artifact::raw_sections;
use kwasm_runtime::{Artifact, FuncType, Val, ValType};
use std::fmt::Write as _;
use std::io;
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
    /// The .kw artifact (from `kwasmc compile`).
    pub file: PathBuf,
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

fn sig_string(params: &[ValType], results: &[ValType]) -> String {
    FuncType::new(params.to_vec(), results.to_vec()).to_string()
}

/// Check every import against the host API, naming the first bad one.
pub fn check_imports(meta: &Meta<'_>) -> Result<()> {
    for imp in meta.imports().iter() {
        let module = meta.str(imp.module);
        let name = meta.str(imp.name);
        if imp.kind != kind::FUNC {
            bail!(
                "imports `{module}`.`{name}`, which is not a function: the kernel only provides the host functions of module `kwasm`"
            );
        }
        let Some(hf) = host::lookup(module, name) else {
            bail!(
                "imports unknown function `{module}`.`{name}`: the kernel provides only {}",
                host::HOST_FUNCS
                    .iter()
                    .map(|f| format!("{}.{}", f.module, f.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        let t = meta
            .types()
            .get(imp.index)
            .ok_or_else(|| anyhow!("import `{module}`.`{name}` has no type"))?;
        let params: Vec<ValType> = meta.params(t).collect();
        let results: Vec<ValType> = meta.results(t).collect();
        if params != hf.params || results != hf.results {
            bail!(
                "imports `{module}`.`{name}` with type {}, but the host function has type {}",
                sig_string(&params, &results),
                sig_string(hf.params, hf.results)
            );
        }
    }
    Ok(())
}

/// Messages the kernel logged recently that mention `needle` (best effort:
/// needs read access to /dev/kmsg).
fn kernel_messages(needle: &str) -> Vec<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let Ok(mut f) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/kmsg")
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut buf = vec![0u8; 8192];
    // Each read returns one record; stop at EAGAIN (end of buffer).
    while let Ok(n) = f.read(&mut buf) {
        if n == 0 {
            break;
        }
        let rec = String::from_utf8_lossy(&buf[..n]);
        if let Some((_, msg)) = rec.split_once(';') {
            let msg = msg.lines().next().unwrap_or("").trim();
            if msg.contains(needle) {
                out.push(msg.to_string());
            }
        }
    }
    let keep = out.len().saturating_sub(3);
    out.split_off(keep)
}

/// Load a program module: wrap `text`/`meta` and call `init_module(2)`.
pub fn load_program(
    dev: &Device,
    ctx: &Ctx,
    name: &str,
    text: &[u8],
    meta: &[u8],
    config: LoadConfig,
    unchecked: bool,
) -> Result<()> {
    let layout = dev.module_layout()?;
    let parts = ModuleParts {
        name,
        text,
        meta,
        config,
    };
    let image = if unchecked {
        kmod::wrap_unchecked(&parts, &layout)?
    } else {
        kmod::wrap(&parts, &layout)?
    };
    ctx.drop_privileges()?;
    if let Err(e) = device::init_module(&image) {
        return Err(explain_init_module(name, e));
    }
    Ok(())
}

fn explain_init_module(name: &str, e: io::Error) -> anyhow::Error {
    match e.raw_os_error() {
        Some(libc::EEXIST) => anyhow!(
            "a program named {name} is already loaded: `kwasm unload {name}` first, or choose another --name"
        ),
        Some(libc::EPERM) | Some(libc::EACCES) => {
            anyhow!("loading a program needs CAP_SYS_MODULE: run as root ({e})")
        }
        Some(libc::ENOEXEC) | Some(libc::EINVAL) => {
            let msgs = kernel_messages(&format!("{name}:"));
            let mut s = format!("the kernel rejected the program ({e})");
            if msgs.is_empty() {
                s.push_str(": see dmesg");
            } else {
                let _ = write!(s, ": {} (dmesg)", msgs.join("; "));
            }
            anyhow!(s)
        }
        Some(libc::ENOENT) => anyhow!(
            "the kernel could not link the program module ({e}): is kwasm.ko loaded? (see dmesg)"
        ),
        Some(libc::EKEYREJECTED) => {
            anyhow!("the kernel requires signed modules; program modules are unsigned ({e})")
        }
        _ => anyhow!("init_module failed: {e} (see dmesg)"),
    }
}

pub fn load(ctx: &Ctx, a: &LoadArgs) -> Result<()> {
    let name = a.name.clone().unwrap_or_else(|| default_name(&a.file));
    let name_raw = device::prog_name(&name)?;
    let file = a.file.display().to_string();
    let bytes = std::fs::read(&a.file).with_context(|| format!("cannot read {file}"))?;
    let mut flags = 0;
    if a.on_trap == OnTrap::Drop {
        flags |= ioctl::PROG_DROP_ON_TRAP;
    }
    if !a.unchecked {
        let art = Artifact::from_bytes(&file, &bytes)?;
        let meta = art.meta();
        check_imports(&meta).map_err(|e| anyhow!("{file}: {e}"))?;
        if !a.attach.is_empty() {
            let entry = meta
                .export(host::FILTER_EXPORT)
                .filter(|e| e.kind == kind::FUNC);
            if entry.is_none() {
                bail!(
                    "{file}: cannot attach: the program has no `{}` export",
                    host::FILTER_EXPORT
                );
            }
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
        if ioctl::parse_attach_point(p).is_none() {
            bail!(
                "bad attach point '{p}': use ipv4|ipv6 : prerouting|input|forward|output|postrouting, e.g. ipv4:input"
            );
        }
    }
    let (text, meta) = raw_sections(&bytes).map_err(|e| anyhow!("{file}: {e}"))?;
    let config = LoadConfig {
        magic: ioctl::LOAD_CONFIG_MAGIC,
        version: ioctl::IOCTL_VERSION,
        name: name_raw,
        fuel: a.fuel.unwrap_or(kwasm_abi::fuel::DEFAULT),
        stack_kib: a.stack_kib.unwrap_or(ioctl::DEFAULT_STACK_KIB),
        flags,
    };
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

pub fn unload(ctx: &Ctx, name: &str) -> Result<()> {
    let dev = ctx.device()?;
    let info = dev.stats(name)?;
    for i in 0..(info.nattach as usize).min(ioctl::MAX_ATTACH) {
        let (f, h, _) = info.attachment(i);
        let (fam, hook) = ioctl::attach_point_name(f, h);
        dev.attach(name, &format!("{fam}:{hook}"), 0, true)?;
    }
    unload_module(name)
}

/// `delete_module` of a program's module, with a clear error.
pub fn unload_module(name: &str) -> Result<()> {
    device::delete_module(&kmod::module_name(name)).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOENT) => anyhow!("no program named {name} is loaded (see `kwasm list`)"),
        Some(libc::EPERM) => anyhow!("unloading needs CAP_SYS_MODULE: run as root ({e})"),
        Some(libc::EWOULDBLOCK) => {
            anyhow!("{name} is in use right now (an INVOKE is running): try again ({e})")
        }
        _ => anyhow!("delete_module({}) failed: {e}", kmod::module_name(name)),
    })
}

fn attach_list(info: &ProgInfo) -> Vec<String> {
    (0..(info.nattach as usize).min(ioctl::MAX_ATTACH))
        .map(|i| {
            let (f, h, p) = info.attachment(i);
            let (fam, hook) = ioctl::attach_point_name(f, h);
            if p == 0 {
                format!("{fam}:{hook}")
            } else {
                format!("{fam}:{hook}@{p}")
            }
        })
        .collect()
}

fn total_traps(info: &ProgInfo) -> u64 {
    info.stats.traps.iter().sum()
}

fn avg_ns(info: &ProgInfo) -> u64 {
    info.stats
        .run_ns
        .checked_div(info.stats.invocations)
        .unwrap_or(0)
}

fn name_of(info: &ProgInfo) -> &str {
    ioctl::decode_name(&info.name).unwrap_or("?")
}

fn json_info(info: &ProgInfo) -> String {
    let s = &info.stats;
    let attach: Vec<String> = attach_list(info)
        .iter()
        .map(|a| format!("\"{a}\""))
        .collect();
    let traps: Vec<String> = ALL_TRAPS
        .iter()
        .map(|t| format!("\"{}\":{}", t.name(), s.traps[t.index()]))
        .collect();
    format!(
        "{{\"id\":{},\"name\":\"{}\",\"attach\":[{}],\"funcs\":{},\"code_bytes\":{},\"mem_pages\":{},\"stack_kib\":{},\"fuel\":{},\"uses_float\":{},\"on_trap\":\"{}\",\"maps\":{},\"invocations\":{},\"accepts\":{},\"drops\":{},\"bad_verdicts\":{},\"fpu_unavailable\":{},\"run_ns\":{},\"avg_ns\":{},\"traps\":{},\"trap_kinds\":{{{}}}}}",
        info.id,
        name_of(info),
        attach.join(","),
        info.funcs,
        info.text_len,
        info.mem_pages,
        info.stack_kib,
        info.fuel,
        info.flags & ioctl::PROG_USES_FLOAT != 0,
        on_trap_name(info),
        info.nmaps,
        s.invocations,
        s.accepts,
        s.drops,
        s.bad_verdicts,
        s.fpu_unavailable,
        s.run_ns,
        avg_ns(info),
        total_traps(info),
        traps.join(",")
    )
}

fn on_trap_name(info: &ProgInfo) -> &'static str {
    if info.flags & ioctl::PROG_DROP_ON_TRAP != 0 {
        "drop"
    } else {
        "accept"
    }
}

pub fn list(ctx: &Ctx, json: bool) -> Result<()> {
    let dev = ctx.device()?;
    let progs = dev.list()?;
    if json {
        let items: Vec<String> = progs.iter().map(json_info).collect();
        println!("[{}]", items.join(","));
        return Ok(());
    }
    if progs.is_empty() {
        println!("no programs loaded");
        return Ok(());
    }
    let rows: Vec<[String; 9]> = progs
        .iter()
        .map(|p| {
            let a = attach_list(p);
            [
                p.id.to_string(),
                name_of(p).to_string(),
                if a.is_empty() {
                    "-".into()
                } else {
                    a.join(",")
                },
                p.funcs.to_string(),
                format!("{}B", p.text_len),
                format!("{}K", p.mem_pages as u64 * 64),
                p.stats.invocations.to_string(),
                total_traps(p).to_string(),
                avg_ns(p).to_string(),
            ]
        })
        .collect();
    let head = [
        "ID",
        "NAME",
        "ATTACHED",
        "FUNCS",
        "CODE",
        "MEM",
        "INVOCATIONS",
        "TRAPS",
        "AVG_NS",
    ];
    let mut w = [0usize; 9];
    for (i, h) in head.iter().enumerate() {
        w[i] = h.len();
    }
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.len());
        }
    }
    let line = |cells: &[&str]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            // Left-align the text columns, right-align the numbers.
            if i == 1 || i == 2 {
                let _ = write!(s, "{c:<width$}  ", width = w[i]);
            } else {
                let _ = write!(s, "{c:>width$}  ", width = w[i]);
            }
        }
        println!("{}", s.trim_end());
    };
    line(&head);
    for r in &rows {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        line(&cells);
    }
    Ok(())
}

pub fn stats(ctx: &Ctx, name: &str, json: bool) -> Result<()> {
    let dev = ctx.device()?;
    let info = dev.stats(name)?;
    if json {
        println!("{}", json_info(&info));
        return Ok(());
    }
    let s = &info.stats;
    let a = attach_list(&info);
    let mut out = String::new();
    let mut kv = |k: &str, v: String| {
        // Always a space after the colon, so `awk '$1 == "drops:"'` works.
        let _ = writeln!(out, "{:<24}{v}", format!("{k}: "));
    };
    kv("name", name_of(&info).to_string());
    kv("id", info.id.to_string());
    kv(
        "attached",
        if a.is_empty() {
            "-".into()
        } else {
            a.join(",")
        },
    );
    kv("functions", info.funcs.to_string());
    kv("code_bytes", info.text_len.to_string());
    kv("memory_pages", info.mem_pages.to_string());
    kv("stack_kib", info.stack_kib.to_string());
    kv("fuel", info.fuel.to_string());
    kv(
        "uses_float",
        (info.flags & ioctl::PROG_USES_FLOAT != 0).to_string(),
    );
    kv("on_trap", on_trap_name(&info).to_string());
    kv("maps", info.nmaps.to_string());
    kv("invocations", s.invocations.to_string());
    kv("accepts", s.accepts.to_string());
    kv("drops", s.drops.to_string());
    kv("bad_verdicts", s.bad_verdicts.to_string());
    kv("fpu_unavailable", s.fpu_unavailable.to_string());
    kv("run_ns", s.run_ns.to_string());
    kv("avg_ns", avg_ns(&info).to_string());
    kv("traps", total_traps(&info).to_string());
    for t in ALL_TRAPS {
        kv(
            &format!("trap.{}", t.name()),
            s.traps[t.index()].to_string(),
        );
    }
    print!("{out}");
    Ok(())
}

pub fn attach(ctx: &Ctx, name: &str, point: &str, priority: i32, detach: bool) -> Result<()> {
    ctx.device()?.attach(name, point, priority, detach)
}

#[derive(clap::Subcommand)]
pub enum MapCmd {
    /// Print entry INDEX of map MAP.
    Get {
        name: String,
        map: String,
        index: String,
    },
    /// Set entry INDEX of map MAP to VALUE (u64, decimal or 0x-hex; a
    /// negative value is stored as its two's complement).
    Set {
        name: String,
        map: String,
        index: String,
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
    /// Print every entry of map MAP as `INDEX: VALUE` lines.
    Dump { name: String, map: String },
}

pub fn map(ctx: &Ctx, cmd: &MapCmd) -> Result<()> {
    let dev = ctx.device()?;
    match cmd {
        MapCmd::Get { name, map, index } => {
            let (v, _) = dev.map_get(name, parse_u32(map)?, parse_u32(index)?, 1)?;
            println!("{}", v[0]);
        }
        MapCmd::Set {
            name,
            map,
            index,
            value,
        } => dev.map_set(name, parse_u32(map)?, parse_u32(index)?, parse_u64(value)?)?,
        MapCmd::Dump { name, map } => {
            let m = parse_u32(map)?;
            let (_, len) = dev.map_get(name, m, 0, 0)?;
            let (vals, _) = dev.map_get(name, m, 0, len)?;
            for (i, v) in vals.iter().enumerate() {
                println!("{i}: {v}");
            }
        }
    }
    Ok(())
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

/// Exit status of `kwasm invoke` when the call trapped (as `kwasm run`).
pub const TRAP_STATUS: u8 = 2;

/// Returns Ok(true) on success, Ok(false) when the program trapped (the
/// trap was printed to stderr).
pub fn invoke(ctx: &Ctx, a: &InvokeArgs) -> Result<bool> {
    let art = match &a.kw {
        Some(p) => Some(Artifact::from_file(p)?),
        None => None,
    };
    let ty = match &art {
        Some(art) => Some(
            art.exported_funcs()
                .into_iter()
                .find(|(n, _)| *n == a.export)
                .map(|(_, t)| t)
                .ok_or_else(|| {
                    anyhow!("{}: no exported function named `{}`", art.name(), a.export)
                })?,
        ),
        None => None,
    };
    let args: Vec<Val> = match &ty {
        Some(ty) => {
            if a.args.len() != ty.params.len() {
                bail!(
                    "`{}` has type {ty}: expected {} arguments, got {}",
                    a.export,
                    ty.params.len(),
                    a.args.len()
                );
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
        eprintln!("{msg}");
        return Ok(false);
    }
    let n = (r.nresults as usize).min(ioctl::MAX_INVOKE_VALUES);
    for (i, raw) in r.values[..n].iter().enumerate() {
        match ty.as_ref().and_then(|t| t.results.get(i)) {
            Some(t) => {
                let v = Val::from_raw(*raw, *t);
                if a.typed {
                    println!("{}:{v}", t.name());
                } else {
                    println!("{v}");
                }
            }
            None => println!("{raw:#018x}"),
        }
    }
    Ok(true)
}
