// Structured outputs end to end on a random-weight model: at least 50 JSON schemas through
// /v1/chat/completions (response_format json_schema), json_object, Ollama's `format` on /api/chat
// and /api/generate, llama.cpp's `grammar` and `json_schema` on /v1/completions. Sampling is
// random (temperature 1, seeded); every finished output must JSON.parse and validate with ajv.
// Unsupported schema keywords are a 400 naming the keyword.
// Usage: node server_structured.mjs --binary PATH --model DIR
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import path from 'node:path';
import { check, finish, parseArgs, startServer, step } from './server_harness.mjs';

const args = parseArgs(process.argv);
const modelId = path.basename(args.model);
const server = await startServer(args.binary, [
  '--model', args.model, '--ctx-size', '1024', '--parallel', '2', '--threads', '2',
]);
const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'none', maxRetries: 0 });
const ollama = new Ollama({ host: server.url });
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
const messages = [{ role: 'user', content: 'Answer in JSON.' }];

// Every string and array is bounded, so even a random model reaches the end of the grammar well
// within max_tokens (an unbounded string may run until max_tokens cuts it, like OpenAI's API).
const prims = [
  { type: 'integer' },
  { type: 'integer', minimum: 0, maximum: 100 },
  { type: 'integer', minimum: -50, maximum: -10 },
  { type: 'integer', exclusiveMinimum: 0, exclusiveMaximum: 10 },
  { type: 'number' },
  { type: 'number', minimum: 0, maximum: 1 },
  { type: 'number', minimum: -2.5, maximum: 2.5 },
  { type: 'boolean' },
  { type: 'null' },
  { type: 'string', maxLength: 8 },
  { type: 'string', minLength: 2, maxLength: 5 },
  { type: 'string', enum: ['alpha', 'beta', 'gamma'] },
  { enum: ['red', 42, null, true] },
  { const: 'fixed' },
  { type: 'string', pattern: '^[a-z]{3,6}$' },
  { type: 'string', pattern: '^\\d{3}-\\d{4}$' },
  { type: 'string', pattern: '^(yes|no|maybe)!?$' },
  { type: 'string', format: 'date' },
  { type: 'string', format: 'date-time' },
  { type: 'string', format: 'uuid' },
  { type: 'string', format: 'email' },
  { type: 'string', format: 'time' },
  { type: ['string', 'null'], maxLength: 6 },
  { anyOf: [{ type: 'integer' }, { type: 'string', maxLength: 4 }] },
];
const names = ['id', 'name', 'score', 'flag', 'when', 'tag', 'note', 'kind'];
const schemas = [...prims];
for (let i = 0; i < 16; i += 1) {
  const properties = {};
  for (let k = 0; k < 3; k += 1) properties[names[(i + k * 3) % names.length]] = prims[(i * 5 + k * 7) % prims.length];
  const keys = Object.keys(properties);
  schemas.push({
    type: 'object', properties, additionalProperties: false,
    required: i % 3 === 0 ? keys : i % 3 === 1 ? keys.slice(0, 1) : [],
  });
}
for (let i = 0; i < 8; i += 1) {
  schemas.push({ type: 'array', items: prims[(i * 3 + 1) % prims.length], minItems: i % 2, maxItems: 2 + (i % 3) });
}
const point = { type: 'object', properties: { x: { type: 'integer', minimum: -9, maximum: 9 }, y: { type: 'integer', minimum: -9, maximum: 9 } }, required: ['x', 'y'], additionalProperties: false };
schemas.push(
  { $defs: { point }, type: 'object', properties: { path: { type: 'array', items: { $ref: '#/$defs/point' }, maxItems: 3 } }, required: ['path'], additionalProperties: false },
  { type: 'array', prefixItems: [{ type: 'string', maxLength: 3 }, { type: 'integer' }, { type: 'boolean' }], items: false, minItems: 2 },
  { allOf: [{ type: 'object', properties: { a: { type: 'integer' } }, required: ['a'] }, { properties: { b: { enum: ['x', 'y'] } }, required: ['b'] }] },
  { oneOf: [{ type: 'object', properties: { kind: { const: 'circle' }, r: { type: 'number', minimum: 0, maximum: 10 } }, required: ['kind', 'r'], additionalProperties: false },
            { type: 'object', properties: { kind: { const: 'square' }, side: { type: 'integer', minimum: 1, maximum: 9 } }, required: ['kind', 'side'], additionalProperties: false }] },
  { type: 'object', properties: { user: { type: 'object', properties: { name: { type: 'string', maxLength: 6 }, roles: { type: 'array', items: { enum: ['admin', 'dev'] }, maxItems: 2 } }, required: ['name', 'roles'], additionalProperties: false } }, required: ['user'], additionalProperties: false },
  { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'], additionalProperties: { type: 'boolean' } },
  { type: 'object', additionalProperties: false },
  { type: 'array', maxItems: 0 },
);

function validate(schema, text, label) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (e) {
    check(false, `${label}: output does not parse: ${JSON.stringify(text)}`);
    return undefined;
  }
  const ok = ajv.validate(schema, value);
  check(ok, `${label}: ${JSON.stringify(text)} fails the schema: ${ajv.errorsText()}`);
  return value;
}

