// Tool-call round trips with the official clients against a running `jemma serve` (OfficialClientsTest starts it).
// usage: node tool-roundtrip.mjs BASE_URL OPENAI_MODEL OLLAMA_MODEL
// Each client sends tools, must get tool_calls whose arguments parse and validate against the tool's schema, sends the
// result back as a tool message and must get an answer. Prints one line per check; exits non-zero on the first failure.
import OpenAI from 'openai';
import { Ollama } from 'ollama';

const [base, openaiModel, ollamaModel] = process.argv.slice(2);
if (!ollamaModel) {
  console.error('usage: node tool-roundtrip.mjs BASE_URL OPENAI_MODEL OLLAMA_MODEL');
  process.exit(2);
}

const forecast = {
  type: 'object',
  properties: {
    city: { type: 'string', maxLength: 10 },
    days: { type: 'integer', minimum: 1, maximum: 7 },
  },
  required: ['city', 'days'],
  additionalProperties: false,
};
const tools = [
  { type: 'function', function: { name: 'forecast', description: 'Weather forecast', parameters: forecast } },
  { type: 'function', function: { name: 'now', description: 'The time', parameters: { type: 'object', properties: {} } } },
];

function fail(msg) {
  console.error('FAIL ' + msg);
  process.exit(1);
}

// The schemas above, checked by hand: forecast takes exactly city (string, at most 10 characters) and days (integer
// 1-7); now takes an object (no properties declared, none generated).
function validate(where, name, args) {
  if (typeof args !== 'object' || args === null || Array.isArray(args)) fail(`${where}: arguments are not an object: ${JSON.stringify(args)}`);
  if (name === 'now') {
    if (Object.keys(args).length !== 0) fail(`${where}: now called with ${JSON.stringify(args)}`);
    return;
  }
  if (name !== 'forecast') fail(`${where}: called '${name}', not one of the tools`);
  const keys = Object.keys(args).sort().join(',');
  if (keys !== 'city,days') fail(`${where}: arguments have keys ${keys}: ${JSON.stringify(args)}`);
  if (typeof args.city !== 'string' || [...args.city].length > 10) fail(`${where}: city ${JSON.stringify(args.city)}`);
  if (!Number.isInteger(args.days) || args.days < 1 || args.days > 7) fail(`${where}: days ${JSON.stringify(args.days)}`);
}

const openai = new OpenAI({ baseURL: base + '/v1', apiKey: 'jemma', maxRetries: 0 });
const question = { role: 'user', content: 'Weather in Oslo for 3 days?' };

// OpenAI: tool_choice required (a random-weight model rarely starts a call on its own), then the result back.
for (const stream of [false, true]) {
  const where = `openai ${stream ? 'streamed' : 'plain'}`;
  // one call (parallel_tool_calls false) and room for it: JSON's optional white space makes the tiny model's calls long
  const req = { model: openaiModel, messages: [question], tools, tool_choice: 'required', parallel_tool_calls: false, seed: 1, max_tokens: 400 };
  let message;
  let finish;
  if (!stream) {
    const r = await openai.chat.completions.create(req);
    message = r.choices[0].message;
    finish = r.choices[0].finish_reason;
  } else {
    const calls = [];
    for await (const chunk of await openai.chat.completions.create({ ...req, stream: true })) {
      const c = chunk.choices[0];
      if (!c) continue;
      for (const d of c.delta?.tool_calls ?? []) {
        const t = (calls[d.index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } });
        if (d.id) t.id = d.id;
        if (d.function?.name) t.function.name += d.function.name;
        if (d.function?.arguments) t.function.arguments += d.function.arguments;
      }
      if (c.finish_reason) finish = c.finish_reason;
    }
    message = { role: 'assistant', content: null, tool_calls: calls };
  }
  if (finish !== 'tool_calls') fail(`${where}: finish_reason ${finish}`);
  if (!message.tool_calls?.length) fail(`${where}: no tool_calls`);
  for (const c of message.tool_calls) {
    if (!c.id) fail(`${where}: a call without an id`);
    let args;
    try {
      args = JSON.parse(c.function.arguments);
    } catch (e) {
      fail(`${where}: arguments are not JSON: ${c.function.arguments}`);
    }
    validate(where, c.function.name, args);
  }
  console.log(`ok ${where}: ${message.tool_calls.map((c) => c.function.name + c.function.arguments).join(' ')}`);
  const results = message.tool_calls.map((c) => ({ role: 'tool', tool_call_id: c.id, content: JSON.stringify({ sky: 'clear', high: 7 }) }));
  const back = await openai.chat.completions.create({ model: openaiModel, messages: [question, message, ...results], tools, tool_choice: 'none', seed: 1, max_tokens: 20 });
  const answer = back.choices[0];
  if (typeof answer.message.content !== 'string' || answer.message.tool_calls?.length) fail(`${where}: the answer after the result is not text: ${JSON.stringify(answer.message)}`);
  if (!['stop', 'length'].includes(answer.finish_reason)) fail(`${where}: answer finish_reason ${answer.finish_reason}`);
  console.log(`ok ${where} result sent back: ${JSON.stringify(answer.message.content)}`);
}

// Ollama's API has no tool_choice: Jemma takes OpenAI's on /api/chat as an extension, and the client posts the request's
// fields as given. The model here is the FunctionGemma test model (its own call markup behind the Ollama API).
const ollama = new Ollama({ host: base });
for (const stream of [false, true]) {
  const where = `ollama ${stream ? 'streamed' : 'plain'}`;
  const messages = [question];
  const req = { model: ollamaModel, messages, tools, tool_choice: 'required', options: { seed: 1, num_predict: 150 } };
  let message;
  if (!stream) {
    message = (await ollama.chat(req)).message;
  } else {
    message = { role: 'assistant', content: '', tool_calls: [] };
    for await (const part of await ollama.chat({ ...req, stream: true })) {
      message.content += part.message.content ?? '';
      message.tool_calls.push(...(part.message.tool_calls ?? []));
    }
  }
  if (!message.tool_calls?.length) fail(`${where}: no tool_calls; content ${JSON.stringify(message.content)}`);
  for (const c of message.tool_calls) validate(where, c.function.name, c.function.arguments);
  console.log(`ok ${where}: ${message.tool_calls.map((c) => c.function.name + JSON.stringify(c.function.arguments)).join(' ')}`);
  const results = message.tool_calls.map((c) => ({ role: 'tool', tool_name: c.function.name, content: JSON.stringify({ sky: 'clear', high: 7 }) }));
  const back = await ollama.chat({ model: ollamaModel, messages: [...messages, message, ...results], options: { seed: 1, num_predict: 20 } });
  if (typeof back.message.content !== 'string' || back.message.tool_calls?.length || !back.done) fail(`${where}: the answer after the result: ${JSON.stringify(back)}`);
  console.log(`ok ${where} result sent back: ${JSON.stringify(back.message.content)}`);
}
console.log('all tool-call round trips passed');
