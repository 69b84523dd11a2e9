//! `kwasm-tools spec-kernel FILE.wast...`: run the spec suite's
//! `invoke`, `assert_return` and `assert_trap` commands through `INVOKE` in
//! the kernel.
//!
//! Each module is compiled with `kwasm_compiler::compile`, loaded as a
//! program (`spec_<pid>_<n>`) and unloaded when no command can refer to it
//! any more. Modules with imports are skipped (the kernel links programs
//! only against its host API), and so are the commands that use them, as are
//! `get` of globals. Results are compared exactly as the userspace harness
//! compares them ([`kwasm_tools::spec`]). The process pins itself to one CPU,
//! because every CPU has its own instance of a program (with its own memory
//! and globals) and the commands of a file depend on each other's effects.

use anyhow::Result;
use kwasm::Ctx;
use kwasm::device::Device;
use kwasm::program::{load_config, load_program, unload_module};
use kwasm_abi::ioctl;
use kwasm_abi::trap::TrapCode;
use kwasm_runtime::artifact::raw_sections;
use kwasm_runtime::{Artifact, FuncType, Val};
use kwasm_tools::spec::{
    Counts, arg_val, check_results, fmt_vals, module_slot, trap_matches, wast_buffer,
};
use std::collections::HashMap;
use std::path::Path;
use wast::parser;
use wast::{QuoteWat, Wast, WastDirective, WastExecute, WastInvoke};

/// Commands whose expected result depends on a documented limit of the
/// kernel runtime rather than on code generation: (file, export, why). They
/// are counted as skipped, with the reason printed.
const KERNEL_LIMITS: &[(&str, &str, &str)] = &[(
    "call_indirect.wast",
    "as-memory.grow-value",
    "memory.grow by 306 pages: kwasm.ko preallocates each instance's memory (min + 16 pages, at most 256) and growing beyond returns -1, which the spec allows",
)];

/// A loaded module: program name and export signatures.
struct Loaded {
    prog: String,
    exports: HashMap<String, FuncType>,
}

#[derive(Clone)]
enum Slot {
    Loaded(usize),
    Skipped,
}

struct Runner<'a> {
    dev: &'a Device,
    ctx: &'a Ctx,
    file: String,
    loaded: Vec<Option<Loaded>>,
    current: Option<Slot>,
    named: HashMap<String, Slot>,
    counter: usize,
    fuel: u64,
    opts: kwasm_compiler::CompileOptions,
}

enum Outcome {
    Pass,
    Fail(String),
    Skip,
    /// Not one of the commands this runner counts.
    Ignore,
}
use Outcome::*;

