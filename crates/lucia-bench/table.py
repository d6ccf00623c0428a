#!/usr/bin/env python3
"""Markdown table of lucia-bench's JSON lines (stdin), as in BENCHMARKS.md.

    cargo run --release -p lucia-bench -- --json | tee run.jsonl
    python3 crates/lucia-bench/table.py < run.jsonl
"""

import json
import sys


def rate(value):
    return f"{value / 1000:.1f}k/s" if value >= 1000 else f"{value:.0f}/s"


print("| scenario | backend | tokens | in flight | ops/s | p50 µs | p99 µs | floor | floor ops/s | ratio |")
print("|---|---|---|---|---|---|---|---|---|---|")
for line in sys.stdin:
    r = json.loads(line)
    floor, floor_rate, ratio = r.get("floor", ""), "", ""
    if "floor_ops_per_sec" in r:
        floor_rate, ratio = rate(r["floor_ops_per_sec"]), f"{r['ratio']:.2f}"
    for other in r.get("other_floors", []):
        floor += f"; {other['floor']}"
        floor_rate += f"; {rate(other['ops_per_sec'])}"
        ratio += f"; {other['ratio']:.2f}"
    if "idle_p99_us" in r:
        floor = f"idle p99 {r['idle_p99_us']:.0f} µs"
        ratio = f"p99 {r['p99_ratio']:.1f}x idle"
    scenario = r["scenario"] + (f" (hashes at {r['hashing']})" if "hashing" in r else "")
    print(
        f"| {scenario} | {r['backend']} | {r.get('tokens', '')} | {r['in_flight']} "
        f"| {rate(r['ops_per_sec'])} | {r['p50_us']:.0f} | {r['p99_us']:.0f} | {floor} | {floor_rate} | {ratio} |"
    )
