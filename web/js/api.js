// The HTTP API of mofa-server as the UI uses it: JSON calls with readable errors, and the
// OpenAI chat stream parsed from its server-sent events.

let apiKey = '';

export function setApiKey(key) {
  apiKey = key || '';
}

// An error whose message is meant for the user; `status` is 0 when the server was unreachable.
export class ApiError extends Error {
  constructor(message, status = 0, code = '') {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function headers(extra = {}) {
  const h = { ...extra };
  if (apiKey) h.Authorization = `Bearer ${apiKey}`;
  return h;
}

function unreachable(err) {
  return new ApiError(
    `Cannot reach the server (${err && err.message ? err.message : 'network error'}). ` +
      'Is mofa-server still running?',
    0,
    'connection',
  );
}

async function errorFrom(response) {
  let message = `${response.status} ${response.statusText || 'error'}`;
  let code = '';
  try {
    const text = await response.text();
    try {
      const body = JSON.parse(text);
      const e = body && body.error;
      if (e && typeof e === 'object' && e.message) {
        message = e.message;
        code = e.code || e.type || '';
      } else if (typeof e === 'string') {
        message = e;
      }
    } catch {
      if (text.trim()) message = text.trim().slice(0, 500);
    }
  } catch {
    // The body could not be read; the status line is all there is.
  }
  if (response.status === 401) {
    message += ' — set the API key in Settings.';
  }
  return new ApiError(message, response.status, code);
}

export async function request(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: headers(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  } catch (err) {
    throw unreachable(err);
  }
  if (!response.ok) throw await errorFrom(response);
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

export const api = {
  health: () => request('GET', '/health'),
  models: () => request('GET', '/v1/models'),
  ps: () => request('GET', '/api/ps'),
  catalog: () => request('GET', '/v1/catalog'),
  downloads: () => request('GET', '/v1/models/download'),
  startDownload: (body) => request('POST', '/v1/models/download', body),
  cancelDownload: (id) => request('DELETE', `/v1/models/download/${encodeURIComponent(id)}`),
  deleteModel: (id) => request('DELETE', `/v1/models/${id.split('/').map(encodeURIComponent).join('/')}`),
};

// Streams one chat completion. Calls onDelta(text) per content piece and returns
// { finishReason, usage, model }. Throws ApiError (server or connection) or AbortError.
export async function streamChat(body, { signal, onDelta, onStart }) {
  let response;
  try {
    response = await fetch('/v1/chat/completions', {
      method: 'POST',
      headers: headers({ 'Content-Type': 'application/json', Accept: 'text/event-stream' }),
      body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
      signal,
    });
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw unreachable(err);
  }
  if (!response.ok) throw await errorFrom(response);
  if (onStart) onStart();
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const result = { finishReason: null, usage: null, model: null, done: false };
  let inThink = false;

  const handleEvent = (data) => {
    if (data === '[DONE]') {
      result.done = true;
      return;
    }
    let chunk;
    try {
      chunk = JSON.parse(data);
    } catch {
      throw new ApiError(`The server sent a malformed event: ${data.slice(0, 200)}`, 500);
    }
    if (chunk.error) {
      const e = chunk.error;
      throw new ApiError(typeof e === 'string' ? e : e.message || 'generation failed', e.status || 500, e.code || '');
    }
    if (chunk.model) result.model = chunk.model;
    if (chunk.usage) result.usage = chunk.usage;
    for (const choice of chunk.choices || []) {
      // The server separates a reasoning model's thinking (reasoning_content); the transcript
      // keeps it as a <think> block, which the renderer folds away.
      const reasoning = choice.delta && choice.delta.reasoning_content;
      if (reasoning) {
        if (!inThink) onDelta('<think>');
        inThink = true;
        onDelta(reasoning);
      }
      const piece = choice.delta && choice.delta.content;
      if (piece) {
        if (inThink) onDelta('</think>\n\n');
        inThink = false;
        onDelta(piece);
      }
      if (choice.finish_reason) {
        if (inThink) onDelta('</think>');
        inThink = false;
        result.finishReason = choice.finish_reason;
      }
    }
  };

  for (;;) {
    let read;
    try {
      read = await reader.read();
    } catch (err) {
      if (err && err.name === 'AbortError') throw err;
      if (signal && signal.aborted) throw new DOMException('aborted', 'AbortError');
      throw new ApiError('The connection to the server was lost while the answer was streaming.', 0, 'connection');
    }
    if (read.done) break;
    buffer += decoder.decode(read.value, { stream: true });
    buffer = buffer.replace(/\r\n/g, '\n');
    let sep;
    while ((sep = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, sep);
      buffer = buffer.slice(sep + 2);
      const data = event
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).replace(/^ /, ''))
        .join('\n');
      if (data) handleEvent(data);
    }
  }
  if (!result.done && !result.finishReason) {
    throw new ApiError('The connection to the server closed before the answer was complete.', 0, 'connection');
  }
  return result;
}
