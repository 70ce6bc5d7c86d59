#!/usr/bin/env bash
# Change → acknowledgement for a watched file: how long after a document is renamed into a
# `files` probe's folder the emulator has accepted its new content, and how many pushes a
# burst of writes costs.
#
#   benches/watch-latency.sh              (RUNS=9 single changes, PAUSE=1 s between them)
#   DAEMON_BIN=PATH benches/watch-latency.sh
#                                         runs another build of the daemon (an older one, say,
#                                         for "before"); the emulator stays the release build
#
# Setup: the release daemon (`ssm-inventoryd run`) with one `files` probe (interval 1 h, so
# only the folder watch makes it run again), `splay = "0s"` and `min_push_interval = "0s"`,
# pushing to `ssm-inventoryd emulator` on 127.0.0.1. Hermetic AWS environment (benches/lib.sh):
# the emulator's demo keys, instance metadata off.
#
# Figures:
#   1. RUNS single changes, PAUSE apart: each one writes `.Latency.tmp` (ignored by the probe)
#      and renames it to `Latency.json` with a new Stage value. The time is from just after
#      the rename to the emulator's `/stats` showing one more item stored with new content
#      (`items_stored`: a new ContentHash accepted), polled every 0.5 ms over one kept-alive
#      connection. After each, ListInventoryEntries (signed with the demo keys) must return
#      the value just written. Each run's figure, then the median.
#   2. A burst: 20 writes (the same rename) spread over 50 ms. Printed: the PutInventory
#      requests the emulator received for it, and that the last write's value is the one it
#      holds, 1 s after it first showed; also the probe runs it caused (the daemon's
#      `metrics_file`).
# The 1-, 5- and 15-minute load averages (`uptime`) are printed at the start and at the end.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

RUNS="${RUNS:-9}"
PAUSE="${PAUSE:-1}"
BURST="${BURST:-20}"
BURST_MS="${BURST_MS:-50}"

emulator_bin="$(bench_binary)"
bin="${DAEMON_BIN:-$emulator_bin}"
bench_workdir

machine_info
echo "uptime at start: $(uptime)"
echo "daemon: $bin ($(stat -c %s "$bin") bytes); emulator: $emulator_bin"

port="$(free_port)"
start_emulator "$emulator_bin" "$work" "$port"
mkdir -p "$work/custom" "$work/probes.d"
cat >"$work/config.toml" <<EOF
[agent]
instance_id = "$INSTANCE"
region = "$REGION"
endpoint_url = "http://127.0.0.1:$port"
state_dir = "$work/state"
probes_dir = "$work/probes.d"
splay = "0s"
min_push_interval = "0s"
metrics_file = "$work/metrics.prom"

[[probe]]
name = "watched"
kind = "files"
path = "$work/custom"
interval = "1h"
timeout = "30s"
EOF
printf '{"SchemaVersion":"1.0","TypeName":"Custom:Latency","Content":{"Stage":"start"}}' \
    >"$work/custom/Latency.json"
hermetic "$work" "$bin" --config "$work/config.toml" validate >/dev/null

hermetic_env "$work"
"${HENV[@]}" RUST_LOG=info "$bin" --config "$work/config.toml" run \
    >"$work/daemon.out" 2>"$work/daemon.log" &
DAEMON_PID=$!
for _ in $(seq 1 600); do
    grep -q "first cycle done" "$work/daemon.log" 2>/dev/null && break
    sleep 0.1
done
grep -q "first cycle done" "$work/daemon.log" || {
    echo "the daemon never finished its first cycle; log:" >&2
    cat "$work/daemon.log" >&2
    exit 1
}
# Let the first push's follow-ups (if any) settle.
sleep 1

cat >"$work/driver.py" <<'PY'
import datetime, hashlib, hmac, http.client, json, os, statistics, sys, time

port, folder, runs, pause, burst, burst_ms = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
    float(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
key, secret, instance, region, metrics = sys.argv[7:12]
host = f"127.0.0.1:{port}"
stats_conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=5)

def stats():
    global stats_conn
    for _ in range(3):
        try:
            stats_conn.request("GET", "/stats")
            return json.loads(stats_conn.getresponse().read())
        except (http.client.HTTPException, OSError):
            stats_conn.close()
            stats_conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=5)
    raise SystemExit("the emulator's /stats does not answer")

