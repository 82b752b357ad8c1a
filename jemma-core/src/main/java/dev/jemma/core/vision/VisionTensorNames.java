package dev.jemma.core.vision;

/**
 * Tensor names of a Gemma 3 vision tower in one file layout. Both layouts store the same tensors with the same ggml
 * shapes (conv weight [kw, kh, c, out], projection [text, vision], soft-embedding norm with Gemma's 1 + w folded in);
 * only the names differ.
 */
public record VisionTensorNames(String patchWeight, String patchBias, String positions, String postNormWeight,
                                String postNormBias, String softEmbNorm, String inputProjection, String blockPrefix,
                                String ln1, String ln2, String q, String k, String v, String o, String fc1, String fc2) {
    /** llama.cpp's mmproj ({@code convert_hf_to_gguf.py --mmproj}). */
    public static final VisionTensorNames LLAMA_CPP = new VisionTensorNames("v.patch_embd.weight", "v.patch_embd.bias",
            "v.position_embd.weight", "v.post_ln.weight", "v.post_ln.bias", "mm.soft_emb_norm.weight",
            "mm.input_projection.weight", "v.blk.", "ln1", "ln2", "attn_q", "attn_k", "attn_v", "attn_out",
            "ffn_up", "ffn_down");

    /** Ollama's single-file gemma3 GGUF (convert_gemma3.go's replacements of the HF names). */
    public static final VisionTensorNames OLLAMA = new VisionTensorNames("v.patch_embedding.weight",
            "v.patch_embedding.bias", "v.position_embedding.weight", "v.post_layernorm.weight", "v.post_layernorm.bias",
            "mm.mm_soft_emb_norm.weight", "mm.mm_input_projection.weight", "v.blk.", "layer_norm1", "layer_norm2",
            "attn_q", "attn_k", "attn_v", "attn_output", "mlp.fc1", "mlp.fc2");

    /** {@code v.blk.<layer>.<part>.<suffix>}. */
    public String block(int layer, String part, String suffix) {
        return blockPrefix + layer + "." + part + "." + suffix;
    }

    /**
     * The name a tensor of this layout has in {@code to} (e.g. llama.cpp's mmproj name → Ollama's single-file name).
     *
     * @throws IllegalArgumentException when {@code name} is no vision tensor of this layout
     */
    public String renameTo(VisionTensorNames to, String name) {
        String[][] whole = {{patchWeight, to.patchWeight}, {patchBias, to.patchBias}, {positions, to.positions},
                {postNormWeight, to.postNormWeight}, {postNormBias, to.postNormBias}, {softEmbNorm, to.softEmbNorm},
                {inputProjection, to.inputProjection}};
        for (String[] w : whole) if (w[0].equals(name)) return w[1];
        String[][] parts = {{ln1, to.ln1}, {ln2, to.ln2}, {q, to.q}, {k, to.k}, {v, to.v}, {o, to.o}, {fc1, to.fc1}, {fc2, to.fc2}};
        if (name.startsWith(blockPrefix)) {
            String rest = name.substring(blockPrefix.length());   // <layer>.<part>.<suffix>, a part may hold dots (mlp.fc1)
            int dot = rest.indexOf('.'), last = rest.lastIndexOf('.');
            if (dot > 0 && last > dot && rest.substring(0, dot).chars().allMatch(Character::isDigit)) {
                String part = rest.substring(dot + 1, last);
                for (String[] p : parts) {
                    if (p[0].equals(part)) return to.block(Integer.parseInt(rest.substring(0, dot)), p[1], rest.substring(last + 1));
                }
            }
        }
        throw new IllegalArgumentException("tensor " + name + " is not part of a Gemma 3 vision tower");
    }
}
