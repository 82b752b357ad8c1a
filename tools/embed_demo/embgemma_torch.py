"""EmbeddingGemma in miniature, in plain PyTorch: the Gemma 3 stack of tools/qat/gemma3_torch.py turned into an
encoder the way google/embeddinggemma-300m is (HF `use_bidirectional_attention`), then sentence-transformers'
mean pooling, dense_2 (hidden -> 4 hidden), dense_3 (4 hidden -> hidden), L2 normalisation; plus a GGUF exporter
writing llama.cpp's `gemma-embedding` layout (the names and keys of shared/fixtures/embedding's GGUFs) and the
chat model's SentencePiece vocabulary as a Python tokenizer.

Pipeline, as in shared/fixtures/embedding/README.md:
  ids = <bos> + pieces(prompt + text) + <eos>
  x = embed[ids] * sqrt(hidden); Gemma 3 blocks with *bidirectional* attention: a sliding layer lets token i see
  token j iff |i - j| <= window // 2, layer l is global (sees all, RoPE base 1e6) iff l % 6 == 5
  e = normalize(dense_3(dense_2(mean over all tokens, <bos>/<eos> included)))
"""
import math
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "qat"))
from gemma3_torch import Config, RMSNorm, apply_rope, rope_tables  # noqa: E402

ARCH = "gemma-embedding"
PROMPTS = {"query": "task: search result | query: ", "document": "title: none | text: "}


class EncoderBlock(nn.Module):
    """One Gemma 3 layer (same parameters and names as gemma3_torch.Block), attention without the causal mask."""

    def __init__(self, c: Config, i: int):
        super().__init__()
        self.c, self.glob = c, i % 6 == 5  # llama.cpp's fixed pattern for gemma-embedding (no pattern key)
        d, hd = c.hidden, c.head_dim
        self.attn_norm = RMSNorm(d, c.eps)
        self.q = nn.Linear(d, c.heads * hd, bias=False)
        self.k = nn.Linear(d, c.kv_heads * hd, bias=False)
        self.v = nn.Linear(d, c.kv_heads * hd, bias=False)
        self.o = nn.Linear(c.heads * hd, d, bias=False)
        self.q_norm = RMSNorm(hd, c.eps)
        self.k_norm = RMSNorm(hd, c.eps)
        self.post_attn_norm = RMSNorm(d, c.eps)
        self.ffn_norm = RMSNorm(d, c.eps)
        self.gate = nn.Linear(d, c.ffn, bias=False)
        self.up = nn.Linear(d, c.ffn, bias=False)
        self.down = nn.Linear(c.ffn, d, bias=False)
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
        mask = masks[1] if self.glob else masks[0]  # [B, 1, T, T] bool, True = may attend
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=c.head_dim ** -0.5)
        x = x + self.post_attn_norm(self.o(a.transpose(1, 2).reshape(B, T, -1)))
        h = self.ffn_norm(x)
        return x + self.post_ffw_norm(self.down(F.gelu(self.gate(h), approximate="tanh") * self.up(h)))


class EmbeddingGemma(nn.Module):
    def __init__(self, c: Config, max_t=512):
        super().__init__()
        self.c = c
        self.embed = nn.Embedding(c.vocab, c.hidden)
        self.blocks = nn.ModuleList(EncoderBlock(c, i) for i in range(c.layers))
        self.norm = RMSNorm(c.hidden, c.eps)
        self.dense2 = nn.Linear(c.hidden, 4 * c.hidden, bias=False)
        self.dense3 = nn.Linear(4 * c.hidden, c.hidden, bias=False)
        self.max_t = max_t
        self.rope = (rope_tables(max_t, c.head_dim, c.rope_local), rope_tables(max_t, c.head_dim, c.rope_global))
        nn.init.normal_(self.embed.weight, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=m.in_features ** -0.5)

    def hidden_states(self, ids, lengths):
        """ids [B, T] right-padded, lengths [B] -> last hidden states [B, T, hidden] (padding rows are garbage)."""
        B, T = ids.shape
        assert T <= self.max_t, f"{T} tokens > {self.max_t}"
        i = torch.arange(T)
        valid = i[None, :] < lengths[:, None]  # [B, T]
        keys = valid[:, None, None, :]  # padding keys are invisible to real tokens
        self_ = torch.eye(T, dtype=torch.bool)[None, None]  # and a padding token sees itself: no empty row, no NaN
        radius = self.c.window // 2
        local = (i[:, None] - i[None, :]).abs() <= radius
        masks = ((keys & local[None, None]) | self_, keys | self_)
        x = self.embed(ids) * torch.tensor(math.sqrt(self.c.hidden), dtype=torch.float32)
        for b in self.blocks:
            x = b(x, self.rope, masks)
        return self.norm(x), valid

    def pooled(self, ids, lengths):
        h, valid = self.hidden_states(ids, lengths)
        w = valid[..., None]
        return torch.where(w, h, 0.0).sum(1) / w.sum(1)  # mean over every token, <bos>/<eos> and prompt included

    def forward(self, ids, lengths):
        return F.normalize(self.dense3(self.dense2(self.pooled(ids, lengths))), dim=-1)