def signed(target, body):
    """A SigV4-signed SSM JSON request (stdlib only), to the emulator."""
    now = datetime.datetime.now(datetime.timezone.utc)
    amzdate, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    ct = "application/x-amz-json-1.1"
    headers = f"content-type:{ct}\nhost:{host}\nx-amz-date:{amzdate}\nx-amz-target:{target}\n"
    names = "content-type;host;x-amz-date;x-amz-target"
    canonical = f"POST\n/\n\n{headers}\n{names}\n{hashlib.sha256(body).hexdigest()}"
    scope = f"{day}/{region}/ssm/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{amzdate}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    k = ("AWS4" + secret).encode()
    for part in (day, region, "ssm", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=5)
    conn.request("POST", "/", body=body, headers={
        "Content-Type": ct, "X-Amz-Date": amzdate, "X-Amz-Target": target,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={key}/{scope}, SignedHeaders={names}, Signature={sig}"})
    answer = conn.getresponse()
    data = json.loads(answer.read() or b"{}")
    conn.close()
    if answer.status != 200:
        raise SystemExit(f"{target}: HTTP {answer.status}: {data}")
    return data

def held_stage():
    body = json.dumps({"InstanceId": instance, "TypeName": "Custom:Latency"}).encode()
    entries = signed("AmazonSSM.ListInventoryEntries", body).get("Entries", [])
    return entries[0].get("Stage") if entries else None

def probe_runs():
    """The daemon's own count of the probe's runs, from its metrics file."""
    prefix = 'ssm_inventoryd_probe_runs_total{probe="watched"} '
    try:
        with open(metrics) as f:
            return next((int(l[len(prefix):]) for l in f if l.startswith(prefix)), 0)
    except OSError:
        return 0

def write(stage):
    """Written beside, then renamed into place, as the SSM Agent's writers do."""
    tmp, final = os.path.join(folder, ".Latency.tmp"), os.path.join(folder, "Latency.json")
    with open(tmp, "w") as f:
        f.write(json.dumps({"SchemaVersion": "1.0", "TypeName": "Custom:Latency",
                            "Content": {"Stage": stage}}))
    os.rename(tmp, final)
    return time.perf_counter()

def wait_stored(before, limit=10.0):
    start = time.perf_counter()
    while True:
        s = stats()
        if s["items_stored"] > before:
            return time.perf_counter(), s
        if time.perf_counter() - start > limit:
            raise SystemExit(f"nothing new stored within {limit}s")
        time.sleep(0.0005)

print(f"== single changes: {runs} runs, {pause:g} s apart")
figures = []
for run in range(1, runs + 1):
    time.sleep(pause)
    before = stats()
    stage = f"run-{run}-{time.time_ns()}"
    t0 = write(stage)
    t1, after = wait_stored(before["items_stored"])
    ms = (t1 - t0) * 1000
    held = held_stage()
    ok = "ok" if held == stage else f"MISMATCH (holds {held!r})"
    pushes = after["put_inventory_requests"] - before["put_inventory_requests"]
    print(f"run {run}: {ms:.1f} ms from rename to acknowledgement ({pushes} PutInventory; content {ok})")
    if held != stage:
        raise SystemExit("the emulator does not hold the value just written")
    figures.append(ms)
print(f"median of {runs}: {statistics.median(figures):.1f} ms (min {min(figures):.1f}, max {max(figures):.1f})")

print(f"== burst: {burst} writes over {burst_ms:g} ms")
time.sleep(pause)
before, runs_before = stats(), probe_runs()
start = time.perf_counter()
for i in range(1, burst + 1):
    last = f"burst-{i}-{time.time_ns()}"
    write(last)
    # Spread evenly: write i+1 at start + i * burst_ms / (burst - 1).
    if i < burst:
        target = start + i * burst_ms / 1000 / (burst - 1)
        while time.perf_counter() < target:
            time.sleep(0.0002)
spread = (time.perf_counter() - start) * 1000
deadline = time.perf_counter() + 10
while held_stage() != last:
    if time.perf_counter() > deadline:
        raise SystemExit(f"the last write of the burst was never acknowledged (holds {held_stage()!r})")
    time.sleep(0.002)
settled = (time.perf_counter() - start) * 1000
time.sleep(1)
after, runs_after = stats(), probe_runs()
pushes = after["put_inventory_requests"] - before["put_inventory_requests"]
accepted = after["put_inventory_accepted"] - before["put_inventory_accepted"]
stored = after["items_stored"] - before["items_stored"]
final = "the last write's" if held_stage() == last else f"NOT the last write's ({held_stage()!r})"
print(f"burst: {burst} writes in {spread:.1f} ms -> {pushes} PutInventory requests received "
      f"({accepted} accepted, {stored} new contents stored), {runs_after - runs_before} probe runs; "
      f"the emulator holds {final} value, first seen {settled:.1f} ms after the burst began")
print(f"RESULT median_ms={statistics.median(figures):.1f} burst_writes={burst} burst_pushes={pushes}")
PY

python3 -u "$work/driver.py" "$port" "$work/custom" "$RUNS" "$PAUSE" "$BURST" "$BURST_MS" \
    "$DEMO_KEY" "$DEMO_SECRET" "$INSTANCE" "$REGION" "$work/metrics.prom"
echo "pushes the daemon logged since start: $(grep -c 'push finished' "$work/daemon.log" || true)"
echo "uptime at end: $(uptime)"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" || true
DAEMON_PID=""
