#!/usr/bin/env python3
"""CPU seconds llama-mtmd-cli spends encoding one image, for comparing encoders on a shared (loaded) machine.

llama-mtmd-cli prints "encoding mtmd batch, ..." before and "mtmd batch encoding done in N ms" after the encoder runs
(llama.cpp de3ff81; the helper's "encoding image slice..." / "image slice encoded in N ms" in other versions), a wall
time that means nothing when other processes share the cores. This runs it with its log on a pipe and reads the process's
CPU time (utime + stime from /proc/PID/stat) as each of those two lines arrives; the difference is the encode's CPU
time, all threads together, without model loading or the text prefill around it.

    tools/mtmd_encode_cpu.py /work/llama/build-native/bin/llama-mtmd-cli -m TEXT.gguf --mmproj MMPROJ.gguf \\
        --image IMG -p Describe -n 1 -t 1

Prints one line: encode wall ms (llama's own figure), encode CPU seconds, and the process's CPU seconds in all.
"""
import os
import re
import subprocess
import sys

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    p = subprocess.Popen(argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, bufsize=1)
    start = end = None
    wall_ms = None
    last = 0.0
    for line in p.stderr:
        try:
            last = cpu_seconds(p.pid)
        except FileNotFoundError:
            pass
        if ("encoding mtmd batch" in line or "encoding image slice" in line) and start is None:
            start = last
        m = re.search(r"(?:mtmd batch encoding done|image slice encoded) in (\d+) ms", line)
        if m and end is None:
            end = last
            wall_ms = int(m.group(1))
    p.wait()
    if start is None or end is None:
        sys.exit(f"llama-mtmd-cli exited {p.returncode} without the encode lines (is the log level at info?)")
    print(f"encode wall {wall_ms} ms, encode cpu {end - start:.2f} s (process cpu {start:.2f} s before it, {end:.2f} s after),"
          f" process cpu {last:.2f} s (at its last log line)")


if __name__ == "__main__":
    main(sys.argv)
