#!/usr/bin/env python3
"""Trains the demo embedding model (models/jemma-embed-demo.gguf), seeded: a miniature EmbeddingGemma initialised
from the demo chat model (models/jemma-demo.gguf: its Gemma 3 weights and SentencePiece vocabulary, as
EmbeddingGemma was initialised from Gemma 3), trained contrastively on the King James Bible.

Initialisation (what makes ~150 steps on a busy CPU enough): the chat model's weights with every block's post-norm
gains set to 0, so that each block starts as the identity and the encoder as a bag of token embeddings
(skip_init); dense_2/dense_3 set to a whitening of the pooled vectors (whitening_init). Recall@3 on the RAG
example before any contrastive step: whitened bag of embeddings 0.85; the chat model's blocks at full gain,
whitened 0.58; the chat model's mean-pooled states as they are (Jemma) 0.25. See docs/EMBEDDINGS.md.

Pairs: a document is a run of consecutive verses of a training chapter (48-160 tokens, like a RAG chunk) with the
document prompt "title: none | text: "; its query, with the query prompt "task: search result | query: ", is made
from the same verses by one of
  * span:     a contiguous fragment of 3-12 words, often loosely paraphrased (KJV -> modern words, stop words
              dropped, lower case);
  * question: salient words / a short fragment of the passage put into a question template ("who was X?",
              "what happened to X and Y?", ...);
  * keywords: 2-5 salient (high-IDF) words of the passage.
Loss: InfoNCE with in-batch negatives in both directions (query -> documents, document -> queries), temperature
0.05, at the full width and at the Matryoshka widths 64 and 32 (EmbeddingGemma's MRL training, in miniature).
Chapters held out from the chat model's training (kjv.held_out) stay out here too: the RAG example documents are
taken from them.

Usage: nice -n 10 python3 tools/embed_demo/train.py OUT_DIR [--steps N] [--batch B]
Writes OUT_DIR/{embed.pt, embed-F32.gguf, log.json}.
Needs: apt-get install bible-kjv bible-kjv-text; pip install torch sentencepiece protobuf gguf numpy.
"""
import argparse
import json
import math
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kjv  # noqa: E402
from embgemma_torch import Config, EmbeddingGemma, Vocab, export_gguf, load_chat_weights, pad  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CHAT_MODEL = ROOT / "models/jemma-demo.gguf"

STOP = set("""a an the and or but of to in on at by for with from into upon unto as is was were be been are am
that this these those which who whom whose what when where why how it its he him his she her they them their we us
our i me my you your ye thee thou thy thine shall shalt will wilt hath have has had not no nor so then there also
all said saith say says came come went go did do doth let also even if because before after over out up down
one any every there here yea behold o lo among against about than them shall thereof therefore
these upon whom made make saying spake put took set more very great""".split())

MODERN = {"thee": "you", "thou": "you", "ye": "you", "thy": "your", "thine": "your", "hath": "has", "hast": "have",
          "doth": "does", "dost": "do", "didst": "did", "art": "are", "wilt": "will", "shalt": "shall",
          "saith": "says", "spake": "spoke", "unto": "to", "begat": "fathered", "behold": "look",
          "wherefore": "why", "whither": "where", "hither": "here", "thither": "there", "thence": "from there",
          "ere": "before", "yea": "yes", "nay": "no", "verily": "truly", "sware": "swore", "brethren": "brothers",
          "kine": "cows", "wast": "were", "cometh": "comes", "goeth": "goes", "maketh": "makes", "giveth": "gives",
          "taketh": "takes", "loveth": "loves", "knoweth": "knows", "speaketh": "speaks", "heareth": "hears",
          "seeth": "sees", "believeth": "believes", "keepeth": "keeps", "sitteth": "sits", "dwelleth": "lives",
          "dwelt": "lived", "slew": "killed", "smote": "struck", "wroth": "angry", "raiment": "clothes",
          "victuals": "food", "sepulchre": "tomb", "damsel": "girl", "twain": "two", "peradventure": "perhaps",
          "whoso": "whoever", "holpen": "helped", "gat": "got", "sore": "very", "afore": "before"}

TEMPLATES = ["who was {a}?", "what happened to {a}?", "what does the bible say about {a}?", "tell me about {a}",
             "why did {a}?", "where did {a}?", "how did {a}?", "what is said about {a} and {b}?",
             "the story of {a} and {b}", "which chapter tells of {a}?", "when did {a}?", "what did {a} do?",
             "{a} and {b}", "who spoke about {a}?", "what was {a}?", "find the passage where {a}",
             "what did {a} say to {b}?", "why was {a} {b}?", "how many {a}?", "what became of {a}?"]


def words(text):
    return re.findall(r"[A-Za-z]+(?:'[a-z]+)?", text)


