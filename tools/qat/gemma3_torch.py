"""A small Gemma 3 text model in plain PyTorch, written from the architecture (HF modeling_gemma3.py semantics),
plus ggml's Q4_0 fake quantization for quantization-aware training and a GGUF F32 exporter (gguf-py) that writes
the tensor names and metadata llama.cpp's converter writes (the +1 of Gemma's RMSNorm folded into the weights)."""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Config:
    def __init__(self, vocab=4096, hidden=256, layers=6, heads=4, kv_heads=1, head_dim=64, ffn=768,
                 window=128, pattern=6, rope_local=10000.0, rope_global=1000000.0, eps=1e-6, ctx=2048):
        self.__dict__.update(locals())
        del self.__dict__["self"]

    def is_global(self, i):
        return (i + 1) % self.pattern == 0


def fake_q4_0(w: torch.Tensor) -> torch.Tensor:
    """ggml's Q4_0 round trip of a [out, in] weight (blocks of 32 along `in`), straight-through gradient.
    Same arithmetic as quantize_row_q4_0_ref: d = max/-8 (signed value of largest magnitude), q = min(15,
    trunc(x/d + 8.5)), stored scale rounded to f16; so `jemma quantize ... Q4_0` of the exported weights gives
    exactly the values the model was trained with."""
    out, n = w.shape
    b = w.detach().reshape(out, n // 32, 32)
    idx = b.abs().argmax(-1, keepdim=True)
    mx = torch.gather(b, -1, idx)
    d = mx / -8
    inv = torch.where(d == 0, torch.zeros_like(d), 1.0 / d)
    q = torch.trunc(b * inv + 8.5).clamp(0, 15)
    deq = ((q - 8) * d.half().float()).reshape(out, n)
    return w + (deq - w).detach()


class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * (1.0 + self.weight)


class QLinear(nn.Linear):
    """Linear layer whose weight can be fake-quantized to Q4_0 (switched on for QAT)."""
    fake_quant = False
    embeddings_too = False  # also fake-quantize the tied token embedding (for files quantized with --pure)

    def forward(self, x):
        w = fake_q4_0(self.weight) if QLinear.fake_quant else self.weight
        return F.linear(x, w)


def rope_tables(n_pos, head_dim, base):
    inv = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    t = torch.arange(n_pos, dtype=torch.float32)
    f = torch.outer(t, inv)
    emb = torch.cat([f, f], -1)
    return emb.cos(), emb.sin()


def apply_rope(x, cos, sin):  # x: [B, H, T, D], NeoX rotate-half
    h = x.shape[-1] // 2
    rot = torch.cat([-x[..., h:], x[..., :h]], -1)
    return x * cos + rot * sin


class Block(nn.Module):
    def __init__(self, c: Config, i: int):
        super().__init__()
        self.c, self.glob = c, c.is_global(i)
        d, hd = c.hidden, c.head_dim
        self.attn_norm = RMSNorm(d, c.eps)
        self.q = QLinear(d, c.heads * hd, bias=False)
        self.k = QLinear(d, c.kv_heads * hd, bias=False)
        self.v = QLinear(d, c.kv_heads * hd, bias=False)
        self.o = QLinear(c.heads * hd, d, bias=False)
        self.q_norm = RMSNorm(hd, c.eps)
        self.k_norm = RMSNorm(hd, c.eps)
        self.post_attn_norm = RMSNorm(d, c.eps)
        self.ffn_norm = RMSNorm(d, c.eps)
        self.gate = QLinear(d, c.ffn, bias=False)
        self.up = QLinear(d, c.ffn, bias=False)
        self.down = QLinear(c.ffn, d, bias=False)
        self.post_ffw_norm = RMSNorm(d, c.eps)

    def forward(self, x, rope, masks):
        c = self.c
        B, T, _ = x.shape
        h = self.attn_norm(x)
        q = self.q_norm(self.q(h).view(B, T, c.heads, c.head_dim)).transpose(1, 2)
        k = self.k_norm(self.k(h).view(B, T, c.kv_heads, c.head_dim)).transpose(1, 2)
        v = self.v(h).view(B, T, c.kv_heads, c.head_dim).transpose(1, 2)
        cos, sin = rope[1] if self.glob else rope[0]
        q, k = apply_rope(q, cos[:T], sin[:T]), apply_rope(k, cos[:T], sin[:T])
        rep = c.heads // c.kv_heads
        k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
        mask = masks[1] if self.glob else masks[0]
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:T, :T], scale=c.head_dim ** -0.5)
        x = x + self.post_attn_norm(self.o(a.transpose(1, 2).reshape(B, T, -1)))
        h = self.ffn_norm(x)
        return x + self.post_ffw_norm(self.down(F.gelu(self.gate(h), approximate="tanh") * self.up(h)))