def pad(seqs):
    """List of id lists -> (ids [B, T] padded with 0, lengths [B])."""
    lengths = torch.tensor([len(s) for s in seqs])
    ids = torch.zeros(len(seqs), int(lengths.max()), dtype=torch.long)
    for r, s in enumerate(seqs):
        ids[r, :len(s)] = torch.tensor(s)
    return ids, lengths


# --- the demo chat model's vocabulary ---------------------------------------------------------------------------

class Vocab:
    """The SentencePiece BPE vocabulary of a GGUF (here models/jemma-demo.gguf), as a SentencePiece processor rebuilt
    from tokenizer.ggml.{tokens,scores,token_type} with the normaliser the chat model's tokenizer was trained with
    (identity, no dummy prefix, whitespace kept) - so Python encodes text as Jemma's GGUF tokenizer does."""

    def __init__(self, gguf_path):
        import gguf
        import sentencepiece as spm
        from sentencepiece import sentencepiece_model_pb2 as pb

        r = gguf.GGUFReader(gguf_path)
        f = r.fields
        self.tokens = [bytes(f["tokenizer.ggml.tokens"].parts[i]) for i in f["tokenizer.ggml.tokens"].data]
        self.scores = [float(f["tokenizer.ggml.scores"].parts[i][0]) for i in f["tokenizer.ggml.scores"].data]
        self.types = [int(f["tokenizer.ggml.token_type"].parts[i][0]) for i in f["tokenizer.ggml.token_type"].data]
        self.bos = int(f["tokenizer.ggml.bos_token_id"].contents())
        self.eos = int(f["tokenizer.ggml.eos_token_id"].contents())
        self.unk = int(f["tokenizer.ggml.unknown_token_id"].contents())
        self.pad = int(f["tokenizer.ggml.padding_token_id"].contents())
        m = pb.ModelProto()
        for t, s, ty in zip(self.tokens, self.scores, self.types):
            p = m.pieces.add()
            p.piece, p.score, p.type = t.decode("utf-8"), s, ty  # llama.cpp's token types are SentencePiece's
        ts = m.trainer_spec
        ts.model_type = pb.TrainerSpec.BPE
        ts.vocab_size = len(self.tokens)
        ts.byte_fallback = True
        ts.unk_id, ts.bos_id, ts.eos_id, ts.pad_id = self.unk, self.bos, self.eos, self.pad
        ns = m.normalizer_spec
        ns.name = "identity"
        ns.add_dummy_prefix = False
        ns.remove_extra_whitespaces = False
        ns.escape_whitespaces = True
        self.sp = spm.SentencePieceProcessor(model_proto=m.SerializeToString())

    def __len__(self):
        return len(self.tokens)

    def pieces(self, text):
        return self.sp.encode(text)

    def encode(self, text, prompt=None):
        """<bos> + pieces(prompt + text) + <eos>: EmbeddingGemma's add_bos_token = add_eos_token = true."""
        return [self.bos] + self.sp.encode((PROMPTS[prompt] if prompt else "") + text) + [self.eos]


def load_chat_weights(model: EmbeddingGemma, gguf_path):
    """Initialises the encoder from a Gemma 3 chat GGUF of the same shape (dequantised with gguf-py), as
    EmbeddingGemma was initialised from Gemma 3; GGUF norms carry Gemma's +1, the torch modules add it back."""
    import gguf
    r = gguf.GGUFReader(gguf_path)
    t = {x.name: torch.from_numpy(np.array(gguf.quants.dequantize(x.data, x.tensor_type), dtype=np.float32))
         for x in r.tensors}
    names = _tensor_names(model)
    with torch.no_grad():
        for gname, (param, is_norm) in names.items():
            if gname.startswith("dense_"):
                continue
            src = t[gname].reshape(param.shape)
            param.copy_(src - 1.0 if is_norm else src)


