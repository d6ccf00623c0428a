#!/usr/bin/env bash
# The conformance suite's mutation score on the core's in-memory adapter (see ../MUTANTS.md):
# every mutant cargo-mutants makes in crates/lucia/src/memory.rs, tested by
# `cargo test -p lucia --test memory_conformance` in a scratch copy of the workspace (the
# source tree is never modified). Extra arguments go to cargo-mutants (e.g. --list, -j 2).
set -euo pipefail
cd "$(dirname "$0")/../../.."
command -v cargo-mutants >/dev/null || cargo install cargo-mutants --locked
exec cargo mutants \
  --package lucia \
  --file crates/lucia/src/memory.rs \
  --cargo-arg=--test=memory_conformance \
  --output "${MUTANTS_OUT:-target/mutants}" \
  "$@"
