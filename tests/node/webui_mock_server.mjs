// A small stand-in for mofa-server's HTTP API, for developing the web UI without a build:
//   node tests/node/webui_mock_server.mjs [port]     (serves web/ at / and /static/)
// It streams canned answers (with a <think> block and Markdown), lists two models and a catalog,
// and simulates downloads. The real tests (webui_test.mjs) run against the real binary.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web');
const types = { '.html': 'text/html; charset=utf-8', '.css': 'text/css', '.js': 'text/javascript', '.svg': 'image/svg+xml' };

const models = [
  { id: 'tiny-qwen3', object: 'model', owned_by: 'mofa', context_length: 4096, model_type: 'qwen3', size_bytes: 12e6 },
  { id: 'tiny-qwen3-b', object: 'model', owned_by: 'mofa', context_length: 4096, model_type: 'qwen3', size_bytes: 12e6 },
];
const loaded = new Set(['tiny-qwen3']);
const catalog = [
  { id: 'qwen2.5-0.5b-instruct', name: 'Qwen2.5-0.5B Instruct', category: 'LLM', repo: 'mlx-community/Qwen2.5-0.5B-Instruct-4bit', size: '~400MB', size_bytes: 4e8, model_id: 'Qwen2.5-0.5B-Instruct-4bit' },
  { id: 'qwen3-4b-bf16', name: 'Qwen3-4B', category: 'LLM', repo: 'mlx-community/Qwen3-4B-bf16', size: '~8GB', size_bytes: 8e9, model_id: 'Qwen3-4B-bf16' },
];
const downloads = new Map();
let nextDownload = 1;

const answer =
  '<think>\nThe user greets me. I should answer briefly.\n</think>\n\nHello! Here is **Markdown** with `code`:\n\n' +
  '```python\ndef add(a, b):\n    # sum\n    return a + b\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- one\n- two\n';

function json(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}
function error(res, status, message) {
  json(res, status, { error: { message, type: 'invalid_request_error', param: null, code: null } });
}
function readBody(req) {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => resolve(data));
  });
}

function tickDownloads() {
  for (const d of downloads.values()) {
    if (d.status !== 'downloading') continue;
    d.downloaded_bytes = Math.min(d.total_bytes, d.downloaded_bytes + 4e6);
    d.bytes_per_second = 8e6;
    d.eta_seconds = (d.total_bytes - d.downloaded_bytes) / 8e6;
    if (d.downloaded_bytes >= d.total_bytes) {
      d.status = 'completed';
      models.push({ id: d.model_id, object: 'model', owned_by: 'mofa', context_length: 32768, model_type: 'qwen2', size_bytes: d.total_bytes });
    }
  }
}
setInterval(tickDownloads, 500).unref();

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  const p = url.pathname;
  if (req.method === 'GET' && (p === '/' || p.startsWith('/static/'))) {
    const file = p === '/' ? 'index.html' : p.slice(8);
    const full = path.join(root, file);
    if (!full.startsWith(root) || !fs.existsSync(full)) return error(res, 404, `no web UI file at ${p}`);
    res.writeHead(200, { 'Content-Type': types[path.extname(full)] || 'application/octet-stream', 'Cache-Control': 'no-cache' });
    return res.end(fs.readFileSync(full));
  }
  if (p === '/health') return json(res, 200, { status: 'ok' });
  if (p === '/v1/models' && req.method === 'GET') return json(res, 200, { object: 'list', data: models.map((m) => ({ ...m, loaded: loaded.has(m.id) })) });
  if (p === '/api/ps') return json(res, 200, { models: [...loaded].map((id) => ({ name: id, model: id, size: 12e6, context_length: 4096 })) });
  if (p === '/v1/catalog') {
    return json(res, 200, { object: 'list', data: catalog.map((e) => ({ ...e, downloaded: models.some((m) => m.id === e.model_id), loaded: loaded.has(e.model_id) })) });
  }
  if (p === '/v1/models/download' && req.method === 'GET') return json(res, 200, { object: 'list', data: [...downloads.values()] });
  if (p === '/v1/models/download' && req.method === 'POST') {
    const body = JSON.parse((await readBody(req)) || '{}');
    const entry = catalog.find((e) => e.id === body.catalog_id);
    if (body.catalog_id && !entry) return error(res, 404, `catalog id '${body.catalog_id}' is not in the catalog`);
    const repo = entry ? entry.repo : body.repo;
    if (!repo) return error(res, 400, "give either 'catalog_id' or 'repo'");
    const id = `dl-${nextDownload++}`;
    const d = { id, object: 'model.download', repo, revision: body.revision || 'main', catalog_id: entry ? entry.id : null, model_id: repo.split('/').pop(), status: 'downloading', downloaded_bytes: 0, total_bytes: 40e6, files_done: 0, files_total: 3, bytes_per_second: 0, eta_seconds: null, error: null };
    downloads.set(id, d);
    return json(res, 202, d);
  }
  const dl = p.match(/^\/v1\/models\/download\/(.+)$/);
  if (dl) {
    const d = downloads.get(dl[1]);
    if (!d) return error(res, 404, `no download with id '${dl[1]}'`);
    if (req.method === 'DELETE' && d.status === 'downloading') d.status = 'cancelled';
    return json(res, 200, d);
  }
  const del = p.match(/^\/v1\/models\/(.+)$/);
  if (del && req.method === 'DELETE') {
    const id = decodeURIComponent(del[1]);
    const i = models.findIndex((m) => m.id === id);
    if (i < 0) return error(res, 404, `model '${id}' not found`);
    models.splice(i, 1);
    loaded.delete(id);
    return json(res, 200, { id, object: 'model', deleted: true });
  }
  if (p === '/v1/chat/completions' && req.method === 'POST') {
    const body = JSON.parse((await readBody(req)) || '{}');
    if (body.temperature !== undefined && (body.temperature < 0 || body.temperature > 2)) {
      return error(res, 400, `'temperature' must be in [0, 2], got ${body.temperature}`);
    }
    const model = body.model || 'tiny-qwen3';
    if (!models.some((m) => m.id === model)) return error(res, 404, `model '${model}' not found`);
    loaded.add(model);
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    const base = { id: 'chatcmpl-mock', object: 'chat.completion.chunk', created: 0, model };
    const send = (o) => res.write(`data: ${JSON.stringify({ ...base, ...o })}\n\n`);
    send({ choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
    const pieces = answer.match(/[\s\S]{1,6}/g);
    let i = 0;
    let closed = false;
    req.on('close', () => (closed = true));
    res.on('close', () => (closed = true));
    const timer = setInterval(() => {
      if (closed) return clearInterval(timer);
      if (i < pieces.length) {
        send({ choices: [{ index: 0, delta: { content: pieces[i++] }, finish_reason: null }] });
        return;
      }
      clearInterval(timer);
      send({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
      send({ choices: [], usage: { prompt_tokens: 12, completion_tokens: pieces.length, total_tokens: 12 + pieces.length } });
      res.end('data: [DONE]\n\n');
    }, 40);
    return;
  }
  error(res, 404, `no route for ${req.method} ${p}`);
});

const port = Number(process.argv[2] || 8091);
server.listen(port, '127.0.0.1', () => console.log(`webui mock on http://127.0.0.1:${server.address().port}/`));
