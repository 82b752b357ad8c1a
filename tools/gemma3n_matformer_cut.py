#!/usr/bin/env python3
"""Cut a smaller Gemma 3n GGUF out of an E4B-shaped one, following Google's MatFormer slicing configs
(HF dataset google/gemma3n-slicing-configs). The official E2B config keeps the first half of every FFN
(16384 -> 8192 neurons: the first rows of ffn_gate / ffn_up, the first columns of ffn_down) and drops
layers 20-24 (35 -> 30 layers; the KV-shared tail shrinks from 15 to 10 layers).

This is an independent reference for Jemma's load-time slicing (`--matformer e2b`): it works on the file's
raw bytes with gguf-py only (quantized rows are sliced at block boundaries, never re-quantized), so an E2B file
cut here and an E4B file sliced by Jemma must give the same --exact logits.

  python tools/gemma3n_matformer_cut.py E4B.gguf E2B.gguf                   # official E2B
  python tools/gemma3n_matformer_cut.py E4B.gguf OUT.gguf --ffn 8192 --skip 20-24
  python tools/gemma3n_matformer_cut.py E4B.gguf OUT.gguf --ffn 8192*20,16384*10 --skip 20-24

--ffn takes one width, one per kept layer, or one per file layer (W*K repeats W K times); the default is half
of each layer's width (what E2B does to E4B). Needs: pip install gguf numpy.
"""
import argparse
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q, GGUFValueType as V

ARCH = "gemma3n"


def parse_layers(text):
    out = set()
    for item in filter(None, (s.strip() for s in text.split(","))):
        if "-" in item:
            a, b = (int(x) for x in item.split("-", 1))
            out.update(range(a, b + 1))
        else:
            out.add(int(item))
    return sorted(out)


def parse_widths(text):
    out = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        w, _, k = item.partition("*")
        out += [int(w)] * (int(k) if k else 1)
    return out


def field_value(field):
    """(value, type, sub_type) of a reader field, for re-adding it with add_key_value."""
    main = field.types[0]
    if main == V.ARRAY:
        sub = field.types[-1]
        return list(field.contents()), main, sub
    return field.contents(), main, None


def row_bytes(qtype, cols):
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    assert cols % block == 0, f"{cols} columns are not a multiple of the {qtype.name} block size {block}"
    return cols // block * size


def raw_rows(t):
    """The tensor's data as a 2-D uint8/float array [rows, bytes-or-values of one row]."""
    cols = int(t.shape[0])
    rows = int(np.prod([int(d) for d in t.shape[1:]]))
    if t.tensor_type in (Q.F32, Q.F16, Q.BF16):
        return np.asarray(t.data).reshape(rows, cols)
    return np.asarray(t.data).view(np.uint8).reshape(rows, row_bytes(t.tensor_type, cols))


def cols_slice(t, data, c0, c1):
    """Columns [c0, c1) of every row, on raw bytes for quantized types (block-aligned)."""
    if t.tensor_type in (Q.F32, Q.F16, Q.BF16):
        return data[:, c0:c1]
    return data[:, row_bytes(t.tensor_type, c0):row_bytes(t.tensor_type, c1)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--ffn", help="widths (default: half of each layer's, as E4B -> E2B)")
    ap.add_argument("--skip", default="20-24", help="file layers to drop (default 20-24, the E2B config)")
    args = ap.parse_args()

    r = gguf.GGUFReader(args.src)
    arch = r.fields["general.architecture"].contents()
    if arch != ARCH:
        sys.exit(f"{args.src}: architecture {arch!r}, expected {ARCH}")
    key = lambda s: f"{ARCH}.{s}"  # noqa: E731
    n = int(r.fields[key("block_count")].contents())
    ffn_field = r.fields[key("feed_forward_length")].contents()
    file_ffn = list(ffn_field) if isinstance(ffn_field, list) else [int(ffn_field)] * n
    p = int(r.fields[key("embedding_length_per_layer_input")].contents())
    shared = int(r.fields[key("attention.shared_kv_layers")].contents())
    skip = parse_layers(args.skip)
    keep = [l for l in range(n) if l not in skip]
    if args.ffn:
        w = parse_widths(args.ffn)
        if len(w) == 1:
            widths = w * len(keep)
        elif len(w) == len(keep):
            widths = w
        elif len(w) == n:
            widths = [w[l] for l in keep]
        else:
            sys.exit(f"--ffn: {len(w)} widths; give 1, {len(keep)} or {n}")
    else:
        widths = [file_ffn[l] // 2 for l in keep]
    for l, wd in zip(keep, widths):
        if wd > file_ffn[l]:
            sys.exit(f"layer {l}: width {wd} exceeds the file's {file_ffn[l]}")
    new_shared = sum(1 for l in keep if l >= n - shared)
    print(f"{args.src}: {n} layers -> {len(keep)} (skip {skip}), ffn {sorted(set(widths))}, shared_kv {shared} -> {new_shared}")

    w = gguf.GGUFWriter(args.dst + ".tmp", ARCH)
    per_layer = {key("feed_forward_length"), key("attention.sliding_window_pattern"), key("activation_sparsity_scale")}
    for name, field in r.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        val, vt, sub = field_value(field)
        if name == key("block_count"):
            val = len(keep)
        elif name == key("attention.shared_kv_layers"):
            val = new_shared
        elif name == key("feed_forward_length"):
            val, vt, sub = [int(x) for x in widths], V.ARRAY, V.UINT32
        elif name in per_layer:
            val = [val[l] for l in keep]
        elif name == "general.name":
            val = f"{val} (MatFormer cut: {len(keep)} layers)"
        w.add_key_value(name, val, vt, sub_type=sub)

    renumber = {old: new for new, old in enumerate(keep)}
    for t in r.tensors:
        name, data = t.name, raw_rows(t)
        dims = [int(d) for d in t.shape]
        if name.startswith("blk."):
            layer = int(name.split(".")[1])
            if layer not in renumber:
                continue
            width = widths[renumber[layer]]
            rest = name.split(".", 2)[2]
            name = f"blk.{renumber[layer]}.{rest}"
            if rest in ("ffn_gate.weight", "ffn_up.weight"):
                data = data[:width]
                dims = [dims[0], width]
            elif rest == "ffn_down.weight":
                data = cols_slice(t, data, 0, width)
                dims = [width, dims[1]]
        elif name == "per_layer_token_embd.weight":
            data = np.concatenate([cols_slice(t, data, l * p, (l + 1) * p) for l in keep], axis=1)
            dims = [len(keep) * p, dims[1]]
        elif name == "per_layer_model_proj.weight":
            data = np.concatenate([data[l * p:(l + 1) * p] for l in keep], axis=0)
            dims = [dims[0], len(keep) * p]
        data = np.ascontiguousarray(data)
        if t.tensor_type in (Q.F32, Q.F16, Q.BF16):
            w.add_tensor(name, data.reshape(list(reversed(dims))), raw_dtype=t.tensor_type)
        else:
            w.add_tensor(name, data.reshape(list(reversed(dims[1:])) + [-1]), raw_dtype=t.tensor_type)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(args.dst + ".tmp", args.dst)
    print(f"wrote {args.dst}")


if __name__ == "__main__":
    main()
