#!/usr/bin/env bash
# Cost of one push of the same inventory: `ssm-inventoryd once` against the AWS CLI.
#
#   benches/cycle-vs-awscli.sh            (RUNS=5 by default)
#   ONCE_BIN=PATH benches/cycle-vs-awscli.sh
#                                         times another build's `once` (the packaged production
#                                         binary, say); the emulator stays the release build
#   PEAK_MAPPINGS=1 benches/cycle-vs-awscli.sh
#                                         also where the peak memory of ours is, by mapping, in one
#                                         more run under benches/peak_mappings.py
#   THROUGH_PROXY=1 benches/cycle-vs-awscli.sh
#                                         ours pays for the root certificates as on an HTTPS
#                                         endpoint (`ours_env` in lib.sh)
#
# 20 types × 500 rows × 8 attributes, written as SSM Agent custom inventory files (one
# document per type) and read by a `files` probe. Both push once to `ssm-inventoryd emulator`
# on loopback (item and node byte limits raised so that nothing is refused):
#   * ours: the release `ssm-inventoryd once` with a fresh state directory each run, so every
#     item goes in full: read + parse + validate + hash + batch + sign + send + record;
#   * the CLI: `aws ssm put-inventory --cli-input-json` once per request body, the bodies being
#     exactly the requests ssm-inventoryd sends (taken from `once --dry-run --force` before
#     the timing), so both send the same batches. Building those batches is not charged to
#     the CLI, which favours it.
# CPU = user + sys including children (the shell loop and every `aws` process, and GNU time
# itself on both sides), from getrusage in microseconds; peak memory = the largest resident
# set of any one process, from GNU time. Medians over RUNS runs
# of each, run alternately. Prints the ratios and whether the targets (>= 100x less CPU,
# >= 6x less peak memory) are met.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

RUNS="${RUNS:-5}"
TYPES=20
ROWS=500

aws_bin="$(pyenv which aws 2>/dev/null || command -v aws || true)"
if [[ -z "$aws_bin" ]]; then
    echo "the AWS CLI is needed: pip install awscli" >&2
    exit 1
fi
[[ -x /usr/bin/time ]] || { echo "GNU time is needed: apt-get install time" >&2; exit 1; }

bin="$(bench_binary)"
once_bin="${ONCE_BIN:-$bin}"
bench_workdir

machine_info
echo "ssm-inventoryd: $once_bin ($(stat -c %s "$once_bin") bytes); aws: $("$aws_bin" --version 2>&1)"
python3 "$BENCH_ROOT/benches/gen_custom_inventory.py" "$work/custom" "$TYPES" "$ROWS"

port="$(free_port)"
start_emulator "$bin" "$work" "$port" --max-item-bytes 1000000000 --max-node-bytes 100000000000
endpoint="http://127.0.0.1:$port"
cat >"$work/config.toml" <<EOF
[agent]
instance_id = "$INSTANCE"
region = "$REGION"
endpoint_url = "$endpoint"
state_dir = "$work/state"
probes_dir = "$work/probes.d"
splay = "0s"

[[probe]]
name = "custom-files"
kind = "files"
path = "$work/custom"
interval = "1h"
timeout = "30s"
EOF

hermetic_env "$work"
ours_env "$endpoint"
"${HENV[@]}" "$once_bin" --config "$work/config.toml" validate >/dev/null

# The request bodies ssm-inventoryd would send, for the CLI.
mkdir -p "$work/bodies"
"${HENV[@]}" "$once_bin" --config "$work/config.toml" once --dry-run --force >"$work/bodies.jsonl"
split -l 1 -d -a 3 --additional-suffix=.json "$work/bodies.jsonl" "$work/bodies/request-"
requests="$(ls "$work/bodies" | wc -l)"
echo "workload: $TYPES items, $(wc -c <"$work/bodies.jsonl") bytes of request bodies in $requests requests"

accepted() { emulator_stats "$port" | python3 -c 'import json, sys; print(json.load(sys.stdin)["put_inventory_accepted"])'; }

