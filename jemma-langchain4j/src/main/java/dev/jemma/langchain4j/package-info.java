/**
 * LangChain4j integration: {@link dev.jemma.langchain4j.JemmaChatModel} runs a Gemma GGUF model in-process as a
 * LangChain4j {@code ChatModel} and {@code StreamingChatModel}, on top of {@link dev.jemma.core.engine.Engine}.
 */
package dev.jemma.langchain4j;
