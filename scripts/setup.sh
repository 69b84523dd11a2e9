#!/bin/sh
# Installs what kwasm's build, kernel build and VM tests need on Debian 12
# (bookworm), as root. Idempotent, and a quick no-op when all is present.
# Run as `make setup` or directly. Everything the project needs on a fresh
# machine is here: nothing installed by hand survives a change of machine.
#
#   node:   Node.js and npm (Debian's, unless the machine has them): the
#           guests' end-to-end tests
#   guests: Zig from PyPI (ziglang, pinned) and AssemblyScript from npm
#           (guests/as/package-lock.json), for the guests in those languages
#   apt:    the Linux 6.12 source, the kernel's build tools, clang/LLVM 19
#           (the kernel is built with LLVM=-19; bindgen needs libclang-19),
#           QEMU, busybox-static (the VM's userspace), binutils-multiarch
#           (objdump/readelf for aarch64 .kw files; llvm-objdump-19 works too),
#           the aarch64 side: qemu-user (runs aarch64 test binaries),
#           qemu-system-arm (the arm64 VM), gcc-aarch64-linux-gnu and
#           libc6-dev-arm64-cross (the cross linker and glibc)
#   arm64:  busybox-static:arm64, extracted (not installed: it would replace
#           the amd64 busybox) to ~/.cache/kwasm/busybox-arm64/, and
#           libelf-dev, zlib1g-dev and libzstd-dev for arm64 (static
#           libraries for the arm64 VM's CLI with eBPF) to
#           ~/.cache/kwasm/arm64-sysroot/
#   cargo:  bindgen-cli (Rust-for-Linux bindings; Debian's is too old),
#           cargo-fuzz (make fuzz-smoke; runs on the pinned stable toolchain
#           with RUSTC_BOOTSTRAP=1, see docs/fuzzing.md)
#   rustup: rust-src (the kernel builds `core` from it), clippy, rustfmt, and
#           the wasm32 and aarch64-gnu (tests under qemu-aarch64, the arm64
#           VM's static CLI) targets
set -eu

cd "$(dirname "$0")/.."

APT_PACKAGES="
	linux-source-6.12
	build-essential bc bison flex libelf-dev libssl-dev
	cpio xz-utils kmod patch python3
	clang-19 lld-19 llvm-19 libclang-19-dev
	qemu-system-x86
	busybox-static
	dwarves libbpf-dev libzstd-dev
	binutils-multiarch
	qemu-user qemu-system-arm gcc-aarch64-linux-gnu libc6-dev-arm64-cross
"
RUST_COMPONENTS="rust-src clippy rustfmt"
RUST_TARGETS="wasm32-unknown-unknown aarch64-unknown-linux-gnu"

say() { echo "setup: $*"; }

as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		say "need root for: $*" >&2
		exit 1
	fi
}

# --- Disk space ------------------------------------------------------------
# A cold `make test` writes about 9 GiB of build output under target/ and
# 10 GiB of kernel trees under the cache; warn early rather than fail with
# ENOSPC half an hour in.
free_kib=$(df -Pk . | awk 'NR == 2 { print $4 }')
if [ "${free_kib:-0}" -lt $((20 * 1024 * 1024)) ]; then
	say "warning: only $((free_kib / 1024)) MiB free on $(df -P . | awk 'NR == 2 { print $6 }');" \
		"a cold make test needs about 20 GiB (target/ and the kernel cache)" >&2
fi

# --- Debian packages -------------------------------------------------------
missing=""
for p in $APT_PACKAGES; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$status" = installed ] || missing="$missing $p"
done
if [ -n "$missing" ]; then
	say "apt-get install$missing"
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends $missing
fi

# --- Node.js ---------------------------------------------------------------
# The guests' end-to-end tests (guests/tools/test.mjs) run on Node.js, and
# fail without it. The base image has a newer Node.js than Debian's: install
# Debian's only when there is none.
if ! command -v node >/dev/null 2>&1; then
	say "apt-get install nodejs npm"
	as_root apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends nodejs npm
