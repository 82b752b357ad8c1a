#!/usr/bin/env python3
"""Writes reference blocks for Jemma's quant-format tests (jemma-core QuantFormatsTest).

For each ggml type: a few rows of raw blocks plus gguf-py's dequantization of them
(`gguf.quants.dequantize`, which llama.cpp checks bit-exact against ggml's to_float).

* F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1: seeded random floats quantized with `gguf.quants.quantize`.
* Q2_K Q3_K Q4_K Q5_K Q6_K: gguf-py has no quantizer for these, so blocks are seeded random bytes (every bit
  pattern of the quants, scales and mins is a valid block) with f16 super-block scales of realistic size.
* Every type also gets adversarial rows: zero scales, f16 extremes (max, subnormal, -0), all-ones quant bits,
  constant and outlier blocks. Rows whose dequantized values are not all finite (F16/BF16 inf/NaN) are marked
  so the test checks them bit-exactly but skips the dot product.

Output: jemma-core/src/test/resources/quant/<TYPE>.bin, little-endian:
  magic b"JQR1", u32 ggml type id, u32 rows, u32 cols, u32 bytes per row,
  rows x u8 flag (1 = all finite), raw blocks (rows x bytes per row), f32 dequantized (rows x cols).

Usage: python3 tools/gen_quant_refs.py [--out DIR]   (needs: pip install gguf numpy)
"""
import argparse
import os
import struct
from importlib import metadata

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES

SEED = 20261123
SIMPLE = ["F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"]
KQUANTS = ["Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]
# byte offsets of the f16 scale fields inside one block (d first, then dmin where present)
K_F16_FIELDS = {"Q2_K": [80, 82], "Q3_K": [108], "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208]}


def f16_bytes(v):
    return np.array([v], dtype=np.float16).view(np.uint8)


def simple_rows(name, rng, cols):
    """Float rows to quantize: gaussian rows of different magnitude, then adversarial rows."""
    rows = [rng.standard_normal(cols).astype(np.float32) * s for s in (1.0, 0.02, 30.0, 1e-3)]
    z = np.zeros(cols, np.float32)
    rows.append(z)                                                 # all-zero blocks: d = 0
    rows.append(np.full(cols, 3.25, np.float32))                   # constant blocks (Q4_1/Q5_1: d = 0, m = const)
    alt = np.where(np.arange(cols) % 2 == 0, 1.0, -1.0).astype(np.float32)
    rows.append(alt * 60000.0)                                     # near f16 max: huge scales
    rows.append(alt * 1e-6)                                        # f16-subnormal scales
    outl = (rng.standard_normal(cols) * 1e-3).astype(np.float32)
    outl[::32] = 500.0                                             # one outlier per block, rest crushed to 0
    outl[5::64] = -700.0
    rows.append(outl)
    if name in ("F16", "BF16"):
        special = rng.standard_normal(cols).astype(np.float32)
        vals = [0.0, -0.0, np.inf, -np.inf, np.nan, 65504.0, -65504.0, 2.0 ** -24, -(2.0 ** -24), 6.1e-5, 3.0e38, 1e-40]
        special[:len(vals)] = vals
        rows.append(special)
    return np.stack(rows)


def kquant_rows(name, rng, cols):
    """Raw K-quant blocks: random bytes with chosen f16 scale fields, then adversarial blocks."""
    bs, ts = GGML_QUANT_SIZES[T[name]]
    nb = cols // bs
    fields = K_F16_FIELDS[name]

    def row(d_vals, fill=None):
        raw = rng.integers(0, 256, size=(nb, ts), dtype=np.uint8) if fill is None else np.full((nb, ts), fill, np.uint8)
        for b in range(nb):
            for k, off in enumerate(fields):
                v = d_vals[k] if not callable(d_vals[k]) else d_vals[k]()
                raw[b, off:off + 2] = f16_bytes(v)
        return raw.reshape(-1)

    g = lambda s: (lambda: float(rng.standard_normal() * s))
    rows = [row([g(0.01), g(0.01)]), row([g(0.05), g(0.005)]), row([g(1.0), g(1.0)]), row([g(1e-4), g(1e-4)])]
    rows.append(row([0.0, 0.0]))                                   # zero scales, random quants
    rows.append(row([65504.0, -65504.0], fill=0xFF))               # f16 max scale, all bits set
    rows.append(row([-65504.0, 65504.0], fill=0x00))               # all quant/scale bits clear
    rows.append(row([2.0 ** -24, -(2.0 ** -24)]))                  # smallest f16 subnormal
    rows.append(row([-0.0, 1.5], fill=0xAA))                       # -0 scale, alternating bit pattern
    rows.append(row([0.75, 0.0], fill=0x55))
    return np.stack(rows)


def write(path, type_id, cols, raw, deq):
    rows = raw.shape[0]
    finite = np.all(np.isfinite(deq), axis=1).astype(np.uint8)
    with open(path + ".tmp", "wb") as f:
        f.write(b"JQR1")
        f.write(struct.pack("<IIII", type_id, rows, cols, raw.shape[1]))
        f.write(finite.tobytes())
        f.write(np.ascontiguousarray(raw, dtype=np.uint8).tobytes())
        f.write(np.ascontiguousarray(deq, dtype="<f4").tobytes())
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "jemma-core", "src", "test", "resources", "quant"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    total = 0
    for i, name in enumerate(SIMPLE + KQUANTS):
        rng = np.random.default_rng([SEED, i])
        qt = T[name]
        if name in SIMPLE:
            cols = 512
            x = simple_rows(name, rng, cols)
            with np.errstate(over="ignore"):  # F16: 3e38 -> inf on purpose
                raw = gguf.quants.quantize(x, qt)
            raw = np.ascontiguousarray(raw).view(np.uint8).reshape(x.shape[0], -1)
        else:
            cols = 1024
            raw = kquant_rows(name, rng, cols)
        with np.errstate(all="ignore"):
            deq = gguf.quants.dequantize(raw, qt).astype(np.float32).reshape(raw.shape[0], cols)
        # the dequantizer must consume exactly the bytes we store
        assert raw.shape[1] == gguf.quants.quant_shape_to_byte_shape((cols,), qt)[0], name
        path = os.path.join(args.out, name + ".bin")
        write(path, int(qt), cols, raw, deq)
        size = os.path.getsize(path)
        total += size
        print(f"{name:5s} rows={raw.shape[0]:2d} cols={cols} bytes/row={raw.shape[1]:5d} -> {size} bytes")
    print(f"total {total} bytes (gguf-py {metadata.version('gguf')}, numpy {np.__version__})")


if __name__ == "__main__":
    main()
