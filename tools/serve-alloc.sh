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
for _ in $(seq 1 1200); do curl -sf -o /dev/null "http://127.0.0.1:$port/api/version" && break; sleep 0.5; done
"$dir/jemma" loadtest --url "http://127.0.0.1:$port" -m "$name" -C "$c" -n $((2 * c)) -p "$p" -g 32 --tokenizer "$model" \
  --json > "$out/$tag-warm.json"
t0=$(date -u +%s.%N)
"$dir/jemma" loadtest --url "http://127.0.0.1:$port" -m "$name" -C "$c" -n "$n" -p "$p" -g "$g" --tokenizer "$model" \
  --json > "$out/$tag-load.json"
t1=$(date -u +%s.%N)
grep VmHWM "/proc/$pid/status" > "$out/$tag.hwm"
kill "$pid"; wait "$pid" 2>/dev/null
trap - EXIT
"$JAVA_HOME/bin/jfr" print --json --stack-depth 24 --events jdk.ThreadAllocationStatistics,jdk.ObjectAllocationInNewTLAB,jdk.ObjectAllocationOutsideTLAB \
  "$out/$tag.jfr" > "$out/$tag-alloc.json"
python3 - "$out/$tag-alloc.json" "$out/$tag-load.json" "$t0" "$t1" "$tag" <<'EOF'
import collections, datetime, json, sys
events = json.load(open(sys.argv[1]))["recording"]["events"]
load = json.load(open(sys.argv[2]))
t0, t1, tag = float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
ts = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
# each thread's allocated bytes: the last sample at or before t0 and the last at or before t1
stats = collections.defaultdict(list)
for e in events:
    if e["type"] == "jdk.ThreadAllocationStatistics":
        v = e["values"]
        stats[(v["thread"]["javaName"] if v.get("thread") else "?", v["thread"]["javaThreadId"] if v.get("thread") else 0)].append((ts(v["startTime"]), v["allocated"]))
by_thread = collections.Counter()
first, last = t1, t0
for key, xs in stats.items():
    xs.sort()
    before = [a for t, a in xs if t <= t0]
    upto = [(t, a) for t, a in xs if t <= t1]
    if not upto: continue
    base = before[-1] if before else 0
    if before: first = min(first, max(t for t, a in xs if t <= t0))
    last = max(last, upto[-1][0])
    by_thread[key[0].split("@")[0].rstrip("0123456789-")] += upto[-1][1] - base
total = sum(by_thread.values())
span = max(last - first, 1e-9) if first < last else t1 - t0
tokens = load.get("generated_tokens", 0)
print(f"{tag}: {total / 1e6:.1f} MB allocated over the load ({t1 - t0:.1f} s wall), {total / 1e6 / (t1 - t0):.2f} MB/s, "
      f"{total / 1e3 / max(tokens, 1):.1f} KB per generated token ({tokens} tokens, {load.get('tokens_per_s', 0):.1f} tok/s)")
for k, b in by_thread.most_common(6): print(f"   {b / 1e6:9.1f} MB  {k}")
sites = collections.Counter()
for e in events:
    if e["type"] == "jdk.ThreadAllocationStatistics": continue
    v = e["values"]
    if not t0 <= ts(v["startTime"]) <= t1: continue
    size = v.get("tlabSize") or v.get("allocationSize") or 0
    fr = v["stackTrace"]["frames"] if v.get("stackTrace") else []
    app = [f for f in fr if f["method"]["type"]["name"].startswith(("dev/jemma", "org/eclipse", "com/fasterxml"))]
    where = " < ".join(f"{f['method']['type']['name'].split('/')[-1]}.{f['method']['name']}:{f['lineNumber']}" for f in app[:3])
    sites[(v["objectClass"]["name"], where)] += size
st = sum(sites.values())
print(f"   TLAB events in the load: {st / 1e6:.1f} MB sampled; heaviest sites:")
for (cls, where), b in sites.most_common(12): print(f"   {b / 1e6:9.1f} MB  {cls}  {where}")
EOF
