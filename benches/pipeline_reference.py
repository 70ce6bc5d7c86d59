#!/usr/bin/env python3
"""Reference implementation of the inventory pipeline in plain Python, the way a script around
boto3 would do it: json + hashlib.md5 + base64, the same validation rules and the same
first-fit-decreasing packing as ssm-inventoryd (see benches/pipeline.rs).

It generates the same data set as the Rust benchmark (same splitmix64 generator and seed),
times whole passes of the pipeline, and prints a RESULT line with the same digest of the
ContentHashes and the packing, so that benches/run-pipeline.sh can check that both sides did
the same work before it prints a ratio.

Environment: PIPELINE_RUNS (default 3) passes; PIPELINE_ROWS (default 10000) rows per type.
"""

import base64
import hashlib
import json
import os
import re
import statistics
import sys
import time

TYPES = 20
ATTRIBUTES = ["Name", "Version", "Architecture", "Publisher", "InstalledTime", "Summary",
              "PackageId", "Release"]
SEED = 0x53534D49_6E76656E
INSTANCE_ID = "i-0123456789abcdef0"
CAPTURE_TIME = "2026-11-27T10:00:00Z"
MAX_REQUEST_BYTES = 1024 * 1024
MASK = (1 << 64) - 1
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._"

# PutInventory limits, as in src/inventory/limits.rs.
MAX_TYPE_NAME_CHARS = 100
MAX_ROWS = 10_000
MAX_ATTRIBUTES_PER_ROW = 50
MAX_ATTRIBUTE_NAME_CHARS = 64
MAX_ATTRIBUTE_VALUE_CHARS = 4096
MAX_ITEMS_PER_REQUEST = 30
SCHEMA_VERSION = re.compile(r"^[0-9]{1,6}\.[0-9]{1,6}$")
CAPTURE_TIME_RE = re.compile(
    r"^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$")


class Rng:
    def __init__(self, seed):
        self.state = seed

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)


def word_pool(rng):
    words = []
    for _ in range(4096):
        x = rng.next()
        n = 3 + x % 8
        words.append("".join(ALPHABET[(x >> (4 + 6 * i)) & 63] for i in range(n)))
    return words


def value(rng, words):
    x = rng.next()
    n = 1 + (x & 3)
    sep = " " if (x >> 62) & 1 else "-"
    out = sep.join(words[(x >> (2 + 12 * i)) & 4095] for i in range(n))
    if x % 61 == 0:
        out += " say \"hi\"\\\tÜnïcode €"
    return out


def generate(rows_per_type, types=TYPES):
    rng = Rng(SEED)
    words = word_pool(rng)
    items = []
    for t in range(types):
        rows = [{a: value(rng, words) for a in ATTRIBUTES} for _ in range(rows_per_type)]
        items.append({"TypeName": "Custom:Bench%02d" % t, "SchemaVersion": "1.0",
                      "CaptureTime": CAPTURE_TIME, "Content": rows})
    return items


class InvalidItem(Exception):
    pass


def validate(item):
    type_name = item["TypeName"]
    if not type_name or len(type_name) > MAX_TYPE_NAME_CHARS:
        raise InvalidItem(f"bad TypeName length: {type_name!r}")
    if not type_name.startswith("Custom:") or type_name == "Custom:":
        raise InvalidItem(f"bad TypeName: {type_name!r}")
    if not SCHEMA_VERSION.match(item["SchemaVersion"]):
        raise InvalidItem(f"{type_name}: bad SchemaVersion")
    if not CAPTURE_TIME_RE.match(item["CaptureTime"]):
        raise InvalidItem(f"{type_name}: bad CaptureTime")
    rows = item["Content"]
    if len(rows) > MAX_ROWS:
        raise InvalidItem(f"{type_name}: {len(rows)} rows")
    seen = set()
    folded = {}
    for index, row in enumerate(rows):
        if len(row) > MAX_ATTRIBUTES_PER_ROW:
            raise InvalidItem(f"{type_name}: row {index} has {len(row)} attributes")
        for name, val in row.items():
            if name not in seen:
                if not name or len(name) > MAX_ATTRIBUTE_NAME_CHARS:
                    raise InvalidItem(f"{type_name}: row {index}: bad attribute name {name!r}")
                first = folded.setdefault(name.lower(), name)
                if first != name:
                    raise InvalidItem(f"{type_name}: row {index}: {name} vs {first}")
                seen.add(name)
            if not isinstance(val, str) or len(val) > MAX_ATTRIBUTE_VALUE_CHARS:
                raise InvalidItem(f"{type_name}: row {index}: bad value for {name}")


