#!/usr/bin/env bash
# The first load a fresh `jemma serve` meets (issue 19, docs/PERFORMANCE.md "Serving", serve20): how long the model took to
# load and warm up (wall and CPU, until the server prints its models), then C streaming clients sending N requests
# (P-token prompts, G tokens, no loadtest warm-up): the server's CPU over the load, the heap it allocated (summed from
# its GC log), the first wave's TTFTs, and which Jemma methods were deoptimized after the warm-up (a kernel shape the
# warm-up did not run: the method then runs uncompiled, boxing its vectors, until C2 compiles it again).
#
# usage: tools/serve-first-load.sh CHECKOUT MODEL.gguf [C (8)] [N (16)] [P (128)] [G (32)]
# env:   THREADS (2), OUT (default /tmp/serve-first-load), TAG (a name for the files, default "run"), CLIENT (the
#        checkout whose `jemma loadtest` drives the load; default this script's own, so both sides of an A/B get one client)
# Alternate two checkouts for an A/B on a loaded host: for r in 1 2 3; do TAG=a$r …; TAG=b$r …; done
set -uo pipefail
dir="$(readlink -f "${1:?usage: tools/serve-first-load.sh CHECKOUT MODEL.gguf [C] [N] [P] [G]}")"
model="$(readlink -f "${2:?MODEL.gguf}")"
c="${3:-8}" n="${4:-16}" p="${5:-128}" g="${6:-32}"
out="${OUT:-/tmp/serve-first-load}/${TAG:-run}"
mkdir -p "$out"
name="$(basename "$model" .gguf)"
client="$(readlink -f "${CLIENT:-$(dirname "$(readlink -f "$0")")/..}")"
port=$((18800 + RANDOM % 90))
"$dir/jemma" --version > /dev/null 2>&1 # build first: the load time below is the server's alone
"$client/jemma" --version > /dev/null 2>&1
JEMMA_JAVA_OPTS="-Xlog:gc:file=$out/gc.log:uptimemillis -Xlog:deoptimization=debug:file=$out/deopt.log:uptimemillis" \
  "$dir/jemma" serve -m "$model" -t "${THREADS:-2}" --parallel "$c" --host 127.0.0.1 --port "$port" > "$out/serve.log" 2>&1 &
pid=$!
t0=$(date +%s%N)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
# /api/version answers while the -m models still load; /health says 503 until they are loaded (and warmed up)
for _ in $(seq 1 6000); do curl -sf -o /dev/null "http://127.0.0.1:$port/health" && break; kill -0 $pid 2>/dev/null || exit 1; sleep 0.1; done
ready=$(( ($(date +%s%N) - t0) / 1000000 )) cpu0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
"$client/jemma" loadtest --url "http://127.0.0.1:$port" -m "$name" -C "$c" -n "$n" -p "$p" -g "$g" --tokenizer "$model" \
  --warmup 0 --json > "$out/load.json"
cpu1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
kill $pid; wait $pid 2>/dev/null
trap - EXIT
python3 - "$out" "$ready" "$cpu0" "$cpu1" "$(cut -d' ' -f1-3 /proc/loadavg)" "${TAG:-run}" <<'PY'
import json, re, sys
out, ready, cpu0, cpu1, load, tag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
j = json.load(open(out + "/load.json"))
# the heap allocated after ready: each collection's heap before it, less the heap after the one before (JVM uptime ~ wall
# since the launch: the JVM starts within a few hundred ms of it, which only moves the first collection in or out)
events = [(int(m.group(1)), int(m.group(2)), int(m.group(3))) for m in
          (re.search(r"\[(\d+)ms\].*?(\d+)M->(\d+)M", l) for l in open(out + "/gc.log")) if m]
alloc, after = 0, None
for t, before, a in events:
    if after is not None and t >= ready:
        alloc += max(0, before - after)
    after = a
late = set()
for l in open(out + "/deopt.log"):
    m = re.search(r"\[(\d+)ms\]", l)
    s = re.search(r"dev\.jemma\.[\w.$]+", l)
    if m and s and int(m.group(1)) >= ready and "Unloading" not in l:
        late.add(".".join(s.group(0).split(".")[-2:]))
first = sorted(j["per_request"], key=lambda x: x["sent_ms"])[:int(j["concurrency"])]
ttft = [x["ttft_ms"] for x in first if "ttft_ms" in x]
gen = max(1, j["generated_tokens"])
print(f"{tag}: load average {load} | ready {ready / 1000:.1f} s wall, {cpu0 / 100:.1f} s CPU | the load: {(cpu1 - cpu0) / 100:.1f} s CPU, "
      f"{j['generated_tokens']} tokens, {j['tokens_per_s']:.1f} tok/s, heap allocated ~{alloc} MB ({alloc * 1024 / gen:.0f} KB per token) | "
      f"first wave sent {first[0]['sent_ms']:.0f}-{first[-1]['sent_ms']:.0f} ms, TTFT {min(ttft):.0f}-{max(ttft):.0f} ms | "
      f"TTFT p50 / p95 {j['ttft_ms_p50']:.0f} / {j['ttft_ms_p95']:.0f} ms | Jemma methods deoptimized after ready: {' '.join(sorted(late)) or 'none'}")
PY
