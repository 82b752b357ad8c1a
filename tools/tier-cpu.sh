#!/usr/bin/env bash
# One vector-width tier side by side in CPU time per token at ONE thread, for a loaded machine (issue 16): there the
# 2-thread wall-clock t/s of tier runs mean nothing (both programs' threads wait on each other, llama.cpp's spinning), and
# a single thread's CPU seconds per token compare the kernels. Not the issue's 2-thread table: the quiet re-run is that.
#   llama.cpp (LLAMA_DIR/build-{native,avx2,sse} for 512/256/128): three processes, all -t 1 -r 1 --no-warmup —
#     A = -p P -n 0, B = -p 0 -n N, C = -p 1 -n 0 (load + 1 token), user+sys CPU of each (/usr/bin/time);
#     pp ms/token = (A − C)/(P − 1), tg ms/token = (B − C)/(N − 1).
#   Jemma: $JEMMA bench FILE -t 1 -p P -n N -r 1 --json with the tier's JVM flags (-XX:UseAVX=2 / -XX:MaxVectorSize=16)
#     in JEMMA_JAVA_OPTS: pp_cpu_seconds / P and tg_cpu_seconds / N (its timed runs, after its own warm-up runs).
# usage: tools/tier-cpu.sh 512|256|128 FILE.gguf P N      e.g. tools/tier-cpu.sh 128 /work/bench/gemma3-1b-Q4_0.gguf 512 128
# env:   JEMMA (default /work/bench/jemma, the bench launcher of a prebuilt jar), LLAMA_DIR (default /work/llama)
set -uo pipefail
[ $# -eq 4 ] || { echo "usage: tools/tier-cpu.sh 512|256|128 FILE.gguf P N" >&2; exit 2; }
tier=$1 f=$2 p=$3 n=$4
case $tier in 512) build=native jo="" ;; 256) build=avx2 jo="-XX:UseAVX=2" ;; 128) build=sse jo="-XX:MaxVectorSize=16" ;;
  *) echo "tier-cpu.sh: TIER must be 512, 256 or 128 (got '$tier')" >&2; exit 2 ;; esac
[ -f "$f" ] || { echo "tier-cpu.sh: no such model file: $f" >&2; exit 2; }
for v in "$p" "$n"; do [[ "$v" =~ ^[0-9]+$ ]] && [ "$v" -ge 2 ] || { echo "tier-cpu.sh: P and N must be integers >= 2" >&2; exit 2; }; done
lb="${LLAMA_DIR:-/work/llama}/build-$build/bin/llama-bench" jemma="${JEMMA:-/work/bench/jemma}"
[ -x "$lb" ] || { echo "tier-cpu.sh: $lb is missing" >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cpu() { /usr/bin/time -f '%U %S' -o "$tmp/time" "$@" >"$tmp/out" 2>&1 || { echo "tier-cpu.sh: failed: $*" >&2; tail -3 "$tmp/out" >&2; exit 1; }
        awk '{print $1 + $2}' "$tmp/time"; }
echo "== tier $tier $(basename "$f") P=$p N=$n, $(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
a=$(cpu "$lb" -m "$f" -t 1 -p "$p" -n 0 -r 1 --no-warmup) || exit 1
b=$(cpu "$lb" -m "$f" -t 1 -p 0 -n "$n" -r 1 --no-warmup) || exit 1
c=$(cpu "$lb" -m "$f" -t 1 -p 1 -n 0 -r 1 --no-warmup) || exit 1
echo "llama.cpp ($build): process CPU s pp $a, tg $b, load+1 $c"
python3 -c "print('llama.cpp %s: pp %.2f, tg %.2f ms CPU/token' % ('$build', ($a - $c) / ($p - 1) * 1e3, ($b - $c) / ($n - 1) * 1e3))"
JEMMA_JAVA_OPTS="$jo" /usr/bin/time -f '%U %S' -o "$tmp/time" "$jemma" bench "$f" -t 1 -p "$p" -n "$n" -r 1 --json >"$tmp/j" 2>"$tmp/err" \
  || { echo "tier-cpu.sh: jemma bench failed:" >&2; tail -3 "$tmp/err" >&2; exit 1; }
echo "jemma: process CPU s $(awk '{print $1 + $2}' "$tmp/time")"
python3 - "$tmp/j" "$p" "$n" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); p, n = int(sys.argv[2]), int(sys.argv[3])
print("jemma %s bits: pp %.2f, tg %.2f ms CPU/token (wall %.1f / %.1f t/s, not a ratio when loaded)"
      % (d["vector_bits"], d["pp_cpu_seconds"] / p * 1e3, d["tg_cpu_seconds"] / n * 1e3, d["pp_tokens_per_s"], d["tg_tokens_per_s"]))
PY
echo "== end $(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
