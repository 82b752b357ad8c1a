/**
 * Jemma's model tools: write quantized and converted GGUF files ({@code quant}), generate random test models
 * ({@code gen}), measure perplexity and KL divergence ({@code eval}), pull models from Hugging Face into the store
 * ({@code store}). They use the engine's internals (GGUF, tensors, the models), which jemma-core exports to this
 * module only; an application embedding jemma-core does not get them.
 */
module dev.jemma.tools {
    requires transitive dev.jemma.core;
    requires com.fasterxml.jackson.databind;
    requires java.net.http;

    exports dev.jemma.tools.quant;
    exports dev.jemma.tools.gen;
    exports dev.jemma.tools.eval;
    exports dev.jemma.tools.store;
}
