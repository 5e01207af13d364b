// Tool calling through the official `openai` and `ollama` npm clients against the real server on a
// random-weight Qwen3 fixture (the real Qwen3 chat template): tool definitions, assistant calls
// and tool results render through the template; tool_choice "required" and a named function
// make even a random model produce valid calls (grammar-constrained), plain and streamed, and the
// calls come back through the template on the next turn; "none" renders and parses no tools.
// With --family mistral or llama (fixtures whose templates predate tools) only the constrained
// calls are checked: their format (Mistral's [TOOL_CALLS] list, Llama 3's JSON) is parsed back.
// Usage: node server_tools.mjs --binary PATH --model DIR [--family qwen3|mistral|llama]
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import path from 'node:path';
import { check, finish, parseArgs, startServer, step } from './server_harness.mjs';

const args = parseArgs(process.argv);
const modelId = path.basename(args.model);
const family = args.family || 'qwen3';
const qwen = family === 'qwen3';
const idPattern = family === 'mistral' ? /^[A-Za-z0-9]{9}$/ : /^call_[A-Za-z0-9]{24}$/;
const server = await startServer(args.binary, [
  '--model', args.model, '--ctx-size', '1024', '--parallel', '1', '--threads', '2',
]);
const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
const ollama = new Ollama({ host: server.url });

