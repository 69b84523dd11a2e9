//! `kwasm new NAME --lang L && cd NAME && make`, for every language: the
//! skeleton builds on the host with its own Makefile, and the result runs
//! in `kwasm run` with the verdicts, map and log line the skeleton
//! promises (drop UDP to port 7777 and log it). The VM loads the same
//! builds on real traffic (`xtask` payload, vm/checks/42-new.sh).
//!
//! Needs the toolchains `make setup` installs: clang-19, Zig from PyPI,
//! AssemblyScript in guests/as/node_modules, and kwasmc beside kwasm.

#[path = "../../abi/tests/support/exec.rs"]
mod exec;
use std::path::{Path, PathBuf};
use std::process::Command;

fn kwasm() -> &'static str {
    env!("CARGO_BIN_EXE_kwasm")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// An IPv4/UDP header to `dport`, 28 bytes.
fn udp_to(dport: u16) -> Vec<u8> {
    let mut p = vec![
        0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1, 0x9c, 0x40,
    ];
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&[0, 8, 0, 0]);
    p
}

fn build(lang: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("new-{lang}"));
    let _ = std::fs::remove_dir_all(&dir);
    let name = format!("demo_{lang}");
    let project = dir.join(&name);
    let o = exec::program(kwasm())
        .args(["new", &name, "--lang", lang, "--dir"])
        .arg(&project)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "kwasm new: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("make"));
    let bin = Path::new(kwasm()).parent().unwrap();
    let kwasmc = bin.join("kwasmc");
    assert!(
        kwasmc.exists(),
        "{} missing: build it (cargo build -p kwasm-compiler)",
        kwasmc.display()
    );
    let asc = repo().join("guests/as/node_modules/.bin/asc");
    // kwasmc as the Makefile must start it (under qemu-aarch64 when the
    // tests are built for aarch64).
    let kwasmc = match exec::runner() {
        Some(runner) => format!("{} {}", runner.join(" "), kwasmc.display()),
        None => kwasmc.display().to_string(),
    };
    let o = Command::new("make")
        .current_dir(&project)
        .env("KWASMC", &kwasmc)
        .env("ASC", &asc)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "make ({lang}): {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    project.join(format!("{name}.wasm"))
}

fn run(wasm: &Path, packet: &[u8]) -> (String, String) {
    let pkt = wasm.with_extension("pkt");
    std::fs::write(&pkt, packet).unwrap();
    let o = exec::program(kwasm())
        .arg("run")
        .arg(wasm)
        .arg("--packet")
        .arg(&pkt)
        .arg(packet.len().to_string())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn check(lang: &str) {
    let wasm = build(lang);
    let (out, log) = run(&wasm, &udp_to(7777));
    assert_eq!(out, "0\n", "{lang}: UDP to 7777 is dropped");
    assert!(
        log.starts_with(&format!("demo_{lang}: dropped a datagram to port 7777")),
        "{lang}: {log}"
    );
    let (out, log) = run(&wasm, &udp_to(53));
    assert_eq!(
        (out.as_str(), log.as_str()),
        ("1\n", ""),
        "{lang}: UDP to 53 passes"
    );
}

#[test]
fn c_project_builds_and_filters() {
    check("c");
}

#[test]
fn zig_project_builds_and_filters() {
    check("zig");
}

#[test]
fn assemblyscript_project_builds_and_filters() {
    check("as");
}

#[test]
fn rust_project_builds_and_filters() {
    check("rust");
}

#[test]
fn bad_names_and_existing_dirs_are_refused() {
    let o = exec::program(kwasm())
        .args(["new", "1x", "--lang", "c"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("letters, digits and `_`"));
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("new-exists");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("keep"), "").unwrap();
    let o = exec::program(kwasm())
        .args(["new", "x", "--lang", "c", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("exists and is not empty"));
    assert!(dir.join("keep").exists(), "nothing overwritten");
}
