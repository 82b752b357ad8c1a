#!/usr/bin/env python3
"""Perplexity of a trained checkpoint by llama-perplexity's method, computed in torch: an independent reference for
`jemma perplexity` on the demo model (QuantToolsCommandTest pins it). The text is tokenized once with BOS first, cut
into non-overlapping chunks of -c tokens, each evaluated from scratch with BOS as its first token, and only the second
half of each chunk is scored (the logits at positions c/2 .. c-2 predicting the next token).

Usage: python3 tools/qat/perplexity_torch.py OUT_DIR CHECKPOINT.pt TEXT [-c 128] [--quantized]
--quantized runs every weight through Q4_0 fake quantization (the weights of `jemma quantize --pure ... Q4_0`), with
f32 activations (Jemma's --exact arithmetic).
"""
import argparse
import math
import sys
from pathlib import Path

import sentencepiece as spm
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gemma3_torch import Config, Gemma3, QLinear  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("checkpoint")
    ap.add_argument("text")
    ap.add_argument("-c", type=int, default=128)
    ap.add_argument("--quantized", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(1)
    sp = spm.SentencePieceProcessor(model_file=str(Path(a.out) / "spm.model"))
    cfg = Config(vocab=2048, hidden=128, layers=6, heads=2, kv_heads=1, head_dim=64, ffn=512, window=64)
    model = Gemma3(cfg, max_t=a.c)
    model.load_state_dict(torch.load(a.checkpoint))
    model.eval()
    QLinear.fake_quant = QLinear.embeddings_too = a.quantized
    ids = [sp.bos_id()] + sp.encode(Path(a.text).read_text())
    n, first = len(ids) // a.c, a.c // 2
    nll, count = 0.0, 0
    with torch.no_grad():
        for k in range(n):
            chunk = ids[k * a.c:(k + 1) * a.c]
            chunk[0] = sp.bos_id()
            logp = F.log_softmax(model(torch.tensor([chunk]))[0].double(), -1)
            for j in range(first, a.c - 1):
                nll -= logp[j, chunk[j + 1]].item()
                count += 1
    print(f"{n} chunks of {a.c}, {count} tokens scored: PPL = {math.exp(nll / count):.4f}")


if __name__ == "__main__":
    main()
