/**
 * Jemma's model tools: write quantized and converted GGUF files ({@code quant}), generate random test models
 * ({@code gen}), measure perplexity and KL divergence ({@code eval}). They use the engine's internals (GGUF, tensors,
 * the models), which jemma-core exports to this module only.
 */
module dev.jemma.tools {
    requires transitive dev.jemma.core;
    requires com.fasterxml.jackson.databind;

    exports dev.jemma.tools.quant;
    exports dev.jemma.tools.gen;
    exports dev.jemma.tools.eval;
}
