/** Chat messages and their rendering with a model's Jinja chat template (Gemma's format built in as a fallback). */
package dev.jemma.core.chat;
