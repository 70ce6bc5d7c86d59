#!/usr/bin/env bash
# Peak memory and wall time of `ssm-inventoryd collect` when an exec probe prints hostile
# output of up to max_output_bytes (8 MiB, the default), one shape per run:
#
#   tiny rows        [{"a":"1"},…] as many rows as fit (838,860)
#   wide rows        10,000 rows × 50 attributes (valid: both limits exactly)
#   long value       one string of 8 MB
#   deep             [[[[…]]]] nested 100,000 deep
#   many keys        one object with as many distinct keys as fit (1,020,499)
#   valid item       10,000 rows × 3 attributes (valid)
#
#   benches/output-shapes.sh                       the release build (built if needed)
#   BIN=PATH benches/output-shapes.sh              another build
#   BEFORE_BIN=PATH benches/output-shapes.sh       also an earlier build, for side-by-side figures
#
# The probe `cat`s a generated file; peak RSS (kB) and wall time come from GNU time. Each figure
# is the median of RUNS runs (default 3). No network: collect only runs the probe and prints.
# Targets: peak ≤ 48 MB and the output accepted or refused within 1 s, for every shape.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
export AWS_EC2_METADATA_DISABLED=true

RUNS="${RUNS:-3}"
bin="${BIN:-$(bench_binary)}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

machine_info
echo "binary: $bin"
[[ -n "${BEFORE_BIN:-}" ]] && echo "before: $BEFORE_BIN"

python3 - "$work" <<'EOF'
import itertools, pathlib, sys
work = pathlib.Path(sys.argv[1])
budget = 8 * 1024 * 1024
def write(name, text):
    assert len(text) <= budget, (name, len(text))
    (work / f"{name}.json").write_text(text)
write("tiny-rows", "[" + ",".join(['{"a":"1"}'] * ((budget - 2) // 10)) + "]")
row = "{" + ",".join('"A%02d":"v"' % i for i in range(50)) + "}"
write("wide-rows", "[" + ",".join([row] * 10000) + "]")
write("long-value", '{"V":"' + "x" * (budget - 10) + '"}')
write("deep", "[" * 100000 + "]" * 100000)
alphabet = [chr(c) for c in range(33, 127) if chr(c) not in '"\\']
keys, size = [], 1
for length in range(1, 5):
    for chars in itertools.product(alphabet, repeat=length):
        pair = '"' + "".join(chars) + '":0'
        if size + len(pair) + 1 > budget:
            break
        keys.append(pair)
        size += len(pair) + 1
    else:
        continue
    break
write("many-keys", "{" + ",".join(keys) + "}")
write("valid-item", "[" + ",".join(
    '{"Name":"pkg-%05d","Version":"1.2.%d","Arch":"x86_64"}' % (i, i % 7) for i in range(10000)) + "]")
EOF

hermetic_env "$work"
shapes=(tiny-rows wide-rows long-value deep many-keys valid-item)

# measure LABEL BIN SHAPE: prints one table row.
measure() {
    local label="$1" binary="$2" shape="$3" config="$work/$3.toml" peaks=() walls=() outcome
    printf '[agent]\nprobes_dir = "none"\n\n[[probe]]\nname = "shape"\nkind = "exec"\ntype_name = "Custom:Shape"\ncommand = ["/bin/cat", "%s"]\ntimeout = "120s"\n' \
        "$work/$shape.json" >"$config"
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -o "$work/time" -f '%M %e' "${HENV[@]}" "$binary" --config "$config" collect \
            >"$work/stdout" 2>"$work/stderr" || true
        # GNU time puts "Command exited with non-zero status N" first when the run refuses.
        read -r peak wall < <(tail -1 "$work/time")
        peaks+=("$peak")
        walls+=("$wall")
    done
    if [[ -s "$work/stdout" ]]; then
        outcome="accepted ($(wc -c <"$work/stdout") bytes of item)"
    else
        outcome="refused: $(grep -o 'probe `shape`: .*' "$work/stderr" | head -1 | sed 's/ probe=shape$//' | cut -c16-)"
    fi
    printf '| %-10s | %-6s | %9s | %6s | %s | %s | %s |\n' "$shape" "$label" \
        "$(printf '%s\n' "${peaks[@]}" | median)" "$(printf '%s\n' "${walls[@]}" | median)" \
        "$(printf '%s' "${peaks[*]}" | tr ' ' '/')" "$(printf '%s' "${walls[*]}" | tr ' ' '/')" "$outcome"
}

echo
echo "| shape | build | peak kB | wall s | runs' peaks | runs' walls | outcome |"
echo "|---|---|---:|---:|---|---|---|"
for shape in "${shapes[@]}"; do
    [[ -n "${BEFORE_BIN:-}" ]] && measure before "$BEFORE_BIN" "$shape"
    measure after "$bin" "$shape"
done
echo "(files: $(for s in "${shapes[@]}"; do printf '%s %s B; ' "$s" "$(stat -c %s "$work/$s.json")"; done))"
