// The MOFA Local web UI: conversations, streaming chat, and the glue to the models view.
import { api, ApiError, setApiKey, streamChat } from './api.js';
import { $, h, copyText } from './dom.js';
import { renderMarkdown, splitThinking } from './markdown.js';
import { newConversation, prefs, store, uid } from './store.js';
import { initModels, refreshModels, modelState, onModelsChanged } from './models.js';

const state = {
  currentId: null,
  streaming: null,  // { convId, msgId, controller }
  view: 'chat',
  connected: true,
};

const els = {
  sidebar: $('#sidebar'),
  scrim: $('#scrim'),
  convList: $('#conv-list'),
  convEmpty: $('#conv-empty'),
  search: $('#search'),
  messages: $('#messages'),
  prompt: $('#prompt'),
  send: $('#send'),
  stop: $('#stop'),
  composer: $('#composer'),
  modelSelect: $('#model-select'),
  convSettings: $('#conv-settings'),
  banner: $('#conn-banner'),
  toast: $('#toast'),
};

// ---------------------------------------------------------------- small UI services

let toastTimer = 0;
export function toast(text) {
  els.toast.textContent = text;
  els.toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (els.toast.hidden = true), 2200);
}

// Asks before anything that loses data; resolves true when confirmed.
export function confirmAction(title, body, okLabel) {
  const dialog = $('#confirm');
  $('#confirm-title').textContent = title;
  $('#confirm-body').textContent = body;
  $('#confirm-ok').textContent = okLabel;
  dialog.returnValue = '';
  dialog.showModal();
  $('#confirm-ok').focus();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
  });
}

function applyTheme() {
  const theme = prefs.value.theme;
  if (theme === 'light' || theme === 'dark') document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
  const button = $('#theme-toggle');
  button.setAttribute('aria-label', `Theme: ${theme} (click to change)`);
  button.title = `Theme: ${theme}`;
  button.textContent = theme === 'light' ? '☀' : theme === 'dark' ? '☾' : '◐';
}

function setSidebar(open) {
  els.sidebar.classList.toggle('open', open);
  els.scrim.hidden = !open;
  $('#menu').setAttribute('aria-expanded', String(open));
  if (open) $('#new-chat').focus();
}

export function showView(view) {
  state.view = view;
  $('#chat-view').hidden = view !== 'chat';
  $('#models-view').hidden = view !== 'models';
  $('#nav-chat').toggleAttribute('aria-current', view === 'chat');
  $('#nav-models').toggleAttribute('aria-current', view === 'models');
  if (view === 'models') refreshModels();
  setSidebar(false);
}

// ---------------------------------------------------------------- conversations

function current() {
  return store.get(state.currentId);
}

function defaultModel() {
  const { models, loaded } = modelState;
  const last = prefs.value.lastModel;
  if (last && models.some((m) => m.id === last)) return last;
  const firstLoaded = models.find((m) => loaded.has(m.id));
  return firstLoaded ? firstLoaded.id : models.length ? models[0].id : '';
}

function selectConversation(id) {
  state.currentId = id;
  renderConversationList();
  renderMessages();
  renderModelSelect();
  renderConvSettings();
}

// The one conversation without messages, created when needed: empty chats never pile up.
function emptyConversation() {
  return store.conversations.find((c) => c.messages.length === 0) || store.add(newConversation(defaultModel()));
}

function newChat() {
  selectConversation(emptyConversation().id);
  showView('chat');
  els.prompt.focus();
}

