// Load and disconnects against the real server: 50 concurrent streaming clients each get the
// complete greedy answer or a clean 503 with Retry-After, and the server is healthy afterwards;
// a client that leaves mid-stream, or while waiting for a whole answer, frees its slot for the
// next request.
// Usage: node server_load.mjs --binary PATH --model DIR
import path from 'node:path';
import { check, finish, parseArgs, readSse, startServer, step } from './server_harness.mjs';

const args = parseArgs(process.argv);
const modelId = path.basename(args.model);
const body = (extra = {}) => JSON.stringify({
  model: modelId,
  messages: [{ role: 'user', content: 'Count to five.' }],
  max_tokens: 16,
  temperature: 0,
  ...extra,
});
const post = (url, payload, signal) => fetch(`${url}/v1/chat/completions`, {
  method: 'POST', headers: { 'Content-Type': 'application/json' }, body: payload, signal,
});
const metric = (text, name) => {
  const m = text.match(new RegExp(`^${name} ([\\d.e+-]+)$`, 'm'));
  return m ? Number(m[1]) : NaN;
};

let server = await startServer(args.binary, [
  '--model', args.model, '--ctx-size', '256', '--parallel', '4', '--queue-size', '20', '--exact', '--threads', '2',
]);
try {
  await step('50 concurrent streams: complete answers or clean 503s', async () => {
    const reference = await post(server.url, body()).then((r) => r.json());
    const expected = reference.choices[0].message.content;
    const results = await Promise.all(Array.from({ length: 50 }, async () => {
      const r = await post(server.url, body({ stream: true }));
      if (r.status === 503) {
        const error = await r.json();
        return { busy: true, retry: r.headers.get('retry-after'), error };
      }
      const data = await readSse(r);
      let text = '';
      let finishes = 0;
      const ids = new Set();
      for (const d of data.slice(0, -1)) {
        const chunk = JSON.parse(d);
        ids.add(chunk.id);
        if (chunk.choices[0]?.delta?.content) text += chunk.choices[0].delta.content;
        if (chunk.choices[0]?.finish_reason) finishes += 1;
      }
      return { status: r.status, text, finishes, done: data.at(-1) === '[DONE]', ids: ids.size };
    }));
    const served = results.filter((x) => !x.busy);
    const busy = results.filter((x) => x.busy);
    console.log(`  ${served.length} served, ${busy.length} answered 503`);
    check(served.length >= 4, `only ${served.length} served`);
    for (const s of served) {
      check(s.status === 200 && s.done && s.finishes === 1 && s.ids === 1, `bad stream ${JSON.stringify(s)}`);
      check(s.text === expected, `answer ${JSON.stringify(s.text)} != ${JSON.stringify(expected)}`);
    }
    for (const b of busy) {
      check(Number(b.retry) >= 1, `Retry-After ${b.retry}`);
      check(b.error?.error?.code === 'server_busy', `503 body ${JSON.stringify(b.error)}`);
    }
    const health = await fetch(`${server.url}/health`).then((r) => r.json());
    check(health.status === 'ok', JSON.stringify(health));
    const metrics = await fetch(`${server.url}/metrics`).then((r) => r.text());
    check(metric(metrics, 'mofa_queue_depth') === 0, 'queue not empty after the burst');
    check(metric(metrics, 'mofa_slots_active') === 0, 'slots still active after the burst');
    check(metric(metrics, 'mofa_requests_rejected_total') === busy.length, 'rejections not counted');
    const after = await post(server.url, body()).then((r) => r.json());
    check(after.choices[0].message.content === expected, 'answer changed after the burst');
  });
} finally {
  const code = await server.stop();
  check(code === 0, `server exit code ${code}`);
}

server = await startServer(args.binary, [
  '--model', args.model, '--ctx-size', '32768', '--parallel', '1', '--exact', '--threads', '2',
]);
try {
  await step('a client leaving mid-stream frees its slot', async () => {
    const abort = new AbortController();
    const r = await post(server.url, body({ stream: true, max_tokens: 32000, ignore_eos: true }), abort.signal);
    const reader = r.body.getReader();
    let received = '';
    while ((received.match(/data: /g) || []).length < 4) {
      const { value } = await reader.read();
      received += new TextDecoder().decode(value);
    }
    abort.abort();
    // With one slot, this only answers once the abandoned 32000-token generation has let go of
    // it; the timeout only keeps a broken server from hanging the test.
    const next = await post(server.url, body({ max_tokens: 4 }), AbortSignal.timeout(120000)).then((x) => x.json());
    check(next.choices?.[0]?.finish_reason !== undefined, `next request ${JSON.stringify(next)}`);
    const metrics = await fetch(`${server.url}/metrics`).then((x) => x.text());
    check(metric(metrics, 'mofa_generations_cancelled_total') === 1, 'cancellation not counted');
  });
  await step('a client leaving a non-streamed request frees its slot', async () => {
    const abort = new AbortController();
    const pending = post(server.url, body({ max_tokens: 32000, ignore_eos: true }), abort.signal)
      .then(() => 'answered', (e) => e.name);
    // Wait until the generation runs (the slot is busy), then hang up.
    for (let i = 0; i < 100; i += 1) {
      const m = await fetch(`${server.url}/metrics`).then((x) => x.text());
      if (metric(m, 'mofa_slots_active') === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    abort.abort();
    check((await pending) === 'AbortError', 'the request was not aborted');
    const next = await post(server.url, body({ max_tokens: 4 }), AbortSignal.timeout(120000)).then((x) => x.json());
    check(next.choices?.[0]?.finish_reason !== undefined, `next request ${JSON.stringify(next)}`);
    const metrics = await fetch(`${server.url}/metrics`).then((x) => x.text());
    check(metric(metrics, 'mofa_generations_cancelled_total') === 2, 'cancellation not counted');
  });
} finally {
  const code = await server.stop();
  check(code === 0, `server exit code ${code}`);
}
finish(server);
