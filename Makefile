# kwasm: thin entry points over cargo and cargo xtask.
#
#   make          build kwasmc, kwasm, kwasm-tools (release) and the guest
#                 programs
#   make setup    install everything a fresh Debian 12 machine needs
#   make test     all tests: lint, unit, spec suite, differential, guests,
#                 a bounded fuzzing smoke, the userspace tests again on
#                 aarch64 (under qemu-aarch64), the x86-64 and arm64 VMs
#   make demo     boot the VM, load the port filter, send traffic, show stats
#                 (ARCH=aarch64: the arm64 VM)
#
# Tests and the VM run on whatever `make setup` installed; nothing is
# downloaded at test time except crates and Debian packages by setup.

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: all build guests setup test lint unit-test aarch64-test guest-test fuzz-smoke vm-test vm-test-x86_64 vm-test-aarch64 demo clean

# The VM architecture of `make demo` (x86_64 or aarch64). Not exported:
# recipes that build kernels must not see a make variable named ARCH.
ARCH ?= x86_64
unexport ARCH

# The crates whose tests also run on aarch64 code (aarch64-test).
AARCH64 := aarch64-unknown-linux-gnu
AARCH64_CRATES := -p kwasm-abi -p kwasm-compiler -p kwasm-runtime -p kwasm -p kwasm-tools

all: build guests

build:
	$(CARGO) build --release -p kwasm-compiler -p kwasm -p kwasm-tools

guests:
	guests/build.sh

setup:
	scripts/setup.sh

lint:
	$(CARGO) fmt --all --check
	$(CARGO) fmt --manifest-path fuzz/Cargo.toml --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p kwasm --features bpf --all-targets -- -D warnings
	$(CARGO) clippy --target $(AARCH64) $(AARCH64_CRATES) --all-targets -- -D warnings

unit-test:
	$(CARGO) test --workspace --no-fail-fast

# The same tests built for aarch64 and run under qemu-aarch64 user-mode
# emulation (.cargo/config.toml): kwasmc's aarch64 code through the spec
# suite at both --opt levels, the differential test against Wasmtime, the
# trap, fuel and fault tests, and the CLI.
aarch64-test:
	$(CARGO) test --target $(AARCH64) --no-fail-fast $(AARCH64_CRATES)

# kwasm and kwasmc as unit-test built them (cargo test builds the binaries
# with the dev-dependencies' features; a plain cargo build would build them
# again, with its own feature set: two minutes of a cold make test).
guest-test:
	$(CARGO) test --workspace --no-run --quiet
	KWASM_BIN=$(CURDIR)/target/debug guests/build.sh test

# Each cargo-fuzz target for a few seconds from the checked-in corpus
# (docs/fuzzing.md); builds the targets first.
fuzz-smoke:
	scripts/fuzz-smoke.sh

# Both VMs: x86-64 (KVM when available) and arm64 (TCG).
vm-test: vm-test-x86_64 vm-test-aarch64

vm-test-x86_64:
	$(CARGO) xtask vm-test

vm-test-aarch64:
	$(CARGO) xtask vm-test --arch aarch64

# Every stage in order, each one timed (scripts/test-stages.sh prints each
# stage's time and a summary; with KWASM_TEST_BUDGET=SECONDS, what is still
# running at the deadline).
TEST_STAGES := setup lint unit-test aarch64-test guest-test fuzz-smoke vm-test-x86_64 vm-test-aarch64

test:
	scripts/test-stages.sh $(TEST_STAGES)

demo: setup
	$(CARGO) xtask demo --arch $(ARCH)

clean:
	$(CARGO) clean
	rm -rf fuzz/target fuzz/artifacts
	rm -rf guests/out guests/target
