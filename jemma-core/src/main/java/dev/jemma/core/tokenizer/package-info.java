/**
 * SentencePiece-BPE tokenization from GGUF metadata with llama.cpp's semantics (special tokens matched first, merges
 * by score, byte fallback), and a streaming decoder that never emits half a UTF-8 character.
 */
package dev.jemma.core.tokenizer;
