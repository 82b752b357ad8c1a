// What image-roundtrip.mjs and audio-roundtrip.mjs share: one question with a medium asked through each official
// client, plain and streamed, greedy and 12 tokens, each answer printed as one JSON line {"via": ..., "answer": ...}
// (OfficialClientsTest compares each with the engine's).
import OpenAI from 'openai';
import { Ollama } from 'ollama';

export const print = (via, answer) => console.log(JSON.stringify({ via, answer }));

/** OpenAI chat completions with these content parts: 'openai' and 'openai streamed'. */
export async function openaiAnswers(base, model, content) {
  const openai = new OpenAI({ baseURL: base + '/v1', apiKey: 'jemma', maxRetries: 0 });
  const req = { model, messages: [{ role: 'user', content }], temperature: 0, max_tokens: 12 };
  const r = await openai.chat.completions.create(req);
  print('openai', r.choices[0].message.content);
  let text = '';
  for await (const chunk of await openai.chat.completions.create({ ...req, stream: true })) text += chunk.choices[0]?.delta?.content ?? '';
  print('openai streamed', text);
}

export const ollamaOptions = { temperature: 0, num_predict: 12 };

/** Ollama chat with one user message, plain and streamed (each may carry its medium differently): 'ollama chat', 'ollama chat streamed'. */
export async function ollamaChatAnswers(ollama, model, plainMessage, streamedMessage) {
  const c = await ollama.chat({ model, messages: [plainMessage], options: ollamaOptions });
  print('ollama chat', c.message.content);
  let text = '';
  for await (const part of await ollama.chat({ model, messages: [streamedMessage], options: ollamaOptions, stream: true })) {
    text += part.message.content;
  }
  print('ollama chat streamed', text);
}

export const ollamaClient = (base) => new Ollama({ host: base });
