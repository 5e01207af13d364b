// End-to-end test of the web UI in headless Chromium (playwright-core + Debian's chromium) against
// the real mofa-server binary serving random-weight fixture models, with a local hub mimic for
// downloads. Usage (tests/reference/webui_reference.sh sets this up):
//   node webui_test.mjs --binary BUILD/mofa-server --models DIR --default ID --other ID
//                       --hub-repo OWNER/NAME --hub-dir DIR --artifacts DIR
// On failure, a screenshot of every page and the server's log are saved under --artifacts.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startHubMimic } from './webui_hub_mimic.mjs';

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
for (const k of ['binary', 'models', 'default', 'other', 'hub-repo', 'hub-dir', 'artifacts']) {
  if (!args[k]) throw new Error(`missing --${k}`);
}

const TIMEOUT = 60000;
let serverLog = '';
let server = null;
let baseUrl = '';

function startServer(hubUrl, extra = []) {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'mofa-webui-home-'));
  const child = spawn(args.binary, ['--model', args.default, '--models-dir', args.models, '--port', '0', '--ctx-size', '8192', '--threads', '2', ...extra], {
    env: { ...process.env, MOFA_HOME: home, HF_ENDPOINT: hubUrl, HF_TOKEN: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logStart = serverLog.length;
  return new Promise((resolve, reject) => {
    const onData = (chunk) => {
      serverLog += chunk.toString();
      const m = serverLog.slice(logStart).match(/listening on (http:\/\/[\d.]+:\d+)/);
      if (m) resolve({ child, url: m[1] });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`mofa-server exited with ${code} before listening:\n${serverLog}`)));
  });
}

async function apiGet(p) {
  const r = await fetch(baseUrl + p);
  return r.json();
}

function check(cond, message) {
  if (!cond) throw new Error(message);
}

const results = [];
let context;
const pages = [];

async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (err) {
    results.push({ name, ok: false });
    console.log(`FAIL ${name}\n     ${String(err && err.stack ? err.stack : err).split('\n').slice(0, 6).join('\n     ')}`);
    fs.mkdirSync(args.artifacts, { recursive: true });
    const safe = name.replace(/[^\w-]+/g, '_');
    for (const [i, p] of pages.entries()) {
      if (!p.isClosed()) await p.screenshot({ path: path.join(args.artifacts, `${safe}-page${i}.png`), fullPage: true }).catch(() => {});
    }
    fs.writeFileSync(path.join(args.artifacts, 'server.log'), serverLog);
    throw err;
  }
}

async function lastAssistant(page) {
  return page.locator('#messages article.msg-assistant').last();
}

async function sendAndWait(page, text) {
  await page.fill('#prompt', text);
  await page.press('#prompt', 'Enter');
  const msg = await lastAssistant(page);
  await msg.locator('.msg-stats, .msg-error').first().waitFor({ timeout: TIMEOUT });
  return msg;
}

async function checkNoError(msg) {
  const errors = msg.locator('.msg-error');
  if ((await errors.count()) > 0) throw new Error(`the answer shows an error: ${await errors.first().innerText()}`);
}

async function setParam(page, name, value) {
  if (await page.locator('#conv-settings').isHidden()) await page.click('#toggle-conv-settings');
  await page.fill(`#cs-${name}`, value);
}

async function main() {
  const hub = await startHubMimic({ repos: { [args['hub-repo']]: args['hub-dir'] }, holdFile: 'tokenizer.json' });
  const userData = fs.mkdtempSync(path.join(os.tmpdir(), 'mofa-webui-chromium-'));
  try {
    await run(hub, userData);
  } finally {
    if (context) await context.close().catch(() => {});
    fs.rmSync(userData, { recursive: true, force: true });
    if (server) server.kill('SIGTERM');
    await hub.close();
  }
}

