"""Summarizes tools/prefill-spread.sh's summary.jsonl files: one row per JVM, then min / median / max per column.

usage: python3 tools/prefill_spread_summary.py OUT/summary.jsonl [more.jsonl ...]
"""
import json
import statistics
import sys


def main(paths):
    for path in paths:
        rows = [json.loads(l) for l in open(path) if l.strip()]
        if not rows:
            continue
        print(f"== {path}: {len(rows)} JVMs, {rows[0]['bits']} bits, {rows[0]['threads']} thread(s), prompt {rows[0]['prompt']}")
        print(f"{'jvm':>3} {'load':>5} {'t/s per run':>20} {'CPU ms/tok':>10} {'per thread':>16} {'alloc B/tok':>11} {'jit ms':>6}  top frames (% of samples)")
        for r in rows:
            top = r.get("top", {})
            tops = ", ".join(f"{k} {v}" for k, v in list(top.items())[:4])
            per = "/".join(f"{c:.2f}" for c in r["thread_cpu_ms_per_token"])
            tps = "/".join(f"{t:.1f}" for t in r["tps"])
            print(f"{r['i']:>3} {r['load']:>5} {tps:>20} {r['proc_cpu_ms_per_token']:>10.3f} {per:>16} "
                  f"{r['alloc_bytes_per_token']:>11.0f} {r['jit_ms_in_timed']:>6}  {tops}")
        # a per-JVM outcome shows as JVM means spreading more than the runs inside one JVM do
        for name, key in (("t/s", "tps"), ("CPU ms/token", "cpu_ms_per_token_runs")):
            per = [r[key] for r in rows if key in r and len(r[key]) > 1]
            if len(per) > 1:
                within = statistics.mean(statistics.variance(v) for v in per) ** 0.5
                between = statistics.stdev(statistics.mean(v) for v in per)
                print(f"  {name}: sd of runs inside a JVM {within:.3f}, sd of JVM means {between:.3f} "
                      f"(runs per JVM {len(per[0])}: a per-JVM effect if the second is well above first/sqrt(runs))")
        cpu = [r["proc_cpu_ms_per_token"] for r in rows]
        tps = [statistics.mean(r["tps"]) for r in rows]
        for name, v in (("CPU ms per token", cpu), ("t/s (JVM mean)", tps)):
            print(f"  {name}: min {min(v):.3f} median {statistics.median(v):.3f} max {max(v):.3f} "
                  f"(max/min {max(v) / min(v):.3f}, sd/mean {statistics.pstdev(v) / statistics.mean(v) * 100:.1f} %)")


if __name__ == "__main__":
    main(sys.argv[1:])