def _tensor_names(model: EmbeddingGemma):
    """GGUF tensor name -> (torch parameter, is an RMSNorm weight)."""
    out = {"token_embd.weight": (model.embed.weight, False)}
    for i, b in enumerate(model.blocks):
        p = f"blk.{i}."
        for n, m in (("attn_q", b.q), ("attn_k", b.k), ("attn_v", b.v), ("attn_output", b.o),
                     ("ffn_gate", b.gate), ("ffn_up", b.up), ("ffn_down", b.down)):
            out[p + n + ".weight"] = (m.weight, False)
        for n, m in (("attn_norm", b.attn_norm), ("attn_q_norm", b.q_norm), ("attn_k_norm", b.k_norm),
                     ("post_attention_norm", b.post_attn_norm), ("ffn_norm", b.ffn_norm),
                     ("post_ffw_norm", b.post_ffw_norm)):
            out[p + n + ".weight"] = (m.weight, True)
    out["output_norm.weight"] = (model.norm.weight, True)
    out["dense_2.weight"] = (model.dense2.weight, False)
    out["dense_3.weight"] = (model.dense3.weight, False)
    return out


def load_gguf_weights(model: EmbeddingGemma, gguf_path):
    """Loads every tensor of an exported (possibly quantised) gemma-embedding GGUF, dequantised with gguf-py."""
    import gguf
    r = gguf.GGUFReader(gguf_path)
    t = {x.name: np.array(gguf.quants.dequantize(x.data, x.tensor_type), dtype=np.float32) for x in r.tensors}
    names = _tensor_names(model)
    assert set(t) == set(names), sorted(set(t) ^ set(names))
    with torch.no_grad():
        for gname, (param, is_norm) in names.items():
            src = torch.from_numpy(t[gname]).reshape(param.shape)
            param.copy_(src - 1.0 if is_norm else src)


def export_gguf(model: EmbeddingGemma, vocab: Vocab, out_path, name, max_seq=2048):
    """GGUF F32 in llama.cpp's gemma-embedding layout (convert_hf_to_gguf.py --sentence-transformers-dense-modules):
    gemma-embedding.* keys incl. dense_{2,3}_feat_{in,out} and pooling_type 1 (mean); dense_2/dense_3 as plain
    [out, in] matrices; Gemma's RMSNorm +1 folded into the norm weights; the vocabulary with add_eos_token."""
    import gguf
    c = model.c
    w = gguf.GGUFWriter(str(out_path), ARCH)
    w.add_type("model")
    w.add_name(name)
    w.add_block_count(c.layers)
    w.add_context_length(max_seq)
    w.add_embedding_length(c.hidden)
    w.add_feed_forward_length(c.ffn)
    w.add_head_count(c.heads)
    w.add_head_count_kv(c.kv_heads)
    w.add_rope_freq_base(c.rope_global)
    w.add_float32(f"{ARCH}.rope.freq_base_swa", c.rope_local)
    w.add_layer_norm_rms_eps(c.eps)
    w.add_key_length(c.head_dim)
    w.add_value_length(c.head_dim)
    w.add_file_type(0)
    w.add_uint32(f"{ARCH}.attention.sliding_window", c.window)
    w.add_uint32(f"{ARCH}.dense_2_feat_in", c.hidden)
    w.add_uint32(f"{ARCH}.dense_2_feat_out", 4 * c.hidden)
    w.add_uint32(f"{ARCH}.dense_3_feat_in", 4 * c.hidden)
    w.add_uint32(f"{ARCH}.dense_3_feat_out", c.hidden)
    w.add_pooling_type(gguf.PoolingType.MEAN)
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(vocab.tokens)
    w.add_token_scores(vocab.scores)
    w.add_token_types(vocab.types)
    w.add_bos_token_id(vocab.bos)
    w.add_eos_token_id(vocab.eos)
    w.add_unk_token_id(vocab.unk)
    w.add_pad_token_id(vocab.pad)
    w.add_add_bos_token(True)
    w.add_add_eos_token(True)
    w.add_add_sep_token(False)
    w.add_add_space_prefix(False)
    for gname, (param, is_norm) in _tensor_names(model).items():
        x = param.detach().float() + (1.0 if is_norm else 0.0)
        w.add_tensor(gname, x.contiguous().numpy().astype(np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