fi

# --- Zig and AssemblyScript (the guests' other languages) ------------------
# Zig from PyPI (the `ziglang` package: `python3 -m ziglang`), pinned; the
# AssemblyScript compiler from npm into guests/as/node_modules, as its
# package-lock.json pins it.
ZIG_VERSION=0.17.1
if [ "$(python3 -m ziglang version 2>/dev/null)" != "$ZIG_VERSION" ]; then
	say "pip install ziglang==$ZIG_VERSION"
	python3 -m pip install -q --root-user-action=ignore "ziglang==$ZIG_VERSION"
fi
if [ ! -x guests/as/node_modules/.bin/asc ]; then
	say "npm ci (guests/as: AssemblyScript)"
	npm ci --prefix guests/as --no-audit --no-fund --loglevel=error
fi

# --- arm64 packages, unpacked into the cache -------------------------------
# busybox-static:arm64 (the arm64 VM's userspace) shares /bin/busybox with
# the amd64 one, and the static libelf, zlib and zstd of the arm64 VM's CLI
# (its eBPF side) are only needed at link time: all are downloaded and
# unpacked into the cache (where xtask looks: $KWASM_CACHE, else
# ~/.cache/kwasm), never installed.
CACHE="${KWASM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kwasm}"
# unpack_arm64 DIR MARKER PACKAGE...: unless DIR/MARKER exists.
unpack_arm64() {
	dir=$1 marker=$2
	shift 2
	[ -e "$dir/$marker" ] && return 0
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		say "dpkg --add-architecture arm64"
		as_root dpkg --add-architecture arm64
		as_root apt-get update -qq
	fi
	tmp=$(mktemp -d)
	pkgs=""
	for p in "$@"; do pkgs="$pkgs $p:arm64"; done
	say "apt-get download$pkgs"
	# shellcheck disable=SC2086
	(cd "$tmp" && apt-get download -qq $pkgs 2>/dev/null ||
		{ as_root apt-get update -qq && apt-get download -qq $pkgs; })
	mkdir -p "$dir"
	for d in "$tmp"/*.deb; do dpkg-deb -x "$d" "$dir"; done
	rm -rf "$tmp"
}
unpack_arm64 "$CACHE/busybox-arm64" bin/busybox busybox-static
unpack_arm64 "$CACHE/arm64-sysroot" usr/lib/aarch64-linux-gnu/libzstd.a \
	libelf-dev zlib1g-dev libzstd-dev

# --- Rust toolchain (the one rust-toolchain.toml pins) ---------------------
if ! command -v rustup >/dev/null 2>&1; then
	say "rustup not found: install Rust with rustup first" >&2
	exit 1
fi
channel=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
if ! rustup run "$channel" rustc --version >/dev/null 2>&1; then
	say "rustup toolchain install $channel"
	rustup toolchain install "$channel" --profile minimal
fi
installed=$(rustup component list --installed --toolchain "$channel")
for c in $RUST_COMPONENTS; do
	if ! echo "$installed" | grep -q "^$c"; then
		say "rustup component add $c"
		rustup component add --toolchain "$channel" "$c"
	fi
done
for t in $RUST_TARGETS; do
	if ! echo "$installed" | grep -q "^rust-std-$t\$"; then
		say "rustup target add $t"
		rustup target add --toolchain "$channel" "$t"
	fi
done

# --- bindgen ---------------------------------------------------------------
if ! command -v bindgen >/dev/null 2>&1; then
	say "cargo install --locked bindgen-cli"
	(cd / && cargo +"$channel" install --locked bindgen-cli)
fi

# --- cargo-fuzz ------------------------------------------------------------
if ! command -v cargo-fuzz >/dev/null 2>&1; then
	say "cargo install --locked cargo-fuzz"
	(cd / && cargo +"$channel" install --locked cargo-fuzz)
fi

say "ok ($(rustc +"$channel" --version), $(bindgen --version), $(cargo fuzz --version), $(clang-19 --version | head -n1))"
