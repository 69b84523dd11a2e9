#!/usr/bin/env bash
# Builds the kwasm guest programs into guests/out/:
#   out/<example>.wasm     Rust examples (cargo, wasm32-unknown-unknown, release)
#                          and the Rust bench twins of bench/ (bench/dns_filter)
#   out/<name>.wasm        WAT programs from wat/*.wat, assembled
#   out/traps/<name>.wasm  WAT trap programs from wat/traps/*.wat
#   out/compute/<name>.wasm the compute workloads of bench/compute (one module
#                          per workload, profile `compute`), which
#                          `cargo bench -p kwasm-bench` at the root builds too
# then checks every module with tools/wasmcheck, which runs kwasmc's own
# validator and module rules (exactly the WebAssembly features kwasmc supports,
# host imports of their exact types, a well-formed kwasm.maps section, a
# `filter: (i32) -> i32` export) and the kernel's linking rules from
# kwasm_abi::link (only kwasm.* and env._debug host functions).
#
# Usage: ./build.sh          build and check
#        ./build.sh test     also run the SDK unit tests on the host and, if
#                            node is installed, the end-to-end tests
#                            (tools/test.mjs); those also go through kwasmc and
#                            `kwasm run` when ../target/debug has both (or
#                            KWASM_BIN=dir names a directory that does)
set -euo pipefail
cd "$(dirname "$0")"

WASM_TARGET=wasm32-unknown-unknown
HOST_TARGET=$(rustc -vV | sed -n 's/^host: //p')
# Rust crates whose cdylib is a program: the examples, and the kwasm side of
# `kwasm bench`'s comparisons (bench/dns_filter: dns_parser without its logging; the
# other bench filters are examples/port_filter, examples/packet_counter and
# wat/accept.wat).
EXAMPLES=(packet_counter port_filter dns_parser flow_counter dns_filter)
OUT=out

if ! rustup target list --installed 2>/dev/null | grep -qx "$WASM_TARGET"; then
    echo "build.sh: installing the $WASM_TARGET target" >&2
    rustup target add "$WASM_TARGET"
fi

echo "== cargo build (guests, $WASM_TARGET)"
cargo build --release --target "$WASM_TARGET" $(printf -- '-p %s ' "${EXAMPLES[@]}")
echo "== cargo build (compute workloads, $WASM_TARGET, profile compute)"
cargo build --profile compute --target "$WASM_TARGET" -p compute_bench --examples
COMPUTE=()
for e in bench/compute/examples/*.rs; do
    COMPUTE+=("$(basename "$e" .rs)")
done
# wasmcheck links the compiler (and so Cranelift): the `tool` profile of
# Cargo.toml builds it without the guests' LTO and single codegen unit.
echo "== cargo build (wasmcheck, $HOST_TARGET)"
cargo build --profile tool --target "$HOST_TARGET" -p wasmcheck
WASMCHECK=target/$HOST_TARGET/tool/wasmcheck

rm -rf "$OUT"
mkdir -p "$OUT/traps" "$OUT/compute"
for e in "${EXAMPLES[@]}"; do
    cp "target/$WASM_TARGET/release/$e.wasm" "$OUT/$e.wasm"
done
for e in "${COMPUTE[@]}"; do
    cp "target/$WASM_TARGET/compute/examples/$e.wasm" "$OUT/compute/$e.wasm"
done
for w in wat/*.wat wat/traps/*.wat; do
    rel=${w#wat/}
    "$WASMCHECK" wat "$w" "$OUT/${rel%.wat}.wasm"
done

echo "== wasmcheck"
status=0
# Programs that must be accepted as netfilter programs.
accepted=("$OUT"/*.wasm)
rejected=()
for t in "$OUT"/traps/*.wasm; do
    case $(basename "$t") in
        bad_import.wasm | unknown_import.wasm) rejected+=("$t") ;;
        *) accepted+=("$t") ;;
    esac
done
"$WASMCHECK" check --filter "${accepted[@]}" || status=1
# Programs that exist to be rejected by kwasmc: valid wasm, bad imports.
"$WASMCHECK" check --filter --allow-bad-imports "${rejected[@]}" || status=1
# Compute workloads: kwasmc's rules, but no `filter` (they export `run`).
"$WASMCHECK" check "$OUT"/compute/*.wasm || status=1
if [ $status -ne 0 ]; then
    echo "build.sh: wasmcheck failed" >&2
    exit $status
fi

echo "== sizes"
for f in "$OUT"/*.wasm "$OUT"/traps/*.wasm "$OUT"/compute/*.wasm; do
    printf '%8d  %s\n' "$(stat -c %s "$f")" "$f"
done

if [ "${1:-}" = test ]; then
    echo "== cargo test -p kwasm-guest -p compute_bench ($HOST_TARGET)"
    cargo test -p kwasm-guest -p compute_bench --target "$HOST_TARGET"
    if command -v node >/dev/null; then
        bin=${KWASM_BIN:-../target/debug}
        if [ -x "$bin/kwasmc" ] && [ -x "$bin/kwasm" ]; then
            echo "== node tools/test.mjs (V8 and $bin/kwasm run)"
            node tools/test.mjs "$OUT" --bin "$bin"
        else
            echo "== node tools/test.mjs (V8 only: no kwasmc/kwasm in $bin)"
            node tools/test.mjs "$OUT"
        fi
    else
        echo "build.sh: node not found, skipping tools/test.mjs" >&2
    fi
fi
