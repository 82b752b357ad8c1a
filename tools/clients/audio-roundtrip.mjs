// Audio with the official clients against a running `jemma serve` (OfficialClientsTest starts it), each client used as
// its documentation shows: OpenAI's input_audio content part (base64 WAV, plain and streamed), and Ollama's chat message
// with Jemma's `audio` field beside `images` (base64; the client posts a message's fields as given), plain and streamed.
// usage: node audio-roundtrip.mjs BASE_URL MODEL CLIP.wav QUESTION
// Prints one JSON line per request, {"via": ..., "answer": ...}; the test compares each answer with the engine's.
import { readFileSync } from 'node:fs';
import { openaiAnswers, ollamaChatAnswers, ollamaClient } from './media-answers.mjs';

const [base, model, clip, question] = process.argv.slice(2);
if (!question) {
  console.error('usage: node audio-roundtrip.mjs BASE_URL MODEL CLIP.wav QUESTION');
  process.exit(2);
}
const b64 = readFileSync(clip).toString('base64');

await openaiAnswers(base, model, [
  { type: 'input_audio', input_audio: { data: b64, format: 'wav' } },
  { type: 'text', text: question },
]);
const ollama = ollamaClient(base);
await ollamaChatAnswers(ollama, model, { role: 'user', content: question, audio: [b64] }, { role: 'user', content: question, audio: [b64] });
