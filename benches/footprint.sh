#!/usr/bin/env bash
# Footprint of the release daemon (`ssm-inventoryd run`) with the example configuration.
#
#   benches/footprint.sh          (WINDOW=60 seconds per measured window by default)
#
# Setup: config/ copied to a temporary directory; instance ID, region, the emulator's endpoint
# and a temporary state_dir set; the files probe pointed at a temporary folder; every probe's
# interval (and timeout) set to 1 s. The emulator (`ssm-inventoryd emulator`) runs on loopback.
#
# Figures:
#   1. stripped release binary size;
#   2. resident memory with probes every second: VmRSS of the daemon sampled every second for
#      WINDOW seconds after a warm-up (median, min, max);
#   3. CPU per idle hour with probes every second, extrapolated from utime+stime over the same
#      window (the daemon alone, and with its exited children: the exec probes' processes), and
#      for the daemon alone also from its threads' run time in nanoseconds (`thread_ns`);
#   4. peak resident memory during a 10,000-row push: VmHWM reset (clear_refs) just before a
#      10,000-row × 8-attribute document lands in the files folder, read after the emulator has
#      stored it; VmRSS afterwards, and after the file is removed again (does memory go back?);
#   5. CPU per idle hour with the example's own intervals (restarted without the 1 s override),
#      extrapolated from IDLE_WINDOW seconds (default 2 × WINDOW) after the first push.
# Targets: median RSS <= 8 MB (production build: DAEMON_BIN), peak RSS during the push <= 24 MB,
# CPU per idle hour with probes every second <= 6 s (the daemon alone).
#
# ONE_SECOND_ONLY=1 stops after figures 2 and 3 (probes every second), for comparing the CPU
# of two builds without the push and the idle window. ONLY_PROBES=system,stage (drop-in file
# names in config/probes.d, without .toml) runs only those every second and the others once an
# hour, for what one kind of probe costs.
#
# THROUGH_PROXY=1 makes the daemon pay for the root certificates as on an HTTPS endpoint
# (`ours_env` in lib.sh); over plain HTTP to the emulator it reads none.
#
# DAEMON_BIN=PATH measures another build of the daemon (the packaged one, built without the
# emulator: `packaging/build`), with the default release build still serving as the emulator.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

WINDOW="${WINDOW:-60}"
IDLE_WINDOW="${IDLE_WINDOW:-$(( 2 * WINDOW ))}"
WARMUP="${WARMUP:-10}"
CLK_TCK="$(getconf CLK_TCK)"

emulator_bin="$(bench_binary)"
bin="${DAEMON_BIN:-$emulator_bin}"
bench_workdir

machine_info
size="$(stat -c %s "$bin")"
echo "binary: $bin: $size bytes ($(python3 -c "print(f'{$size / 1048576:.2f}')") MiB), $(file -b "$bin" | grep -o 'stripped\|not stripped')"

port="$(free_port)"
start_emulator "$emulator_bin" "$work" "$port" --max-item-bytes 1000000000 --max-node-bytes 100000000000
ours_env "http://127.0.0.1:$port"

# configure ONE_SECOND(yes|no): the example configuration, made hermetic.
configure() {
    rm -rf "$work/etc" "$work/state"
    cp -r "$BENCH_ROOT/config" "$work/etc"
    mkdir -p "$work/custom.d"
    python3 - "$work" "$port" "$1" <<'EOF'
import os, pathlib, re, sys
work, port, one_second = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "yes"
main = work / "etc/ssm-inventoryd.toml"
text = main.read_text()
for key, value in [("instance_id", '"i-0123456789abcdef0"'), ("region", '"us-east-1"'),
                   ("state_dir", f'"{work}/state"')]:
    text, n = re.subn(rf'(?m)^{key} = .*$', f'{key} = {value}', text)
    assert n == 1, key
text, n = re.subn(r'(?m)^# endpoint_url = .*$', f'endpoint_url = "http://127.0.0.1:{port}"', text)
assert n == 1
main.write_text(text)
for probe in (work / "etc/probes.d").glob("*.toml"):
    text = probe.read_text()
    text = re.sub(r'(?m)^path = .*$', f'path = "{work}/custom.d"', text)
    only = os.environ.get("ONLY_PROBES", "")
    if one_second and only and probe.stem not in only.split(","):
        text = re.sub(r'(?m)^interval = .*$', 'interval = "1h"', text)
    elif one_second:
        text = re.sub(r'(?m)^interval = .*$', 'interval = "1s"', text)
        text = re.sub(r'(?m)^timeout = .*$', 'timeout = "1s"', text)
    probe.write_text(text)
EOF
    hermetic "$work" "$bin" --config "$work/etc/ssm-inventoryd.toml" validate >/dev/null
}