try {
  await step(`chat response_format json_schema: ${schemas.length} schemas validate`, async () => {
    check(schemas.length >= 50, `only ${schemas.length} schemas`);
    for (let i = 0; i < schemas.length; i += 1) {
      const schema = JSON.parse(JSON.stringify(schemas[i]));
      const r = await client.chat.completions.create({
        model: modelId, messages, max_tokens: 400, temperature: 1, top_p: 1, seed: 100 + i,
        response_format: { type: 'json_schema', json_schema: { name: `s${i}`, schema, strict: true } },
      });
      const c = r.choices[0];
      // Extra property names (additionalProperties: {schema}) are unbounded strings: such an
      // answer may reach max_tokens, and is then closed by the grammar's shortest completion.
      const unbounded = typeof schema.additionalProperties === 'object';
      check(c.finish_reason === 'stop' || (unbounded && c.finish_reason === 'length'),
        `schema ${i}: finish_reason ${c.finish_reason}: ${JSON.stringify(c.message.content)}`);
      validate(schema, c.message.content, `schema ${i} ${JSON.stringify(schema)}`);
    }
  });

  await step('properties come out in the schema\'s order, not sorted', async () => {
    const schema = {
      type: 'object',
      properties: { zulu: { type: 'integer' }, mike: { type: 'boolean' }, alpha: { enum: ['x', 'y'] } },
      required: ['zulu', 'mike', 'alpha'],
      additionalProperties: false,
    };
    for (const api of ['openai', 'ollama']) {
      const content = api === 'openai'
        ? (await client.chat.completions.create({
          model: modelId, messages, max_tokens: 100, temperature: 1, seed: 3,
          response_format: { type: 'json_schema', json_schema: { name: 'order', schema, strict: true } },
        })).choices[0].message.content
        : (await ollama.chat({ model: modelId, messages, format: schema, options: { temperature: 1, seed: 3 } })).message.content;
      validate(schema, content, `order (${api})`);
      check(Object.keys(JSON.parse(content)).join() === 'zulu,mike,alpha', `${api} key order: ${content}`);
    }
  });

  await step('chat streamed with a schema: the pieces join into valid JSON', async () => {
    const schema = schemas[24];
    const stream = await client.chat.completions.create({
      model: modelId, messages, max_tokens: 400, temperature: 1, seed: 7, stream: true,
      response_format: { type: 'json_schema', json_schema: { name: 'streamed', schema } },
    });
    let text = '';
    let reason = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      reason = chunk.choices[0]?.finish_reason ?? reason;
    }
    check(reason === 'stop', `finish_reason ${reason}`);
    validate(schema, text, 'streamed');
  });

  // Any JSON object: a random model can stay inside an unbounded string for ever, so near
  // max_tokens the server forces the grammar's shortest completion: the answer still parses and
  // finish_reason says "length".
  const objectSchema = { type: 'object' };
  await step('chat response_format json_object: every answer is a JSON object', async () => {
    let cut = 0;
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const r = await client.chat.completions.create({
        model: modelId, messages, max_tokens: 150, temperature: 1, seed, response_format: { type: 'json_object' },
      });
      const c = r.choices[0];
      check(['stop', 'length'].includes(c.finish_reason), `finish_reason ${c.finish_reason}`);
      check(r.usage.completion_tokens <= 150, `completion_tokens ${r.usage.completion_tokens}`);
      if (c.finish_reason === 'length') cut += 1;
      validate(objectSchema, c.message.content, `json_object seed ${seed} (${c.finish_reason})`);
    }
    check(cut >= 1, 'no json_object answer needed closing at max_tokens');
  });

  await step('ollama /api/chat and /api/generate with a schema format', async () => {
    for (let i = 0; i < 4; i += 1) {
      const schema = schemas[26 + i * 3];
      const chat = await ollama.chat({ model: modelId, messages, format: schema, options: { temperature: 1, seed: 50 + i, num_predict: 400 } });
      check(chat.done_reason === 'stop', `chat done_reason ${chat.done_reason}`);
      validate(schema, chat.message.content, `ollama chat ${i}`);
      const gen = await ollama.generate({ model: modelId, prompt: 'JSON:', format: schema, options: { temperature: 1, seed: 60 + i, num_predict: 400 } });
      check(gen.done_reason === 'stop', `generate done_reason ${gen.done_reason}`);
      validate(schema, gen.response, `ollama generate ${i}`);
    }
  });

  await step('ollama format "json": every answer is a JSON object', async () => {
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const chat = await ollama.chat({ model: modelId, messages, format: 'json', options: { temperature: 1, seed, num_predict: 150 } });
      const gen = await ollama.generate({ model: modelId, prompt: 'JSON:', format: 'json', options: { temperature: 1, seed, num_predict: 150 } });
      for (const [text, reason, label] of [[chat.message.content, chat.done_reason, 'chat'], [gen.response, gen.done_reason, 'generate']]) {
        check(['stop', 'length'].includes(reason), `${label} done_reason ${reason}`);
        validate(objectSchema, text, `ollama ${label} json seed ${seed} (${reason})`);
      }
    }
  });

  await step('completions with llama.cpp grammar and json_schema', async () => {
    const grammar = 'root ::= "answer: " ("yes" | "no") " (" [0-9]{1,3} "%)"';
    for (const seed of [1, 2, 3]) {
      const r = await client.completions.create({ model: modelId, prompt: 'Q: ok?', max_tokens: 50, temperature: 1, seed, grammar });
      check(r.choices[0].finish_reason === 'stop', `grammar finish ${r.choices[0].finish_reason}`);
      check(/^answer: (yes|no) \([0-9]{1,3}%\)$/.test(r.choices[0].text), `grammar text ${JSON.stringify(r.choices[0].text)}`);
    }
    for (let i = 0; i < 3; i += 1) {
      const schema = schemas[24 + i];
      const r = await client.completions.create({ model: modelId, prompt: '{', max_tokens: 400, temperature: 1, seed: 30 + i, json_schema: schema });
      check(r.choices[0].finish_reason === 'stop', `json_schema finish ${r.choices[0].finish_reason}`);
      validate(schema, r.choices[0].text, `completions json_schema ${i}`);
    }
  });

  await step('unsupported keywords and bad grammars are 400s naming the problem', async () => {
    const expect400 = async (fn, code, needle, label) => {
      try {
        await fn();
        check(false, `${label}: no error`);
      } catch (e) {
        check(e.status === 400, `${label}: status ${e.status}`);
        if (code) check(e.code === code, `${label}: code ${e.code}`);
        check(String(e.message).includes(needle), `${label}: message ${e.message}`);
      }
    };
    await expect400(() => client.chat.completions.create({
      model: modelId, messages, max_tokens: 5,
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { a: { type: 'string', not: { const: 'b' } } } } } },
    }), 'unsupported', "'not'", 'not');
    await expect400(() => client.chat.completions.create({
      model: modelId, messages, max_tokens: 5,
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'number', multipleOf: 3 } } },
    }), 'unsupported', "'multipleOf'", 'multipleOf');
    await expect400(() => client.chat.completions.create({
      model: modelId, messages, max_tokens: 5, response_format: { type: 'xml' },
    }), null, 'response_format', 'bad type');
    await expect400(() => client.completions.create({
      model: modelId, prompt: 'x', max_tokens: 5, grammar: 'root ::= "a" undefined-rule',
    }), null, 'undefined rule', 'bad grammar');
    const r = await fetch(`${server.url}/api/chat`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: modelId, messages, stream: false, format: { type: 'object', patternProperties: {} } }),
    });
    const body = await r.json();
    check(r.status === 400 && String(body.error).includes('patternProperties'), `ollama unsupported: ${r.status} ${JSON.stringify(body)}`);
  });
} finally {
  await server.stop();
}
finish(server);
