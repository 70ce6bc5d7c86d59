#!/usr/bin/env bash
# What starting a probe's program costs the daemon, and whether that grows with the daemon's
# address space: examples/spawn_cost.rs, built with the release profile. It runs /bin/true
# RUNS times with a forking start (tokio::process::Command with a pre_exec, as probe runs were
# started before) and as a full probe run (probe::exec::run), first as started, then with
# HEAP_MB of heap touched; it prints wall time, the process's own CPU time and minor faults per
# run. No network, no emulator.
#
#   benches/spawn.sh          (RUNS=200, HEAP_MB=200 by default)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

RUNS="${RUNS:-200}"
HEAP_MB="${HEAP_MB:-200}"

machine_info
(cd "$BENCH_ROOT" && cargo build --release --quiet --example spawn_cost) >&2
target_dir="$(cd "$BENCH_ROOT" && cargo metadata --no-deps --format-version 1 \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
hermetic "$work" "$target_dir/release/examples/spawn_cost" "$RUNS" "$HEAP_MB"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min averages at the end)"
