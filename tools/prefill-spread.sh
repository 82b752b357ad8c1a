#!/usr/bin/env bash
# Prompt processing in many fresh JVMs (issue 16, docs/PERFORMANCE.md "Why pp512 differed from one JVM to the next"):
# runs dev.jemma.core.model.PrefillSpread (jemma-core's test sources) N times and appends one JSON line per JVM to
# OUT/summary.jsonl (wall t/s per run, process and per-thread CPU ms per token, bytes allocated per token, JIT time
# in the timed runs, the timed runs' top frames from a flight recording), keeping each JVM's -XX:+PrintCompilation
# log as OUT/I.out. Then summarizes the distribution.
#   usage: tools/prefill-spread.sh MODEL THREADS N OUT [java options, e.g. -XX:UseAVX=2]
#   needs: mvn -o test-compile -pl jemma-core -am; mvn -o dependency:build-classpath -pl jemma-core -Dmdep.outputFile=cp.txt
#   env:   PROMPT (512), RUNS (timed runs per JVM, 3), CLASSES (classes:test-classes, default this checkout's)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
model=$1 threads=$2 n=$3 out=$4
shift 4
java="$("$root/bin/find-jdk")/bin/java"
classes=${CLASSES:-$root/jemma-core/target/classes:$root/jemma-core/target/test-classes}
mkdir -p "$out"
for i in $(seq 1 "$n"); do
  # the launcher's flags (./jemma: Parallel GC, 8 MB young generation), as jemma bench runs
  "$java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:-UseTypeSpeculation -XX:+UseParallelGC -Xmn8m -Xss4m "$@" \
    -Djfr=true -XX:+PrintCompilation -cp "$classes:$(cat "$root/cp.txt")" dev.jemma.core.model.PrefillSpread \
    "$model" "${PROMPT:-512}" "$threads" "${RUNS:-3}" > "$out/$i.out" 2> "$out/$i.err"
  line=$(grep -o '{"bits".*' "$out/$i.out") # PrintCompilation may share the line
  echo "{\"i\":$i,\"at\":\"$(date -u +%T)\",\"load\":$(cut -d' ' -f1 /proc/loadavg),${line#\{}" >> "$out/summary.jsonl"
done
python3 "$root/tools/prefill_spread_summary.py" "$out/summary.jsonl"
