#!/usr/bin/env bash
# Process CPU per generated token of llama-server and jemma serve under the same load, alternated server by server for
# ROUNDS rounds (issue 19): each server is started, warmed up by loadtest's --warmup requests, its process CPU
# (utime + stime of every thread, /proc/PID/stat) read before and after one `jemma loadtest -C C -n N -p P -g G`, and
# CPU seconds, ms of CPU per generated token, aggregate tokens/s and TTFT p50/p95 printed per run. CPU time rather than
# wall time, so a shared machine disturbs it less (llama.cpp's threads spin while they wait for each other: on an
# oversubscribed host that spinning is CPU it spends, and counts).
#
# usage: tools/serve-cpu-vs.sh MODEL.gguf C N P G [ROUNDS]      e.g. tools/serve-cpu-vs.sh FILE 8 16 128 128 2
# env:   LLAMA_SERVER (default /work/llama/build-native/bin/llama-server), THREADS (2), OUT (default /tmp/serve-cpu-vs),
#        JEMMA_SERVE_FLAGS (extra flags for jemma serve), SKIP_LLAMA=1
set -uo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
model="$(readlink -f "${1:?usage: tools/serve-cpu-vs.sh MODEL.gguf C N P G [ROUNDS]}")"
c=${2:?C} n=${3:?N} p=${4:?P} g=${5:?G} rounds=${6:-2}
llama="${LLAMA_SERVER:-/work/llama/build-native/bin/llama-server}"
threads="${THREADS:-2}" out="${OUT:-/tmp/serve-cpu-vs}"
mkdir -p "$out"
name="$(basename "$model" .gguf)"
port=$((18300 + RANDOM % 200))
tck=$(getconf CLK_TCK)
pid=""
trap '[ -n "$pid" ] && kill $pid 2>/dev/null' EXIT
cpu() { awk -v t="$tck" '{print ($14 + $15) / t}' "/proc/$1/stat"; }
run() { # SIDE ROUND
  local side=$1 r=$2
  if [ "$side" = llama ]; then
    "$llama" -m "$model" -t "$threads" -np "$c" -c $((c * 2048)) --host 127.0.0.1 --port "$port" > "$out/$side-$r.log" 2>&1 &
    pid=$!; up="http://127.0.0.1:$port/health"
  else
    # shellcheck disable=SC2086
    "$root/jemma" serve -m "$model" -t "$threads" --parallel "$c" --host 127.0.0.1 --port "$port" ${JEMMA_SERVE_FLAGS:-} > "$out/$side-$r.log" 2>&1 &
    pid=$!; up="http://127.0.0.1:$port/health"   # 503 until the model is loaded
  fi
  for _ in $(seq 1 1200); do curl -sf -o /dev/null "$up" && break; sleep 0.5; done
  local jpid; jpid=$(pgrep -P "$pid" java || echo "$pid"); [ -d "/proc/$jpid" ] || jpid=$pid
  "$root/jemma" loadtest --url "http://127.0.0.1:$port" -m "$name" -C "$c" -n "$c" -p "$p" -g 16 --tokenizer "$model" --json > /dev/null
  local c0; c0=$(cpu "$jpid")
  "$root/jemma" loadtest --url "http://127.0.0.1:$port" -m "$name" -C "$c" -n "$n" -p "$p" -g "$g" --tokenizer "$model" \
    --warmup 0 --json > "$out/$side-$r.json"
  local c1; c1=$(cpu "$jpid")
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=""
  python3 - "$out/$side-$r.json" "$side" "$r" "$c0" "$c1" "$(cat /proc/loadavg | cut -d' ' -f1)" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); side, r, c0, c1, load = sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
cpu = c1 - c0; tok = j["generated_tokens"]
print(f"{side:6} round {r}: CPU {cpu:7.1f} s for {tok} tokens = {1000 * cpu / max(tok, 1):6.1f} ms/token; "
      f"{j['tokens_per_s']:6.2f} tok/s wall, TTFT p50 {j['ttft_ms_p50'] / 1000:.1f} s p95 {j['ttft_ms_p95'] / 1000:.1f} s, "
      f"inter-token p95 {j['itl_ms_p95']:.0f} ms (load {load})", flush=True)
PY
}
for r in $(seq 1 "$rounds"); do
  [ -z "${SKIP_LLAMA:-}" ] && run llama "$r"
  run jemma "$r"
done
