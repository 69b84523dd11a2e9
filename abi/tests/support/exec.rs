//! Starting the workspace's own programs from a test (the CLI tests of
//! `kwasm` and `kwasmc`, and `runtime/tests/loader.rs`, which runs itself
//! as a child, include this file with `#[path]`).
//!
//! When the tests are built for aarch64 and run under `qemu-aarch64` on an
//! x86-64 machine (`make test-aarch64`), the test process is emulated but
//! the programs it starts are not: `execve` hands an aarch64 ELF to the host
//! kernel, which cannot run it. `KWASM_TEST_RUNNER` (`.cargo/config.toml`
//! sets it to cargo's own runner for that target) is then put in front.

#![allow(dead_code)]

use std::process::Command;

/// The runner's words when the programs a test starts run under an
/// emulator (`KWASM_TEST_RUNNER` on a build that is not x86-64).
pub fn runner() -> Option<Vec<String>> {
    if cfg!(target_arch = "x86_64") {
        return None;
    }
    let runner = std::env::var("KWASM_TEST_RUNNER").ok()?;
    let words: Vec<String> = runner.split_whitespace().map(String::from).collect();
    (!words.is_empty()).then_some(words)
}

/// A `Command` that runs `program` (an `env!("CARGO_BIN_EXE_...")` path).
pub fn program(program: &str) -> Command {
    match runner() {
        Some(words) => {
            let mut c = Command::new(&words[0]);
            c.args(&words[1..]).arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// Whether the programs a test starts run under an emulator: each start
/// then costs a qemu-aarch64 start-up and every instruction is translated.
pub fn emulated() -> bool {
    runner().is_some()
}

/// How many generated cases a test with `native` cases runs: all of them
/// natively, the first `emulated` of them (the same seeds, so the same
/// cases) under emulation, where every case costs one or two emulated
/// process starts. The native run covers the rest on every `make test`.
pub fn cases(native: usize, emulated: usize) -> usize {
    if self::emulated() {
        emulated.min(native)
    } else {
        native
    }
}