// Bounded arguments (an enum and an integer) so a random model finishes its call quickly.
const tools = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather in a city',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string', enum: ['Paris', 'Oslo', 'Lima'] }, days: { type: 'integer', minimum: 1, maximum: 7 } },
        required: ['city', 'days'],
        additionalProperties: false,
      },
    },
  },
  {
    type: 'function',
    function: {
      name: 'get_time',
      description: 'Current time in a zone',
      parameters: {
        type: 'object',
        properties: { zone: { type: 'string', enum: ['UTC', 'CET'] } },
        required: ['zone'],
        additionalProperties: false,
      },
    },
  },
];
const names = tools.map((t) => t.function.name);
const question = [{ role: 'user', content: 'What is the weather in Paris?' }];
const history = [
  ...question,
  {
    role: 'assistant',
    content: null,
    tool_calls: [{ id: 'call_abc', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris", "days": 1}' } }],
  },
  { role: 'tool', tool_call_id: 'call_abc', content: '18C and sunny' },
];

function validArguments(call) {
  const parsed = JSON.parse(call.function.arguments);
  if (call.function.name === 'get_weather') {
    return ['Paris', 'Oslo', 'Lima'].includes(parsed.city) && Number.isInteger(parsed.days) &&
      parsed.days >= 1 && parsed.days <= 7 && Object.keys(parsed).length === 2;
  }
  return ['UTC', 'CET'].includes(parsed.zone) && Object.keys(parsed).length === 1;
}

try {
  if (qwen) await step('apply-template: tools, assistant calls and tool results render through the Qwen3 template', async () => {
    const r = await fetch(`${server.url}/apply-template`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ messages: history, tools }),
    });
    check(r.status === 200, `status ${r.status}`);
    const { prompt } = await r.json();
    check(prompt.includes('<tools>') && prompt.includes('"name": "get_weather"'), `tools missing:\n${prompt}`);
    check(prompt.includes('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 1}}\n</tool_call>'),
      `assistant call missing:\n${prompt}`);
    check(prompt.includes('<tool_response>\n18C and sunny\n</tool_response>'), `tool result missing:\n${prompt}`);
  });

  let firstCall = null;
  await step('openai: tool_choice required gives valid calls and finish_reason tool_calls', async () => {
    const r = await client.chat.completions.create({
      model: modelId, messages: question, tools, tool_choice: 'required', max_tokens: 200, temperature: 0,
    });
    const choice = r.choices[0];
    check(choice.finish_reason === 'tool_calls', `finish_reason ${choice.finish_reason}: ${JSON.stringify(choice)}`);
    const calls = choice.message.tool_calls || [];
    check(calls.length >= 1, `no tool calls: ${JSON.stringify(choice.message)}`);
    for (const call of calls) {
      check(call.type === 'function' && idPattern.test(call.id), `call shape ${JSON.stringify(call)}`);
      check(names.includes(call.function.name), `name ${call.function.name}`);
      check(typeof call.function.arguments === 'string' && validArguments(call), `arguments ${call.function.arguments}`);
    }
    firstCall = calls[0];
  });

  await step('openai: a named function streams as OpenAI deltas', async () => {
    const stream = await client.chat.completions.create({
      model: modelId, messages: question, tools, max_tokens: 200, temperature: 0, stream: true,
      tool_choice: { type: 'function', function: { name: 'get_time' } },
    });
    const calls = [];
    let finishReason = null;
    let firstDeltaOk = true;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (!choice) continue;
      for (const d of choice.delta.tool_calls || []) {
        if (!calls[d.index]) {
          firstDeltaOk &&= d.type === 'function' && d.id && d.function.name && d.function.arguments === '';
          calls[d.index] = { id: d.id, function: { name: d.function.name, arguments: '' } };
        }
        calls[d.index].function.arguments += d.function.arguments || '';
      }
      if (choice.finish_reason) finishReason = choice.finish_reason;
    }
    check(firstDeltaOk, 'first delta of a call lacks id/type/name or has arguments');
    check(finishReason === 'tool_calls', `finish_reason ${finishReason}`);
    check(calls.length === 1 && calls[0].function.name === 'get_time', `calls ${JSON.stringify(calls)}`);
    check(calls.length === 1 && validArguments(calls[0]), `arguments ${JSON.stringify(calls)}`);
  });

  if (qwen) await step('openai: the returned call and a tool result go back through the template', async () => {
    check(firstCall !== null, 'no call from the first step');
    const r = await client.chat.completions.create({
      model: modelId,
      messages: [...question, { role: 'assistant', content: null, tool_calls: [firstCall] },
        { role: 'tool', tool_call_id: firstCall.id, content: '18C and sunny' }],
      tools, max_tokens: 8, temperature: 0,
    });
    check(['stop', 'length', 'tool_calls'].includes(r.choices[0].finish_reason), `finish ${r.choices[0].finish_reason}`);
  });

  await step('openai: tool_choice none answers without calls', async () => {
    const r = await client.chat.completions.create({
      model: modelId, messages: question, tools, tool_choice: 'none', max_tokens: 8, temperature: 0,
    });
    check(!r.choices[0].message.tool_calls, `unexpected calls ${JSON.stringify(r.choices[0].message)}`);
    check(r.choices[0].finish_reason !== 'tool_calls', `finish ${r.choices[0].finish_reason}`);
  });

  await step('openai: bad tool fields are 400 naming the field', async () => {
    for (const [extra, param] of [
      [{ tool_choice: { type: 'function', function: { name: 'nope' } } }, 'tool_choice'],
      [{ tools: [{ type: 'function', function: { name: 'has space' } }] }, 'tools[0].function.name'],
    ]) {
      try {
        await client.chat.completions.create({ model: modelId, messages: question, tools, max_tokens: 4, ...extra });
        check(false, `accepted ${JSON.stringify(extra)}`);
      } catch (e) {
        check(e.status === 400 && e.param === param, `${JSON.stringify(extra)}: ${e.status} ${e.param} ${e.message}`);
      }
    }
  });

  if (qwen) await step('ollama: tools, history with object arguments and think render and answer', async () => {
    const r = await ollama.chat({
      model: modelId,
      think: true,
      tools,
      messages: [
        ...question,
        { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Paris', days: 1 } } }] },
        { role: 'tool', content: '18C and sunny', tool_name: 'get_weather' },
      ],
      options: { num_predict: 8, temperature: 0 },
    });
    check(r.done === true && r.message.role === 'assistant', `shape ${JSON.stringify(r)}`);
    for (const call of r.message.tool_calls || []) {
      check(typeof call.function.arguments === 'object', `arguments ${JSON.stringify(call)}`);
    }
  });
} finally {
  await server.stop();
}
finish(server);
