//! `kwasm bench --user`: the userspace measurement on a packet the CLI
//! builds, end to end through the real binary. (The kernel side is tested
//! in the VM: `vm/checks/80-bench.sh`.) No assertion depends on timing.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Drops packets longer than 100 bytes, accepts the others.
const BY_LENGTH: &str = r#"(module
  (func (export "filter") (param i32) (result i32)
    local.get 0
    i32.const 100
    i32.gt_u
    if (result i32) i32.const 0 else i32.const 1 end))"#;

fn build() -> PathBuf {
    let kw = kwasm_compiler::compile(
        BY_LENGTH.as_bytes(),
        &kwasm_compiler::CompileOptions::default(),
    )
    .unwrap_or_else(|e| panic!("compile failed: {e}"));
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench_cli");
    std::fs::create_dir_all(&d).unwrap();
    let path = d.join("by_length.kw");
    std::fs::write(&path, kw).unwrap();
    path
}

fn kwasm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kwasm"))
        .args(args)
        .output()
        .expect("run kwasm")
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("one JSON object")
}

#[test]
fn user_bench_counts_verdicts() {
    let kw = build();
    let kw = kw.to_str().unwrap();
    let small = json(&kwasm(&[
        "bench", kw, "--user", "--udp", "53", "--repeat", "50", "--json",
    ]));
    assert_eq!(small["runner"], "user");
    assert_eq!(small["verdict"], "accept");
    assert_eq!(small["packet_bytes"], 64);
    assert_eq!(
        (small["runs"].as_u64(), small["accepts"].as_u64()),
        (Some(50), Some(50))
    );
    let big = json(&kwasm(&[
        "bench", kw, "--user", "--udp", "53", "--len", "200", "--repeat", "30", "--batch", "10",
        "--json",
    ]));
    assert_eq!(big["verdict"], "drop");
    assert_eq!(
        (big["runs"].as_u64(), big["drops"].as_u64()),
        (Some(30), Some(30))
    );
    assert!(big["batches"].as_u64().unwrap() >= 3);
    assert!(big["median_ns"].as_f64().unwrap() > 0.0);
}

#[test]
fn bad_bench_requests_are_refused_clearly() {
    let kw = build();
    let kw = kw.to_str().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["bench", kw, "--user", "--repeat", "0"],
            "--repeat 0: use 1..=",
        ),
        (
            &["bench", kw, "--user", "--len", "20"],
            "--len 20: an IPv4/UDP packet has 28..=65535",
        ),
        (&["bench", "pf", "--user"], "--user needs a .kw file"),
        (
            &["bench", kw, "--user", "--batch", "70000"],
            "--batch 70000: use 0..=65536",
        ),
    ];
    for (args, msg) in cases {
        let o = kwasm(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(msg), "{args:?}: expected '{msg}' in: {err}");
    }
}
