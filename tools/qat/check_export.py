#!/usr/bin/env python3
"""Checks that the torch Gemma 3 in gemma3_torch.py and its GGUF export agree with Jemma: exports a model
(a trained checkpoint, or a seeded random one) and compares torch logits with `jemma logits --exact`.

Usage: python3 tools/qat/check_export.py OUT_DIR [CHECKPOINT.pt [Q4_0.gguf]]   (OUT_DIR must hold spm.model)
With a Q4_0 file (from `jemma quantize --pure`), torch runs with Q4_0 fake quantization of every weight instead:
this checks that the file holds exactly the weights the QAT model was trained with.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gemma3_torch import Config, Gemma3, QLinear, export_gguf  # noqa: E402

out = Path(sys.argv[1])
torch.manual_seed(5)
cfg = Config(vocab=2048, hidden=128, layers=6, heads=2, kv_heads=1, head_dim=64, ffn=512, window=64)
m = Gemma3(cfg, max_t=128)
if len(sys.argv) > 2:
    m.load_state_dict(torch.load(sys.argv[2]))
else:  # random but not tiny norms, so every weight matters
    with torch.no_grad():
        for n, p in m.named_parameters():
            if p.dim() == 1:
                p.normal_(0, 0.3)
            else:
                p.normal_(0, 0.08)
m.eval()
quantized = sys.argv[3] if len(sys.argv) > 3 else None
QLinear.fake_quant = QLinear.embeddings_too = quantized is not None
ids = [2] + list(np.random.default_rng(0).integers(6, 2048, size=99))
with torch.no_grad():
    ref = m(torch.tensor([ids]))[0].numpy()
root = Path(__file__).resolve().parents[2]
with tempfile.TemporaryDirectory() as d:
    g = Path(quantized) if quantized else Path(d) / "m.gguf"
    if not quantized:
        export_gguf(m, str(out / "spm.model"), str(g), "check")
    (Path(d) / "ids.json").write_text(json.dumps([int(i) for i in ids]))
    subprocess.run([str(root / "jemma"), "logits", str(g), "--ids-file", str(Path(d) / "ids.json"),
                    "-o", str(Path(d) / "l.f32"), "--exact"], check=True)
    got = np.fromfile(Path(d) / "l.f32", dtype="<f4").reshape(len(ids), -1)
diff = np.abs(got - ref)
print(f"torch{' (Q4_0 fake-quant)' if quantized else ''} vs jemma --exact on {g.name}: max |d| {diff.max():.2e}, mean {diff.mean():.2e}, logit std {ref.std():.2f}, "
      f"argmax agreement {(got.argmax(-1) == ref.argmax(-1)).mean():.3f}")
sys.exit(0 if diff.max() < 1e-3 * max(1.0, np.abs(ref).max() / 10) else 1)