function renderConversationList() {
  const list = store.search(els.search.value).filter((c) => c.messages.length > 0);
  els.convList.replaceChildren(
    ...list.map((c) =>
      h(
        'li',
        { class: `conv-item${c.id === state.currentId ? ' active' : ''}`, dataset: { id: c.id } },
        h('button', {
          type: 'button',
          class: 'conv-open',
          text: c.title,
          title: c.title,
          'aria-current': c.id === state.currentId ? 'true' : null,
          onclick: () => {
            selectConversation(c.id);
            showView('chat');
            els.prompt.focus();
          },
        }),
        h('button', { type: 'button', class: 'btn btn-icon btn-tiny conv-rename', 'aria-label': `Rename “${c.title}”`, title: 'Rename', text: '✎', onclick: () => renameConversation(c) }),
        h('button', { type: 'button', class: 'btn btn-icon btn-tiny conv-delete', 'aria-label': `Delete “${c.title}”`, title: 'Delete', text: '✕', onclick: () => deleteConversation(c) }),
      ),
    ),
  );
  els.convEmpty.hidden = list.length > 0;
}

function renameConversation(conv) {
  const dialog = $('#rename');
  const input = $('#rename-input');
  input.value = conv.title;
  dialog.returnValue = '';
  dialog.showModal();
  input.select();
  dialog.addEventListener(
    'close',
    () => {
      const title = input.value.trim();
      if (dialog.returnValue === 'ok' && title) {
        conv.title = title;
        conv.titled = true;
        store.save();
        renderConversationList();
      }
    },
    { once: true },
  );
}

async function deleteConversation(conv) {
  const ok = await confirmAction('Delete conversation?', `“${conv.title}” and its ${conv.messages.length} messages will be removed from this browser.`, 'Delete');
  if (!ok) return;
  if (state.streaming && state.streaming.convId === conv.id) state.streaming.controller.abort();
  store.remove(conv.id);
  if (state.currentId === conv.id) {
    selectConversation(emptyConversation().id);
  } else {
    renderConversationList();
  }
}

// ---------------------------------------------------------------- model picker and parameters

function renderModelSelect() {
  const conv = current();
  const { models, loaded } = modelState;
  const select = els.modelSelect;
  const options = models.map((m) => h('option', { value: m.id, text: `${m.id}${loaded.has(m.id) ? '  ● loaded' : ''}` }));
  if (conv && conv.model && !models.some((m) => m.id === conv.model)) {
    options.unshift(h('option', { value: conv.model, text: `${conv.model} (not available)` }));
  }
  if (options.length === 0) {
    const text = modelState.error ? `Models unavailable: ${modelState.error}` : modelState.ready ? 'No models: open Models to download one' : 'Loading models…';
    options.push(h('option', { value: '', text }));
  }
  select.replaceChildren(...options);
  if (conv) {
    if (!conv.model && models.length) {
      conv.model = defaultModel();
      store.save();
    }
    select.value = conv.model || '';
  }
}

const PARAMS = ['temperature', 'top_p', 'top_k', 'max_tokens'];

function renderConvSettings() {
  const conv = current();
  if (!conv) return;
  $('#cs-system').value = conv.system || '';
  for (const p of PARAMS) {
    const v = conv.params[p];
    $(`#cs-${p}`).value = v === null || v === undefined ? '' : String(v);
  }
}

function readConvSettings() {
  const conv = current();
  if (!conv) return;
  conv.system = $('#cs-system').value;
  for (const p of PARAMS) {
    const input = $(`#cs-${p}`);
    const raw = input.value.trim();
    const n = Number(raw);
    conv.params[p] = raw === '' || !Number.isFinite(n) ? null : p === 'top_k' || p === 'max_tokens' ? Math.round(n) : n;
  }
  store.save();
}

// ---------------------------------------------------------------- messages

function isNearBottom() {
  const m = els.messages;
  return m.scrollHeight - m.scrollTop - m.clientHeight < 120;
}

function scrollToBottom() {
  els.messages.scrollTop = els.messages.scrollHeight;
}