start_daemon() {
    hermetic_env "$work"
    "${HENV[@]}" "${OURS_ENV[@]}" RUST_LOG=info "$bin" --config "$work/etc/ssm-inventoryd.toml" run \
        >"$work/daemon.out" 2>"$work/daemon.log" &
    DAEMON_PID=$!
}

stop_daemon() {
    kill -TERM "$DAEMON_PID"
    wait "$DAEMON_PID" || true
    DAEMON_PID=""
}

status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
# utime stime cutime cstime in clock ticks (fields 14-17 of /proc/PID/stat; the command name
# is field 2 and is stripped first because it may hold spaces).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12, $13, $14, $15 }'; }
stored_items() {
    emulator_stats "$port" | python3 -c 'import json, sys; print(json.load(sys.stdin)["items_stored"])'
}

wait_first_push() {
    for _ in $(seq 1 600); do
        if grep -q "first cycle done" "$work/daemon.log" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "the daemon never finished its first cycle; log:" >&2
    cat "$work/daemon.log" >&2
    return 1
}

# measure_window SECONDS: prints "own_seconds children_seconds" for the daemon over the window,
# sampling VmRSS every second into $work/rss.
measure_window() {
    local seconds="$1"
    : >"$work/rss"
    read -r u0 s0 cu0 cs0 <<<"$(cpu_ticks "$DAEMON_PID")"
    thread_ns "$DAEMON_PID" >"$work/threads0"
    for _ in $(seq 1 "$seconds"); do
        sleep 1
        status_kb "$DAEMON_PID" VmRSS >>"$work/rss"
    done
    thread_ns "$DAEMON_PID" >"$work/threads1"
    read -r u1 s1 cu1 cs1 <<<"$(cpu_ticks "$DAEMON_PID")"
    python3 -c "t=$CLK_TCK; print(($u1-$u0+$s1-$s0)/t, ($cu1-$cu0+$cs1-$cs0)/t)"
}

# thread_ns PID: "TID nanoseconds" for each thread of PID, the time it has run (the first field
# of /proc/PID/task/TID/schedstat). utime+stime come in clock ticks (10 ms), coarse for the
# tenths of a second an idle minute costs; this is exact, but misses a thread that ends inside
# the window, so the figure says how many did.
thread_ns() {
    local task
    for task in /proc/"$1"/task/*; do
        echo "${task##*/} $(cut -d' ' -f1 "$task/schedstat" 2>/dev/null || echo 0)"
    done
}

# threads_ms: the daemon's threads' run time over the last window, in ms, and how many of its
# threads ended inside it (their time is then missing from the figure).
threads_ms() {
    python3 - "$work/threads0" "$work/threads1" <<'PY'
import sys
before = dict(line.split() for line in open(sys.argv[1]))
after = dict(line.split() for line in open(sys.argv[2]))
ns = sum(int(v) - int(before.get(tid, 0)) for tid, v in after.items())
print(f"{ns / 1e6:.1f}", sum(1 for tid in before if tid not in after))
PY
}

per_hour() { python3 -c "print(f'{$1 * 3600 / $2:.2f}')"; }

echo "== probes every 1 s"
configure yes
start_daemon
wait_first_push
sleep "$WARMUP"
read -r own children <<<"$(measure_window "$WINDOW")"
read -r own_ms ended <<<"$(threads_ms)"
rss_median="$(median <"$work/rss")"
rss_min="$(sort -n "$work/rss" | head -1)"; rss_max="$(sort -n "$work/rss" | tail -1)"
pushes="$(grep -c 'push finished' "$work/daemon.log" || true)"
echo "RSS over ${WINDOW}s (1 sample/s): median ${rss_median} kB, min ${rss_min} kB, max ${rss_max} kB"
echo "CPU over ${WINDOW}s: daemon ${own}s, its exited children ${children}s =>" \
    "$(per_hour "$own" "$WINDOW") s per hour (daemon), $(per_hour "$(python3 -c "print($own + $children)")" "$WINDOW") s per hour (with children)"
echo "CPU over ${WINDOW}s by the daemon's threads' run time (schedstat): ${own_ms} ms =>" \
    "$(per_hour "$own_ms / 1000" "$WINDOW") s per hour (daemon; threads that ended in the window: $ended)"
echo "pushes logged since start: $pushes (an idle node sends nothing after the first push)"
# Where the resident memory is: the daemon's own heap and stacks (anonymous) against code and
# data pages mapped from files, the binary's own and the C library's.
python3 - "$DAEMON_PID" "$bin" <<'PY'
import sys
pid, binary = sys.argv[1], sys.argv[2]
rollup = {}
for line in open(f"/proc/{pid}/smaps_rollup"):
    parts = line.split()
    if len(parts) == 3 and parts[2] == "kB":
        rollup[parts[0].rstrip(":")] = int(parts[1])