def dumps(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def canonicalise(item):
    """Rows as compact JSON with sorted keys, sorted by their bytes; ContentHash = base64(md5)."""
    encoded = sorted((json.dumps(row, separators=(",", ":"), ensure_ascii=False,
                                 sort_keys=True).encode(), i)
                     for i, row in enumerate(item["Content"]))
    content = b"[" + b",".join(e for e, _ in encoded) + b"]"
    content_hash = base64.b64encode(hashlib.md5(content).digest()).decode()
    rows = [item["Content"][i] for _, i in encoded]
    return {"TypeName": item["TypeName"], "SchemaVersion": item["SchemaVersion"],
            "CaptureTime": item["CaptureTime"], "ContentHash": content_hash,
            "Content": rows}, len(content)


def pack(sizes, names, overhead, max_bytes):
    """First-fit decreasing, ties by TypeName, as src/batch.rs."""
    order = sorted(range(len(sizes)), key=lambda i: (-sizes[i], names[i], i))
    requests = []  # [items, bytes, oversized]
    for i in order:
        size = sizes[i]
        lone = overhead + size
        if lone > max_bytes:
            requests.append([[i], lone, True])
            continue
        for r in requests:
            if not r[2] and len(r[0]) < MAX_ITEMS_PER_REQUEST and r[1] + 1 + size <= max_bytes:
                r[0].append(i)
                r[1] += 1 + size
                break
        else:
            requests.append([[i], lone, False])
    return requests


def pipeline(raw_items):
    items = []
    content_bytes = 0
    for raw in raw_items:
        validate(raw)
        item, n = canonicalise(raw)
        items.append(item)
        content_bytes += n
    sizes = [len(dumps(item).encode()) for item in items]
    overhead = len(dumps({"InstanceId": INSTANCE_ID, "Items": []}).encode())
    requests = pack(sizes, [i["TypeName"] for i in items], overhead, MAX_REQUEST_BYTES)
    return items, requests, content_bytes


def digest(items, requests):
    h = hashlib.md5()
    for item in items:
        h.update(f"{item['TypeName']}={item['ContentHash']}\n".encode())
    for members, size, _ in requests:
        names = ",".join(items[i]["TypeName"] for i in members)
        h.update(f"{names}:{size}\n".encode())
    return h.hexdigest()


def main():
    runs = max(1, int(os.environ.get("PIPELINE_RUNS", "3")))
    rows = int(os.environ.get("PIPELINE_ROWS", "10000"))
    start = time.perf_counter()
    data = generate(rows)
    print(f"generated {TYPES} types x {rows} rows x {len(ATTRIBUTES)} attributes in "
          f"{time.perf_counter() - start:.2f}s", file=sys.stderr)
    times = []
    result = None
    for _ in range(runs):
        start = time.perf_counter()
        result = pipeline(data)
        times.append(time.perf_counter() - start)
    items, requests, content_bytes = result
    median = statistics.median(times)
    mbps = content_bytes / median / 1e6
    print(f"python reference ({sys.version.split()[0]}): {content_bytes} content bytes, "
          f"{len(requests)} requests")
    print(f"python reference: median of {runs} runs {median * 1e3:.1f} ms "
          f"({' '.join(f'{t * 1e3:.1f}' for t in times)} ms) = {mbps:.2f} MB/s")
    print(f"RESULT impl=python seconds={median:.6f} content_bytes={content_bytes} "
          f"mbps={mbps:.2f} requests={len(requests)} digest={digest(items, requests)}")


if __name__ == "__main__":
    main()
