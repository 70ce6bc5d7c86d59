#!/usr/bin/env python3
"""Where a process's resident memory is at its peak, by mapping.

    benches/peak_mappings.py COMMAND [ARGS...]

Runs COMMAND (its output discarded), reads /proc/PID/smaps every few milliseconds while it
runs, and prints the sample with the largest total Rss: kB per mapping (file name and
permissions, `[heap]`, `[anon]` for anonymous ones), largest first. Sampling can miss a peak
shorter than its period; the total is printed beside GNU time's figure where a script uses both.
"""
import collections
import subprocess
import sys


def sample(pid):
    try:
        with open(f"/proc/{pid}/smaps") as f:
            text = f.read()
    except OSError:
        return None
    per = collections.Counter()
    mapping = None
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        if not fields[0].endswith(":"):
            name = fields[5].rsplit("/", 1)[-1] if len(fields) > 5 else "[anon]"
            mapping = f"{name} {fields[1]}"
        elif fields[0] == "Rss:":
            per[mapping] += int(fields[1])
    return per


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
    peak = collections.Counter()
    while child.poll() is None:
        now = sample(child.pid)
        if now and sum(now.values()) > sum(peak.values()):
            peak = now
    if child.returncode != 0:
        sys.exit(f"{sys.argv[1]} exited with {child.returncode}")
    print(f"peak sampled: {sum(peak.values())} kB")
    for mapping, kb in peak.most_common(10):
        print(f"{kb:8d} kB  {mapping}")


if __name__ == "__main__":
    main()
