#!/usr/bin/env bash
# Build the SQL engine component (engines/sql-engine: Apache DataFusion for wasm32-wasip2) into
# engines/sql-engine/sql-engine.wasm. Kept out of the main workspace: it takes minutes, and the
# README's two commands must not pay for it. Its versions are pinned by its own Cargo.lock.
#
# zstd-sys (which Arrow's IPC code brings) is C: it needs clang and the WASI libc headers. With
# --install, Debian's packages are installed first (as CI does); otherwise they must be there.
# Further arguments go to `cargo build` (e.g. `--features explain`); SQL_ENGINE_OUT names the
# output file instead of sql-engine.wasm. With --lint (after --install, if both), clippy checks the
# engine's code, with and without its features, instead of building it.
set -euo pipefail
cd "$(dirname "$0")/../engines/sql-engine"
install=false
if [ "${1:-}" = "--install" ]; then install=true; shift; fi
lint=false
if [ "${1:-}" = "--lint" ]; then lint=true; shift; fi
if $install; then
  if ! command -v clang-19 >/dev/null || [ ! -d /usr/include/wasm32-wasi ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-19 llvm-19 wasi-libc >/dev/null
  fi
fi
for tool in clang-19 llvm-ar-19; do
  command -v "$tool" >/dev/null || { echo "build-sql-engine: $tool is missing (Debian: clang-19 llvm-19 wasi-libc; or run with --install)" >&2; exit 1; }
done
[ -d /usr/include/wasm32-wasi ] || { echo "build-sql-engine: the WASI libc headers are missing (Debian: wasi-libc)" >&2; exit 1; }
# rust-toolchain.toml names the target, but rustup adds it only with a new toolchain.
rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2
# 128-bit SIMD, as the plugins are built (host/build.rs): Arrow's kernels vectorize. Deterministic:
# the host runs relaxed SIMD in its deterministic mode and canonicalizes NaNs.
export CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS="-C target-feature=+simd128"
export CC_wasm32_wasip2=clang-19 AR_wasm32_wasip2=llvm-ar-19 CFLAGS_wasm32_wasip2="-isystem /usr/include/wasm32-wasi"
if $lint; then
  cargo clippy --locked --target wasm32-wasip2 "$@" -- -D warnings
  cargo clippy --locked --target wasm32-wasip2 --all-features "$@" -- -D warnings
  exit
fi
out="${SQL_ENGINE_OUT:-sql-engine.wasm}"
cargo build --release --locked --target wasm32-wasip2 "$@"
cp target/wasm32-wasip2/release/sieve_sql_engine.wasm "$out"
ls -l "$out"
sha256sum "$out"