async function run(hub, userData) {
  const started = await startServer(hub.url);
  server = started.child;
  baseUrl = started.url;
  // A fresh profile per run: launchPersistentContext is how playwright takes --user-data-dir.
  context = await chromium.launchPersistentContext(userData, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 860 },
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseUrl });
  const page = await context.newPage();
  pages.push(page);
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.setDefaultTimeout(TIMEOUT);
  if (process.env.WEBUI_TRACE) {
    const t0 = Date.now();
    const at = () => ((Date.now() - t0) / 1000).toFixed(2);
    page.on('request', (r) => console.log(at(), 'request', r.method(), r.url()));
    page.on('requestfinished', (r) => console.log(at(), 'finished', r.url()));
    page.on('requestfailed', (r) => console.log(at(), 'failed', r.url(), r.failure() && r.failure().errorText));
  }

  await step('the page and its assets are served with the right types', async () => {
    const index = await fetch(`${baseUrl}/`);
    check(index.status === 200, `GET / gave ${index.status}`);
    check(index.headers.get('content-type').startsWith('text/html'), `GET / content type ${index.headers.get('content-type')}`);
    check((await index.text()).includes('<title>MOFA Local</title>'), 'index.html has no title');
    const js = await fetch(`${baseUrl}/static/js/app.js`);
    check(js.status === 200 && js.headers.get('content-type').startsWith('text/javascript'), `app.js: ${js.status} ${js.headers.get('content-type')}`);
    const etag = js.headers.get('etag');
    const again = await fetch(`${baseUrl}/static/js/app.js`, { headers: { 'If-None-Match': etag } });
    check(again.status === 304, `If-None-Match gave ${again.status}`);
    const missing = await fetch(`${baseUrl}/static/nope.js`);
    check(missing.status === 404 && (await missing.json()).error.message.includes('/static/nope.js'), `missing file gave ${missing.status}`);
  });

  await step('load the page: models listed, no script errors', async () => {
    await page.goto(`${baseUrl}/`);
    await page.waitForSelector('html[data-ready]');
    await page.waitForFunction((id) => [...document.querySelectorAll('#model-select option')].some((o) => o.value === id), args.default);
    check((await page.inputValue('#model-select')) === args.default, `picker shows ${await page.inputValue('#model-select')}`);
    const options = await page.$$eval('#model-select option', (os) => os.map((o) => o.value));
    check(options.includes(args.other), `picker lacks ${args.other}: ${options}`);
    check(pageErrors.length === 0, `page errors: ${pageErrors}`);
  });

  await step('send a message: the answer streams in and shows token counts', async () => {
    await setParam(page, 'max_tokens', '24');  // random weights never stop on their own
    const msg = await sendAndWait(page, 'Hello, who are you?');
    await checkNoError(msg);
    const answer = await msg.locator('.answer').innerText();
    check(answer.trim().length > 0, 'empty answer');
    const stats = await msg.locator('.msg-stats').innerText();
    check(/\d+ tokens/.test(stats) && /tok\/s/.test(stats) && /prompt \d+ tokens/.test(stats), `stats: ${stats}`);
    check((await msg.locator('.msg-role').innerText()) === args.default, 'answer not labelled with the model');
    check((await page.locator('#conv-list .conv-open').first().innerText()) === 'Hello, who are you?', 'conversation not titled');
  });

  await step('Shift+Enter makes a new line; Escape stops a long answer mid-stream', async () => {
    await setParam(page, 'max_tokens', '3000');
    await page.fill('#prompt', 'line one');
    await page.press('#prompt', 'Shift+Enter');
    await page.type('#prompt', 'line two');
    check((await page.inputValue('#prompt')) === 'line one\nline two', 'Shift+Enter did not insert a newline');
    await page.press('#prompt', 'Enter');
    await page.locator('#stop').waitFor({ state: 'visible' });
    const msg = await lastAssistant(page);
    await page.waitForFunction(() => {
      const a = [...document.querySelectorAll('#messages article.msg-assistant')].pop();
      return a && a.querySelector('.answer') && a.querySelector('.answer').textContent.trim().length > 0;
    });
    await page.keyboard.press('Escape');
    await msg.locator('.msg-note').waitFor();
    check((await msg.locator('.msg-note').innerText()) === 'Stopped.', 'no Stopped note');
    check(await page.locator('#send').isVisible(), 'send button not back');
    check((await msg.locator('.msg-stats').count()) === 0, 'a stopped answer has usage stats');
    await setParam(page, 'max_tokens', '24');
  });

  await step('regenerate replaces the last answer; edit-and-resend rewrites the turn', async () => {
    const before = await page.locator('#messages article.msg').count();
    await page.locator('#messages article.msg-assistant').last().locator('.act-regenerate').click();
    await (await lastAssistant(page)).locator('.msg-stats').waitFor();
    check((await page.locator('#messages article.msg').count()) === before, 'regenerate changed the message count');
    const firstUser = page.locator('#messages article.msg-user').first();
    await firstUser.hover();
    await firstUser.locator('.act-edit').click();
    await page.fill('.edit-area', 'Edited question');
    await page.press('.edit-area', 'Enter');
    await (await lastAssistant(page)).locator('.msg-stats').waitFor();
    check((await page.locator('#messages article.msg').count()) === 2, 'edit did not truncate the conversation');
    check((await page.locator('#messages article.msg-user .user-text').innerText()) === 'Edited question', 'edit not applied');
  });

  await step('copy buttons put the answer on the clipboard', async () => {
    const msg = await lastAssistant(page);
    await msg.locator('.act-copy').click();
    await page.locator('#toast').waitFor({ state: 'visible' });
    const clip = await page.evaluate(() => navigator.clipboard.readText());
    const id = await msg.getAttribute('data-id');
    const stored = await page.evaluate((mid) => {
      for (const c of JSON.parse(localStorage.getItem('mofa.conversations.v1'))) for (const m of c.messages) if (m.id === mid) return m.content;
      return null;
    }, id);
    check(clip.length > 0 && clip === stored.trim(), `clipboard ${JSON.stringify(clip.slice(0, 40))} != answer ${JSON.stringify((stored || '').slice(0, 40))}`);
  });

  await step('switch models: the other model answers', async () => {
    await page.selectOption('#model-select', args.other);
    const msg = await sendAndWait(page, 'And you?');
    await checkNoError(msg);
    check((await msg.locator('.msg-role').innerText()) === args.other, `answered by ${await msg.locator('.msg-role').innerText()}`);
    const ps = await apiGet('/api/ps');
    check(ps.models.some((m) => m.name === args.other), `/api/ps lacks ${args.other}`);
  });

  await step('a server error is shown in the answer', async () => {
    await setParam(page, 'temperature', '50');
    const msg = await sendAndWait(page, 'too hot');
    const error = await msg.locator('.msg-error').innerText();
    check(/temperature/i.test(error), `error text: ${error}`);
    await setParam(page, 'temperature', '');
  });

  await step('conversations persist, rename, search and delete with confirmation', async () => {
    await page.click('#new-chat');
    await setParam(page, 'max_tokens', '8');
    await sendAndWait(page, 'Second conversation');
    await page.reload();
    await page.waitForSelector('html[data-ready]');
    const titles = await page.$$eval('#conv-list .conv-open', (b) => b.map((x) => x.textContent));
    check(titles.includes('Second conversation') && titles.includes('Edited question') === false && titles.length === 2, `titles after reload: ${titles}`);
    const item = page.locator('#conv-list .conv-item', { hasText: 'Second conversation' });
    await item.hover();
    await item.locator('.conv-rename').click();
    await page.fill('#rename-input', 'Renamed chat');
    await page.press('#rename-input', 'Enter');
    await page.locator('#conv-list .conv-open', { hasText: 'Renamed chat' }).waitFor();
    await page.fill('#search', 'renamed');
    check((await page.locator('#conv-list .conv-item').count()) === 1, 'search did not filter');
    await page.fill('#search', '');
    const renamed = page.locator('#conv-list .conv-item', { hasText: 'Renamed chat' });
    await renamed.hover();
    await renamed.locator('.conv-delete').click();
    await page.locator('#confirm[open]').waitFor();
    await page.keyboard.press('Escape');  // cancel keeps it
    check((await page.locator('#conv-list .conv-item', { hasText: 'Renamed chat' }).count()) === 1, 'cancelled delete removed the conversation');
    await renamed.hover();
    await renamed.locator('.conv-delete').click();
    await page.click('#confirm-ok');
    await page.locator('#conv-list .conv-item', { hasText: 'Renamed chat' }).waitFor({ state: 'detached' });
    const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('mofa.conversations.v1')).map((c) => c.title));
    check(!stored.includes('Renamed chat'), `still stored: ${stored}`);
  });

  const catalogCard = () => page.locator(`#catalog li[data-catalog]`, { has: page.locator(`text=${args['hub-repo']}`) });

  await step('catalog download: progress shows, cancel asks and stops it', async () => {
    await page.click('#nav-models');
    await page.locator('#catalog li').first().waitFor();
    const card = catalogCard();
    await card.locator('.act-download').click();
    const bar = card.locator('[role=progressbar]');
    await page.waitForFunction(() => {
      const b = document.querySelector('#catalog [role=progressbar]');
      const v = b ? Number(b.getAttribute('aria-valuenow')) : 0;
      return v > 0 && v < 100;
    });
    const text = await card.locator('.download-text').innerText();
    check(/MB of [\d.]+ MB/.test(text), `progress text: ${text}`);
    check(hub.state.held >= 1, 'the hub mimic never held the file');
    check(Number(await bar.getAttribute('aria-valuenow')) < 100, 'bar full while the hub holds a file');
    await card.locator('.act-cancel').click();
    await page.locator('#confirm[open]').waitFor();
    await page.click('#confirm-ok');
    await card.locator('text=Download cancelled.').waitFor();
    const list = await apiGet('/v1/models/download');
    check(list.data.some((d) => d.status === 'cancelled'), `downloads: ${JSON.stringify(list.data)}`);
  });

  await step('catalog download: the bar reaches 100% and the model is listed', async () => {
    const card = catalogCard();
    await card.locator('.act-download').click();
    await page.waitForFunction(() => {
      const b = document.querySelector('#catalog [role=progressbar]');
      return b && Number(b.getAttribute('aria-valuenow')) > 0;
    });
    hub.release();
    await page.waitForFunction(() => {
      const b = document.querySelector('#catalog [role=progressbar]');
      return b && b.getAttribute('aria-valuenow') === '100';
    });
    await card.locator('.badge', { hasText: 'Downloaded' }).waitFor();
    const modelId = args['hub-repo'].split('/').pop();
    await page.locator(`#local-models li[data-model="${modelId}"]`).waitFor();
    const models = await apiGet('/v1/models');
    check(models.data.some((m) => m.id === modelId), `/v1/models lacks ${modelId}`);
  });

  await step('delete asks, then removes the model from disk', async () => {
    const modelId = args['hub-repo'].split('/').pop();
    const card = catalogCard();
    await card.locator('.act-delete').click();
    await page.locator('#confirm[open]').waitFor();
    check((await page.locator('#confirm-title').innerText()).includes(modelId), 'confirmation does not name the model');
    await page.click('#confirm-ok');
    await page.locator(`#local-models li[data-model="${modelId}"]`).waitFor({ state: 'detached' });
    await card.locator('.act-download').waitFor();
    check(!fs.existsSync(path.join(args.models, modelId)), 'model folder still on disk');
  });

  await step('themes: light and dark differ; narrow layout hides the sidebar behind a menu', async () => {
    await page.click('#nav-chat');
    await page.click('#theme-toggle');
    check((await page.getAttribute('html', 'data-theme')) === 'light', 'not light');
    const light = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.click('#theme-toggle');
    check((await page.getAttribute('html', 'data-theme')) === 'dark', 'not dark');
    const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    check(light !== dark, `same background ${light}`);
    await page.setViewportSize({ width: 390, height: 820 });
    check(!(await page.locator('#sidebar').isVisible()), 'sidebar visible on a phone');
    await page.click('#menu');
    await page.locator('#sidebar.open').waitFor();
    check(await page.locator('#new-chat').isVisible(), 'sidebar did not open');
    await page.keyboard.press('Escape');
    await page.locator('#sidebar.open').waitFor({ state: 'detached' });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    check(width <= 390, `page scrolls sideways: ${width}px`);
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  await step('a <think> block renders collapsed, Markdown code has a copy button', async () => {
    const p2 = await context.newPage();
    pages.push(p2);
    await p2.route('**/v1/chat/completions', (route) => {
      const base = { id: 'c1', object: 'chat.completion.chunk', created: 0, model: args.default };
      const chunk = (delta, finish = null) => `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      const body =
        chunk({ role: 'assistant', content: '' }) + chunk({ content: '<think>\nweighing it' }) + chunk({ content: '\n</think>\n\nHere:\n```js\nconst x = 1;\n```' }) +
        chunk({}, 'stop') + `data: ${JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: 5, completion_tokens: 9, total_tokens: 14 } })}\n\ndata: [DONE]\n\n`;
      route.fulfill({ status: 200, headers: { 'Content-Type': 'text/event-stream' }, body });
    });
    await p2.goto(`${baseUrl}/`);
    await p2.waitForSelector('html[data-ready]');
    await p2.click('#new-chat');
    const msg = await sendAndWait(p2, 'think please');
    const details = msg.locator('details.think');
    check((await details.getAttribute('open')) === null, 'think block not collapsed');
    check((await details.locator('.think-body').textContent()).includes('weighing it'), 'think text missing');
    check(!(await msg.locator('.answer').innerText()).includes('weighing it'), 'thinking leaked into the answer');
    await msg.locator('.code-block .tok-k', { hasText: 'const' }).waitFor();
    await msg.locator('.copy-code').click();
    check((await p2.evaluate(() => navigator.clipboard.readText())) === 'const x = 1;', 'code copy');
    check((await msg.locator('.msg-stats').innerText()).startsWith('9 tokens'), 'usage not shown');
    await p2.close();
  });

  await step('losing the server shows a clear message', async () => {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
    server = null;
    await page.click('#new-chat');
    await setParam(page, 'max_tokens', '8');
    const msg = await sendAndWait(page, 'anyone there?');
    check(/Cannot reach the server/.test(await msg.locator('.msg-error').innerText()), 'no connection error');
    await page.locator('#conn-banner').waitFor({ state: 'visible' });
    check(/Lost connection/.test(await page.locator('#conn-banner').innerText()), 'no banner');
    check(pageErrors.length === 0, `page errors: ${pageErrors}`);
  });

  await step('a server with --api-key: the page loads, asks for the key, then works', async () => {
  const keyed = await startServer(hub.url, ['--api-key', 'sesame']);
  server = keyed.child;
  const p3 = await context.newPage();
  pages.push(p3);
  await p3.goto(`${keyed.url}/`);
  await p3.waitForSelector('html[data-ready]');
  await p3.waitForFunction(() => document.querySelector('#model-select option').textContent.includes('API key'));
  await p3.click('#open-settings');
  await p3.fill('#set-api-key', 'sesame');
  await p3.press('#set-api-key', 'Enter');
  await p3.waitForFunction((id) => [...document.querySelectorAll('#model-select option')].some((o) => o.value === id), args.default);
  await setParam(p3, 'max_tokens', '4');
  await checkNoError(await sendAndWait(p3, 'with a key'));
  await p3.close();
  server.kill('SIGTERM');
  await new Promise((resolve) => server.once('exit', resolve));
  server = null;
});

await step('--no-webui serves the API only', async () => {
    const plain = await startServer(hub.url, ['--no-webui']);
    server = plain.child;
    const root = await fetch(`${plain.url}/`);
    check(root.status === 404, `GET / with --no-webui gave ${root.status}`);
    check((await fetch(`${plain.url}/static/app.css`)).status === 404, 'assets still served');
    check((await fetch(`${plain.url}/health`)).status === 200, '/health not served');
  });
}

main()
  .then(() => {
    const failed = results.filter((r) => !r.ok).length;
    console.log(failed ? `${failed} step(s) failed` : `all ${results.length} web UI steps passed`);
    process.exit(failed ? 1 : 0);
  })
  .catch((err) => {
    if (!results.some((r) => !r.ok)) console.log(`FAIL ${err && err.stack ? err.stack : err}`);
    fs.mkdirSync(args.artifacts, { recursive: true });
    fs.writeFileSync(path.join(args.artifacts, 'server.log'), serverLog);
    process.exit(1);
  });
