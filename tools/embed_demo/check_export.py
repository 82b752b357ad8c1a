#!/usr/bin/env python3
"""Checks that a gemma-embedding GGUF computes in Jemma what the torch model computes: embeds token id lists with
`jemma embed GGUF --ids-file IDS.json -o OUT.f32 --exact` and compares with the torch EmbeddingGemma whose weights
are the file's own tensors, dequantised by gguf-py (so an F32 export checks the exporter and the architecture, and a
Q8_0 file checks in addition that Jemma dequantises exactly).

Usage: python3 tools/embed_demo/check_export.py GGUF [CHECKPOINT.pt]
With CHECKPOINT.pt (train.py's embed.pt) the trained torch weights must also equal the file's (F32 exports) or round
to them (quantised files: cosine of the embeddings only). Cases: texts of the RAG example with both prompts,
an empty text, a text longer than the sliding window on both sides, and random ids; all in one batch so that
padding in Jemma's batch and in torch's is exercised. Exit 1 when max |d| > 1e-5.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from embgemma_torch import Config, EmbeddingGemma, Vocab, load_gguf_weights, pad  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def config_of(path):
    import gguf
    f = gguf.GGUFReader(path).fields
    k = lambda n: int(f[f"gemma-embedding.{n}"].contents())  # noqa: E731
    return Config(vocab=len(f["tokenizer.ggml.tokens"].data), hidden=k("embedding_length"), layers=k("block_count"),
                  heads=k("attention.head_count"), kv_heads=k("attention.head_count_kv"),
                  head_dim=k("attention.key_length"), ffn=k("feed_forward_length"),
                  window=k("attention.sliding_window"),
                  rope_global=float(f["gemma-embedding.rope.freq_base"].contents()),
                  rope_local=float(f["gemma-embedding.rope.freq_base_swa"].contents()))


def main():
    gguf_path = sys.argv[1]
    cfg = config_of(gguf_path)
    model = EmbeddingGemma(cfg, max_t=512)
    load_gguf_weights(model, gguf_path)
    model.eval()
    vocab = Vocab(gguf_path)
    docs = sorted((ROOT / "examples/rag/docs").glob("*.md"))
    texts = [(docs[0].read_text()[:400], "document"), (docs[-1].read_text()[:1500], "document"),
             ("Who raised Lazarus from the dead?", "query"), ("", "query"), ("", None),
             ("In the beginning God created the heaven and the earth.", None)]
    cases = [vocab.encode(t, p) for t, p in texts]
    rng = np.random.default_rng(0)
    cases.append([vocab.bos] + [int(i) for i in rng.integers(4, len(vocab), size=300)] + [vocab.eos])
    with torch.no_grad():
        ref = model(*pad(cases)).numpy()
    with tempfile.TemporaryDirectory() as d:
        ids, out = Path(d) / "ids.json", Path(d) / "out.f32"
        ids.write_text(json.dumps(cases))
        subprocess.run([str(ROOT / "jemma"), "embed", gguf_path, "--ids-file", str(ids), "-o", str(out), "--exact"],
                       check=True, stderr=subprocess.DEVNULL)
        got = np.fromfile(out, dtype="<f4").reshape(len(cases), -1)
    diff = np.abs(got - ref).max()
    cos = (got * ref).sum(-1).min()
    print(f"torch vs jemma embed --exact on {Path(gguf_path).name}: {len(cases)} cases of "
          f"{min(map(len, cases))}-{max(map(len, cases))} tokens, max |d| {diff:.2e}, min cosine {cos:.8f}")
    ok = diff <= 1e-5
    if len(sys.argv) > 2:
        trained = EmbeddingGemma(cfg, max_t=512)
        trained.load_state_dict(torch.load(sys.argv[2]))
        trained.eval()
        with torch.no_grad():
            t = trained(*pad(cases)).numpy()
        dw = max((a - b).abs().max().item() for a, b in zip(trained.parameters(), model.parameters()))
        print(f"trained checkpoint vs the file's weights: max |dw| {dw:.2e}; embeddings max |d| "
              f"{np.abs(t - ref).max():.2e}, min cosine {(t * ref).sum(-1).min():.6f}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
