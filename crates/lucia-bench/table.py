#!/usr/bin/env python3
"""Markdown table of lucia-bench's JSON lines (stdin), as in BENCHMARKS.md.

    cargo run --release -p lucia-bench -- --json | tee run.jsonl
    python3 crates/lucia-bench/table.py < run.jsonl

Lines of the lucia@2 peer (`"peer": "lucia@2"`) are rows of their own, and the last column,
"vs lucia@2", gives lucia-rs's ops/s over lucia@2's for the same scenario, backend and in
flight. For `validate_session` (in each token mode: lucia@2 stores ids as they are, like
`v2_compat`) lucia@2 took turns with lucia-rs, and the column is the line's `peer_ratio`, the
median of the slices' own ratios. Issue 9's targets: validate_session >= 2x on SQLite, >= 2.5x
on PostgreSQL at 1 in flight and >= 4x at 32; use_key >= 2.5x.

The sign-in lines (`create_user`, `use_key`, `validate_during_signins`) are measured once per
password hasher (column "hasher": `argon2id`, the default, and `s2`, Lucia v2's scrypt); only
the `s2` lines are compared with lucia@2, which hashes with `s2` too.
"""

import json
import sys


def rate(value):
    return f"{value / 1000:.1f}k/s" if value >= 1000 else f"{value:.0f}/s"


MEMORY = ("allocations", "concurrent_sign_ins")
everything = [json.loads(line) for line in sys.stdin if line.strip()]
records = [r for r in everything if r["scenario"] not in MEMORY]
memory = [r for r in everything if r["scenario"] in MEMORY]
peers = {(r["scenario"], r["backend"], r["in_flight"]): r for r in records if "peer" in r}

print("| scenario | backend | tokens | hasher | in flight | ops/s | p50 µs | p99 µs | floor | floor ops/s | ratio | vs lucia@2 |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in records:
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
    tokens, versus = r.get("tokens", ""), ""
    if "peer" in r:
        tokens = r["peer"]
    elif "peer_ratio" in r:
        versus = f"{r['peer_ratio']:.2f}x"
    else:
        peer = peers.get((r["scenario"], r["backend"], r["in_flight"]))
        if peer and "hashing" not in r and r.get("hasher", "s2") == "s2":
            versus = f"{r['ops_per_sec'] / peer['ops_per_sec']:.1f}x"
    print(
        f"| {scenario} | {r['backend']} | {tokens} | {r.get('hasher', '')} | {r['in_flight']} "
        f"| {rate(r['ops_per_sec'])} | {r['p50_us']:.0f} | {r['p99_us']:.0f} | {floor} | {floor_rate} | {ratio} "
        f"| {versus} |"
    )

if memory:
    print()
    print("| memory | backend | call | allocations per call | bytes per call | floor's allocations | resident before → peak MiB | hashing bound MiB | finished | refused busy |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in memory:
        if r["scenario"] == "allocations":
            floor = f"{r['floor_allocations_per_op']:.1f}" if "floor_allocations_per_op" in r else ""
            print(
                f"| allocations | {r['backend']} | {r['op']} | {r['allocations_per_op']:.1f} | {r['bytes_per_op']:.0f} "
                f"| {floor} | | | | |"
            )
        else:
            print(
                f"| {r['in_flight']} sign-ins at once | {r['backend']} | use_key | | | "
                f"| {r['rss_before_mib']:.0f} → {r['rss_peak_mib']:.0f} | {r['hashing_bound_mib']:.0f} | {r['finished']} "
                f"| {r.get('busy', '')} |"
            )
