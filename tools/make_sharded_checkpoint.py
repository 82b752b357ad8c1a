#!/usr/bin/env python3
"""Makes a sharded copy of a Hugging Face safetensors checkpoint (for `jemma convert`'s sharded-path test).

Usage: python3 tools/make_sharded_checkpoint.py SRC_HF_DIR DST_DIR [N_SHARDS]
Default: ../shared/fixtures/gemma3-tiny/hf -> tools/fixtures/gemma3-tiny-sharded, 2 shards.
Tensors (sorted by name) are split into N contiguous groups of about equal bytes, each written as
model-0000i-of-0000N.safetensors (8-byte header length, JSON header, raw data; the format is that simple) with
model.safetensors.index.json mapping every tensor to its shard. Config and tokenizer files are copied; the
SentencePiece tokenizer.model is left out on purpose (jemma convert reads tokenizer.json).
"""
import json
import shutil
import struct
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
src = Path(sys.argv[1]) if len(sys.argv) > 1 else root.parent / "shared/fixtures/gemma3-tiny/hf"
dst = Path(sys.argv[2]) if len(sys.argv) > 2 else root / "tools/fixtures/gemma3-tiny-sharded"
n_shards = int(sys.argv[3]) if len(sys.argv) > 3 else 2

raw = (src / "model.safetensors").read_bytes()
hlen = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + hlen])
header.pop("__metadata__", None)
base = 8 + hlen
names = sorted(header)
total = sum(header[n]["data_offsets"][1] - header[n]["data_offsets"][0] for n in names)

groups, cur, acc = [], [], 0
for n in names:
    size = header[n]["data_offsets"][1] - header[n]["data_offsets"][0]
    cur.append(n)
    acc += size
    if acc >= total * (len(groups) + 1) / n_shards and len(groups) < n_shards - 1:
        groups.append(cur)
        cur = []
groups.append(cur)

dst.mkdir(parents=True, exist_ok=True)
weight_map = {}
for i, g in enumerate(groups):
    fname = f"model-{i + 1:05d}-of-{len(groups):05d}.safetensors"
    hdr, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for n in g:
        b, e = header[n]["data_offsets"]
        data = raw[base + b:base + e]
        hdr[n] = {"dtype": header[n]["dtype"], "shape": header[n]["shape"], "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
        weight_map[n] = fname
    hb = json.dumps(hdr, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)  # safetensors pads the header to 8 bytes with spaces
    with open(dst / fname, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)
(dst / "model.safetensors.index.json").write_text(
    json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2) + "\n")
for f in ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
          "generation_config.json"):
    if (src / f).exists():
        shutil.copyfile(src / f, dst / f)
print(dst, [len(g) for g in groups], "tensors per shard")
