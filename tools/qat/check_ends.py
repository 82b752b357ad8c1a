#!/usr/bin/env python3
"""Do the demo model's chat answers end? Runs prompts that training never used through the real Gemma 3 template
and generates greedily and with Gemma's default sampler (temperature 1.0, top-k 64, top-p 0.95) and the web page's
temperature 0.7, several seeds, until <end_of_turn> (or <eos> / BOS, where Jemma stops too) or --limit tokens.

Usage: python3 tools/qat/check_ends.py OUT_DIR CHECKPOINT.pt [--quantized] [--seeds N] [--limit N]
--quantized runs the model with Q4_0 fake quantization of every weight (what the shipped Q4_0 file computes).
Prints the share of answers that ended, their lengths, and each one that did not end.
"""
import argparse
import sys
from pathlib import Path

import jinja2
import sentencepiece as spm
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from chat_data import TEMPLATE  # noqa: E402
from gemma3_torch import Config, Gemma3, QLinear  # noqa: E402

# none of these is among chat_data's training questions
PROMPTS = [
    "Hello, who are you?", "What is the meaning of Easter?", "Write me a short story about a dragon.",
    "How many legs does a spider have?", "Tell me about King David.", "What is faith?",
    "Explain how a computer works.", "In the beginning", "Give me advice on forgiveness.",
    "What happened to Jonah?", "Please list five fruits.", "Why do people pray?", "Sing me a song.",
    "What is the best way to learn Java?", "Who built the ark?", "Describe the city of Jerusalem.",
    "Can you help me? I lost my keys.", "Blessed are the meek", "What do you say to a friend who is grieving?",
    "zxqv 42 !!", "Tell me about the sea and the stars.", "What is wisdom?", "Good evening, Jemma.",
    "How should I treat my neighbour?", "Write a recipe for pancakes.", "What did Moses do?",
    "Is it going to rain tomorrow?", "Teach me something about shepherds.", "The LORD is my shepherd",
    "What are the ten commandments?",
]


@torch.no_grad()
def generate(model, ids, stops, limit, temp, gen):
    out = []
    for _ in range(limit):
        logits = model(torch.tensor([ids + out]))[0, -1]
        if temp == 0:
            t = int(logits.argmax())
        else:
            v, i = torch.topk(logits / temp, 64)
            p = torch.softmax(v, -1)
            keep = torch.cumsum(p, -1) - p < 0.95  # top-p: smallest prefix whose mass reaches 0.95
            p = torch.where(keep, p, torch.zeros_like(p))
            t = int(i[torch.multinomial(p / p.sum(), 1, generator=gen)])
        if t in stops:
            return out, t
        out.append(t)
    return out, None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("checkpoint")
    ap.add_argument("--quantized", action="store_true")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--limit", type=int, default=256)
    a = ap.parse_args()
    torch.set_num_threads(1)
    sp = spm.SentencePieceProcessor(model_file=str(Path(a.out) / "spm.model"))
    cfg = Config(vocab=2048, hidden=128, layers=6, heads=2, kv_heads=1, head_dim=64, ffn=512, window=64)
    model = Gemma3(cfg, max_t=1024)
    model.load_state_dict(torch.load(a.checkpoint))
    model.eval()
    QLinear.fake_quant = QLinear.embeddings_too = a.quantized
    template = jinja2.Environment().from_string(TEMPLATE)
    stops = {sp.piece_to_id("<end_of_turn>"), sp.eos_id(), sp.bos_id()}
    eot = sp.piece_to_id("<end_of_turn>")
    for temp in (0.0, 1.0, 0.7):
        ended, lengths, by_eot = 0, [], 0
        seeds = [0] if temp == 0 else range(1, a.seeds + 1)
        for seed in seeds:
            gen = torch.Generator().manual_seed(seed)
            for prompt in PROMPTS:
                text = template.render(messages=[{"role": "user", "content": prompt}], bos_token="",
                                       add_generation_prompt=True)
                ids = [sp.bos_id()] + sp.encode(text)
                out, stop = generate(model, ids, stops, a.limit, temp, gen)
                if stop is not None:
                    ended += 1
                    by_eot += stop == eot
                    lengths.append(len(out))
                else:
                    print(f"  temp {temp} seed {seed} did not end: {prompt!r} -> {sp.decode(out)[:160]!r}")
        n = len(seeds) * len(PROMPTS)
        lengths.sort()
        print(f"temp {temp}: {ended}/{n} ended within {a.limit} tokens ({by_eot} by <end_of_turn>); length median "
              f"{lengths[len(lengths) // 2] if lengths else '-'}, max {max(lengths) if lengths else '-'}", flush=True)


if __name__ == "__main__":
    main()