function statsText(msg) {
  const s = msg.stats;
  if (!s) return '';
  const parts = [];
  if (s.completion_tokens !== undefined) parts.push(`${s.completion_tokens} tokens`);
  if (s.tps) parts.push(`${s.tps.toFixed(1)} tok/s`);
  if (s.prompt_tokens !== undefined) parts.push(`prompt ${s.prompt_tokens} tokens`);
  if (s.ttft !== undefined) parts.push(`first token ${(s.ttft / 1000).toFixed(2)} s`);
  if (s.finish === 'length') parts.push('stopped at max tokens');
  return parts.join(' · ');
}

function fillAssistantBody(body, msg, streaming) {
  const { thinking, answer, open } = splitThinking(msg.content);
  let details = body.querySelector(':scope > details.think');
  let answerEl = body.querySelector(':scope > .answer');
  if (!answerEl) {
    answerEl = h('div', { class: 'answer markdown' });
    body.append(answerEl);
  }
  if (thinking !== null) {
    if (!details) {
      details = h('details', { class: 'think' }, h('summary', {}, h('span', { class: 'think-label' })), h('div', { class: 'think-body markdown' }));
      details.open = open && streaming;
      body.prepend(details);
    }
    if (details.dataset.wasOpen === 'true' && !open) details.open = false;  // reasoning finished: fold it away
    details.dataset.wasOpen = String(open);
    details.querySelector('.think-label').textContent = open && streaming ? 'Thinking…' : 'Thoughts';
    details.querySelector('.think-body').innerHTML = renderMarkdown(thinking.trim());
  } else if (details) {
    details.remove();
  }
  answerEl.innerHTML = renderMarkdown(answer.replace(/^\s+/, ''));
  if (streaming && !answer.trim() && thinking === null) answerEl.innerHTML = '<span class="typing" aria-label="Waiting for the answer"><i></i><i></i><i></i></span>';
}

function messageElement(conv, msg, index) {
  const isUser = msg.role === 'user';
  const streaming = state.streaming && state.streaming.msgId === msg.id;
  const body = h('div', { class: 'msg-body' });
  if (isUser) body.append(h('div', { class: 'user-text', text: msg.content }));
  else fillAssistantBody(body, msg, streaming);

  const actions = h('div', { class: 'msg-actions' });
  if (!streaming) {
    actions.append(
      h('button', {
        type: 'button',
        class: 'btn btn-tiny btn-ghost act-copy',
        text: 'Copy',
        'aria-label': isUser ? 'Copy message' : 'Copy answer',
        onclick: async () => toast((await copyText(isUser ? msg.content : splitThinking(msg.content).answer.trim())) ? 'Copied' : 'Copy failed'),
      }),
    );
    if (isUser && !state.streaming) {
      actions.append(h('button', { type: 'button', class: 'btn btn-tiny btn-ghost act-edit', text: 'Edit', 'aria-label': 'Edit and resend', onclick: () => startEdit(conv, msg, index) }));
    }
    const isLast = index === conv.messages.length - 1;
    if (!isUser && isLast && !state.streaming) {
      actions.append(h('button', { type: 'button', class: 'btn btn-tiny btn-ghost act-regenerate', text: 'Regenerate', 'aria-label': 'Regenerate answer', onclick: () => regenerate(conv) }));
    }
  }
  const meta = [];
  if (msg.error) meta.push(h('div', { class: 'msg-error', role: 'alert' }, h('strong', { text: 'Error: ' }), msg.error));
  if (msg.stopped) meta.push(h('div', { class: 'msg-note', text: 'Stopped.' }));
  const stats = statsText(msg);
  if (stats) meta.push(h('div', { class: 'msg-stats', text: stats }));

  return h(
    'article',
    { class: `msg ${isUser ? 'msg-user' : 'msg-assistant'}${streaming ? ' streaming' : ''}`, dataset: { id: msg.id }, 'aria-label': isUser ? 'You' : 'Assistant' },
    h('div', { class: 'msg-role', text: isUser ? 'You' : msg.model || 'Assistant' }),
    body,
    ...meta,
    actions,
  );
}

