#!/usr/bin/env bash
# Builds the kwasm guest programs into guests/out/:
#   out/<example>.wasm     Rust examples (cargo, wasm32-unknown-unknown, release)
#                          and the Rust bench twins of bench/ (bench/dns_filter)
#   out/<name>.wasm        WAT programs from wat/*.wat, assembled
#   out/traps/<name>.wasm  WAT trap programs from wat/traps/*.wat
#   out/c_<name>.wasm      C programs from c/examples/*.c (the C SDK is
#                          c/kwasm.h), with clang for wasm32
#   out/zig_<name>.wasm    Zig programs from zig/examples/*.zig
#   out/as_<name>.wasm     AssemblyScript programs from as/examples/*.ts
#   out/bad/<name>.wasm    real toolchain output that kwasm refuses (bad/)
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
#        ./build.sh test     also run the SDK unit tests on the host and the
#                            end-to-end tests (tools/test.mjs, on Node.js,
#                            which `make setup` installs: missing, the test
#                            fails); those also go through kwasmc and
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

# Zig programs (zig/examples/*.zig, SDK zig/kwasm.zig), with Zig from PyPI
# (`pip install ziglang`, which make setup does), when it is installed.
if python3 -m ziglang version >/dev/null 2>&1; then
    echo "== Zig programs (zig $(python3 -m ziglang version))"
    for z in zig/examples/*.zig; do
        python3 -m ziglang build-exe -target wasm32-freestanding -O ReleaseSmall \
            --dep kwasm -Mroot="$z" -target wasm32-freestanding -O ReleaseSmall -Mkwasm=zig/kwasm.zig \
            -fno-entry -rdynamic --cache-dir target/zig-cache \
            -femit-bin="$OUT/zig_$(basename "$z" .zig).wasm"
    done
else
    echo "build.sh: no Zig (make setup installs it from PyPI): skipping zig/examples" >&2
fi

# AssemblyScript programs (as/examples/*.ts, SDK as/kwasm.ts), with asc from
# npm (as/node_modules, which make setup installs), when it is installed.
# Each program's maps are on its `// kwasm-maps:` line.
ASC=as/node_modules/.bin/asc
if [ -x $ASC ]; then
    echo "== AssemblyScript programs (asc $(as/node_modules/.bin/asc --version | sed 's/Version //'))"
    for t in as/examples/*.ts; do
        out="$OUT/as_$(basename "$t" .ts).wasm"
        $ASC "$t" --outFile "$out" --optimize --runtime stub --use abort=
        # shellcheck disable=SC2046
        "$WASMCHECK" add-maps "$out" $(sed -n 's|^// kwasm-maps: ||p' "$t")
    done
else
    echo "build.sh: no AssemblyScript (make setup installs it with npm): skipping as/examples" >&2
fi

# C programs: one file each, the SDK header, no libc (c/kwasm.h says how).
CLANG=$(command -v clang-19 || command -v clang || true)
if [ -z "$CLANG" ]; then
    echo "build.sh: no clang for the C programs: run make setup (it installs clang-19 and lld-19)" >&2
    exit 1
fi
echo "== C programs ($CLANG --target=wasm32)"
for c in c/examples/*.c; do
    "$CLANG" --target=wasm32 -nostdlib -O2 -mbulk-memory -Wall -Wextra -Werror -Ic \
        -Wl,--no-entry -Wl,--export=filter -o "$OUT/c_$(basename "$c" .c).wasm" "$c"
done

# What kwasm refuses, as each toolchain makes it (bad/README.md).
echo "== toolchain output kwasm refuses (out/bad)"
mkdir -p "$OUT/bad"
C_FLAGS=(--target=wasm32 -nostdlib -O2 -Wl,--no-entry)
"$CLANG" "${C_FLAGS[@]}" -msimd128 -o "$OUT/bad/simd.wasm" bad/simd.c
"$CLANG" "${C_FLAGS[@]}" -matomics -mbulk-memory -Wl,--shared-memory -Wl,--max-memory=131072 \
    -o "$OUT/bad/threads.wasm" bad/threads.c
"$CLANG" "${C_FLAGS[@]}" -o "$OUT/bad/no_filter.wasm" bad/no_filter.c
if python3 -m ziglang version >/dev/null 2>&1; then
    python3 -m ziglang build-exe bad/wasi_hello.zig -target wasm32-wasi -fno-entry -rdynamic \
        -O ReleaseSmall --cache-dir target/zig-cache -femit-bin="$OUT/bad/wasi_hello.wasm"
fi
if [ -x $ASC ]; then
    $ASC bad/as_abort.ts --outFile "$OUT/bad/as_abort.wasm" --optimize --runtime stub
fi

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
    if ! command -v node >/dev/null; then
        echo "build.sh: node not found: the end-to-end tests (tools/test.mjs) need Node.js; run make setup" >&2
        exit 1
    fi
    bin=${KWASM_BIN:-../target/debug}
    if [ -x "$bin/kwasmc" ] && [ -x "$bin/kwasm" ]; then
        echo "== node tools/test.mjs (V8 and $bin/kwasm run)"
        node tools/test.mjs "$OUT" --bin "$bin"
    else
        echo "== node tools/test.mjs (V8 only: no kwasmc/kwasm in $bin)"
        node tools/test.mjs "$OUT"
    fi
fi