class Pairs:
    """Seeded (query, document) text pairs from the training chapters."""

    def __init__(self, chapters, vocab: Vocab, rng: random.Random):
        self.chapters, self.vocab, self.rng = chapters, vocab, rng
        self.verse_tokens = [[len(vocab.pieces(v)) for v in verses] for _, verses in chapters]
        df = Counter()
        for _, verses in chapters:
            df.update({w.lower() for w in words(" ".join(verses))})
        n = len(chapters)
        self.idf = {w: math.log(n / c) for w, c in df.items()}

    def document(self, ci):
        """A run of consecutive verses of chapter ci, 48-160 tokens (one long verse may stand alone)."""
        verses, lens = self.chapters[ci][1], self.verse_tokens[ci]
        target = self.rng.randint(48, 160)
        start = self.rng.randrange(len(verses))
        end, n = start, 0
        while end < len(verses) and (n < target or end == start) and n + lens[end] <= 180:
            n += lens[end]
            end += 1
        if end == start:  # a single verse over the cap: cut it by words
            return " ".join(verses[start].split()[:100])
        return " ".join(verses[start:end])

    def salient(self, text, k):
        ws = [w for w in dict.fromkeys(words(text)) if w.lower() not in STOP and len(w) > 2]
        ws.sort(key=lambda w: -self.idf.get(w.lower(), 0.0) - self.rng.random())
        return ws[:k]

    def paraphrase(self, ws):
        r = self.rng
        if r.random() < 0.6:
            ws = [MODERN.get(w.lower(), w) for w in ws]
        if r.random() < 0.4:
            kept = [w for w in ws if w.lower() not in STOP]
            ws = kept or ws
        return ws

    def span(self, text, lo, hi):
        ws = words(text)
        n = min(len(ws), self.rng.randint(lo, hi))
        s = self.rng.randrange(len(ws) - n + 1)
        return ws[s:s + n]

    def query(self, doc):
        r = self.rng
        kind = r.random()
        if kind < 0.4:
            q = " ".join(self.paraphrase(self.span(doc, 3, 12)))
        elif kind < 0.8:
            top = self.salient(doc, 4)
            a = top[0] if top and r.random() < 0.6 else " ".join(self.paraphrase(self.span(doc, 2, 5)))
            b = [w for w in top if w != a]
            q = r.choice(TEMPLATES).format(a=a or "god", b=r.choice(b) if b else "god")
        else:
            q = " ".join(self.salient(doc, r.randint(2, 5)))
        if r.random() < 0.5:
            q = q.lower()
        return q

    def batch(self, train_ids, size):
        """`size` pairs from distinct chapters (so that no in-batch negative is a true positive)."""
        docs, queries = [], []
        for ci in self.rng.sample(train_ids, size):
            d = self.document(ci)
            docs.append(self.vocab.encode(d, "document"))
            queries.append(self.vocab.encode(self.query(d), "query"))
        return queries, docs


def embed_bucketed(model, seqs, bucket=8, pooled_only=False):
    """Embeddings of seqs in their order, computed in groups of similar length (less padding, same result)."""
    f = model.pooled if pooled_only else model
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    parts = [f(*pad([seqs[i] for i in order[k:k + bucket]])) for k in range(0, len(seqs), bucket)]
    e = torch.cat(parts)
    return e[torch.argsort(torch.tensor(order))]


def info_nce(q, d, tau):
    logits = q @ d.T / tau
    target = torch.arange(len(q))
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def mrl_loss(q, d, tau, widths):
    return sum(info_nce(F.normalize(q[:, :w], dim=-1), F.normalize(d[:, :w], dim=-1), tau) for w in widths) / len(widths)


def skip_init(model, gain):
    """Post-attention and post-FFN norm gains `gain` (the torch weight is gain - 1); at 0 every block starts as the
    identity (SkipInit/ReZero), so the encoder starts as a bag of the chat model's token embeddings, and each block
    learns how much to add. The chat model's blocks, trained for next-token prediction, otherwise blur the
    mean-pooled vector (in-batch top-1 of 64 with whitened dense layers: 0.47 with the blocks off, 0.27 with them
    on; RAG recall@3 after training: 0.90 from gain 0, 0.80 from gain 0.1)."""
    with torch.no_grad():
        for b in model.blocks:
            b.post_attn_norm.weight.fill_(gain - 1.0)
            b.post_ffw_norm.weight.fill_(gain - 1.0)