# cpu_of FILE COMMAND...: runs COMMAND, writing its CPU time (user + system, its children
# included) to FILE with the kernel's microsecond precision: GNU time prints hundredths, and
# ours is a few of them. From wait4 on the command itself: the interpreter's own
# RUSAGE_CHILDREN would also hold what ran before it was exec'd (a pyenv shim's lookups).
cpu_of() {
    python3 -c 'import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
open(sys.argv[1], "w").write(f"{usage.ru_utime + usage.ru_stime:.6f}\n")
sys.exit(os.waitstatus_to_exitcode(status))' "$@"
}

ours_cpu=(); ours_rss=(); ours_wall=(); cli_cpu=(); cli_rss=(); cli_wall=()
for run in $(seq 1 "$RUNS"); do
    rm -rf "$work/state"
    before="$(accepted)"
    cpu_of "$work/cpu" /usr/bin/time -f '%e %U %S %M' -o "$work/time" \
        "${HENV[@]}" "${OURS_ENV[@]}" "$once_bin" --config "$work/config.toml" once >"$work/once.out"
    read -r wall user sys rss <"$work/time"
    cpu="$(cat "$work/cpu")"
    grep -q "$TYPES sent in full" "$work/once.out" || { cat "$work/once.out"; exit 1; }
    [[ "$(( $(accepted) - before ))" -ge "$requests" ]] || { echo "once did not deliver" >&2; exit 1; }
    ours_cpu+=("$cpu"); ours_rss+=("$rss"); ours_wall+=("$wall")
    echo "run $run: ssm-inventoryd once: wall ${wall}s, user ${user}s, sys ${sys}s, CPU ${cpu}s, peak RSS ${rss} kB"

    before="$(accepted)"
    cpu_of "$work/cpu" /usr/bin/time -f '%e %U %S %M' -o "$work/time" \
        "${HENV[@]}" /bin/sh -c 'for f in "$0"/*.json; do "$1" ssm put-inventory --cli-input-json "file://$f" --endpoint-url "$2" >/dev/null || exit 1; done' \
        "$work/bodies" "$aws_bin" "$endpoint"
    read -r wall user sys rss <"$work/time"
    cpu="$(cat "$work/cpu")"
    [[ "$(( $(accepted) - before ))" -eq "$requests" ]] || { echo "the CLI did not deliver" >&2; exit 1; }
    cli_cpu+=("$cpu"); cli_rss+=("$rss"); cli_wall+=("$wall")
    echo "run $run: aws ssm put-inventory x $requests: wall ${wall}s, user ${user}s, sys ${sys}s, CPU ${cpu}s, peak RSS ${rss} kB"
done

if [[ "${PEAK_MAPPINGS:-}" == 1 ]]; then
    rm -rf "$work/state"
    "${HENV[@]}" "${OURS_ENV[@]}" python3 "$BENCH_ROOT/benches/peak_mappings.py" \
        "$once_bin" --config "$work/config.toml" once
fi

m() { printf '%s\n' "$@" | median; }
oc="$(m "${ours_cpu[@]}")"; orss="$(m "${ours_rss[@]}")"; ow="$(m "${ours_wall[@]}")"
cc="$(m "${cli_cpu[@]}")"; crss="$(m "${cli_rss[@]}")"; cw="$(m "${cli_wall[@]}")"
python3 - "$oc" "$orss" "$ow" "$cc" "$crss" "$cw" "$RUNS" <<'EOF'
import sys
oc, orss, ow, cc, crss, cw = map(float, sys.argv[1:7])
runs = sys.argv[7]
cpu_ratio, rss_ratio = cc / oc, crss / orss
print(f"median of {runs}: ssm-inventoryd once: CPU {oc:.3f}s, peak RSS {orss / 1024:.1f} MB, wall {ow:.2f}s")
print(f"median of {runs}: aws CLI:             CPU {cc:.3f}s, peak RSS {crss / 1024:.1f} MB, wall {cw:.2f}s")
print(f"CPU ratio {cpu_ratio:.1f}x (target >= 100x: {'met' if cpu_ratio >= 100 else 'MISSED'}), "
      f"peak memory ratio {rss_ratio:.2f}x (target >= 6x: {'met' if rss_ratio >= 6 else 'MISSED'})")
print(f"RESULT ours_cpu={oc:.3f} ours_rss_kb={orss:.0f} cli_cpu={cc:.3f} cli_rss_kb={crss:.0f} "
      f"cpu_ratio={cpu_ratio:.1f} rss_ratio={rss_ratio:.2f}")
EOF
