#!/usr/bin/env bash
# The admission window, before/after (issue 19, docs/PERFORMANCE.md "The admission window and serving allocation"): two
# builds of jemma (checkouts with their jars built), alternated round by round on one model, each round per build:
# start `jemma serve --parallel 8`, then
#   lone: C = 1 (N requests one after another, P-token prompts, G = 16) — what a lone request's TTFT pays;
#   wave: C = 8 (2 x 8 requests, P-token prompts, G tokens)   — whether each wave of 8 enters one step;
# and the server's CPU time (utime + stime from /proc) over each load. A wave "entered whole" when its 8 first tokens
# came within SPLIT_MS of each other (split, the first prompt's step runs alone and its first token comes a whole
# prompt step, ~0.5 s and more, before the others'; the summary then gives the groups' sizes, e.g. 1+7). Requests sent
# together: each less than 200 ms after the one before (a closed loop's later waves are whole only if the earlier were).
#
# usage: tools/serve-admission-ab.sh MODEL.gguf BEFORE_CHECKOUT AFTER_CHECKOUT [ROUNDS (2)]
# env:   THREADS (2), P (128), G (32), N (8: the lone requests), OUT (default /tmp/serve-admission-ab),
#        BEFORE_FLAGS / AFTER_FLAGS (extra jemma serve flags for that side), SPLIT_MS (300)
set -uo pipefail
model="$(readlink -f "${1:?usage: tools/serve-admission-ab.sh MODEL.gguf BEFORE_CHECKOUT AFTER_CHECKOUT [ROUNDS]}")"
before="$(readlink -f "${2:?BEFORE_CHECKOUT}")" after="$(readlink -f "${3:?AFTER_CHECKOUT}")" rounds="${4:-2}"
threads="${THREADS:-2}" p="${P:-128}" g="${G:-32}" n="${N:-8}" split="${SPLIT_MS:-300}"
out="${OUT:-/tmp/serve-admission-ab}"
mkdir -p "$out"
name="$(basename "$model" .gguf)"
port=$((18700 + RANDOM % 200))
pid=""
stop() { [ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=""; }; }
trap stop EXIT
cpu() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$pid/stat"; }

run_side() {
  local side=$1 dir=$2 round=$3 flags=$4
  # shellcheck disable=SC2086
  "$dir/jemma" serve -m "$model" -t "$threads" --parallel 8 --host 127.0.0.1 --port "$port" $flags > "$out/$side-r$round.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 1200); do curl -sf -o /dev/null "http://127.0.0.1:$port/health" && break; sleep 0.5; done
  local c0 c1 c2
  c0=$(cpu)
  "$dir/jemma" loadtest --url "http://127.0.0.1:$port" -m "$name" -C 1 -n "$n" -p "$p" -g 16 --tokenizer "$model" --warmup 1 \
    --json > "$out/$side-r$round-lone.json"
  c1=$(cpu)
  "$dir/jemma" loadtest --url "http://127.0.0.1:$port" -m "$name" -C 8 -n 16 -p "$p" -g "$g" --tokenizer "$model" --warmup 2 \
    --json > "$out/$side-r$round-wave.json"
  c2=$(cpu)
  stop
  python3 - "$out/$side-r$round-lone.json" "$out/$side-r$round-wave.json" "$side" "$round" "$c0" "$c1" "$c2" "$split" "$(cut -d' ' -f1 /proc/loadavg)" <<'EOF'
import json, sys
lone, wave = (json.load(open(f)) for f in sys.argv[1:3])
side, rnd = sys.argv[3], sys.argv[4]
c0, c1, c2, split = float(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8])
lt = sorted(r["ttft_ms"] for r in lone["per_request"] if "ttft_ms" in r)
reqs = sorted(wave["per_request"], key=lambda r: r["sent_ms"])
# the requests sent together (each less than 200 ms after the one before): a wave; it entered whole when their first
# tokens all came within SPLIT_MS, else the sizes of its groups of first tokens (e.g. 1+7: the first prompt ran alone)
groups, waves = [], []
for r in reqs:
    if groups and r["sent_ms"] - groups[-1][-1]["sent_ms"] < 200: groups[-1].append(r)
    else: groups.append([r])
for g in groups:
    ft = sorted(r["sent_ms"] + r["ttft_ms"] for r in g if "ttft_ms" in r)
    if len(ft) < 2: continue
    parts = [1]
    for a, b in zip(ft, ft[1:]):
        if b - a > split: parts.append(1)
        else: parts[-1] += 1
    waves.append(f"{len(ft)} sent together: " + ("whole" if len(parts) == 1 else "+".join(map(str, parts))))
wt = sorted(r["ttft_ms"] for r in reqs if "ttft_ms" in r)
gen = sum(r.get("tokens", 0) for r in reqs)
print(f"{side} r{rnd} (load {sys.argv[9]}): lone TTFT ms p50 {lt[len(lt)//2]:.0f} min {lt[0]:.0f} max {lt[-1]:.0f}, "
      f"server CPU {c1 - c0:.2f} s | wave: {', '.join(waves)}; TTFT ms p50 {wt[len(wt)//2]:.0f} max {wt[-1]:.0f}; "
      f"{wave.get('tokens_per_s', wave.get('aggregate_tokens_per_s', '?'))} tok/s; server CPU {c2 - c1:.2f} s, "
      f"{1000 * (c2 - c1) / max(gen, 1):.1f} ms per generated token")
EOF
}

for r in $(seq 1 "$rounds"); do
  run_side before "$before" "$r" "${BEFORE_FLAGS:-}"
  run_side after "$after" "$r" "${AFTER_FLAGS:-}"
done | tee "$out/summary.txt"
