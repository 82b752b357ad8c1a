/**
 * Text embeddings (public API): {@link dev.jemma.core.embed.Embedder} loads an EmbeddingGemma GGUF (or a Gemma 3 chat
 * model, pooled) and turns texts into normalised vectors, with EmbeddingGemma's task prompts and Matryoshka
 * truncation.
 */
package dev.jemma.core.embed;
