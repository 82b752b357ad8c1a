#!/usr/bin/env python3
"""Markdown table of a tools/serve-bench.sh run: python3 tools/serve_bench_table.py OUT_DIR C [C ...]

Reads OUT/{llama,jemma}-cC.json (jemma loadtest --json), OUT/*-cC.rss (peak RSS, MB) and the intrusion reports, and
prints the rows docs/PERFORMANCE.md's "Serving" section takes, with the issue's targets checked.
"""
import json
import os
import sys


def load(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def rss(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return "?"


def main():
    out, cs = sys.argv[1], [int(c) for c in sys.argv[2:]]
    print("| C | server | ok | aggregate tok/s | req/s | TTFT p50 ms | TTFT p95 ms | inter-token p95 ms | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    tps = {}
    for c in cs:
        for side in ("llama", "jemma"):
            r = load(f"{out}/{side}-c{c}.json")
            if r is None:
                continue
            tps[(side, c)] = r["tokens_per_s"]
            name = "llama-server" if side == "llama" else "jemma serve"
            print(f"| {c} | {name} | {r['ok']}/{r['requests']} | {r['tokens_per_s']:.1f} | {r['requests_per_s']:.3f} | "
                  f"{r['ttft_ms_p50']:.0f} | {r['ttft_ms_p95']:.0f} | {r['itl_ms_p95']:.1f} | {rss(f'{out}/{side}-c{c}.rss')} |")
    print()
    j1, j4 = tps.get(("jemma", 1)), tps.get(("jemma", 4))
    if j1 and j4:
        print(f"- jemma C=4 / C=1 aggregate: {j4 / j1:.2f}x (target >= 2.5x)")
    for c in (4, 8):
        j, l = tps.get(("jemma", c)), tps.get(("llama", c))
        if j and l:
            print(f"- jemma / llama-server at C={c}: {j / l:.2f}x (target >= 1.1x)")
    chunks = os.environ.get("CHUNKS", "").split()
    for side in ["llama", "jemma"] + [f"jemma-k{k}" for k in chunks] + ["llama-s1", "jemma-s1"]:
        calm, hit = load(f"{out}/{side}-calm.json"), load(f"{out}/{side}-intruded.json")
        if calm and hit:
            ratio = hit["itl_ms_p95"] / calm["itl_ms_p95"] if calm["itl_ms_p95"] else float("nan")
            r99 = hit["itl_ms_p99"] / calm["itl_ms_p99"] if calm.get("itl_ms_p99") else float("nan")
            extra = f", the 2,000-token prompt's TTFT {hit['intruder_ttft_ms']:.0f} ms" if "intruder_ttft_ms" in hit else ""
            label = side if not side.startswith("jemma-k") else f"jemma --batch-chunk {side[7:]}"
            streams = "1 stream's" if side.endswith("-s1") else "3 streams'"
            print(f"- {label}: {streams} inter-token p95 {calm['itl_ms_p95']:.1f} ms alone, {hit['itl_ms_p95']:.1f} ms while a "
                  f"2,000-token prompt arrives: {ratio:.2f}x (target <= 3x); p99 {calm['itl_ms_p99']:.1f} -> "
                  f"{hit['itl_ms_p99']:.1f} ms ({r99:.2f}x){extra}")


if __name__ == "__main__":
    main()
