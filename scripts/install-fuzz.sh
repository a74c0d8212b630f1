#!/usr/bin/env bash
# Installs what scripts/fuzz.sh needs: cargo-fuzz (built from crates.io)
# for the nightly toolchain this machine has. Idempotent: does nothing when
# `cargo fuzz` already runs.
set -euo pipefail

if ! rustup toolchain list | grep -q '^nightly'; then
  # Toolchains cannot be downloaded here (only package registries are
  # reachable); the machine image brings nightly.
  echo "install-fuzz: no nightly toolchain (rustup toolchain list); cargo fuzz needs one" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "install-fuzz: cargo install cargo-fuzz"
  cargo install --locked cargo-fuzz
fi
echo "install-fuzz: $(cargo fuzz --version), $(rustc +nightly --version)"
