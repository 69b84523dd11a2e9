//! `cargo xtask bench`: boots the VM with `/init` running `vm/bench.sh`
//! instead of the checks, collects its `BENCH-JSON` lines and turns them
//! into a table on the terminal, `target/bench/results.json` and
//! `target/bench/bench.svg`.
//!
//! The suite (see `vm/bench.sh`) has two parts:
//! - test runs: each filter's kwasm program, eBPF program and native C
//!   function on the same packet, one after the other in one boot
//!   (`kwasm bench --compare-bpf --compare-native`), with their verdicts,
//!   which must agree;
//! - the hook path: datagrams over `lo` with and without each one attached
//!   (`kwasm bench --hook`).
//!
//! Only ratios within one run mean much: under TCG every absolute time is
//! the emulator's (docs/performance.md).

use std::fs;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use anyhow::{Context, Result};
use plotters::prelude::*;
use serde_json::{Value, json};

use crate::{VmArgs, util, vm};

#[derive(clap::Args, Clone, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub vm: VmArgs,
    /// Calls per test run (kwasm bench --repeat)
    #[arg(long, default_value_t = 200_000)]
    pub repeat: u32,
    /// Datagrams per side (with, without) of each hook-path run
    #[arg(long, default_value_t = 20_000)]
    pub packets: u32,
    /// Where to write results.json and bench.svg [default: target/bench]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// The runners of a test-run row, in table order: the `runner` names
/// `kwasm bench --json` uses, and how the table calls them.
const RUNNERS: [(&str, &str); 3] = [("kernel", "kwasm"), ("bpf", "eBPF"), ("native", "native")];

pub fn bench(a: &BenchArgs) -> ExitCode {
    match run(a) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(a: &BenchArgs) -> Result<bool> {
    let mut args = a.vm.clone();
    let knobs = format!(
        "kwasm_bench_repeat={} kwasm_bench_packets={}",
        a.repeat, a.packets
    );
    args.cmdline = Some(match &args.cmdline {
        Some(c) => format!("{c} {knobs}"),
        None => knobs,
    });
    let o = vm::run_mode(&args, "bench")?;
    let results: Vec<Value> = o
        .lines
        .iter()
        .filter_map(|l| l.strip_prefix("BENCH-JSON "))
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .context("a BENCH-JSON line from the VM is not JSON")?;
    let testruns: Vec<&Value> = results.iter().filter(|r| r["kind"] == "testrun").collect();
    let hooks: Vec<&Value> = results.iter().filter(|r| r["kind"] == "hook").collect();

    println!();
    print_testruns(&testruns);
    println!();
    print_hooks(&hooks);

    let out = a
        .out
        .clone()
        .unwrap_or_else(|| util::root().join("target/bench"));
    fs::create_dir_all(&out)?;
    let doc = json!({
        "meta": {
            "git": git_rev(),
            "accel": if std::env::var("KWASM_ACCEL").as_deref() == Ok("kvm") { "kvm" } else { "tcg" },
            "cpus": args.cpus,
            "repeat": a.repeat,
            "packets": a.packets,
            "unix_time": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        },
        "testruns": testruns,
        "hooks": hooks,
    });
    let json_path = out.join("results.json");
    fs::write(&json_path, serde_json::to_string_pretty(&doc)? + "\n")?;
    let svg_path = out.join("bench.svg");
    chart(&testruns, &hooks, &svg_path)?;
    println!(
        "\nbench: {} and {}",
        json_path.display(),
        svg_path.display()
    );

    let mut ok = true;
    for p in o.problems() {
        println!("bench: {p}");
        ok = false;
    }
    if testruns.is_empty() || hooks.is_empty() {
        println!("bench: the VM reported no results");
        ok = false;
    }
    if let Some(r) = testruns
        .iter()
        .find(|r| r["result"]["verdicts_agree"] != true)
    {
        println!(
            "bench: verdicts disagree: {} on {}",
            r["filter"], r["packet"]
        );
        ok = false;
    }
    Ok(ok)
}

fn git_rev() -> String {
    Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .current_dir(util::root())
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// The run of `runner` in a test-run row.
fn run_of<'a>(row: &'a Value, runner: &str) -> Option<&'a Value> {
    row["result"]["runs"]
        .as_array()?
        .iter()
        .find(|r| r["runner"] == runner)
}

