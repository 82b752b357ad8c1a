#!/usr/bin/env python3
"""Retrieval recall@k of an embedding model on the RAG example (examples/rag), computed by Jemma itself: every
vector comes from the `jemma embed` CLI; this script only chunks, ranks and counts.

  * chunks: each file of examples/rag/docs split at sentence ends into chunks of at most --words words (default
    110, about 100-200 tokens of the demo vocabulary; Jemma's token counts are reported), embedded with the
    document prompt ("title: none | text: ");
  * questions: examples/rag/questions.json, embedded with the query prompt ("task: search result | query: ");
  * score: cosine (the vectors are normalised) between a question and every chunk; a question is a hit at k when
    one of its k best chunks comes from its `source` file. Also recall@1/@5, MRR of the first right chunk, and the
    same figures at Matryoshka widths (--dim, Jemma's truncation and re-normalisation) and for a BM25 baseline on
    the same chunks.

Usage: python3 tools/embed_demo/recall.py [MODEL] [--dims 64,32] [--json OUT.json] [--no-prompts]
(MODEL defaults to models/jemma-embed-demo.gguf; a chat model works too: Jemma mean-pools its hidden states.)
"""
import argparse
import json
import math
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RAG = ROOT / "examples/rag"


def chunks(text, max_words):
    """Sentence-aligned chunks of at most max_words words (a longer sentence is cut into max_words pieces first)."""
    pieces = []
    for s in re.split(r"(?<=[.;:?!])\s+|\n+", text):
        w = s.split()
        pieces += [" ".join(w[k:k + max_words]) for k in range(0, len(w), max_words)]
    out, cur, n = [], [], 0
    for p in pieces:
        k = len(p.split())
        if cur and n + k > max_words:
            out.append(" ".join(cur))
            cur, n = [], 0
        cur.append(p)
        n += k
    if cur:
        out.append(" ".join(cur))
    return out


def embed(model, texts, prompt, dim):
    """[(vector, n_tokens)] from `jemma embed MODEL --file ... --format json`, one per text, in order."""
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "texts.txt"
        f.write_text("".join(t + "\n" for t in texts))
        cmd = [str(ROOT / "jemma"), "embed", str(model), "--file", str(f), "--format", "json", "--no-truncate"]
        if prompt:
            cmd += ["--prompt", prompt]
        if dim:
            cmd += ["--dim", str(dim)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"jemma embed failed: {r.stderr.strip().splitlines()[-1:]}")
        rows = json.loads(r.stdout)["embeddings"]
    assert len(rows) == len(texts) and all(row["index"] == i for i, row in enumerate(rows))
    return [(row["embedding"], row["tokens"]) for row in rows]


def ranks(scores, chunk_files, source):
    """Rank (1-based) of the first chunk from `source`, chunks sorted by decreasing score."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    return next(r + 1 for r, i in enumerate(order) if chunk_files[i] == source)


def summary(rank_list):
    n = len(rank_list)
    return {"recall@1": sum(r <= 1 for r in rank_list) / n, "recall@3": sum(r <= 3 for r in rank_list) / n,
            "recall@5": sum(r <= 5 for r in rank_list) / n, "mrr": sum(1 / r for r in rank_list) / n}


def bm25(chunk_texts, questions, k1=1.2, b=0.75):
    tok = lambda s: re.findall(r"[a-z]+", s.lower())  # noqa: E731
    docs = [Counter(tok(t)) for t in chunk_texts]
    lens = [sum(d.values()) for d in docs]
    avg = sum(lens) / len(lens)
    df = Counter(w for d in docs for w in d)
    n = len(docs)
    idf = {w: math.log(1 + (n - c + 0.5) / (c + 0.5)) for w, c in df.items()}
    out = []
    for q in questions:
        qs = tok(q)
        out.append([sum(idf.get(w, 0) * d[w] * (k1 + 1) / (d[w] + k1 * (1 - b + b * ln / avg)) for w in qs)
                    for d, ln in zip(docs, lens)])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?", default=str(ROOT / "models/jemma-embed-demo.gguf"))
    ap.add_argument("--words", type=int, default=110)
    ap.add_argument("--dims", default="", help="Matryoshka widths to score as well, e.g. 64,32")
    ap.add_argument("--no-prompts", action="store_true", help="embed without the query/document task prompts")
    ap.add_argument("--json", help="write the figures and every question's rank here")
    a = ap.parse_args()

    files = sorted((RAG / "docs").glob("*.md"))
    chunk_texts, chunk_files = [], []
    for f in files:
        for c in chunks(f.read_text(), a.words):
            chunk_texts.append(c)
            chunk_files.append(f.name)
    qs = json.loads((RAG / "questions.json").read_text())
    questions = [q["question"] for q in qs]
    report = {"model": Path(a.model).name, "files": len(files), "chunks": len(chunk_texts),
              "questions": len(questions), "words_per_chunk_max": a.words, "prompts": not a.no_prompts}
    for dim in [0] + [int(x) for x in a.dims.split(",") if x]:
        docs = embed(a.model, chunk_texts, None if a.no_prompts else "document", dim)
        if dim == 0:
            toks = sorted(t for _, t in docs)
            report["chunk_tokens"] = {"min": toks[0], "median": toks[len(toks) // 2], "max": toks[-1]}
        qv = embed(a.model, questions, None if a.no_prompts else "query", dim)
        rank_list = [ranks([sum(x * y for x, y in zip(q, d)) for d, _ in docs], chunk_files, s["source"])
                     for (q, _), s in zip(qv, qs)]
        key = "embedding" if dim == 0 else f"embedding_dim{dim}"
        report[key] = summary(rank_list)
        if dim == 0:
            report["ranks"] = {q: r for q, r in zip(questions, rank_list)}
    report["bm25"] = summary([ranks(s, chunk_files, q["source"]) for s, q in zip(bm25(chunk_texts, questions), qs)])
    for k, v in report.items():
        if k != "ranks":
            print(f"{k}: {v}")
    misses = [q for q, r in report["ranks"].items() if r > 3]
    print(f"missed at 3 ({len(misses)}): " + " | ".join(misses))
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