by_file, current = {}, None
for line in open(f"/proc/{pid}/smaps"):
    parts = line.split()
    if "-" in parts[0] and len(parts) >= 5 and ":" not in parts[0]:
        current = parts[5] if len(parts) >= 6 else "[anonymous]"
    elif parts[0] == "Rss:":
        by_file[current] = by_file.get(current, 0) + int(parts[1])
own = sum(kb for name, kb in by_file.items() if name.endswith("ssm-inventoryd") or name == binary)
libs = sum(kb for name, kb in by_file.items() if name.startswith("/") and ".so" in name)
print(f"RSS now {rollup['Rss']} kB: anonymous {rollup['Anonymous']} kB, from files {rollup['Rss'] - rollup['Anonymous']} kB "
      f"(the binary {own} kB, shared libraries {libs} kB)")
PY

if [[ "${ONE_SECOND_ONLY:-0}" == 1 ]]; then
    stop_daemon
    echo "RESULT binary_bytes=$size rss_median_kb=$rss_median rss_min_kb=$rss_min rss_max_kb=$rss_max" \
        "cpu_1s_daemon_s=$own cpu_1s_daemon_threads_ms=$own_ms cpu_1s_children_s=$children window_s=$WINDOW"
    exit 0
fi

echo "== 10,000-row push (probes every 1 s)"
before_rss="$(status_kb "$DAEMON_PID" VmRSS)"
echo 5 >"/proc/$DAEMON_PID/clear_refs"   # reset VmHWM to the current RSS
stored0="$(stored_items)"
python3 "$BENCH_ROOT/benches/gen_custom_inventory.py" "$work/big" 1 10000 BigTable 2>/dev/null
mv "$work/big/BigTable00.json" "$work/custom.d/BigTable00.json"
big_bytes="$(stat -c %s "$work/custom.d/BigTable00.json")"
for _ in $(seq 1 600); do
    [[ "$(stored_items)" -gt "$stored0" ]] && break
    sleep 0.1
done
[[ "$(stored_items)" -gt "$stored0" ]] || { echo "the 10,000-row item was never stored" >&2; exit 1; }
sleep 2
peak="$(status_kb "$DAEMON_PID" VmHWM)"
after_rss="$(status_kb "$DAEMON_PID" VmRSS)"
rm "$work/custom.d/BigTable00.json"
sleep 5
removed_rss="$(status_kb "$DAEMON_PID" VmRSS)"
echo "document: 10,000 rows x 8 attributes, $big_bytes bytes"
echo "VmRSS before ${before_rss} kB; VmHWM during the push ${peak} kB; VmRSS after the push ${after_rss} kB" \
    "(file still there); after the file was removed ${removed_rss} kB"
stop_daemon

echo "== example intervals (idle)"
configure no
start_daemon
wait_first_push
sleep "$WARMUP"
read -r idle_own idle_children <<<"$(measure_window "$IDLE_WINDOW")"
idle_rss="$(median <"$work/rss")"
echo "CPU over ${IDLE_WINDOW}s: daemon ${idle_own}s, children ${idle_children}s =>" \
    "$(per_hour "$idle_own" "$IDLE_WINDOW") s per hour (daemon)," \
    "$(per_hour "$(python3 -c "print($idle_own + $idle_children)")" "$IDLE_WINDOW") s per hour (with children); median RSS ${idle_rss} kB"
stop_daemon

python3 - "$rss_median" "$peak" "$own_ms" "$WINDOW" <<'EOF'
import sys
median, peak = int(sys.argv[1]), int(sys.argv[2])
per_hour = float(sys.argv[3]) / 1000 * 3600 / float(sys.argv[4])
print(f"median RSS {median / 1024:.2f} MB (target <= 8 MB: {'met' if median <= 8 * 1024 else 'MISSED'}), "
      f"peak RSS during the 10,000-row push {peak / 1024:.2f} MB (target <= 24 MB: {'met' if peak <= 24 * 1024 else 'MISSED'}), "
      f"CPU with probes every second {per_hour:.2f} s per hour (target <= 6 s: {'met' if per_hour <= 6 else 'MISSED'})")
EOF
echo "RESULT binary_bytes=$size rss_median_kb=$rss_median rss_min_kb=$rss_min rss_max_kb=$rss_max" \
    "cpu_1s_daemon_s=$own cpu_1s_daemon_threads_ms=$own_ms cpu_1s_children_s=$children window_s=$WINDOW push_peak_kb=$peak" \
    "after_push_kb=$after_rss after_remove_kb=$removed_rss idle_cpu_daemon_s=$idle_own" \
    "idle_cpu_children_s=$idle_children idle_window_s=$IDLE_WINDOW idle_rss_kb=$idle_rss"
