#!/usr/bin/env bash
# Serving benchmark (issue 19): the same concurrent load against llama-server and jemma serve, one server at a time,
# measured by one client (jemma loadtest), for each concurrency C:
#   llama-server -m FILE -t T -np C -c (C x 2048)      vs      jemma serve -m FILE -t T --parallel C
# C streaming clients send N requests in all, each a P-token prompt (exact, sized with the file's tokenizer; distinct
# openings, so no request reuses another's cached prefix) generating G tokens (ignore_eos). Then the "intrusion" case:
# 3 streams generate while one 2,000-token prompt arrives; their inter-token p95 with and without it.
#
# usage: tools/serve-bench.sh MODEL.gguf [C ...]                (default C: 1 2 4 8)
# env:   LLAMA_SERVER (default /work/llama/build-native/bin/llama-server), THREADS (2), P (128), G (128), N (32),
#        OUT (a results directory, default serve-bench-<date>), SKIP_LLAMA=1 / SKIP_JEMMA=1 to run one side only,
#        CHUNKS="8 16 32 64" to also run Jemma's intrusion case with each --batch-chunk (the default's sweep),
#        ONE_STREAM=1 to also run the intrusion case with one stream instead of 3,
#        JEMMA_SERVE_FLAGS="--admission-window 0 ..." extra flags for every jemma serve it starts (A/B runs).
# Prints a Markdown table for docs/PERFORMANCE.md ("Serving") and keeps every JSON report and server log in OUT.
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
model="${1:?usage: tools/serve-bench.sh MODEL.gguf [C ...]}"
shift
cs=("$@")
[ ${#cs[@]} -gt 0 ] || cs=(1 2 4 8)
model="$(readlink -f "$model")"
[ -f "$model" ] || { echo "serve-bench: no such file: $model" >&2; exit 1; }
llama="${LLAMA_SERVER:-/work/llama/build-native/bin/llama-server}"
threads="${THREADS:-2}" p="${P:-128}" g="${G:-128}" n="${N:-32}"
out="${OUT:-serve-bench-$(date -u +%Y%m%dT%H%M%S)}"
mkdir -p "$out"
jemma="$root/jemma"
name="$(basename "$model" .gguf)"
jport=18434 lport=18435
if [ -z "${SKIP_LLAMA:-}" ] && [ ! -x "$llama" ]; then
  echo "serve-bench: $llama not found; build it outside this repository, e.g." >&2
  echo "  cmake --build /work/llama/build-native --target llama-server -j2    (or set LLAMA_SERVER, or SKIP_LLAMA=1)" >&2
  exit 1
fi

server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
trap stop_server EXIT

# waits until URL answers 200 (a model load can take a while)
wait_for() {
  for _ in $(seq 1 600); do
    if curl -sf -o /dev/null "$1"; then return 0; fi
    kill -0 "$server_pid" 2>/dev/null || { echo "serve-bench: the server exited; see its log in $out" >&2; exit 1; }
    sleep 0.5
  done
  echo "serve-bench: $1 did not come up" >&2
  exit 1
}

# peak resident memory of the server so far (VmHWM), in MB
peak_mb() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$server_pid/status" 2>/dev/null || echo "?"; }

# loadtest SIDE C URL MODEL [extra flags]: one JSON report
loadtest() {
  local side=$1 c=$2 url=$3 m=$4
  shift 4
  "$jemma" loadtest --url "$url" -m "$m" -C "$c" -n "$n" -p "$p" -g "$g" --tokenizer "$model" --warmup 2 --json "$@" \
    > "$out/$side-c$c.json"
  echo "$side C=$c: $(cat "$out/$side-c$c.json")" >&2
}

start_llama() {
  "$llama" -m "$model" -t "$threads" -np "$1" -c $(($1 * 2048)) --host 127.0.0.1 --port "$lport" > "$out/llama-server-c$1.log" 2>&1 &
  server_pid=$!
  wait_for "http://127.0.0.1:$lport/health"
}

start_jemma() {
  local c=$1
  shift
  # shellcheck disable=SC2086 # JEMMA_SERVE_FLAGS is a list of flags
  "$jemma" serve -m "$model" -t "$threads" --parallel "$c" --host 127.0.0.1 --port "$jport" ${JEMMA_SERVE_FLAGS:-} "$@" > "$out/jemma-serve-c$c${2:+-k$2}.log" 2>&1 &
  server_pid=$!
  wait_for "http://127.0.0.1:$jport/health"   # 503 until the -m model is loaded and warmed up, as llama-server's
}

for c in "${cs[@]}"; do
  if [ -z "${SKIP_LLAMA:-}" ]; then
    start_llama "$c"
    loadtest llama "$c" "http://127.0.0.1:$lport" "$name"
    echo "$(peak_mb)" > "$out/llama-c$c.rss"
    stop_server
  fi
  if [ -z "${SKIP_JEMMA:-}" ]; then
    start_jemma "$c"
    loadtest jemma "$c" "http://127.0.0.1:$jport" "$name"
    echo "$(peak_mb)" > "$out/jemma-c$c.rss"
    curl -s "http://127.0.0.1:$jport/api/ps" > "$out/jemma-c$c.ps.json" || true
    stop_server
  fi
done

# intrusion: 3 streams (or S) of 256 tokens, undisturbed and with one 2,000-token prompt arriving after 3 s
intrude() {
  local side=$1 url=$2 s=${3:-3}
  "$jemma" loadtest --url "$url" -m "$name" -C "$s" -n "$s" -p 32 -g 256 --tokenizer "$model" --warmup 1 --json > "$out/$side-calm.json"
  "$jemma" loadtest --url "$url" -m "$name" -C "$s" -n "$s" -p 32 -g 256 --tokenizer "$model" --warmup 1 --json \
    --intruder-tokens 2000 --intruder-after 3 > "$out/$side-intruded.json"
}
if [ -z "${SKIP_LLAMA:-}" ]; then start_llama 4; intrude llama "http://127.0.0.1:$lport"; stop_server; fi
if [ -z "${SKIP_JEMMA:-}" ]; then start_jemma 4; intrude jemma "http://127.0.0.1:$jport"; stop_server; fi
# ONE_STREAM=1: the same with a single stream beside the prompt (files *-s1-calm.json / -intruded.json), where a step's
# prompt rows are capped per stream (docs/PERFORMANCE.md, "Run ends and long prompts")
if [ -n "${ONE_STREAM:-}" ]; then
  if [ -z "${SKIP_LLAMA:-}" ]; then start_llama 4; intrude llama-s1 "http://127.0.0.1:$lport" 1; stop_server; fi
  if [ -z "${SKIP_JEMMA:-}" ]; then start_jemma 4; intrude jemma-s1 "http://127.0.0.1:$jport" 1; stop_server; fi
fi
# the --batch-chunk sweep of the intrusion case (files jemma-k<N>-calm.json / -intruded.json)
if [ -z "${SKIP_JEMMA:-}" ]; then
  for k in ${CHUNKS:-}; do start_jemma 4 --batch-chunk "$k"; intrude "jemma-k$k" "http://127.0.0.1:$jport"; stop_server; done
fi

CHUNKS="${CHUNKS:-}" python3 "$root/tools/serve_bench_table.py" "$out" "${cs[@]}"
