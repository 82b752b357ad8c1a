// Audio with the official clients against a running `jemma serve` (OfficialClientsTest starts it), each client used as
// its documentation shows: OpenAI's input_audio content part (base64 WAV, plain and streamed), and Ollama's chat message
// with Jemma's `audio` field beside `images` (base64; the client posts a message's fields as given), plain and streamed.
// usage: node audio-roundtrip.mjs BASE_URL MODEL CLIP.wav QUESTION
// Prints one JSON line per request, {"via": ..., "answer": ...}; the test compares each answer with the engine's.
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import { Ollama } from 'ollama';

const [base, model, clip, question] = process.argv.slice(2);
if (!question) {
  console.error('usage: node audio-roundtrip.mjs BASE_URL MODEL CLIP.wav QUESTION');
  process.exit(2);
}
const b64 = readFileSync(clip).toString('base64');
const print = (via, answer) => console.log(JSON.stringify({ via, answer }));

const openai = new OpenAI({ baseURL: base + '/v1', apiKey: 'jemma', maxRetries: 0 });
const content = [
  { type: 'input_audio', input_audio: { data: b64, format: 'wav' } },
  { type: 'text', text: question },
];
const req = { model, messages: [{ role: 'user', content }], temperature: 0, max_tokens: 12 };
const r = await openai.chat.completions.create(req);
print('openai', r.choices[0].message.content);
let text = '';
for await (const chunk of await openai.chat.completions.create({ ...req, stream: true })) text += chunk.choices[0]?.delta?.content ?? '';
print('openai streamed', text);

const ollama = new Ollama({ host: base });
const options = { temperature: 0, num_predict: 12 };
const c = await ollama.chat({ model, messages: [{ role: 'user', content: question, audio: [b64] }], options });
print('ollama chat', c.message.content);
text = '';
for await (const part of await ollama.chat({ model, messages: [{ role: 'user', content: question, audio: [b64] }], options, stream: true })) {
  text += part.message.content;
}
print('ollama chat streamed', text);
