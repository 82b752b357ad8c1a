#!/usr/bin/env bash
# CPU time of a running `jemma serve` per generated token, by thread kind (issue 19, docs/PERFORMANCE.md "A batched
# step with two threads"): starts the server, warms it up, snapshots every thread's utime+stime and context switches from
# /proc, runs one `jemma loadtest`, snapshots again, and prints CPU seconds and ms per generated token per thread group
# (jemma-http: the request threads, which sample and lead the steps; jemma-worker: the pool's worker; the JIT, GC, ...),
# and from /metrics the steps, their mean time and the share of the wall time the model ran.
# CPU time rather than wall time, so a shared machine disturbs it less.
#
# usage: tools/serve-cpu.sh MODEL.gguf C N P G [serve flags...]     e.g. tools/serve-cpu.sh FILE 4 8 128 64
# env:   THREADS (2), OUT (a results directory, default /tmp/serve-cpu)
set -uo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
model="$(readlink -f "${1:?usage: tools/serve-cpu.sh MODEL.gguf C N P G [serve flags...]}")"
c=${2:?C} n=${3:?N} p=${4:?P} g=${5:?G}
shift 5
out="${OUT:-/tmp/serve-cpu}"
mkdir -p "$out"
port=$((18600 + RANDOM % 300))
"${JEMMA:-$root/jemma}" serve -m "$model" -t "${THREADS:-2}" --parallel "$c" --host 127.0.0.1 --port "$port" "$@" > "$out/serve-c$c.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
for _ in $(seq 1 600); do curl -sf -o /dev/null "http://127.0.0.1:$port/health" && break; sleep 0.5; done
name="$(basename "$model" .gguf)"
"${JEMMA:-$root/jemma}" loadtest --url "http://127.0.0.1:$port" -m "$name" -C "$c" -n $((2 * c)) -p "$p" -g 16 --tokenizer "$model" --json > /dev/null
snap() {
  for t in /proc/$pid/task/*; do
    local comm st
    comm=$(tr ' ' '_' < "$t/comm" 2>/dev/null) || continue
    st=$(cut -d')' -f2- "$t/stat" 2>/dev/null) || continue
    set -- $st
    echo "$(basename "$t") $comm $((${12} + ${13})) $(awk '/^voluntary/ {v=$2} /^nonvoluntary/ {n=$2} END {print v+0, n+0}' "$t/status" 2>/dev/null)"
  done
}
# the model's share of the run: jemma_step_seconds (each step's forward) and rows from /metrics, before and after
metrics() { curl -s "http://127.0.0.1:$port/metrics" | grep -E '^jemma_(step_seconds|batch_rows)_(sum|count) ' || true; }
metrics > "$out/metrics-before-c$c"
snap > "$out/before-c$c"
"${JEMMA:-$root/jemma}" loadtest --url "http://127.0.0.1:$port" -m "$name" -C "$c" -n "$n" -p "$p" -g "$g" --tokenizer "$model" --warmup 0 --json > "$out/loadtest-c$c.json"
snap > "$out/after-c$c"
metrics > "$out/metrics-after-c$c"
tok=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['generated_tokens'])" "$out/loadtest-c$c.json")
echo "C=$c: $(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('%d tokens, %.1f tok/s, TTFT p50 %.0f ms, inter-token p95 %.1f ms' % (d['generated_tokens'], d['tokens_per_s'], d['ttft_ms_p50'], d['itl_ms_p95']))" "$out/loadtest-c$c.json")"
python3 - "$out/metrics-before-c$c" "$out/metrics-after-c$c" "$out/loadtest-c$c.json" <<'PY'
import json, sys
def read(f): return {l.split()[0]: float(l.split()[1]) for l in open(f) if l.strip()}
a, b = read(sys.argv[1]), read(sys.argv[2])
d = {k: b[k] - a.get(k, 0) for k in b}
wall = json.load(open(sys.argv[3]))['wall_seconds']
n = d.get('jemma_step_seconds_count', 0)
if n > 0:
    print("  model steps: %d of %.2f rows, mean %.1f ms; the model ran %.1f s of the run's %.1f s wall (%.0f %%; the rest: between"
          " steps and between requests)" % (n, d['jemma_batch_rows_sum'] / n, 1000 * d['jemma_step_seconds_sum'] / n,
          d['jemma_step_seconds_sum'], wall, 100 * d['jemma_step_seconds_sum'] / wall))
PY
# clock ticks (100 per second) per thread, summed by thread name without its number; threads born during the run count from 0
awk -v tok="$tok" 'FNR == NR { b[$1] = $3; bv[$1] = $4; bn[$1] = $5; next }
  { g = $2; sub(/[-#_]?[0-9]+$/, "", g); if ($2 ~ /^qtp/) g = "qtp(jetty)"; d = $3 - b[$1]; cpu[g] += d; v[g] += $4 - bv[$1]; nv[g] += $5 - bn[$1]; tot += d }
  END { for (k in cpu) if (cpu[k] > 0) printf "  %-18s %8.2f s CPU  %7.2f ms/token  voluntary switches %d, preempted %d\n", k, cpu[k] / 100, cpu[k] * 10 / tok, v[k], nv[k];
        printf "  %-18s %8.2f s CPU  %7.2f ms/token\n", "all threads", tot / 100, tot * 10 / tok }' "$out/before-c$c" "$out/after-c$c" | sort -k2 -nr
