#!/usr/bin/env python3
"""End-to-end demo model and QAT experiment, seeded: KJV Bible (Debian bible-kjv-text, public domain) -> SentencePiece
BPE vocab -> small Gemma 3 (pretraining) -> chat fine-tuning (conversations rendered through the real Gemma 3 chat
template, loss on each model turn and the <end_of_turn> that ends it, mixed with plain text) -> GGUF F32; then
quantization-aware fine-tuning with Q4_0 fake quantization (straight-through estimator) distilling the
full-precision chat model's next-token probabilities on text and conversations -> GGUF F32 whose weights quantize
(jemma quantize ... Q4_0) to exactly the values seen in training.

Usage: nice -n 10 python3 tools/qat/train.py OUT_DIR [--steps N] [--chat-steps N] [--qat-steps N]
Writes OUT_DIR/{train.txt, heldout.txt, spm.model, base.pt, base-F32.gguf, chat.pt, chat-F32.gguf, qat.pt,
qat-F32.gguf, log.json}.
Needs: apt-get install bible-kjv (for the `bible` reader) bible-kjv-text; pip install torch sentencepiece gguf numpy
jinja2.
"""
import argparse
import json
import math
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chat_data import TEMPLATE as CHAT_TEMPLATE, ChatData  # noqa: E402
from gemma3_torch import Config, Gemma3, QLinear, export_gguf  # noqa: E402

# The chat model's recommended repeat penalty (over the last 64 tokens), written into its GGUF: without it a greedy
# answer of this 1.7 M-parameter model falls into a loop ("I will not be a man, and I will not be a man, ...") and
# never reaches its end of turn; sampled answers end without it (tools/qat/check_ends.py)
REPEAT_PENALTY = 1.3


def corpus(out: Path):
    """Verses grouped by chapter; every 25th chapter (seeded choice-free, by index) is held out."""
    if (out / "train.txt").exists():
        return
    raw = subprocess.run(["bible", "-l0", "gen1:1-rev22:21"], capture_output=True, text=True, check=True).stdout
    chapters, cur = [], []
    for line in raw.splitlines():
        m = re.match(r"^\s+\d+ (.*)$", line)
        if m:
            cur.append(m.group(1).strip())
        elif line.strip() and cur:
            chapters.append(" ".join(cur))
            cur = []
    if cur:
        chapters.append(" ".join(cur))
    train = [c for i, c in enumerate(chapters) if i % 25 != 7]
    held = [c for i, c in enumerate(chapters) if i % 25 == 7]
    (out / "train.txt").write_text("\n".join(train) + "\n")
    (out / "heldout.txt").write_text("\n".join(held) + "\n")
    print(f"corpus: {len(chapters)} chapters, {len(train)} train, {len(held)} held out", flush=True)


def tokenizer(out: Path, vocab: int):
    import sentencepiece as spm
    if (out / "spm.model").exists():
        return
    spm.SentencePieceTrainer.train(
        input=str(out / "train.txt"), model_prefix=str(out / "spm"), model_type="bpe", vocab_size=vocab,
        byte_fallback=True, split_digits=True, normalization_rule_name="identity", add_dummy_prefix=False,
        remove_extra_whitespaces=False, allow_whitespace_only_pieces=True, character_coverage=1.0,
        pad_id=0, eos_id=1, bos_id=2, unk_id=3, pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>",
        unk_piece="<unk>", user_defined_symbols=["<start_of_turn>", "<end_of_turn>"], max_sentence_length=100000,
        num_threads=2, minloglevel=2)


def encode(out: Path, name: str):
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=str(out / "spm.model"))
    ids = []
    for line in (out / name).read_text().splitlines():
        ids.append(sp.bos_id())
        ids.extend(sp.encode(line))
    return torch.tensor(ids, dtype=torch.long)


def batches(data, seq, batch, gen):
    while True:
        starts = torch.randint(0, len(data) - seq - 1, (batch,), generator=gen)
        x = torch.stack([data[s:s + seq] for s in starts])
        y = torch.stack([data[s + 1:s + seq + 1] for s in starts])
        yield x, y


