#!/usr/bin/env bash
# Pipeline benchmark, Rust against the Python reference, on the same generated data, in one run.
#
#   benches/run-pipeline.sh
#
# Runs `cargo bench --bench pipeline` (release profile: the shipped lto/opt-level settings)
# and benches/pipeline_reference.py, checks that both computed the same ContentHashes and the
# same requests (same digest), and prints both throughputs and the ratio. Exits non-zero when
# the digests differ. PIPELINE_RUNS / PIPELINE_ROWS are passed through (the Python side runs
# min(PIPELINE_RUNS, 3) passes: one pass takes it several seconds).
set -euo pipefail
cd "$(dirname "$0")/.."

rust_runs="${PIPELINE_RUNS:-7}"
py_runs="$(( rust_runs < 3 ? rust_runs : 3 ))"

echo "== rust (cargo bench --bench pipeline)"
rust_out="$(PIPELINE_RUNS="$rust_runs" cargo bench --quiet --bench pipeline 2>/dev/null)"
echo "$rust_out"
echo "== python reference"
py_out="$(PIPELINE_RUNS="$py_runs" python3 benches/pipeline_reference.py)"
echo "$py_out"

field() { # field NAME TEXT
    grep '^RESULT' <<<"$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}
rust_digest="$(field digest "$rust_out")"
py_digest="$(field digest "$py_out")"
rust_bytes="$(field content_bytes "$rust_out")"
py_bytes="$(field content_bytes "$py_out")"
if [[ -z "$rust_digest" || "$rust_digest" != "$py_digest" || "$rust_bytes" != "$py_bytes" ]]; then
    echo "MISMATCH: rust digest $rust_digest ($rust_bytes bytes), python digest $py_digest ($py_bytes bytes)" >&2
    exit 1
fi
rust_mbps="$(field mbps "$rust_out")"
output_mbps="$(field output_mbps "$rust_out")"
py_mbps="$(field mbps "$py_out")"
echo "== same hashes and requests on both sides (digest $rust_digest)"
python3 - "$rust_mbps" "$py_mbps" "$output_mbps" <<'EOF'
import sys
rust, py, output = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
print(f"rust {rust:.1f} MB/s from rows, python {py:.2f} MB/s, ratio {rust / py:.1f}x "
      f"(target >= 15x {'met' if rust / py >= 15 else 'MISSED'})")
print(f"rust {output:.1f} MB/s from probe output, the daemon's path "
      f"(target >= 350 MB/s {'met' if output >= 350 else 'MISSED'})")
EOF
