# kwasm: thin entry points over cargo and cargo xtask.
#
#   make          build kwasmc, kwasm, kwasm-tools (release) and the guest
#                 programs
#   make setup    install everything a fresh Debian 12 machine needs
#   make test     all tests: lint, unit, spec suite, differential, guests,
#                 a bounded fuzzing smoke, VM
#   make demo     boot the VM, load the port filter, send traffic, show stats
#
# Tests and the VM run on whatever `make setup` installed; nothing is
# downloaded at test time except crates and Debian packages by setup.

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: all build guests setup test lint unit-test guest-test fuzz-smoke vm-test demo clean

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

unit-test:
	$(CARGO) test --workspace --no-fail-fast

guest-test:
	$(CARGO) build -p kwasm-compiler -p kwasm
	KWASM_BIN=$(CURDIR)/target/debug guests/build.sh test

# Each cargo-fuzz target for a few seconds from the checked-in corpus
# (docs/fuzzing.md); builds the targets first.
fuzz-smoke:
	scripts/fuzz-smoke.sh

vm-test:
	$(CARGO) xtask vm-test

test: setup lint unit-test guest-test fuzz-smoke vm-test

demo: setup
	$(CARGO) xtask demo

clean:
	$(CARGO) clean
	rm -rf fuzz/target fuzz/artifacts
	rm -rf guests/out guests/target
