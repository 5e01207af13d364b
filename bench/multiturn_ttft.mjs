// Time to first token of each turn of a long chat against a running server's
// /v1/chat/completions (streaming, temperature 0). Each turn appends the previous answer and a new
// user message of about --words words, so turn N's prompt starts with turn N-1's: a server that
// keeps the KV-cache prefix processes only the new tokens, and TTFT stays flat as the chat grows.
// Prints one line per turn, then a JSON summary line (prefixed "json ") for scripts.
//
// Usage: node bench/multiturn_ttft.mjs --url http://127.0.0.1:PORT [--turns 10] [--words 150]
//          [--max-tokens 32] [--only-turn N]
// --only-turn N builds the same conversation without sending turns 1..N-1 and sends turn N once
// (the answers of earlier turns are taken from --answers FILE, written by a full run with
// --save-answers FILE), so a fresh server sees exactly the turn-N prompt with nothing cached.
import { readFileSync, writeFileSync } from "node:fs";

function parseArgs(argv) {
  const args = { url: "", turns: 10, words: 150, maxTokens: 32, onlyTurn: 0, answers: "", saveAnswers: "" };
  for (let i = 2; i < argv.length; i += 2) {
    const [key, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${key} needs a value`);
    const int = () => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${key} must be a positive integer, got '${value}'`);
      return n;
    };
    if (key === "--url") args.url = value.replace(/\/$/, "");
    else if (key === "--turns") args.turns = int();
    else if (key === "--words") args.words = int();
    else if (key === "--max-tokens") args.maxTokens = int();
    else if (key === "--only-turn") args.onlyTurn = int();
    else if (key === "--answers") args.answers = value;
    else if (key === "--save-answers") args.saveAnswers = value;
    else throw new Error(`unknown option '${key}'`);
  }
  if (!args.url) throw new Error("--url is required");
  if (args.onlyTurn && !args.answers) throw new Error("--only-turn needs --answers FILE from a full run");
  return args;
}

// A deterministic user message of `words` words that differs from turn to turn.
const VOCAB = ("the river ran past old stone houses while merchants counted coins and children chased " +
  "dogs along narrow streets under a pale autumn sky where clouds drifted slowly toward distant hills " +
  "covered in vineyards orchards and quiet forests that sheltered deer foxes owls and wandering travellers " +
  "who told stories about kings ships storms harvests bridges lanterns markets festivals and letters").split(" ");
function userMessage(turn, words) {
  let state = 2654435761 * (turn + 1) >>> 0;
  const out = [`Turn ${turn}:`];
  for (let i = 0; i < words; ++i) {
    state = (1103515245 * state + 12345) >>> 0;
    out.push(VOCAB[(state >>> 8) % VOCAB.length]);
  }
  return out.join(" ") + ". What happens next?";
}

async function modelId(url) {
  const res = await fetch(`${url}/v1/models`);
  if (!res.ok) throw new Error(`GET /v1/models: HTTP ${res.status}`);
  const body = await res.json();
  if (!body.data?.length) throw new Error("GET /v1/models lists no model");
  return body.data[0].id;
}

// One streamed chat request; returns TTFT (first non-empty content delta), total time, the answer
// text and the usage object of the final chunk.
async function chat(url, model, messages, maxTokens) {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      model, messages, stream: true, temperature: 0, max_tokens: maxTokens,
      ignore_eos: true, // random-weight models may pick the end token at once
      stream_options: { include_usage: true },
    }),
  });
  if (!res.ok) throw new Error(`POST /v1/chat/completions: HTTP ${res.status}: ${await res.text()}`);
  const decoder = new TextDecoder();
  let buffer = "", answer = "", ttft = null, usage = null;
  for await (const bytes of res.body) {
    buffer += decoder.decode(bytes, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data:")) continue;
        const data = line.slice(5).trim();
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.error) throw new Error(`stream error: ${JSON.stringify(chunk.error)}`);
        const content = chunk.choices?.[0]?.delta?.content;
        if (content) {
          if (ttft === null) ttft = performance.now() - t0;
          answer += content;
        }
        if (chunk.usage) usage = chunk.usage;
      }
    }
  }
  return { ttft, total: performance.now() - t0, answer, usage };
}

const fmt = (ms) => (ms === null ? "n/a" : ms.toFixed(1));

async function main() {
  const args = parseArgs(process.argv);
  const model = await modelId(args.url);
  // Warm-up: pages the weights in and settles the threads, so turn 1 is not a cold start.
  await chat(args.url, model, [{ role: "user", content: "Hello." }], 1);

  const messages = [];
  const answers = args.onlyTurn ? JSON.parse(readFileSync(args.answers, "utf8")) : [];
  const rows = [];
  const last = args.onlyTurn || args.turns;
  for (let turn = 1; turn <= last; ++turn) {
    messages.push({ role: "user", content: userMessage(turn, args.words) });
    if (args.onlyTurn && turn < args.onlyTurn) {
      if (answers[turn - 1] === undefined) throw new Error(`${args.answers} has no answer for turn ${turn}`);
      messages.push({ role: "assistant", content: answers[turn - 1] });
      continue;
    }
    const r = await chat(args.url, model, messages, args.maxTokens);
    const prompt = r.usage?.prompt_tokens ?? null;
    const cached = r.usage?.prompt_tokens_details?.cached_tokens ?? null;
    rows.push({ turn, prompt_tokens: prompt, cached_tokens: cached, ttft_ms: r.ttft, total_ms: r.total });
    console.log(`turn ${String(turn).padStart(2)}: prompt ${prompt ?? "n/a"} tokens, cached ${cached ?? "n/a"}, ` +
      `new ${prompt !== null && cached !== null ? prompt - cached : "n/a"}, TTFT ${fmt(r.ttft)} ms, total ${fmt(r.total)} ms`);
    answers[turn - 1] = r.answer;
    messages.push({ role: "assistant", content: r.answer });
  }
  if (args.saveAnswers) writeFileSync(args.saveAnswers, JSON.stringify(answers));
  console.log("json " + JSON.stringify({ model, turns: rows }));
}

main().catch((e) => {
  console.error(`multiturn_ttft: ${e.message}`);
  process.exit(1);
});
