/**
 * The embeddable Java API. {@link dev.jemma.core.engine.Engine#load} (or {@link dev.jemma.core.engine.Jemma#load})
 * maps a GGUF model; {@link dev.jemma.core.engine.Engine#newSession()} opens a conversation with its own KV cache;
 * {@link dev.jemma.core.engine.Session} answers synchronously, through a {@link dev.jemma.core.engine.TokenListener},
 * or as a {@link java.util.concurrent.Flow.Publisher} ({@link dev.jemma.core.engine.GenerationPublisher}).
 * Options layer: per request ({@link dev.jemma.core.engine.GenerationOptions}) over the engine's
 * ({@link dev.jemma.core.engine.EngineOptions}) over the file's {@code general.sampling.*} over Gemma's defaults.
 * An engine is thread-safe; a session runs one generation at a time.
 */
package dev.jemma.core.engine;
