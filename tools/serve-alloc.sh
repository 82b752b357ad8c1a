#!/usr/bin/env bash
# What a serving `jemma serve` allocates (issue 19, docs/PERFORMANCE.md "The admission window and serving allocation"):
# starts the server with JFR (every thread's allocated bytes each second, and the TLAB events with stacks), runs a
# warm-up load and then the measured one (C streaming clients, N requests, P-token prompts, G tokens), dumps the
# recording, and prints the bytes allocated over the measured load (MB/s, KB per generated token, by thread) and the
# allocation sites that weigh most in it (the first Jemma frames of each TLAB event's stack, weighted by TLAB size).
#
# usage: tools/serve-alloc.sh CHECKOUT MODEL.gguf [C (8)] [N (24)] [P (128)] [G (128)]
# env:   THREADS (2), OUT (default /tmp/serve-alloc), TAG (a name for the files, default "run")
set -uo pipefail
dir="$(readlink -f "${1:?usage: tools/serve-alloc.sh CHECKOUT MODEL.gguf [C] [N] [P] [G]}")"
model="$(readlink -f "${2:?MODEL.gguf}")"
c="${3:-8}" n="${4:-24}" p="${5:-128}" g="${6:-128}"
out="${OUT:-/tmp/serve-alloc}" tag="${TAG:-run}"
mkdir -p "$out"
JAVA_HOME="$("$dir/bin/find-jdk")"
export JAVA_HOME
name="$(basename "$model" .gguf)"
port=$((18900 + RANDOM % 90))
JEMMA_JAVA_OPTS="-XX:+UnlockDiagnosticVMOptions -XX:+DebugNonSafepoints -XX:FlightRecorderOptions:stackdepth=64 \
-XX:StartFlightRecording:filename=$out/$tag.jfr,settings=profile,jdk.ThreadAllocationStatistics#period=1s,\
jdk.ObjectAllocationInNewTLAB#enabled=true,jdk.ObjectAllocationOutsideTLAB#enabled=true" \
  "$dir/jemma" serve -m "$model" -t "${THREADS:-2}" --parallel "$c" --host 127.0.0.1 --port "$port" > "$out/$tag.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
for _ in $(seq 1 1200); do curl -sf -o /dev/null "http://127.0.0.1:$port/health" && break; sleep 0.5; done
"$dir/jemma" loadtest --url "http://127.0.0.1:$port" -m "$name" -C "$c" -n $((2 * c)) -p "$p" -g 32 --tokenizer "$model" \
  --json > "$out/$tag-warm.json"
t0=$(date -u +%s.%N)
"$dir/jemma" loadtest --url "http://127.0.0.1:$port" -m "$name" -C "$c" -n "$n" -p "$p" -g "$g" --tokenizer "$model" \
  --json > "$out/$tag-load.json"
t1=$(date -u +%s.%N)
grep VmHWM "/proc/$pid/status" > "$out/$tag.hwm"
kill "$pid"; wait "$pid" 2>/dev/null
trap - EXIT
tokens=$(python3 -c "import json, sys; print(json.load(open(sys.argv[1]))['generated_tokens'])" "$out/$tag-load.json")
echo "$tag: $(cat "$out/$tag.hwm"), $(python3 -c "import json, sys; print('%.2f tok/s' % json.load(open(sys.argv[1]))['tokens_per_s'])" "$out/$tag-load.json")"
# streamed through the JFR API (a recording printed as JSON was 10 GB): bytes per thread over the load, the heaviest sites
"$JAVA_HOME/bin/java" -Dsites="${SITES:-14}" ${SITE:+-Dsite="$SITE"} "$(dirname "$(readlink -f "$0")")/AllocSites.java" \
  "$out/$tag.jfr" "$t0" "$t1" "$tokens"
