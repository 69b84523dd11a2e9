#!/bin/sh
# Bounded fuzzing smoke test: builds the cargo-fuzz targets in fuzz/ and runs
# each for a short, fixed time from the checked-in corpus (fuzz/corpus/T),
# failing on any crash. Installs nothing: `make setup` installs cargo-fuzz.
# Run as `make fuzz-smoke` or directly; docs/fuzzing.md has the long runs.
#
#   FUZZ_SECONDS   seconds per target (default 20)
#   FUZZ_TARGETS   targets to run (default: meta_parse compile differential)
#
# New inputs go to a temporary directory, so the checked-in corpus stays as
# it is; a crash is written to fuzz/artifacts/T/ (libFuzzer prints how to
# reproduce it).
set -eu

cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-20}
targets=${FUZZ_TARGETS:-meta_parse compile differential}

say() { echo "fuzz-smoke: $*"; }

if ! command -v cargo-fuzz >/dev/null 2>&1; then
	say "cargo-fuzz not found: run make setup" >&2
	exit 1
fi

# cargo-fuzz passes nightly-only flags (-Zsanitizer, -Cpasses=sancov-module);
# the pinned stable toolchain accepts them with RUSTC_BOOTSTRAP=1.
export RUSTC_BOOTSTRAP=1
# No sanitizer: kwasm's fuzzed code is safe Rust (kwasm-abi forbids unsafe);
# what the targets look for are panics, internal errors and mismatches, and
# an ASan build of Cranelift and Wasmtime is several times slower.
FUZZ="cargo fuzz"
FLAGS="--sanitizer none"

start=$(date +%s)
# shellcheck disable=SC2086
$FUZZ build $FLAGS
say "built the targets in $(($(date +%s) - start)) s"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

failed=""
for t in $targets; do
	case $t in
		meta_parse) opts="-timeout=10 -max_len=4096" ;;
		*) opts="-timeout=60 -max_len=8192 -rss_limit_mb=4096" ;;
	esac
	mkdir -p "$work/$t" "fuzz/corpus/$t"
	say "$t for ${seconds} s"
	# The first directory receives new inputs; the checked-in one is read.
	# shellcheck disable=SC2086
	if ! $FUZZ run $FLAGS "$t" "$work/$t" "fuzz/corpus/$t" -- \
		-max_total_time="$seconds" $opts -print_final_stats=1 \
		>"$work/$t.log" 2>&1; then
		tail -n 60 "$work/$t.log" >&2
		say "$t FAILED (crash input in fuzz/artifacts/$t/)" >&2
		failed="$failed $t"
		continue
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t.log")
	say "$t ok: ${execs:-?} executions, ${rate:-?}/s"
done

if [ -n "$failed" ]; then
	say "failed:$failed" >&2
	exit 1
fi
say "ok in $(($(date +%s) - start)) s"
