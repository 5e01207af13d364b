// The server through the official `ollama` npm client: chat and generate (plain and streamed),
// tags, show, ps, pull from a local hub mimic (streamed progress), delete.
// Usage: node server_ollama.mjs --binary PATH --model DIR --models-dir DIR --hub-dir DIR
import { Ollama } from 'ollama';
import path from 'node:path';
import fs from 'node:fs';
import { startHubMimic } from './webui_hub_mimic.mjs';
import { check, finish, parseArgs, startServer, step } from './server_harness.mjs';

const args = parseArgs(process.argv);
const modelId = path.basename(args.model);
const repo = 'test-org/Pulled-Model';
const hub = await startHubMimic({ repos: { [repo]: args['hub-dir'] } });
hub.release?.();
const server = await startServer(
  args.binary,
  ['--model', args.model, '--models-dir', args['models-dir'], '--ctx-size', '256', '--exact', '--threads', '2'],
  { HF_ENDPOINT: hub.url, HF_TOKEN: '' },
);
const ollama = new Ollama({ host: server.url });
const messages = [{ role: 'user', content: 'Why is the sky blue?' }];
const options = { temperature: 0, num_predict: 10 };

try {
  await step('chat: plain and streamed agree, with Ollama stats', async () => {
    const plain = await ollama.chat({ model: modelId, messages, options, stream: false });
    check(plain.done === true && plain.message.role === 'assistant', JSON.stringify(plain));
    check(['stop', 'length'].includes(plain.done_reason), `done_reason ${plain.done_reason}`);
    check(plain.prompt_eval_count > 5 && plain.eval_count >= 1 && plain.eval_count <= 10, `counts ${plain.prompt_eval_count} ${plain.eval_count}`);
    check(plain.total_duration > 0 && plain.eval_duration >= 0, 'durations');
    const stream = await ollama.chat({ model: modelId, messages, options, stream: true });
    let text = '';
    let last = null;
    for await (const part of stream) {
      text += part.message.content;
      last = part;
    }
    check(last && last.done === true && typeof last.eval_count === 'number', `last part ${JSON.stringify(last)}`);
    check(text === plain.message.content, `streamed ${JSON.stringify(text)} != ${JSON.stringify(plain.message.content)}`);
  });

  await step('generate: plain, streamed, raw with context', async () => {
    const plain = await ollama.generate({ model: modelId, prompt: 'Tell me a story', options, stream: false });
    check(typeof plain.response === 'string' && plain.done, JSON.stringify(plain));
    check(Array.isArray(plain.context) && plain.context.length === plain.prompt_eval_count + plain.eval_count,
      `context ${plain.context?.length} vs ${plain.prompt_eval_count}+${plain.eval_count}`);
    let text = '';
    for await (const part of await ollama.generate({ model: modelId, prompt: 'Tell me a story', options, stream: true })) text += part.response;
    check(text === plain.response, `streamed ${JSON.stringify(text)} != ${JSON.stringify(plain.response)}`);
    const raw = await ollama.generate({ model: modelId, prompt: 'abc', raw: true, options, stream: false, format: 'json', keep_alive: '10m' });
    check(raw.prompt_eval_count >= 1 && raw.prompt_eval_count < 5, `raw prompt tokens ${raw.prompt_eval_count}`);
  });

  await step('tags, show, ps', async () => {
    const tags = await ollama.list();
    check(tags.models.some((m) => m.name === modelId && m.size > 0 && m.details.family === 'qwen3'), JSON.stringify(tags));
    const show = await ollama.show({ model: modelId });
    check(show.model_info['general.architecture'] === 'qwen3', JSON.stringify(show.model_info));
    check(show.template.length > 0, 'show has no template');
    const ps = await ollama.ps();
    check(ps.models.some((m) => m.name === modelId && m.expires_at), JSON.stringify(ps));
  });

  await step('pull streams progress from the hub, then the model serves and deletes', async () => {
    const statuses = [];
    let sawBytes = false;
    for await (const part of await ollama.pull({ model: repo, stream: true })) {
      statuses.push(part.status);
      if (part.total > 0 && part.completed > 0) sawBytes = true;
    }
    check(statuses[0] === 'pulling manifest', `first status ${statuses[0]}`);
    check(statuses.at(-1) === 'success', `statuses ${statuses}`);
    check(sawBytes, 'no byte progress reported');
    const pulled = 'Pulled-Model';
    check(fs.existsSync(path.join(args['models-dir'], pulled, 'config.json')), 'pulled model not on disk');
    const tags = await ollama.list();
    check(tags.models.some((m) => m.name === pulled), `tags ${tags.models.map((m) => m.name)}`);
    const answer = await ollama.generate({ model: pulled, prompt: 'Hi', options: { num_predict: 3 }, stream: false });
    check(answer.done && answer.eval_count >= 1, JSON.stringify(answer));
    await ollama.delete({ model: pulled });
    check(!fs.existsSync(path.join(args['models-dir'], pulled)), 'deleted model still on disk');
    let error = null;
    try {
      await ollama.pull({ model: 'test-org/does-not-exist', stream: false });
    } catch (e) {
      error = e;
    }
    check(error !== null, 'pulling a missing repo did not fail');
  });

  await step('errors use Ollama shape', async () => {
    let error = null;
    try {
      await ollama.chat({ model: 'no-such-model', messages, stream: false });
    } catch (e) {
      error = e;
    }
    check(error && error.status_code === 404, `status ${error?.status_code} ${error?.message}`);
    const v = await ollama.version();
    check(typeof v.version === 'string', JSON.stringify(v));
  });
} finally {
  const code = await server.stop();
  check(code === 0, `server exit code ${code}`);
  await hub.close?.();
}
finish(server);