fn median(row: &Value, runner: &str) -> Option<f64> {
    run_of(row, runner)?["median_ns"].as_f64()
}

fn cell(v: Option<f64>, prec: usize) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.prec$}"))
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or("?").to_string()
}

/// Left-aligned first columns, right-aligned numbers, as wide as the widest.
fn print_table(head: &[&str], rows: &[Vec<String>], left: usize) {
    let mut w: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let s: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i < left {
                    format!("{c:<0$}", w[i])
                } else {
                    format!("{c:>0$}", w[i])
                }
            })
            .collect();
        println!("{}", s.join("  ").trim_end());
    };
    line(head.iter().map(|h| h.to_string()).collect());
    for r in rows {
        line(r.clone());
    }
}

fn print_testruns(rows: &[&Value]) {
    println!("Test runs (median of batches, ns per call; ratios in this run):");
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let k = median(r, "kernel");
            let b = median(r, "bpf");
            let n = median(r, "native");
            let ratio = |o: Option<f64>| k.zip(o).map(|(k, o)| k / o);
            let verdicts: Vec<String> = RUNNERS
                .iter()
                .filter_map(|(id, _)| run_of(r, id).map(|v| text(&v["verdict"])))
                .collect();
            let agree = r["result"]["verdicts_agree"] == true;
            vec![
                text(&r["filter"]),
                text(&r["packet"]),
                if agree {
                    verdicts.first().cloned().unwrap_or_default()
                } else {
                    format!("DISAGREE {}", verdicts.join("/"))
                },
                cell(k, 1),
                cell(b, 1),
                cell(n, 1),
                cell(ratio(b), 2),
                cell(ratio(n), 2),
            ]
        })
        .collect();
    print_table(
        &[
            "FILTER",
            "PACKET",
            "VERDICT",
            "KWASM",
            "EBPF",
            "NATIVE",
            "KWASM/EBPF",
            "KWASM/NATIVE",
        ],
        &table,
        3,
    );
}

/// The hook-path runs of one filter, by runner.
fn hook_of<'a>(hooks: &[&'a Value], filter: &str, runner: &str) -> Option<&'a Value> {
    hooks
        .iter()
        .copied()
        .find(|h| h["filter"] == filter && h["runner"] == runner)
}

fn filters(rows: &[&Value]) -> Vec<String> {
    let mut f: Vec<String> = Vec::new();
    for r in rows {
        let name = text(&r["filter"]);
        if !f.contains(&name) {
            f.push(name);
        }
    }
    f
}

fn print_hooks(hooks: &[&Value]) {
    println!("Hook path (UDP over lo, ipv4:input; ns added per packet, and packets/s with it):");
    let added = |h: Option<&Value>| h.and_then(|h| h["result"]["added_ns"].as_f64());
    let pps = |h: Option<&Value>, k: &str| h.and_then(|h| h["result"][k].as_f64());
    let table: Vec<Vec<String>> = filters(hooks)
        .iter()
        .map(|f| {
            let (k, b, n) = (
                hook_of(hooks, f, "kwasm"),
                hook_of(hooks, f, "bpf"),
                hook_of(hooks, f, "native"),
            );
            vec![
                f.clone(),
                k.map_or("-".into(), |h| text(&h["packet"])),
                cell(pps(k, "pps_without"), 0),
                cell(added(k), 1),
                cell(added(b), 1),
                cell(added(n), 1),
                cell(pps(k, "pps_with"), 0),
                cell(pps(b, "pps_with"), 0),
                cell(pps(n, "pps_with"), 0),
            ]
        })
        .collect();
    print_table(
        &[
            "FILTER",
            "DATAGRAM",
            "PPS_WITHOUT",
            "KWASM_NS",
            "EBPF_NS",
            "NATIVE_NS",
            "KWASM_PPS",
            "EBPF_PPS",
            "NATIVE_PPS",
        ],
        &table,
        2,
    );
}