impl Runner<'_> {
    fn load(&mut self, wasm: &[u8]) -> Result<Slot, String> {
        let kw = kwasm_compiler::compile(wasm, &self.opts).map_err(|e| format!("kwasmc: {e}"))?;
        let art = Artifact::from_bytes(&self.file, &kw).map_err(|e| e.to_string())?;
        let meta = art.meta();
        if !meta.imports().is_empty() {
            return Ok(Slot::Skipped);
        }
        self.counter += 1;
        let prog = format!("spec{}_{}", std::process::id() % 10000, self.counter);
        let (text, meta_bytes) = raw_sections(&kw).map_err(|e| e.to_string())?;
        let flags = if meta.uses_float() {
            ioctl::PROG_USES_FLOAT
        } else {
            0
        };
        let name = ioctl::encode_name(&prog).ok_or("bad name")?;
        let config = load_config(name, self.fuel, 256, flags);
        load_program(self.dev, self.ctx, &prog, text, meta_bytes, config, false)
            .map_err(|e| format!("load: {e:#}"))?;
        let exports = art.exported_funcs().into_iter().collect();
        self.loaded.push(Some(Loaded { prog, exports }));
        Ok(Slot::Loaded(self.loaded.len() - 1))
    }

    /// Unload modules no name or the current slot refers to.
    fn collect(&mut self) {
        for i in 0..self.loaded.len() {
            let used = matches!(self.current, Some(Slot::Loaded(c)) if c == i)
                || self
                    .named
                    .values()
                    .any(|s| matches!(s, Slot::Loaded(c) if *c == i));
            if !used && let Some(l) = self.loaded[i].take() {
                let _ = unload_module(&l.prog);
            }
        }
    }

    fn unload_all(&mut self) {
        for l in self.loaded.iter_mut().filter_map(Option::take) {
            let _ = unload_module(&l.prog);
        }
    }

    fn slot(&self, id: Option<wast::token::Id<'_>>) -> Result<Slot, String> {
        module_slot(&self.named, self.current.as_ref(), id)
    }

    /// Ok(Ok(results)) or Ok(Err(trap)); Err(outcome) when it cannot run.
    fn invoke(&mut self, inv: &WastInvoke<'_>) -> Result<Result<Vec<Val>, TrapCode>, Outcome> {
        if let Some((_, _, why)) = KERNEL_LIMITS
            .iter()
            .find(|(f, e, _)| *f == self.file && *e == inv.name)
        {
            println!("  {}: skipped `{}`: {why}", self.file, inv.name);
            return Err(Skip);
        }
        let idx = match self.slot(inv.module) {
            Ok(Slot::Loaded(i)) => i,
            Ok(Slot::Skipped) => return Err(Skip),
            Err(e) => return Err(Fail(e)),
        };
        let Some(l) = self.loaded[idx].as_ref() else {
            return Err(Fail("module already unloaded".into()));
        };
        let Some(ty) = l.exports.get(inv.name) else {
            return Err(Fail(format!("no exported function `{}`", inv.name)));
        };
        if ty.params.len() > ioctl::MAX_INVOKE_VALUES || ty.results.len() > ioctl::MAX_INVOKE_VALUES
        {
            return Err(Skip);
        }
        let mut raw = Vec::new();
        for a in &inv.args {
            match arg_val(a) {
                Some(v) => raw.push(v.to_raw()),
                None => return Err(Skip),
            }
        }
        let r = self
            .dev
            .invoke(&l.prog, inv.name, &raw, 0)
            .map_err(|e| Fail(format!("INVOKE failed: {e:#}")))?;
        if r.trap != 0 {
            return TrapCode::from_u32(r.trap)
                .map(Err)
                .ok_or_else(|| Fail(format!("unknown trap code {}", r.trap)));
        }
        if r.nresults as usize != ty.results.len() {
            return Err(Fail(format!(
                "kernel returned {} results, the signature has {}",
                r.nresults,
                ty.results.len()
            )));
        }
        Ok(Ok(ty
            .results
            .iter()
            .zip(r.values.iter())
            .map(|(t, v)| Val::from_raw(*v, *t))
            .collect()))
    }

    fn module(&mut self, mut q: QuoteWat<'_>) -> Outcome {
        let name = q.name().map(|i| i.name().to_string());
        let wasm = match q.encode() {
            Ok(w) => w,
            Err(e) => return Fail(format!("cannot encode module: {e}")),
        };
        let slot = match self.load(&wasm) {
            Ok(s) => s,
            Err(e) => {
                self.current = Some(Slot::Skipped);
                return Fail(e);
            }
        };
        if let Some(n) = name {
            self.named.insert(n, slot.clone());
        }
        self.current = Some(slot);
        self.collect();
        Ignore
    }

    fn run(&mut self, d: WastDirective<'_>) -> Outcome {
        match d {
            WastDirective::Module(q) => self.module(q),
            WastDirective::Invoke(inv) => match self.invoke(&inv) {
                Err(o) => o,
                Ok(Ok(_)) => Pass,
                Ok(Err(t)) => Fail(format!("invoke `{}` trapped: {}", inv.name, t.message())),
            },
            WastDirective::AssertReturn { exec, results, .. } => {
                let WastExecute::Invoke(inv) = exec else {
                    return Skip;
                };
                let got = match self.invoke(&inv) {
                    Err(o) => return o,
                    Ok(Err(t)) => {
                        return Fail(format!("expected results, got trap: {}", t.message()));
                    }
                    Ok(Ok(v)) => v,
                };
                match check_results(&results, &got) {
                    None => Skip,
                    Some(Ok(())) => Pass,
                    Some(Err(e)) => Fail(format!("`{}`: {e}", inv.name)),
                }
            }
            WastDirective::AssertTrap { exec, message, .. } => {
                let WastExecute::Invoke(inv) = exec else {
                    return Ignore;
                };
                match self.invoke(&inv) {
                    Err(o) => o,
                    Ok(Ok(v)) => Fail(format!(
                        "`{}`: expected trap \"{message}\", got {}",
                        inv.name,
                        fmt_vals(&v)
                    )),
                    Ok(Err(t)) if trap_matches(t, message) => Pass,
                    Ok(Err(t)) => Fail(format!(
                        "`{}`: expected trap \"{message}\", got \"{}\"",
                        inv.name,
                        t.message()
                    )),
                }
            }
            _ => Ignore,
        }
    }
}

