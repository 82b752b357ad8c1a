// Images with the official clients against a running `jemma serve` (OfficialClientsTest starts it), each client used as
// its documentation shows: OpenAI's image_url part with a data: URL (plain and streamed), Ollama's `images` of a chat
// message as base64 and as bytes (streamed), and of /api/generate as a file path (the node client reads it).
// usage: node image-roundtrip.mjs BASE_URL MODEL IMAGE.png QUESTION
// Prints one JSON line per request, {"via": ..., "answer": ...}; the test compares each answer with the engine's.
import { readFileSync } from 'node:fs';
import { print, openaiAnswers, ollamaChatAnswers, ollamaClient, ollamaOptions } from './media-answers.mjs';

const [base, model, image, question] = process.argv.slice(2);
if (!question) {
  console.error('usage: node image-roundtrip.mjs BASE_URL MODEL IMAGE.png QUESTION');
  process.exit(2);
}
const bytes = readFileSync(image);

await openaiAnswers(base, model, [
  { type: 'image_url', image_url: { url: 'data:image/png;base64,' + bytes.toString('base64') } },
  { type: 'text', text: question },
]);
const ollama = ollamaClient(base);
await ollamaChatAnswers(ollama, model, { role: 'user', content: question, images: [bytes.toString('base64')] },
  { role: 'user', content: question, images: [new Uint8Array(bytes)] });
const g = await ollama.generate({ model, prompt: question, images: [image], options: ollamaOptions });
print('ollama generate', g.response);