@torch.no_grad()
def evaluate(model, data, seq, n=24):
    model.eval()
    tot, cnt = 0.0, 0
    step = max(1, (len(data) - seq - 1) // n)
    for s in range(0, len(data) - seq - 1, step)[:n]:
        x, y = data[s:s + seq][None], data[s + 1:s + seq + 1][None]
        tot += F.cross_entropy(model(x)[0], y[0], reduction="sum").item()
        cnt += seq
    model.train()
    return math.exp(tot / cnt)


def chat_batch(data: ChatData, n):
    """n conversations, padded at the end: inputs, next-token targets and the loss mask of each target (1 on
    model turns and their <end_of_turn>, 0 on the rest and on padding)."""
    rows = [data.sample() for _ in range(n)]
    t = max(len(ids) for ids, _ in rows) - 1
    x = torch.zeros(n, t, dtype=torch.long)
    y = torch.zeros(n, t, dtype=torch.long)
    m = torch.zeros(n, t)
    for r, (ids, mask) in enumerate(rows):
        k = len(ids) - 1
        x[r, :k] = torch.tensor(ids[:-1])
        y[r, :k] = torch.tensor(ids[1:])
        m[r, :k] = torch.tensor(mask[1:], dtype=torch.float32)
    return x, y, m


def lr_at(step, total, peak, warm):
    if step < warm:
        return peak * (step + 1) / warm
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm)))) * 0.9 + peak * 0.05


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--chat-steps", type=int, default=160)
    ap.add_argument("--chat-text-batch", type=int, default=8, help="plain-text rows per chat fine-tuning step")
    ap.add_argument("--chat-lr", type=float, default=1e-3)
    ap.add_argument("--chat-batch", type=int, default=8, help="conversations per step (plus --batch text rows)")
    ap.add_argument("--chat-seq", type=int, default=256, help="longest conversation in tokens")
    ap.add_argument("--qat-steps", type=int, default=120)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--vocab", type=int, default=2048)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--ffn", type=int, default=512)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--qat-lr", type=float, default=1e-4)
    ap.add_argument("--pure", action="store_true",
                    help="fake-quantize the token embedding too (compare with `jemma quantize --pure`)")
    ap.add_argument("--threads", type=int, default=1)  # OpenMP spinning on a shared machine costs 10x
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(a.threads)
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    log = json.loads((out / "log.json").read_text()) if (out / "log.json").exists() else {}

    corpus(out)
    tokenizer(out, a.vocab)
    train, held = encode(out, "train.txt"), encode(out, "heldout.txt")
    print(f"tokens: train {len(train)}, held out {len(held)}", flush=True)
    cfg = Config(vocab=a.vocab, hidden=a.hidden, layers=a.layers, heads=2, kv_heads=1, head_dim=64, ffn=a.ffn, window=64)
    model = Gemma3(cfg, max_t=a.seq)
    print(f"params: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M", flush=True)

    if not (out / "base.pt").exists():
        gen = torch.Generator().manual_seed(1)
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.05)
        t0 = time.time()
        for step, (x, y) in zip(range(a.steps), batches(train, a.seq, a.batch, gen)):
            for g in opt.param_groups:
                g["lr"] = lr_at(step, a.steps, 3e-3, 40)
            loss = F.cross_entropy(model(x).reshape(-1, cfg.vocab), y.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            if step % 10 == 0 or step == a.steps - 1:
                print(f"pretrain {step}/{a.steps} loss {loss.item():.3f} {time.time() - t0:.0f}s cpu {time.process_time():.0f}s", flush=True)
        torch.save(model.state_dict(), out / "base.pt")
        log["pretrain_seconds"] = time.time() - t0
        log["base_heldout_ppl_torch"] = evaluate(model, held, a.seq)
        (out / "log.json").write_text(json.dumps(log, indent=1))
    model.load_state_dict(torch.load(out / "base.pt"))
    export_gguf(model, str(out / "spm.model"), str(out / "base-F32.gguf"), "Jemma demo KJV", CHAT_TEMPLATE)

    # chat fine-tuning: conversations through the real Gemma 3 template (loss on model turns and their end), each
    # step also a batch of plain text so the model keeps its language (held-out perplexity is still the measure)
    model = Gemma3(cfg, max_t=max(a.seq, a.chat_seq))
    model.load_state_dict(torch.load(out / "base.pt"))
    if not (out / "chat.pt").exists():
        import sentencepiece as spm
        chats = ChatData(spm.SentencePieceProcessor(model_file=str(out / "spm.model")), seed=3, max_tokens=a.chat_seq)
        gen = torch.Generator().manual_seed(4)
        opt = torch.optim.AdamW(model.parameters(), lr=a.chat_lr, betas=(0.9, 0.95), weight_decay=0.05)
        t0 = time.time()
        for step, (x, y) in zip(range(a.chat_steps), batches(train, a.seq, a.chat_text_batch, gen)):
            for g in opt.param_groups:
                g["lr"] = lr_at(step, a.chat_steps, a.chat_lr, 20)
            text_loss = F.cross_entropy(model(x).reshape(-1, cfg.vocab), y.reshape(-1))
            cx, cy, cm = chat_batch(chats, a.chat_batch)
            per_token = F.cross_entropy(model(cx).reshape(-1, cfg.vocab), cy.reshape(-1), reduction="none")
            chat_loss = (per_token * cm.reshape(-1)).sum() / cm.sum()
            loss = text_loss + chat_loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            if step % 10 == 0 or step == a.chat_steps - 1:
                print(f"chat {step}/{a.chat_steps} text {text_loss.item():.3f} chat {chat_loss.item():.3f} "
                      f"{time.time() - t0:.0f}s cpu {time.process_time():.0f}s", flush=True)
        torch.save(model.state_dict(), out / "chat.pt")
        log["chat_seconds"] = time.time() - t0
        log["chat_heldout_ppl_torch"] = evaluate(model, held, a.seq)
        (out / "log.json").write_text(json.dumps(log, indent=1))
    model.load_state_dict(torch.load(out / "chat.pt"))
    export_gguf(model, str(out / "spm.model"), str(out / "chat-F32.gguf"), "Jemma demo KJV (chat)", CHAT_TEMPLATE,
                repeat_penalty=REPEAT_PENALTY)

    if not (out / "qat.pt").exists():
        import sentencepiece as spm
        chats = ChatData(spm.SentencePieceProcessor(model_file=str(out / "spm.model")), seed=5, max_tokens=a.chat_seq)
        teacher = Gemma3(cfg, max_t=max(a.seq, a.chat_seq))
        teacher.load_state_dict(model.state_dict())
        teacher.eval()
        QLinear.fake_quant = True
        QLinear.embeddings_too = a.pure
        log["qat_pure"] = a.pure
        log["ptq_heldout_ppl_torch"] = evaluate(model, held, a.seq)
        gen = torch.Generator().manual_seed(2)
        opt = torch.optim.AdamW(model.parameters(), lr=a.qat_lr, betas=(0.9, 0.95), weight_decay=0.0)
        t0 = time.time()

        def distill(x, keep=None):
            """KL(teacher || student) on next-token distributions, per kept position."""
            with torch.no_grad():
                QLinear.fake_quant = False
                p_t = F.log_softmax(teacher(x), -1)
                QLinear.fake_quant = True
            logq = F.log_softmax(model(x), -1)
            kl = F.kl_div(logq, p_t, log_target=True, reduction="none").sum(-1)
            return kl.mean() if keep is None else (kl * keep).sum() / keep.sum()

        for step, (x, _) in zip(range(a.qat_steps), batches(train, a.seq, a.batch, gen)):
            for g in opt.param_groups:
                g["lr"] = lr_at(step, a.qat_steps, a.qat_lr, 20)
            cx, _, cm = chat_batch(chats, a.chat_batch)
            # text rows, and whole conversations (every non-padding position: the user's turns too)
            text_kl, chat_kl = distill(x), distill(cx, (cx != 0).float())
            loss = text_kl + chat_kl
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            if step % 10 == 0 or step == a.qat_steps - 1:
                print(f"qat {step}/{a.qat_steps} kl text {text_kl.item():.4f} chat {chat_kl.item():.4f} "
                      f"{time.time() - t0:.0f}s cpu {time.process_time():.0f}s", flush=True)
        log["qat_seconds"] = time.time() - t0
        log["qat_heldout_ppl_torch"] = evaluate(model, held, a.seq)
        QLinear.fake_quant = False
        torch.save(model.state_dict(), out / "qat.pt")
        (out / "log.json").write_text(json.dumps(log, indent=1))
    model.load_state_dict(torch.load(out / "qat.pt"))
    export_gguf(model, str(out / "spm.model"), str(out / "qat-F32.gguf"), "Jemma demo KJV (QAT)", CHAT_TEMPLATE,
                repeat_penalty=REPEAT_PENALTY)
    print(json.dumps(log, indent=1))


if __name__ == "__main__":
    main()
