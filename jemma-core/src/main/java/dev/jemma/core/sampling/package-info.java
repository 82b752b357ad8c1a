/** Choosing the next token: greedy, temperature, top-k, top-p, min-p, repetition penalties, seeds; stop strings. */
package dev.jemma.core.sampling;