/// Pin this process to the CPU it runs on now.
fn pin_to_current_cpu() {
    // SAFETY: sched_getcpu has no preconditions; the cpu_set_t is a local
    // initialised by CPU_ZERO/CPU_SET and passed with its size.
    unsafe {
        let cpu = libc::sched_getcpu();
        if cpu < 0 {
            return;
        }
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(cpu as usize, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

pub fn run_file(
    dev: &Device,
    ctx: &Ctx,
    path: &Path,
    opts: &kwasm_compiler::CompileOptions,
    verbose: bool,
) -> Counts {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut counts = Counts::default();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            println!("spec-kernel {file}: cannot read: {e}");
            counts.failed += 1;
            return counts;
        }
    };
    let buf = match wast_buffer(&text) {
        Ok(b) => b,
        Err(e) => {
            println!("spec-kernel {file}: cannot lex: {e}");
            counts.failed += 1;
            return counts;
        }
    };
    let wast = match parser::parse::<Wast>(&buf) {
        Ok(w) => w,
        Err(e) => {
            println!("spec-kernel {file}: cannot parse: {e}");
            counts.failed += 1;
            return counts;
        }
    };
    let mut runner = Runner {
        dev,
        ctx,
        file: file.clone(),
        loaded: Vec::new(),
        current: None,
        named: HashMap::new(),
        counter: 0,
        fuel: kwasm_abi::fuel::MAX,
        opts: *opts,
    };
    let mut shown = 0;
    for d in wast.directives {
        let (line, _) = d.span().linecol_in(&text);
        match runner.run(d) {
            Pass => counts.passed += 1,
            Skip => counts.skipped += 1,
            Ignore => {}
            Fail(msg) => {
                counts.failed += 1;
                if verbose || shown < 10 {
                    shown += 1;
                    println!("  {file}:{}: {msg}", line + 1);
                }
            }
        }
    }
    runner.unload_all();
    println!(
        "spec-kernel {file}: {} passed, {} failed, {} skipped",
        counts.passed, counts.failed, counts.skipped
    );
    counts
}

/// Returns whether every file passed. The modules are compiled with
/// `flags` (`--opt`, `--no-spectre-guards`, `--cpu`) for this machine.
pub fn run(
    ctx: &Ctx,
    files: &[std::path::PathBuf],
    flags: &kwasm_compiler::flags::CompileFlags,
    verbose: bool,
) -> Result<bool> {
    let opts = flags.options().map_err(|e| anyhow::anyhow!(e))?;
    if opts.cpu != 0 {
        println!(
            "spec-kernel: compiling with CPU extensions {}",
            kwasm_abi::cpu::Names(opts.cpu)
        );
    }
    pin_to_current_cpu();
    let dev = ctx.device()?;
    let mut total = Counts::default();
    for f in files {
        let c = run_file(&dev, ctx, f, &opts, verbose);
        total += c;
    }
    if files.len() > 1 {
        println!(
            "spec-kernel total: {} passed, {} failed, {} skipped",
            total.passed, total.failed, total.skipped
        );
    }
    Ok(total.failed == 0)
}
