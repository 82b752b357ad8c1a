#!/usr/bin/env python3
"""Writes reference blocks for Jemma's quantizer tests with gguf-py's gguf.quants.quantize (bit-exact with ggml's
reference rounding for Q8_0/Q4_0/Q4_1/Q5_0/Q5_1, and with its BF16 conversion).

Output: jemma-tools/src/test/resources/quant/reference.bin
  magic 'JQRF', u32 n (floats), n f32 input, then per type: u32 ggml type id, u32 byte count, bytes.
The input mixes Gaussian rows, rows with outliers, an all-zero block, blocks with exact ties of +/- max, -0.0,
values that land exactly on rounding midpoints, and tiny/huge magnitudes (f16 subnormals / overflow-free).
"""
import struct
import sys
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants

rng = np.random.default_rng(20261123)
blocks = []
blocks.append(rng.standard_normal((48, 32)).astype(np.float32))
o = rng.standard_normal((8, 32)).astype(np.float32); o[:, 5] *= 40; blocks.append(o)
blocks.append(np.zeros((1, 32), np.float32))
t = rng.standard_normal((1, 32)).astype(np.float32); t[0, 3] = 2.0; t[0, 9] = -2.0; blocks.append(t)
z = rng.standard_normal((1, 32)).astype(np.float32); z[0, ::4] = -0.0; blocks.append(z)
m = (np.arange(32, dtype=np.float32) - 16) / 2; blocks.append(m[None, :])          # exact midpoints
m2 = (np.arange(32, dtype=np.float32) - 16) * 0.25; blocks.append(m2[None, :])
blocks.append((rng.standard_normal((1, 32)) * 1e-6).astype(np.float32))          # f16 subnormal scales
blocks.append((rng.standard_normal((1, 32)) * 300).astype(np.float32))
blocks.append(np.full((1, 32), 0.75, np.float32))                                 # constant positive
blocks.append(np.full((1, 32), -1.5, np.float32))                                 # constant negative
pos = np.abs(rng.standard_normal((2, 32))).astype(np.float32) + 1; blocks.append(pos)  # min > 0
x = np.concatenate(blocks).reshape(-1)

out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent /
           "jemma-tools/src/test/resources/quant/reference.bin")
out.parent.mkdir(parents=True, exist_ok=True)
with open(out, "wb") as f:
    f.write(b"JQRF")
    f.write(struct.pack("<I", x.size))
    f.write(x.astype("<f4").tobytes())
    for qt in (T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.BF16, T.F16):
        q = np.asarray(quants.quantize(x.reshape(-1, 32), qt)).tobytes()
        f.write(struct.pack("<II", int(qt), len(q)))
        f.write(q)
print(out, x.size, "floats")