function welcome() {
  const hasModels = modelState.models.length > 0;
  return h(
    'div',
    { class: 'welcome' },
    h('img', { src: '/static/icon.svg', alt: '', width: 44, height: 44 }),
    h('h1', { text: 'MOFA Local' }),
    h('p', { class: 'muted', text: hasModels || !modelState.ready ? 'Private chat with models that run on this machine.' : 'No model is downloaded yet.' }),
    !hasModels && modelState.ready ? h('button', { type: 'button', class: 'btn btn-primary', text: 'Browse models', onclick: () => showView('models') }) : null,
  );
}

function renderMessages() {
  const conv = current();
  if (!conv || conv.messages.length === 0) {
    els.messages.replaceChildren(welcome());
    return;
  }
  els.messages.replaceChildren(...conv.messages.map((m, i) => messageElement(conv, m, i)));
  scrollToBottom();
}

let pendingFrame = 0;
function renderStreamingMessage() {
  if (pendingFrame) return;
  pendingFrame = requestAnimationFrame(() => {
    pendingFrame = 0;
    const s = state.streaming;
    if (!s || s.convId !== state.currentId) return;
    const conv = current();
    const msg = conv && conv.messages.find((m) => m.id === s.msgId);
    const el = els.messages.querySelector(`article[data-id="${CSS.escape(s.msgId)}"] .msg-body`);
    if (!msg || !el) return;
    const stick = isNearBottom();
    fillAssistantBody(el, msg, true);
    if (stick) scrollToBottom();
  });
}

function setStreamingUi(on) {
  els.send.hidden = on;
  els.stop.hidden = !on;
  els.modelSelect.disabled = on;
}

function startEdit(conv, msg, index) {
  const article = els.messages.querySelector(`article[data-id="${CSS.escape(msg.id)}"]`);
  if (!article) return;
  const area = h('textarea', { class: 'input edit-area', rows: 3, 'aria-label': 'Edit message' });
  area.value = msg.content;
  const save = () => {
    const text = area.value.trim();
    if (!text) return;
    msg.content = text;
    conv.messages.splice(index + 1);
    store.touch(conv);
    runGeneration(conv);
  };
  const cancel = () => renderMessages();
  area.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      save();
    } else if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      cancel();
    }
  });
  const editor = h(
    'div',
    { class: 'edit-box' },
    area,
    h('div', { class: 'edit-actions' }, h('button', { type: 'button', class: 'btn btn-ghost btn-tiny', text: 'Cancel', onclick: cancel }), h('button', { type: 'button', class: 'btn btn-primary btn-tiny edit-send', text: 'Save & send', onclick: save })),
  );
  article.querySelector('.msg-body').replaceChildren(editor);
  article.querySelector('.msg-actions').replaceChildren();
  area.focus();
  area.setSelectionRange(area.value.length, area.value.length);
}

function regenerate(conv) {
  if (state.streaming) return;
  const last = conv.messages[conv.messages.length - 1];
  if (last && last.role === 'assistant') conv.messages.pop();
  store.touch(conv);
  runGeneration(conv);
}

function requestMessages(conv, upTo) {
  const out = [];
  if (conv.system && conv.system.trim()) out.push({ role: 'system', content: conv.system });
  for (const m of conv.messages.slice(0, upTo)) {
    if (m.role === 'assistant') {
      const answer = splitThinking(m.content).answer.trim();
      if (!answer) continue;  // a failed or empty answer is not part of the dialogue
      out.push({ role: 'assistant', content: answer });
    } else {
      out.push({ role: m.role, content: m.content });
    }
  }
  return out;
}

