#!/usr/bin/env python3
"""SVG chart of lucia-bench's JSON lines (stdin): validate_session and http_me per backend, in
flight and token mode, lucia-rs beside its floor (the raw driver, or the minimal handler) and
lucia@2, on a logarithmic scale of operations per second. Standard library only.

    cargo run --release -p lucia-bench -- --json | tee run.jsonl
    python3 crates/lucia-bench/chart.py < run.jsonl > crates/lucia-bench/results/chart.svg
"""

import json
import math
import sys
from html import escape

SERIES = [("lucia-rs", "#2b6cb0"), ("floor (raw driver / minimal handler)", "#a0aec0"), ("lucia@2.7.7 (Node)", "#dd6b20")]
BAR, GAP, LABEL_WIDTH, PLOT_WIDTH = 11, 10, 300, 560


def main():
    records = [json.loads(line) for line in sys.stdin if line.strip()]
    peers = {(r["scenario"], r["backend"], r["in_flight"]): r for r in records if "peer" in r}
    groups = []
    for r in records:
        if "peer" in r or r["scenario"] not in ("validate_session", "http_me"):
            continue
        label = f"{r['scenario']} · {r['backend']} · {r['in_flight']} in flight"
        if r.get("tokens"):
            label += f" · {r['tokens']}"
        peer = peers.get((r["scenario"], r["backend"], r["in_flight"]))
        peer_rate = r.get("peer_ops_per_sec", peer and peer["ops_per_sec"])
        # lucia@2 stores session ids as they are: compare it with v2_compat only.
        if r.get("tokens") == "hashed":
            peer_rate = None
        groups.append((label, [r["ops_per_sec"], r.get("floor_ops_per_sec"), peer_rate]))
    if not groups:
        sys.exit("chart.py: no validate_session or http_me lines on stdin")

    values = [v for _, bars in groups for v in bars if v]
    low, high = 10 ** math.floor(math.log10(min(values))), 10 ** math.ceil(math.log10(max(values)))

    def x(value):
        return LABEL_WIDTH + PLOT_WIDTH * (math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low))

    group_height = 3 * BAR + GAP
    top = 60
    height = top + len(groups) * group_height + 40
    width = LABEL_WIDTH + PLOT_WIDTH + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        '<text x="10" y="18" font-size="14" font-weight="bold">lucia-bench: operations per second (log scale)</text>',
    ]
    for i, (name, colour) in enumerate(SERIES):
        out.append(f'<rect x="{10 + i * 230}" y="30" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{24 + i * 230}" y="39">{escape(name)}</text>')
    decade = low
    while decade <= high:
        gx = x(decade)
        out.append(f'<line x1="{gx:.1f}" y1="{top - 6}" x2="{gx:.1f}" y2="{height - 30}" stroke="#e2e8f0"/>')
        out.append(f'<text x="{gx:.1f}" y="{height - 16}" text-anchor="middle">{decade:,.0f}/s</text>')
        decade *= 10
    for g, (label, bars) in enumerate(groups):
        y = top + g * group_height
        out.append(f'<text x="{LABEL_WIDTH - 6}" y="{y + 1.5 * BAR + 4}" text-anchor="end">{escape(label)}</text>')
        for b, value in enumerate(bars):
            if not value:
                continue
            out.append(
                f'<rect x="{LABEL_WIDTH}" y="{y + b * BAR}" width="{max(x(value) - LABEL_WIDTH, 1):.1f}" '
                f'height="{BAR - 1}" fill="{SERIES[b][1]}"><title>{value:,.0f}/s</title></rect>'
            )
            out.append(f'<text x="{x(value) + 3:.1f}" y="{y + b * BAR + BAR - 2}" font-size="9">{value / 1000:.1f}k</text>')
    out.append("</svg>")
    print("\n".join(out))


main()
