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

/// A `Command` that runs `program` (an `env!("CARGO_BIN_EXE_...")` path).
pub fn program(program: &str) -> Command {
    let runner = std::env::var("KWASM_TEST_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    match words.next() {
        Some(first) if cfg!(not(target_arch = "x86_64")) => {
            let mut c = Command::new(first);
            c.args(words).arg(program);
            c
        }
        _ => Command::new(program),
    }
}