async function runGeneration(conv) {
  if (state.streaming) return;
  const msg = { id: uid(), role: 'assistant', content: '', model: conv.model || '' };
  conv.messages.push(msg);
  const body = { messages: requestMessages(conv, conv.messages.length - 1) };
  if (conv.model) body.model = conv.model;
  for (const p of PARAMS) if (conv.params[p] !== null && conv.params[p] !== undefined) body[p] = conv.params[p];

  const controller = new AbortController();
  state.streaming = { convId: conv.id, msgId: msg.id, controller };
  setStreamingUi(true);
  renderMessages();
  renderConversationList();
  const t0 = performance.now();
  let tFirst = 0;
  try {
    const result = await streamChat(body, {
      signal: controller.signal,
      onDelta: (piece) => {
        if (!tFirst) tFirst = performance.now();
        msg.content += piece;
        renderStreamingMessage();
      },
    });
    const tEnd = performance.now();
    if (result.model) msg.model = result.model;
    const u = result.usage || {};
    const genSeconds = tFirst ? (tEnd - tFirst) / 1000 : 0;
    msg.stats = {
      prompt_tokens: u.prompt_tokens,
      completion_tokens: u.completion_tokens,
      tps: u.completion_tokens > 1 && genSeconds > 0 ? (u.completion_tokens - 1) / genSeconds : null,
      ttft: tFirst ? tFirst - t0 : undefined,
      finish: result.finishReason,
    };
  } catch (err) {
    if (err && err.name === 'AbortError') {
      msg.stopped = true;
    } else {
      msg.error = err instanceof ApiError ? err.message : String(err && err.message ? err.message : err);
      if (err instanceof ApiError && err.status === 0) checkHealth();
    }
  } finally {
    if (pendingFrame) cancelAnimationFrame(pendingFrame);
    pendingFrame = 0;
    state.streaming = null;
    setStreamingUi(false);
    store.touch(conv);
    if (conv.id === state.currentId) renderMessages();
    renderConversationList();
    refreshModels({ quiet: true });
  }
}

function send() {
  const text = els.prompt.value.trim();
  if (!text || state.streaming) return;
  let conv = current();
  if (!conv) conv = store.add(newConversation(defaultModel()));
  state.currentId = conv.id;
  if (!conv.model && els.modelSelect.value) conv.model = els.modelSelect.value;
  conv.messages.push({ id: uid(), role: 'user', content: text });
  if (!conv.titled) {
    conv.title = text.replace(/\s+/g, ' ').slice(0, 60);
    conv.titled = true;
  }
  els.prompt.value = '';
  autosize();
  store.touch(conv);
  runGeneration(conv);
}

function stop() {
  if (state.streaming) state.streaming.controller.abort();
}

function autosize() {
  const p = els.prompt;
  p.style.height = 'auto';
  p.style.height = `${Math.min(p.scrollHeight, window.innerHeight * 0.4)}px`;
}

// ---------------------------------------------------------------- connection

let healthTimer = 0;
async function checkHealth() {
  clearTimeout(healthTimer);
  try {
    await api.health();
    if (!state.connected) {
      state.connected = true;
      els.banner.hidden = true;
      refreshModels({ quiet: true });
    }
  } catch (err) {
    state.connected = false;
    els.banner.textContent = `Lost connection to the server. Retrying… (${err.message})`;
    els.banner.hidden = false;
  }
  healthTimer = setTimeout(checkHealth, state.connected ? 10000 : 2000);
}

// ---------------------------------------------------------------- wiring