@torch.no_grad()
def whitening_init(model, pairs, train_ids, batches=8, batch=32, ridge=0.05):
    """dense_3 . dense_2 = a whitening of the pooled vectors (BERT-whitening, Su et al. 2021) of sample queries and
    documents: project out their mean direction (linear layers have no bias to subtract it), then scale each
    principal direction to unit variance (eigenvalues + ridge * their mean, so that noise is not blown up).
    dense_2 = Q M^T, dense_3 = Q^T with Q a random 4h x h matrix with orthonormal columns, so dense_3 . dense_2 = M^T.
    Mean-pooled language-model states are anisotropic (all cosines near 1); whitened ones rank passages from the
    start, and the contrastive loss then refines them instead of first collapsing them (measured: it collapses from
    random dense layers within 30 steps)."""
    model.eval()
    xs = []
    for _ in range(batches):
        for seqs in pairs.batch(train_ids, batch):
            xs.append(embed_bucketed(model, seqs, pooled_only=True))
    x = torch.cat(xs).double()
    h = x.shape[1]
    u = x.mean(0) / x.mean(0).norm()
    proj = torch.eye(h, dtype=torch.float64) - torch.outer(u, u)
    y = x @ proj
    y = y - y.mean(0)
    ev, vec = torch.linalg.eigh(y.T @ y / len(y))
    m = proj @ vec @ torch.diag((ev.clamp_min(0) + ridge * ev.mean()) ** -0.5) @ vec.T  # x @ m is whitened
    q, _ = torch.linalg.qr(torch.randn(4 * h, h, dtype=torch.float64))
    model.dense2.weight.copy_((q @ m.T).float())
    model.dense3.weight.copy_(q.T.float())
    model.train()


def lr_at(step, total, peak, warm):
    if step < warm:
        return peak * (step + 1) / warm
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm))))


@torch.no_grad()
def retrieval_check(model, pairs, ids, n=64):
    """Top-1 accuracy of query -> document over n held-aside pairs (a training-time sanity figure only)."""
    model.eval()
    q, d = pairs.batch(ids, n)
    acc = (model(*pad(q)) @ model(*pad(d)).T).argmax(-1).eq(torch.arange(n)).float().mean().item()
    model.train()
    return acc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--tau", type=float, default=0.05)
    ap.add_argument("--block-gain", type=float, default=0.0, help="initial post-norm gain of every block (skip_init)")
    ap.add_argument("--threads", type=int, default=1)  # OpenMP spinning on a shared machine costs 10x
    ap.add_argument("--no-init", action="store_true", help="random initialisation instead of the demo chat model")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(a.threads)
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)

    chapters = kjv.chapters()
    train_ids = [i for i in range(len(chapters)) if not kjv.held_out(i)]
    vocab = Vocab(str(CHAT_MODEL))
    pairs = Pairs(chapters, vocab, random.Random(1))
    check = Pairs(chapters, vocab, random.Random(2))
    # the chat model's shape (tools/qat/train.py): 6 layers, 128 wide, 2 heads / 1 KV head of 64, FFN 512, window 64
    cfg = Config(vocab=len(vocab), hidden=128, layers=6, heads=2, kv_heads=1, head_dim=64, ffn=512, window=64)
    model = EmbeddingGemma(cfg, max_t=256)
    if not a.no_init:
        load_chat_weights(model, str(CHAT_MODEL))
        skip_init(model, a.block_gain)
    whitening_init(model, Pairs(chapters, vocab, random.Random(3)), train_ids)
    log = {"params": sum(p.numel() for p in model.parameters()), "steps": a.steps, "batch": a.batch,
           "lr": a.lr, "tau": a.tau, "init": "random" if a.no_init else CHAT_MODEL.name, "block_gain": a.block_gain}
    print(f"params {log['params'] / 1e6:.2f} M, {len(train_ids)} training chapters", flush=True)
    log["top1_before"] = retrieval_check(model, check, train_ids)

    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.98), weight_decay=0.0)
    t0 = time.time()
    for step in range(a.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, a.steps, a.lr, 10)
        q, d = pairs.batch(train_ids, a.batch)
        loss = mrl_loss(embed_bucketed(model, q), embed_bucketed(model, d), a.tau, (cfg.hidden, 64, 32))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 10 == 0 or step == a.steps - 1:
            print(f"step {step}/{a.steps} loss {loss.item():.3f} {time.time() - t0:.0f}s cpu {time.process_time():.0f}s", flush=True)
    log["train_seconds"] = round(time.time() - t0)
    log["top1_after"] = retrieval_check(model, check, train_ids)
    print(f"in-batch top-1 of 64 (training chapters): {log['top1_before']:.3f} -> {log['top1_after']:.3f}")
    torch.save(model.state_dict(), out / "embed.pt")
    export_gguf(model, vocab, out / "embed-F32.gguf", "Jemma embedding demo KJV")
    (out / "log.json").write_text(json.dumps(log, indent=1))
    print(json.dumps(log, indent=1))


if __name__ == "__main__":
    main()