class Gemma3(nn.Module):
    def __init__(self, c: Config, max_t=512):
        super().__init__()
        self.c = c
        self.embed = nn.Embedding(c.vocab, c.hidden)
        self.blocks = nn.ModuleList(Block(c, i) for i in range(c.layers))
        self.norm = RMSNorm(c.hidden, c.eps)
        self.rope = (rope_tables(max_t, c.head_dim, c.rope_local), rope_tables(max_t, c.head_dim, c.rope_global))
        i = torch.arange(max_t)
        causal = i[None, :] <= i[:, None]
        local = causal & (i[:, None] - i[None, :] < c.window)
        self.masks = (local, causal)
        nn.init.normal_(self.embed.weight, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.02)

    def forward(self, ids):
        e = self.embed.weight
        if QLinear.fake_quant and QLinear.embeddings_too:
            e = fake_q4_0(e)  # rows are the hidden dimension, as token_embd's Q4_0 blocks in the GGUF
        x = F.embedding(ids, e) * torch.tensor(math.sqrt(self.c.hidden), dtype=torch.float32)
        for b in self.blocks:
            x = b(x, self.rope, self.masks)
        return self.norm(x) @ e.T


def export_gguf(model: Gemma3, sp_model_path: str, out_path: str, name: str, chat_template: str | None = None,
                user_symbols=("<start_of_turn>", "<end_of_turn>"), repeat_penalty: float | None = None):
    """Writes GGUF F32 with llama.cpp's gemma3 names and keys; tokenizer.ggml.* from the SentencePiece model the
    way llama.cpp's converter does (pieces, scores, token types); repeat_penalty, when given, as the file's
    recommended sampling (general.sampling.penalty_repeat, which Jemma applies unless a request sets its own)."""
    import gguf
    import sentencepiece as spm

    c = model.c
    w = gguf.GGUFWriter(out_path, "gemma3")
    w.add_name(name)
    w.add_block_count(c.layers)
    w.add_context_length(c.ctx)
    w.add_embedding_length(c.hidden)
    w.add_feed_forward_length(c.ffn)
    w.add_head_count(c.heads)
    w.add_head_count_kv(c.kv_heads)
    w.add_rope_freq_base(c.rope_global)
    w.add_uint32("gemma3.attention.sliding_window", c.window)
    w.add_float32("gemma3.rope.freq_base_swa", c.rope_local)
    w.add_layer_norm_rms_eps(c.eps)
    w.add_key_length(c.head_dim)
    w.add_value_length(c.head_dim)
    w.add_file_type(0)
    if repeat_penalty is not None:
        w.add_float32("general.sampling.penalty_repeat", repeat_penalty)

    sp = spm.SentencePieceProcessor(model_file=sp_model_path)
    tokens, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        piece = sp.id_to_piece(i)
        tokens.append(piece.encode("utf-8"))
        scores.append(sp.get_score(i))
        # llama.cpp token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
        if sp.is_unknown(i):
            types.append(2)
        elif sp.is_control(i):
            types.append(3)
        elif sp.is_byte(i):
            types.append(6)
        elif sp.is_unused(i):
            types.append(5)
        elif piece in user_symbols:
            types.append(4)
        else:
            types.append(1)
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(sp.bos_id())
    w.add_eos_token_id(sp.eos_id())
    w.add_unk_token_id(sp.unk_id())
    w.add_pad_token_id(sp.pad_id())
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(False)
    if chat_template:
        w.add_chat_template(chat_template)

    def t(x):
        return x.detach().float().contiguous().numpy().astype(np.float32)

    w.add_tensor("token_embd.weight", t(model.embed.weight))
    for i, b in enumerate(model.blocks):
        p = f"blk.{i}."
        for n, m in (("attn_q", b.q), ("attn_k", b.k), ("attn_v", b.v), ("attn_output", b.o),
                     ("ffn_gate", b.gate), ("ffn_up", b.up), ("ffn_down", b.down)):
            w.add_tensor(p + n + ".weight", t(m.weight))
        for n, m in (("attn_norm", b.attn_norm), ("attn_q_norm", b.q_norm), ("attn_k_norm", b.k_norm),
                     ("post_attention_norm", b.post_attn_norm), ("ffn_norm", b.ffn_norm),
                     ("post_ffw_norm", b.post_ffw_norm)):
            w.add_tensor(p + n + ".weight", t(m.weight + 1.0))  # llama.cpp folds Gemma's (1 + w)
    w.add_tensor("output_norm.weight", t(model.norm.weight + 1.0))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
