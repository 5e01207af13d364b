// What the HTTP server adds to generation: per streamed token and to time to first token.
//
// Sends streamed requests to a running mofa-server and compares what the client sees with the
// engine's own timings for the same requests (Ollama's prompt_eval_duration / eval_duration,
// measured inside the inference thread). Both routes are measured: Ollama NDJSON (/api/generate)
// and OpenAI SSE (/v1/completions, compared with the engine timings of the Ollama runs). Every
// request's prompt starts differently, so none is served from the KV cache of the one before.
//
// Usage: node bench/server_overhead.mjs --url http://127.0.0.1:8090 --model ID [--reps 5]
//        [--tokens 128] [--prompt "short prompt"]
const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, a, i, all) => (a.startsWith('--') ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), []),
);
const url = args.url ?? 'http://127.0.0.1:8090';
const model = args.model;
const reps = Number(args.reps ?? 5);
const tokens = Number(args.tokens ?? 128);
const prompt = args.prompt ?? 'Write a short story about a lighthouse keeper.';
if (!model) throw new Error('--model is required');

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const now = () => Number(process.hrtime.bigint()) / 1e6;

// Reads a streamed body, calling onLine for each complete line with the time it arrived.
async function readLines(response, onLine) {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body) {
    const t = now();
    buffer += decoder.decode(chunk, { stream: true });
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.trim()) onLine(line, t);
    }
  }
}

let requestNo = 0;
// "Request N: <prompt>": the first tokens differ, so each prompt is prefilled in full.
const freshPrompt = () => `Request ${(requestNo += 1)}: ${prompt}`;

async function ollamaRun() {
  const t0 = now();
  const r = await fetch(`${url}/api/generate`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model, prompt: freshPrompt(), raw: true, stream: true, options: { num_predict: tokens, temperature: 0 } }),
  });
  let first = 0;
  let last = 0;
  let final = null;
  await readLines(r, (line, t) => {
    const m = JSON.parse(line);
    if (m.response) {
      if (!first) first = t;
      last = t;
    }
    if (m.done) final = m;
  });
  const n = final.eval_count;
  return {
    n,
    clientTtft: first - t0,
    engineTtft: final.prompt_eval_duration / 1e6,
    clientPerToken: (last - first) / (n - 1),
    enginePerToken: final.eval_duration / 1e6 / (n - 1),
  };
}

async function openaiRun() {
  const t0 = now();
  const r = await fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model, prompt: freshPrompt(), stream: true, max_tokens: tokens, temperature: 0, ignore_eos: true }),
  });
  let first = 0;
  let last = 0;
  let n = 0;
  await readLines(r, (line, t) => {
    if (!line.startsWith('data: ') || line === 'data: [DONE]') return;
    const m = JSON.parse(line.slice(6));
    if (m.choices?.[0]?.text) {
      if (!first) first = t;
      last = t;
      n += 1;
    }
  });
  return { n, clientTtft: first - t0, clientPerToken: (last - first) / (n - 1) };
}

await ollamaRun();  // warm-up: loads the model, fills caches
const ollama = [];
const openai = [];
for (let i = 0; i < reps; i += 1) {
  ollama.push(await ollamaRun());
  openai.push(await openaiRun());
}
const eTtft = median(ollama.map((x) => x.engineTtft));
const eTok = median(ollama.map((x) => x.enginePerToken));
const row = (name, ttft, tok) =>
  `| ${name} | ${ttft.toFixed(1)} | ${((ttft / eTtft - 1) * 100).toFixed(1)}% | ${tok.toFixed(2)} | ${((tok / eTok - 1) * 100).toFixed(1)}% |`;
console.log(`model ${model}, ${tokens} tokens, ${reps} runs per route (medians)`);
console.log('| measured | TTFT ms | over engine | ms/token | over engine |');
console.log('|---|---:|---:|---:|---:|');
console.log(`| engine (inference thread) | ${eTtft.toFixed(1)} | | ${eTok.toFixed(2)} | |`);
console.log(row('Ollama /api/generate, NDJSON', median(ollama.map((x) => x.clientTtft)), median(ollama.map((x) => x.clientPerToken))));
console.log(row('OpenAI /v1/completions, SSE', median(openai.map((x) => x.clientTtft)), median(openai.map((x) => x.clientPerToken))));
