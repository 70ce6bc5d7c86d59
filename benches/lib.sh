# Shared helpers of the benchmark scripts (sourced, not run). Loopback only: every endpoint is
# the local emulator, every process gets a hermetic AWS environment (the emulator's demo keys,
# empty AWS config files, instance metadata off).

BENCH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEMO_KEY="AKIAIOSFODNN7EXAMPLE"
DEMO_SECRET="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
INSTANCE="i-0123456789abcdef0"
REGION="us-east-1"

# The release binary, built with the shipped profile. Honours CARGO_TARGET_DIR.
# BENCH_BIN=PATH uses that binary instead (it must have the emulator): for comparing two
# daemon builds (DAEMON_BIN, ONCE_BIN) side by side without a third release build.
bench_binary() {
    if [[ -n "${BENCH_BIN:-}" ]]; then
        echo "$BENCH_BIN"
        return
    fi
    (cd "$BENCH_ROOT" && cargo build --release --quiet) >&2
    local target_dir
    target_dir="$(cd "$BENCH_ROOT" && cargo metadata --no-deps --format-version 1 \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
    echo "$target_dir/release/ssm-inventoryd"
}

# bench_workdir: makes the temporary folder $work, and on exit stops the daemon and the
# emulator the script started ($DAEMON_PID, $EMULATOR_PID) and removes the folder.
bench_workdir() {
    work="$(mktemp -d)"
    DAEMON_PID=""
    trap bench_cleanup EXIT
}

bench_cleanup() {
    [[ -n "${DAEMON_PID:-}" ]] && kill "$DAEMON_PID" 2>/dev/null || true
    [[ -n "${EMULATOR_PID:-}" ]] && kill "$EMULATOR_PID" 2>/dev/null || true
    rm -rf "$work"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# hermetic_env WORKDIR: sets the array HENV to an `env -i …` prefix that runs a command with
# only the environment it needs (usable under /usr/bin/time, which cannot run a function).
# BENCH_ENV="NAME=value …" adds variables to every process the scripts start (for comparing one build
# with and without a setting: SSL_CERT_DIR, MALLOC_ARENA_MAX).
hermetic_env() {
    local work="$1"
    local extra=()
    : >"$work/empty"
    read -r -a extra <<<"${BENCH_ENV:-}"
    HENV=(env -i PATH=/usr/bin:/bin HOME="$work" LANG=C.UTF-8 NO_COLOR=1
        RUST_LOG="${RUST_LOG:-warn}"
        AWS_ACCESS_KEY_ID="$DEMO_KEY" AWS_SECRET_ACCESS_KEY="$DEMO_SECRET"
        AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE="$work/empty"
        AWS_SHARED_CREDENTIALS_FILE="$work/empty" AWS_DEFAULT_REGION="$REGION"
        AWS_MAX_ATTEMPTS=1 AWS_PAGER= "${extra[@]}")
}

# ours_env ENDPOINT: sets the array OURS_ENV to what the daemon's own processes get on top of
# HENV. THROUGH_PROXY=1 makes the emulator at ENDPOINT their HTTP proxy too: a proxied request
# takes the TLS connector, so the daemon reads and parses the root certificates as it does on a
# node whose endpoint is HTTPS, without a handshake the emulator cannot answer (it serves the
# proxied requests as its own). The AWS CLI is never proxied.
ours_env() {
    OURS_ENV=()
    if [[ "${THROUGH_PROXY:-}" == 1 ]]; then
        OURS_ENV=(HTTP_PROXY="$1")
        echo "ssm-inventoryd through HTTP_PROXY=$1: the root certificates read as for HTTPS"
    fi
}

# hermetic WORKDIR CMD... : runs CMD in that environment.
hermetic() {
    local work="$1"; shift
    hermetic_env "$work"
    "${HENV[@]}" "$@"
}

# start_emulator BIN WORKDIR PORT [FLAGS...]: starts it in the background, sets EMULATOR_PID,
# waits until it answers GET /stats.
start_emulator() {
    local bin="$1" work="$2" port="$3"; shift 3
    hermetic_env "$work"
    # Not through the `hermetic` function: in the background that would be a subshell, and $!
    # its PID rather than the emulator's (`env` execs the binary, so here $! is the emulator).
    "${HENV[@]}" "$bin" emulator --listen "127.0.0.1:$port" "$@" >"$work/emulator.log" 2>&1 &
    EMULATOR_PID=$!
    for _ in $(seq 1 200); do
        if curl -sf "http://127.0.0.1:$port/stats" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.05
    done
    echo "emulator did not start; log:" >&2
    cat "$work/emulator.log" >&2
    return 1
}

emulator_stats() { # PORT
    curl -sf "http://127.0.0.1:$1/stats"
}

machine_info() {
    echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')," \
        "$(free -m | awk '/^Mem:/ {print $2}') MB RAM, kernel $(uname -r), $(rustc --version)"
    echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min averages at start)"
}

# median of the numbers on stdin
median() {
    sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