function wire() {
  $('#new-chat').addEventListener('click', newChat);
  els.search.addEventListener('input', renderConversationList);
  $('#nav-chat').addEventListener('click', () => {
    showView('chat');
    els.prompt.focus();
  });
  $('#nav-models').addEventListener('click', () => showView('models'));
  $('#menu').addEventListener('click', () => setSidebar(!els.sidebar.classList.contains('open')));
  document.querySelectorAll('.menu-2').forEach((b) => b.addEventListener('click', () => setSidebar(true)));
  els.scrim.addEventListener('click', () => setSidebar(false));

  els.composer.addEventListener('submit', (e) => {
    e.preventDefault();
    send();
  });
  els.prompt.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && (prefs.value.enterSends || e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      send();
    }
  });
  els.prompt.addEventListener('input', autosize);
  els.stop.addEventListener('click', stop);

  els.modelSelect.addEventListener('change', () => {
    const conv = current();
    if (conv) {
      conv.model = els.modelSelect.value;
      store.save();
    }
    prefs.value.lastModel = els.modelSelect.value;
    prefs.save();
  });

  $('#toggle-conv-settings').addEventListener('click', (e) => {
    const open = els.convSettings.hidden;
    els.convSettings.hidden = !open;
    e.currentTarget.setAttribute('aria-expanded', String(open));
    if (open) $('#cs-system').focus();
  });
  els.convSettings.addEventListener('input', readConvSettings);
  els.convSettings.addEventListener('submit', (e) => e.preventDefault());

  $('#theme-toggle').addEventListener('click', () => {
    const order = ['system', 'light', 'dark'];
    prefs.value.theme = order[(order.indexOf(prefs.value.theme) + 1) % order.length];
    prefs.save();
    applyTheme();
  });

  $('#open-settings').addEventListener('click', () => {
    const dialog = $('#settings');
    $('#set-theme').value = prefs.value.theme;
    $('#set-api-key').value = prefs.value.apiKey;
    $('#set-enter').checked = prefs.value.enterSends;
    dialog.returnValue = '';
    dialog.showModal();
    dialog.addEventListener(
      'close',
      () => {
        if (dialog.returnValue !== 'ok') return;
        prefs.value.theme = $('#set-theme').value;
        prefs.value.apiKey = $('#set-api-key').value.trim();
        prefs.value.enterSends = $('#set-enter').checked;
        prefs.save();
        setApiKey(prefs.value.apiKey);
        applyTheme();
        refreshModels();
      },
      { once: true },
    );
  });

  // Enter in a dialog's text field means OK (the form's first button is Cancel).
  for (const dialog of document.querySelectorAll('dialog')) {
    dialog.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && e.target instanceof HTMLInputElement && e.target.type !== 'checkbox') {
        e.preventDefault();
        dialog.close('ok');
      }
    });
  }

  els.messages.addEventListener('click', async (e) => {
    const button = e.target.closest('.copy-code');
    if (!button) return;
    const code = button.closest('.code-block').querySelector('pre code');
    const ok = await copyText(code.textContent);
    button.textContent = ok ? 'Copied' : 'Failed';
    setTimeout(() => (button.textContent = 'Copy'), 1500);
  });

  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && state.streaming && !document.querySelector('dialog[open]')) {
      e.preventDefault();
      stop();
    } else if (e.key === 'Escape' && els.sidebar.classList.contains('open')) {
      setSidebar(false);
      $('#menu').focus();
    } else if ((e.ctrlKey || e.metaKey) && e.shiftKey && (e.key === 'o' || e.key === 'O')) {
      e.preventDefault();
      newChat();
    }
  });

  window.addEventListener('storage', (e) => {
    if (e.key && e.key.startsWith('mofa.conversations') && !state.streaming) {
      store.conversations = JSON.parse(e.newValue || '[]');
      selectConversation(current() ? state.currentId : emptyConversation().id);
    }
  });
}

function start() {
  setApiKey(prefs.value.apiKey);
  applyTheme();
  wire();
  selectConversation(emptyConversation().id);
  onModelsChanged(() => {
    renderModelSelect();
    const conv = current();
    if (!conv || conv.messages.length === 0) renderMessages();
  });
  initModels({ toast, confirmAction, showView, useModel: (id) => {
    const conv = current();
    if (conv && !state.streaming) {
      conv.model = id;
      store.save();
      prefs.value.lastModel = id;
      prefs.save();
    }
    renderModelSelect();
    showView('chat');
    els.prompt.focus();
  } });
  checkHealth();
  els.prompt.focus();
  document.documentElement.dataset.ready = 'true';
}

start();