/// Grouped bars: test-run medians per row (top) and hook-path added ns per
/// filter (bottom), kwasm / eBPF / native side by side.
fn chart(testruns: &[&Value], hooks: &[&Value], path: &std::path::Path) -> Result<()> {
    let colors = [
        RGBColor(0x1f, 0x77, 0xb4),
        RGBColor(0xff, 0x7f, 0x0e),
        RGBColor(0x2c, 0xa0, 0x2c),
    ];
    let root = SVGBackend::new(path, (1000, 760)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_err)?;
    let (top, bottom) = root.split_vertically(400);

    let tr: Vec<(String, [Option<f64>; 3])> = testruns
        .iter()
        .map(|r| {
            let label = format!("{} {}", text(&r["filter"]), text(&r["packet"]));
            (label, RUNNERS.map(|(id, _)| median(r, id)))
        })
        .collect();
    bars(
        &top,
        "Test run: median ns per call (BENCH / BPF_PROG_TEST_RUN / native ioctl)",
        &tr,
        &colors,
    )?;
    let hk: Vec<(String, [Option<f64>; 3])> = filters(hooks)
        .iter()
        .map(|f| {
            let v = ["kwasm", "bpf", "native"]
                .map(|run| hook_of(hooks, f, run).and_then(|h| h["result"]["added_ns"].as_f64()));
            (f.clone(), v)
        })
        .collect();
    bars(
        &bottom,
        "Hook path: ns added per packet (UDP over lo, ipv4:input)",
        &hk,
        &colors,
    )?;
    root.present().map_err(plot_err)?;
    Ok(())
}

fn plot_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing the chart: {e:?}")
}

fn bars(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    title: &str,
    groups: &[(String, [Option<f64>; 3])],
    colors: &[RGBColor; 3],
) -> Result<()> {
    if groups.is_empty() {
        area.titled(&format!("{title}: no results"), ("sans-serif", 18))
            .map_err(plot_err)?;
        return Ok(());
    }
    let max = groups
        .iter()
        .flat_map(|(_, v)| v.iter().flatten())
        .fold(0f64, |m, &v| m.max(v));
    // Negative "added" times (noise on a cheap program) are drawn as 0.
    let ymax = (max * 1.15).max(1.0);
    let slots = groups.len() * 4;
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(0..slots, 0f64..ymax)
        .map_err(plot_err)?;
    let labels: Vec<String> = groups.iter().map(|(l, _)| l.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(slots)
        .x_label_formatter(&|x| {
            if x % 4 == 1 {
                labels.get(x / 4).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_label_style(("sans-serif", 11))
        .y_desc("ns")
        .draw()
        .map_err(plot_err)?;
    for (k, ((_, name), color)) in RUNNERS.iter().zip(colors).enumerate() {
        let rects: Vec<_> = groups
            .iter()
            .enumerate()
            .filter_map(|(g, (_, v))| v[k].map(|v| (g * 4 + k, v.max(0.0))))
            .map(|(x, v)| Rectangle::new([(x, 0.0), (x + 1, v)], color.filled()))
            .collect();
        chart
            .draw_series(rects)
            .map_err(plot_err)?
            .label(*name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(plot_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testrun(filter: &str, k: f64, b: f64, n: f64) -> Value {
        let run =
            |runner: &str, ns: f64| json!({"runner": runner, "verdict": "accept", "median_ns": ns});
        json!({"kind": "testrun", "filter": filter, "packet": "udp:9 64B", "runner": "all",
               "result": {"verdicts_agree": true,
                          "runs": [run("kernel", k), run("bpf", b), run("native", n)]}})
    }

    #[test]
    fn rows_and_chart_come_from_the_runs() {
        let rows = [
            testrun("accept", 30.0, 20.0, 10.0),
            testrun("dns", 90.0, 60.0, 30.0),
        ];
        let rows: Vec<&Value> = rows.iter().collect();
        assert_eq!(median(rows[1], "bpf"), Some(60.0));
        assert_eq!(median(rows[1], "user"), None);
        let hook = json!({"kind": "hook", "filter": "dns", "runner": "kwasm",
                          "result": {"added_ns": 12.5}});
        assert!(hook_of(&[&hook], "dns", "kwasm").is_some());
        assert_eq!(filters(&rows), ["accept", "dns"]);
        let dir = std::env::temp_dir().join(format!("kwasm-bench-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let svg = dir.join("bench.svg");
        chart(&rows, &[&hook], &svg).unwrap();
        let s = fs::read_to_string(&svg).unwrap();
        assert!(s.starts_with("<svg") && s.contains("dns udp:9 64B") && s.contains("eBPF"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
