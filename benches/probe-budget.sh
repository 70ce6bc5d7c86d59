#!/usr/bin/env bash
# The daemon's peak memory (VmHWM) when many large exec probes are due at once, as at every
# start and reload, with the probe budget (`[agent] max_concurrent_probes`,
# `probe_output_budget`) at its defaults and, for comparison, large enough for every probe at
# once. Each probe `cat`s a valid 10,000-row × 50-attribute output of 7,520,001 bytes; the
# emulator stores items of that size (`--max-item-bytes` 16 MiB) and the daemon sends up to
# 16 MiB a request. Each case runs until the emulator holds every item, then reads the
# daemon's VmHWM from /proc and stops it.
#
#   benches/probe-budget.sh                         the release build (built if needed)
#   BIN=PATH benches/probe-budget.sh                another daemon build (production builds
#                                                   have no emulator: EMULATOR_BIN=PATH then)
#   PROBES=N RUNS=N benches/probe-budget.sh         16 probes and 3 runs by default
#
# A single probe's case is printed first: what one large item costs the daemon end to end
# (run, item and push), against which the rest compare. Then four probes whose items go one
# a request and then all in one request: the difference is what a push holds per byte of
# request (`PUSH_PEAK_PER_REQUEST_BYTE` in src/config/defaults.rs).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
export AWS_EC2_METADATA_DISABLED=true

PROBES="${PROBES:-16}"
RUNS="${RUNS:-3}"
bin="${BIN:-$(bench_binary)}"
emulator_bin="${EMULATOR_BIN:-$bin}"
bench_workdir

machine_info
echo "daemon: $bin"
echo "emulator: $emulator_bin"

python3 - "$work/wide.json" <<'EOF'
import sys
row = "{" + ",".join(f'"A{a:02}":"vvvvvv"' for a in range(50)) + "}"
with open(sys.argv[1], "w") as f:
    f.write("[" + ",".join([row] * 10000) + "]")
EOF

# case_row LABEL PROBES REQUEST_BYTES AGENT_EXTRA: one row of the table, the median over RUNS
# runs.
case_row() {
    local label="$1" probes="$2" request="$3" extra="$4" hwms=() secs=()
    for run in $(seq "$RUNS"); do
        local port dir
        port="$(free_port)"
        dir="$work/$label-$run"
        mkdir -p "$dir/state"
        start_emulator "$emulator_bin" "$dir" "$port" --max-item-bytes 16777216 \
            --max-node-bytes 1073741824 --max-custom-types 64
        {
            printf '[agent]\ninstance_id = "%s"\nregion = "%s"\nendpoint_url = "http://127.0.0.1:%s"\n' \
                "$INSTANCE" "$REGION" "$port"
            printf 'state_dir = "%s/state"\nprobes_dir = "none"\nsplay = "0s"\n' "$dir"
            printf 'max_request_bytes = %s\n%b\n' "$request" "$extra"
            for i in $(seq -w 1 "$probes"); do
                printf '\n[[probe]]\nname = "wide-%s"\nkind = "exec"\ntype_name = "Custom:Wide%s"\n' "$i" "$i"
                printf 'command = ["/bin/cat", "%s"]\ninterval = "1h"\ntimeout = "120s"\n' "$work/wide.json"
            done
        } >"$dir/config.toml"
        hermetic_env "$dir"
        local start
        start="$(date +%s.%N)"
        "${HENV[@]}" "$bin" --config "$dir/config.toml" run >"$dir/daemon.log" 2>&1 &
        DAEMON_PID=$!
        local stored=0
        for _ in $(seq 1 1200); do
            stored="$(emulator_stats "$port" | python3 -c 'import json, sys; print(json.load(sys.stdin)["items_stored"])')"
            [[ "$stored" -ge "$probes" ]] && break
            sleep 0.1
        done
        local elapsed hwm
        elapsed="$(python3 -c "import time; print(f'{time.time() - $start:.1f}')")"
        hwm="$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$DAEMON_PID/status")"
        kill "$DAEMON_PID"
        wait "$DAEMON_PID" 2>/dev/null || true
        DAEMON_PID=""
        kill "$EMULATOR_PID"
        wait "$EMULATOR_PID" 2>/dev/null || true
        if [[ "$stored" -lt "$probes" ]]; then
            echo "$label: only $stored of $probes items stored within 120 s; daemon log:" >&2
            tail -20 "$dir/daemon.log" >&2
            return 1
        fi
        hwms+=("$hwm")
        secs+=("$elapsed")
    done
    printf '| %-28s | %6s | %9s | %s | %6s | %s |\n' "$label" "$probes" \
        "$(printf '%s\n' "${hwms[@]}" | median)" "$(printf '%s' "${hwms[*]}" | tr ' ' '/')" \
        "$(printf '%s\n' "${secs[@]}" | median)" "$(printf '%s' "${secs[*]}" | tr ' ' '/')"
}

echo
echo "| case | probes | VmHWM kB | runs' VmHWM | all stored s | runs' s |"
echo "|---|---:|---:|---|---:|---|"
mib=$((1024 * 1024))
case_row "one probe" 1 $((16 * mib)) ""
# What a push costs per byte of request: the same four items (which the default budget
# runs at once) sent one a request, then all four in one request.
case_row "4 probes, 1 item a request" 4 $((8 * mib)) ""
case_row "4 probes, 4 items a request" 4 $((32 * mib)) ""
case_row "default budget" "$PROBES" $((16 * mib)) ""
case_row "all at once" "$PROBES" $((16 * mib)) \
    "max_concurrent_probes = $PROBES\nprobe_output_budget = $((PROBES * 8 * mib))"
echo "(output: $(stat -c %s "$work/wide.json") bytes a probe)"
