#!/usr/bin/env python3
"""Small random Gemma 3n GGUFs with E4B's layer structure, and a float64 NumPy reference forward.

  python tools/gemma3n_random.py make OUT.gguf [--type q8_0|f32] [--seed 3]
      35 layers (full attention at il % 5 == 4), 15 KV-shared layers (so the full-attention layers 24/29/34
      reuse layer 19's K/V — the path the gemma3n-tiny fixture does not exercise), activation sparsity on
      layers 0-9, AltUp 4 streams, written the way llama.cpp's converter writes gemma3n (same keys and tensor
      names), with small widths: n_embd 32, 2 heads x 16, 1 KV head, FFN 64, per-layer input 32, LAuReL rank 32,
      window 8, vocab 128.
  python tools/gemma3n_random.py forward MODEL.gguf IDS.json OUT.f32
      Logits of every position (float32 LE [n_ids x n_vocab]) from an independent float64 NumPy forward written
      from GEMMA-ARCHITECTURE.md section 2 (no cache: KV-shared layers attend over the K/V their source layer
      computed for the whole sequence, the semantics HF has with a cache).

  python tools/gemma3n_random.py make-real OUT.gguf --shape e4b|e2b [--type q4_0|q8_0] [--vocab VOCAB.gguf]
      A random file with the real E2B / E4B shapes (n_embd 2048, 8 heads x 256, 2 KV heads, FFN 16384 (E4B) or
      8192 (E2B), 35 / 30 layers, 15 / 10 KV-shared, PLE 256 per layer over 262 400 rows, window 512): weight
      matrices are random Q4_0 / Q8_0 blocks scaled to std 1/sqrt(fan_in), written in chunks (the E4B PLE table
      alone is 2.35 B weights), norms F32 near 1. With --vocab the tokenizer of a Gemma 3 GGUF is copied and padded
      with 256 control tokens to 262 400 (Gemma 3n's multimodal ids), so `jemma run` / `bench` work on it.

Used to make jemma-core/src/test/resources/gemma3n/ (see its README). Needs: pip install gguf numpy.
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q

ARCH = "gemma3n"


# ---------------------------------------------------------------------------------------------- make

def make(path, qtype, seed):
    rng = np.random.default_rng(seed)
    L, E, H, KV, HD, F, P, R, A, W, VOCAB, SHARED = 35, 32, 2, 1, 16, 64, 32, 32, 4, 8, 128, 15
    sliding = [l % 5 != 4 for l in range(L)]
    icdf95 = float(np.float32(1.6448536))
    sparsity = [icdf95] * 10 + [float("-inf")] * (L - 10)

    w = gguf.GGUFWriter(path + ".tmp", ARCH)
    w.add_name("Gemma3n E4B-shaped random")
    w.add_uint32(f"{ARCH}.block_count", L)
    w.add_uint32(f"{ARCH}.context_length", 256)
    w.add_uint32(f"{ARCH}.embedding_length", E)
    w.add_array(f"{ARCH}.feed_forward_length", [F] * L)
    w.add_uint32(f"{ARCH}.attention.head_count", H)
    w.add_uint32(f"{ARCH}.attention.head_count_kv", KV)
    w.add_float32(f"{ARCH}.rope.freq_base", 1_000_000.0)
    w.add_float32(f"{ARCH}.rope.freq_base_swa", 10_000.0)
    w.add_float32(f"{ARCH}.attention.layer_norm_rms_epsilon", 1e-6)
    w.add_uint32(f"{ARCH}.attention.key_length", HD)
    w.add_uint32(f"{ARCH}.attention.value_length", HD)
    w.add_float32(f"{ARCH}.final_logit_softcapping", 30.0)
    w.add_uint32(f"{ARCH}.attention.sliding_window", W)
    w.add_uint32(f"{ARCH}.altup.active_idx", 0)
    w.add_uint32(f"{ARCH}.altup.num_inputs", A)
    w.add_uint32(f"{ARCH}.embedding_length_per_layer_input", P)
    w.add_uint32(f"{ARCH}.attention.shared_kv_layers", SHARED)
    w.add_array(f"{ARCH}.activation_sparsity_scale", sparsity)
    w.add_array(f"{ARCH}.attention.sliding_window_pattern", sliding)

    def mat(rows, cols, scale=1.0):
        return (rng.standard_normal((rows, cols)) * scale / math.sqrt(cols)).astype(np.float32)

    def vec(n, mean=1.0, sd=0.1):
        return (mean + sd * rng.standard_normal(n)).astype(np.float32)

    def put(name, a, quantize=True):
        if quantize and qtype != Q.F32 and a.shape[-1] % 32 == 0:
            w.add_tensor(name, gguf.quants.quantize(a, qtype), raw_dtype=qtype)
        else:
            w.add_tensor(name, a)

    put("token_embd.weight", (rng.standard_normal((VOCAB, E)) * 0.5).astype(np.float32))
    put("per_layer_token_embd.weight", (rng.standard_normal((VOCAB, L * P)) * 0.5).astype(np.float32))
    put("per_layer_model_proj.weight", mat(L * P, E))
    put("per_layer_proj_norm.weight", vec(P), False)
    put("altup_proj.weight", np.stack([mat(E, E) for _ in range(A - 1)]))
    put("altup_unembd_proj.weight", np.stack([mat(E, E) for _ in range(A - 1)]))
    put("output_norm.weight", vec(E), False)
    for l in range(L):
        b = f"blk.{l}."
        put(b + "attn_norm.weight", vec(E), False)
        put(b + "attn_q.weight", mat(H * HD, E))
        put(b + "attn_k.weight", mat(KV * HD, E))
        put(b + "attn_v.weight", mat(KV * HD, E))
        put(b + "attn_output.weight", mat(E, H * HD))
        put(b + "attn_q_norm.weight", vec(HD, 0.4, 0.05), False)   # softer attention: less rounding amplification
        put(b + "attn_k_norm.weight", vec(HD, 0.4, 0.05), False)
        put(b + "post_attention_norm.weight", vec(E), False)
        put(b + "ffn_norm.weight", vec(E), False)
        put(b + "ffn_gate.weight", mat(F, E))
        put(b + "ffn_up.weight", mat(F, E))
        put(b + "ffn_down.weight", mat(E, F))
        put(b + "post_ffw_norm.weight", vec(E), False)
        put(b + "inp_gate.weight", mat(P, E))
        put(b + "proj.weight", mat(E, P))
        put(b + "post_norm.weight", vec(E), False)
        put(b + "altup_correct_coef.weight", (rng.standard_normal((A, A)) * 0.1).astype(np.float32), False)
        put(b + "altup_correct_scale.weight", vec(E), False)
        put(b + "altup_predict_coef.weight", (rng.standard_normal((A * A, A)) * 0.1).astype(np.float32), False)
        put(b + "altup_router.weight", mat(A, E))
        put(b + "altup_router_norm.weight", vec(E), False)
        put(b + "laurel_l.weight", mat(R, E))
        put(b + "laurel_r.weight", mat(E, R))
        put(b + "laurel_post_norm.weight", vec(E), False)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(path + ".tmp", path)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


# ---------------------------------------------------------------------------------------------- make-real

class RandomBlocks:
    """Duck-typed stand-in for a numpy array in GGUFWriter.write_tensor_data: random quantized blocks (or F32
    values) written in chunks, so multi-GB tensors never sit in memory."""

    def __init__(self, rng, qtype, n, std):
        self.rng, self.qtype, self.n, self.std = rng, qtype, n, std
        block, size = gguf.GGML_QUANT_SIZES[qtype]
        self.nbytes = n // block * size

    def tofile(self, fout):
        block, size = gguf.GGML_QUANT_SIZES[self.qtype]
        # quantized value spread: Q4_0 nibbles-8 in [-8, 7] (std 4.61), Q8_0 int8 (std 73.9)
        spread = 4.61 if self.qtype == Q.Q4_0 else 73.9
        left = self.n // block
        while left:
            nb = min(left, 1 << 20)
            raw = self.rng.integers(0, 256, size=(nb, size), dtype=np.uint8)
            d = (self.std / spread * (1 + 0.1 * self.rng.standard_normal(nb))).astype(np.float16)
            raw[:, 0:2] = d.view(np.uint8).reshape(nb, 2)
            raw.tofile(fout)
            left -= nb


def make_real(path, shape, qtype, seed, vocab_path):
    rng = np.random.default_rng(seed)
    L, F, SHARED = (35, 16384, 15) if shape == "e4b" else (30, 8192, 10)
    E, H, KV, HD, P, R, A, W, VOCAB = 2048, 8, 2, 256, 256, 64, 4, 512, 262400
    sliding = [l % 5 != 4 for l in range(L)]
    sparsity = [float(np.float32(1.6448536))] * 10 + [float("-inf")] * (L - 10)
    w = gguf.GGUFWriter(path + ".tmp", ARCH)
    w.add_name(f"Gemma3n {shape.upper()}-shaped random")
    for key, val in [("block_count", L), ("context_length", 32768), ("embedding_length", E), ("attention.head_count", H),
                     ("attention.head_count_kv", KV), ("attention.key_length", HD), ("attention.value_length", HD),
                     ("attention.sliding_window", W), ("altup.active_idx", 0), ("altup.num_inputs", A),
                     ("embedding_length_per_layer_input", P), ("attention.shared_kv_layers", SHARED)]:
        w.add_uint32(f"{ARCH}.{key}", val)
    w.add_array(f"{ARCH}.feed_forward_length", [F] * L)
    w.add_float32(f"{ARCH}.rope.freq_base", 1_000_000.0)
    w.add_float32(f"{ARCH}.rope.freq_base_swa", 10_000.0)
    w.add_float32(f"{ARCH}.attention.layer_norm_rms_epsilon", 1e-6)
    w.add_float32(f"{ARCH}.final_logit_softcapping", 30.0)
    w.add_array(f"{ARCH}.activation_sparsity_scale", sparsity)
    w.add_array(f"{ARCH}.attention.sliding_window_pattern", sliding)
    if vocab_path:
        vr = gguf.GGUFReader(vocab_path)
        for name, field in vr.fields.items():
            if not name.startswith("tokenizer."):
                continue
            main = field.types[0]
            if main == gguf.GGUFValueType.ARRAY:
                val = list(field.contents())
                extra = VOCAB - len(val)
                if name == "tokenizer.ggml.tokens":
                    val += [f"<unused_mm_{i}>" for i in range(extra)]
                elif name == "tokenizer.ggml.scores":
                    val += [-1000.0] * extra
                elif name == "tokenizer.ggml.token_type":
                    val += [3] * extra
                w.add_key_value(name, val, main, sub_type=field.types[-1])
            else:
                w.add_key_value(name, field.contents(), main)

    tensors = []          # (name, element shape numpy-order, kind, std)

    def mat(name, rows, cols, std=None):
        tensors.append((name, (rows, cols), "q", std if std is not None else 1 / math.sqrt(cols)))

    def f32(name, shape, mean=1.0, sd=0.1):
        tensors.append((name, shape, "f", (mean, sd)))

    mat("token_embd.weight", VOCAB, E, 0.5)
    mat("per_layer_token_embd.weight", VOCAB, L * P, 0.5)
    mat("per_layer_model_proj.weight", L * P, E)
    f32("per_layer_proj_norm.weight", (P,))
    tensors.append(("altup_proj.weight", (A - 1, E, E), "q", 1 / math.sqrt(E)))
    tensors.append(("altup_unembd_proj.weight", (A - 1, E, E), "q", 1 / math.sqrt(E)))
    f32("output_norm.weight", (E,))
    for l in range(L):
        b = f"blk.{l}."
        f32(b + "attn_norm.weight", (E,))
        mat(b + "attn_q.weight", H * HD, E)
        mat(b + "attn_k.weight", KV * HD, E)
        mat(b + "attn_v.weight", KV * HD, E)
        mat(b + "attn_output.weight", E, H * HD)
        f32(b + "attn_q_norm.weight", (HD,), 0.4, 0.05)
        f32(b + "attn_k_norm.weight", (HD,), 0.4, 0.05)
        f32(b + "post_attention_norm.weight", (E,))
        f32(b + "ffn_norm.weight", (E,))
        mat(b + "ffn_gate.weight", F, E)
        mat(b + "ffn_up.weight", F, E)
        mat(b + "ffn_down.weight", E, F)
        f32(b + "post_ffw_norm.weight", (E,))
        mat(b + "inp_gate.weight", P, E)
        mat(b + "proj.weight", E, P)
        f32(b + "post_norm.weight", (E,))
        f32(b + "altup_correct_coef.weight", (A, A), 0.0, 0.1)
        f32(b + "altup_correct_scale.weight", (E,))
        f32(b + "altup_predict_coef.weight", (A * A, A), 0.0, 0.1)
        f32(b + "altup_router.weight", (A, E), 0.0, 1 / math.sqrt(E))
        f32(b + "altup_router_norm.weight", (E,))
        mat(b + "laurel_l.weight", R, E)
        mat(b + "laurel_r.weight", E, R)
        f32(b + "laurel_post_norm.weight", (E,))
    for name, shp, kind, _ in tensors:
        n = int(np.prod(shp))
        if kind == "q":
            block, size = gguf.GGML_QUANT_SIZES[qtype]
            w.add_tensor_info(name, shp, np.dtype(np.float32), n // block * size, raw_dtype=qtype)
        else:
            w.add_tensor_info(name, shp, np.dtype(np.float32), 4 * n)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for name, shp, kind, arg in tensors:
        n = int(np.prod(shp))
        if kind == "q":
            w.write_tensor_data(RandomBlocks(rng, qtype, n, arg))
        else:
            mean, sd = arg
            w.write_tensor_data((mean + sd * rng.standard_normal(shp)).astype(np.float32))
    w.close()
    os.replace(path + ".tmp", path)
    print(f"wrote {path} ({os.path.getsize(path) / 1e9:.2f} GB)")


# ---------------------------------------------------------------------------------------------- forward

DTYPE = np.float64


def load(path):
    r = gguf.GGUFReader(path)
    meta = {k: f.contents() for k, f in r.fields.items() if not k.startswith("GGUF.")}
    tensors = {}
    for t in r.tensors:
        shape = tuple(reversed([int(d) for d in t.shape]))
        tensors[t.name] = gguf.quants.dequantize(np.asarray(t.data), t.tensor_type).astype(DTYPE).reshape(shape)
    return meta, tensors


def rms_norm(x, w=None, eps=1e-6):
    y = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
    return y * w if w is not None else y


def gelu(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def rope(x, pos, theta):
    # angles rounded to float32 as HF computes them (inv_freq and position·inv_freq in f32): the one place where
    # float64 would be *less* faithful to the references, and this model amplifies such 1e-7 differences ~1000x
    d = x.shape[-1]
    inv = (1.0 / (np.float32(theta) ** (np.arange(0, d, 2, dtype=np.float32) / np.float32(d)))).astype(np.float32)
    ang = (pos.astype(np.float32)[:, None] * inv[None, :]).astype(np.float64)
    c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    a, b = x[..., : d // 2], x[..., d // 2:]
    return np.concatenate([a * c - b * s, a * s + b * c], axis=-1)


def forward(path, ids):
    m, T = load(path)
    k = lambda s: m[f"{ARCH}.{s}"]  # noqa: E731
    L, E, H, KV = k("block_count"), k("embedding_length"), k("attention.head_count"), k("attention.head_count_kv")
    HD, W, P, A = k("attention.key_length"), k("attention.sliding_window"), k("embedding_length_per_layer_input"), k("altup.num_inputs")
    eps = k("attention.layer_norm_rms_epsilon")
    sliding = list(k("attention.sliding_window_pattern"))
    shared = k("attention.shared_kv_layers")
    sparsity = list(k("activation_sparsity_scale"))
    cap = k("final_logit_softcapping")
    ids = np.array(ids)
    n = len(ids)
    pos = np.arange(n, dtype=np.float64)
    first_shared = L - shared
    source = list(range(L))
    for l in range(first_shared, L):
        source[l] = max(i for i in range(first_shared) if sliding[i] == sliding[l])

    h0 = T["token_embd.weight"][ids] * DTYPE(math.sqrt(E))
    ple_tok = T["per_layer_token_embd.weight"][ids].reshape(n, L, P) * math.sqrt(P)
    ple_proj = (h0 @ T["per_layer_model_proj.weight"].T / math.sqrt(E)).reshape(n, L, P)
    ple = (rms_norm(ple_proj, T["per_layer_proj_norm.weight"], eps) + ple_tok) / math.sqrt(2)

    def match(x, ref):
        target = np.sqrt(np.mean(ref * ref, -1, keepdims=True))
        return x * target / np.sqrt(np.maximum(np.mean(x * x, -1, keepdims=True), 1e-5))

    S = np.stack([h0] + [match(h0 @ T["altup_proj.weight"][i].T, h0) for i in range(A - 1)], axis=1)  # [n, A, E]
    kv = {}
    i_idx, j_idx = np.arange(n)[:, None], np.arange(n)[None, :]
    for l in range(L):
        g = lambda s: T[f"blk.{l}.{s}.weight"]  # noqa: E731
        router = lambda x: np.tanh(rms_norm(x, g("altup_router_norm"), eps) / E @ g("altup_router").T)  # noqa: E731
        C = (router(S[:, 0]) @ g("altup_predict_coef").T).reshape(n, A, A)
        pred = np.einsum("nij,nje->nie", C, S) + S
        x = pred[:, 0]
        xn = rms_norm(x, g("attn_norm"), eps)
        laurel = xn + rms_norm(xn @ g("laurel_l").T @ g("laurel_r").T, g("laurel_post_norm"), eps)

        theta = m[f"{ARCH}.rope.freq_base_swa"] if sliding[l] else m[f"{ARCH}.rope.freq_base"]
        q = rope(rms_norm((xn @ g("attn_q").T).reshape(n, H, HD), g("attn_q_norm"), eps), pos, theta)
        if source[l] == l:
            kk = rope(rms_norm((xn @ g("attn_k").T).reshape(n, KV, HD), g("attn_k_norm"), eps), pos, theta)
            vv = rms_norm((xn @ g("attn_v").T).reshape(n, KV, HD), None, eps)
            kv[l] = (kk, vv)
        kk, vv = kv[source[l]]
        visible = j_idx <= i_idx
        if sliding[l]:
            visible &= (i_idx - j_idx) < W
        out = np.zeros((n, H, HD))
        for h in range(H):
            kh = h // (H // KV)
            sc = q[:, h] @ kk[:, kh].T                      # attention scale 1.0
            sc = np.where(visible, sc, -np.inf)
            sc = np.exp(sc - sc.max(-1, keepdims=True))
            out[:, h] = (sc / sc.sum(-1, keepdims=True)) @ vv[:, kh]
        attn = rms_norm(out.reshape(n, H * HD) @ g("attn_output").T, g("post_attention_norm"), eps)
        al = (x + attn + laurel) / math.sqrt(2)
        fn = rms_norm(al, g("ffn_norm"), eps)
        gate = fn @ g("ffn_gate").T
        if math.isfinite(sparsity[l]):
            cutoff = gate.mean(-1, keepdims=True) + gate.std(-1, keepdims=True) * sparsity[l]   # population std
            gate = np.maximum(gate - cutoff, 0)
        y = al + rms_norm((gelu(gate) * (fn @ g("ffn_up").T)) @ g("ffn_down").T, g("post_ffw_norm"), eps)
        c = router(y) @ g("altup_correct_coef").T + 1.0
        S = pred + c[:, :, None] * (y - pred[:, 0])[:, None, :]
        z = S[:, 0] * g("altup_correct_scale")
        z = gelu(z @ g("inp_gate").T) * ple[:, l]
        S[:, 1:] += rms_norm(z @ g("proj").T, g("post_norm"), eps)[:, None, :]

    streams = [S[:, 0]] + [match(S[:, i] @ T["altup_unembd_proj.weight"][i - 1].T, S[:, 0]) for i in range(1, A)]
    h = rms_norm(np.mean(np.stack(streams), axis=0), T["output_norm.weight"], eps)
    out_w = T.get("output.weight", T["token_embd.weight"])
    logits = h @ out_w.T
    return cap * np.tanh(logits / cap)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    mk = sub.add_parser("make")
    mk.add_argument("out")
    mk.add_argument("--type", default="q8_0", choices=["q8_0", "f32"])
    mk.add_argument("--seed", type=int, default=3)
    mr = sub.add_parser("make-real")
    mr.add_argument("out")
    mr.add_argument("--shape", required=True, choices=["e2b", "e4b"])
    mr.add_argument("--type", default="q4_0", choices=["q4_0", "q8_0"])
    mr.add_argument("--seed", type=int, default=4)
    mr.add_argument("--vocab", help="a Gemma 3 GGUF whose tokenizer to copy (e.g. fixtures/gemma3-vocab.gguf)")
    fw = sub.add_parser("forward")
    fw.add_argument("model")
    fw.add_argument("ids")
    fw.add_argument("out")
    fw.add_argument("--float32", action="store_true", help="compute in float32 (to measure how much rounding this model amplifies)")
    a = ap.parse_args()
    if a.cmd == "make":
        make(a.out, Q.Q8_0 if a.type == "q8_0" else Q.F32, a.seed)
    elif a.cmd == "make-real":
        make_real(a.out, a.shape, Q.Q8_0 if a.type == "q8_0" else Q.Q4_0, a.seed, a.vocab)
    else:
        global DTYPE
        DTYPE = np.float32 if a.float32 else np.float64
        with open(a.ids) as f:
            ids = json.load(f)
        logits = forward(a.model, ids).astype("<f4")
        logits.tofile(a.out + ".tmp")
        os.replace(a.out + ".tmp", a.out)
        print(f"wrote {a.out} {logits.shape}")


if __name__ == "__main__":
    sys.exit(main())
