// Images with the official clients against a running `jemma serve` (OfficialClientsTest starts it), each client used as
// its documentation shows: OpenAI's image_url part with a data: URL (plain and streamed), Ollama's `images` of a chat
// message as base64 and as bytes (streamed), and of /api/generate as a file path (the node client reads it).
// usage: node image-roundtrip.mjs BASE_URL MODEL IMAGE.png QUESTION
// Prints one JSON line per request, {"via": ..., "answer": ...}; the test compares each answer with the engine's.
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import { Ollama } from 'ollama';

const [base, model, image, question] = process.argv.slice(2);
if (!question) {
  console.error('usage: node image-roundtrip.mjs BASE_URL MODEL IMAGE.png QUESTION');
  process.exit(2);
}
const bytes = readFileSync(image);
const print = (via, answer) => console.log(JSON.stringify({ via, answer }));

const openai = new OpenAI({ baseURL: base + '/v1', apiKey: 'jemma', maxRetries: 0 });
const content = [
  { type: 'image_url', image_url: { url: 'data:image/png;base64,' + bytes.toString('base64') } },
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
const c = await ollama.chat({ model, messages: [{ role: 'user', content: question, images: [bytes.toString('base64')] }], options });
print('ollama chat', c.message.content);
text = '';
for await (const part of await ollama.chat({ model, messages: [{ role: 'user', content: question, images: [new Uint8Array(bytes)] }], options, stream: true })) {
  text += part.message.content;
}
print('ollama chat streamed', text);
const g = await ollama.generate({ model, prompt: question, images: [image], options });
print('ollama generate', g.response);
