// The models view: models on this machine (/v1/models, /api/ps), the catalog (/v1/catalog) and
// downloads with live progress (/v1/models/download), cancel and delete.
import { api } from './api.js';
import { $, h, formatBytes, formatDuration } from './dom.js';

export const modelState = {
  ready: false,        // true after the first successful listing
  models: [],          // /v1/models data
  loaded: new Set(),   // ids in /api/ps
  ps: new Map(),       // id -> /api/ps entry
  catalog: [],         // /v1/catalog data
  downloads: new Map(),  // download id -> status
  error: '',           // why the last listing failed, for the model picker
};

const listeners = [];
export function onModelsChanged(fn) {
  listeners.push(fn);
}
function changed() {
  for (const fn of listeners) fn();
}

let ui = null;
let pollTimer = 0;
let refreshing = null;

export function initModels(services) {
  ui = services;
  $('#models-refresh').addEventListener('click', () => refreshModels());
  $('#catalog-search').addEventListener('input', renderCatalog);
  $('#repo-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const repo = $('#repo-input').value.trim();
    const revision = $('#revision-input').value.trim() || 'main';
    if (repo) startDownload({ repo, revision });
  });
  refreshModels();
}

function showError(message) {
  const el = $('#models-error');
  el.textContent = message || '';
  el.hidden = !message;
}

// Reloads every listing; `quiet` keeps errors out of the models view (the chat shows its own).
export function refreshModels({ quiet = false } = {}) {
  if (refreshing) return refreshing;
  refreshing = (async () => {
    try {
      const [models, ps, catalog, downloads] = await Promise.all([
        api.models(),
        api.ps().catch(() => ({ models: [] })),
        api.catalog().catch(() => ({ data: [] })),
        api.downloads().catch(() => ({ data: [] })),
      ]);
      modelState.models = (models && models.data) || [];
      modelState.ps = new Map(((ps && ps.models) || []).map((m) => [m.name || m.model, m]));
      modelState.loaded = new Set([...modelState.ps.keys(), ...modelState.models.filter((m) => m.loaded).map((m) => m.id)]);
      modelState.catalog = (catalog && catalog.data) || [];
      for (const d of (downloads && downloads.data) || []) modelState.downloads.set(d.id, d);
      modelState.ready = true;
      modelState.error = '';
      showError('');
    } catch (err) {
      modelState.error = err.message;
      if (!quiet) showError(`Could not list the models: ${err.message}`);
    } finally {
      refreshing = null;
    }
    render();
    changed();
    schedulePoll();
  })();
  return refreshing;
}

function activeDownloads() {
  return [...modelState.downloads.values()].filter((d) => d.status === 'downloading');
}

function schedulePoll() {
  clearTimeout(pollTimer);
  if (activeDownloads().length) pollTimer = setTimeout(poll, 400);
}

async function poll() {
  const before = new Map([...modelState.downloads].map(([id, d]) => [id, d.status]));
  try {
    const list = await api.downloads();
    for (const d of (list && list.data) || []) modelState.downloads.set(d.id, d);
  } catch {
    // The connection banner reports an unreachable server; keep polling.
  }
  const finished = [...modelState.downloads.values()].some((d) => before.get(d.id) === 'downloading' && d.status !== 'downloading');
  for (const d of modelState.downloads.values()) {
    if (before.get(d.id) === 'downloading' && d.status === 'completed') ui.toast(`Downloaded ${d.model_id || d.repo}`);
    if (before.get(d.id) === 'downloading' && d.status === 'failed') ui.toast(`Download of ${d.repo} failed`);
  }
  if (finished) await refreshModels({ quiet: true });
  else {
    renderCatalog();
    renderRepoDownloads();
    schedulePoll();
  }
}

function latestDownload(match) {
  let best = null;
  for (const d of modelState.downloads.values()) {
    if (!match(d)) continue;
    const n = (x) => parseInt(String(x.id).replace(/\D/g, ''), 10) || 0;
    if (!best || n(d) > n(best)) best = d;
  }
  return best;
}

async function startDownload(body) {
  try {
    const status = await api.startDownload(body);
    modelState.downloads.set(status.id, status);
    render();
    schedulePoll();
  } catch (err) {
    showError(`Could not start the download: ${err.message}`);
  }
}

async function cancelDownload(d) {
  const ok = await ui.confirmAction('Cancel download?', `The download of ${d.repo} stops before it is complete; the model will not be usable until it is downloaded again.`, 'Cancel download');
  if (!ok) return;
  try {
    const status = await api.cancelDownload(d.id);
    modelState.downloads.set(status.id, status);
  } catch (err) {
    showError(`Could not cancel the download: ${err.message}`);
  }
  render();
  schedulePoll();
}

async function deleteModel(id, bytes) {
  const size = bytes ? ` (${formatBytes(bytes)})` : '';
  const ok = await ui.confirmAction(`Delete ${id}?`, `Its files${size} are removed from disk. You would need to download it again to use it.`, 'Delete');
  if (!ok) return;
  try {
    await api.deleteModel(id);
    ui.toast(`Deleted ${id}`);
    for (const [key, d] of modelState.downloads) if (d.model_id === id) modelState.downloads.delete(key);
  } catch (err) {
    showError(`Could not delete ${id}: ${err.message}`);
  }
  await refreshModels();
}

function progressView(d) {
  const total = d.total_bytes;
  const done = d.downloaded_bytes || 0;
  const complete = d.status === 'completed';
  const pct = complete ? 100 : total ? Math.min(100, Math.floor((done / total) * 100)) : 0;
  const parts = [];
  if (complete) parts.push(`Downloaded ${formatBytes(total || done)}`);
  else {
    parts.push(`${formatBytes(done)} of ${total ? formatBytes(total) : '?'}`);
    if (d.bytes_per_second) parts.push(`${formatBytes(d.bytes_per_second)}/s`);
    if (d.eta_seconds !== null && d.eta_seconds !== undefined) parts.push(`${formatDuration(d.eta_seconds)} left`);
    if (d.files_total) parts.push(`file ${Math.min(d.files_done + 1, d.files_total)} of ${d.files_total}`);
  }
  return h(
    'div',
    { class: 'download', dataset: { download: d.id, status: d.status } },
    h(
      'div',
      { class: `progress${complete ? ' complete' : ''}`, role: 'progressbar', 'aria-label': `Download of ${d.repo}`, 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': pct },
      h('div', { class: 'bar', style: `width:${pct}%` }),
    ),
    h('div', { class: 'download-text small muted' }, h('span', { class: 'pct', text: `${pct}%` }), ' · ', parts.join(' · ')),
  );
}

function downloadControls(d, retry) {
  if (!d) return [];
  if (d.status === 'downloading') {
    return [progressView(d), h('button', { type: 'button', class: 'btn btn-ghost btn-tiny act-cancel', text: 'Cancel', 'aria-label': `Cancel the download of ${d.repo}`, onclick: () => cancelDownload(d) })];
  }
  if (d.status === 'failed') {
    return [h('div', { class: 'msg-error small', role: 'alert', text: `Download failed: ${d.error || 'unknown error'}` }), retry ? h('button', { type: 'button', class: 'btn btn-ghost btn-tiny', text: 'Retry', onclick: retry }) : null];
  }
  if (d.status === 'cancelled') return [h('div', { class: 'small muted', text: 'Download cancelled.' })];
  if (d.status === 'completed') return [progressView(d)];
  return [];
}

function badge(text, kind) {
  return h('span', { class: `badge badge-${kind}`, text });
}

function renderLocal() {
  const list = $('#local-models');
  const items = modelState.models.map((m) => {
    const loaded = modelState.loaded.has(m.id);
    const ps = modelState.ps.get(m.id);
    const details = [m.model_type, m.size_bytes ? formatBytes(m.size_bytes) : null, m.context_length ? `context ${m.context_length}` : null, ps && ps.context_length ? `slot ${ps.context_length}` : null].filter(Boolean);
    return h(
      'li',
      { class: 'card', dataset: { model: m.id } },
      h('div', { class: 'card-main' }, h('div', { class: 'card-title' }, h('span', { text: m.id }), loaded ? badge('Loaded', 'ok') : badge('On disk', 'plain')), h('div', { class: 'small muted', text: details.join(' · ') })),
      h(
        'div',
        { class: 'card-actions' },
        h('button', { type: 'button', class: 'btn btn-primary btn-tiny act-use', text: 'Chat', 'aria-label': `Chat with ${m.id}`, onclick: () => ui.useModel(m.id) }),
        h('button', { type: 'button', class: 'btn btn-ghost btn-tiny act-delete', text: 'Delete', 'aria-label': `Delete ${m.id}`, onclick: () => deleteModel(m.id, m.size_bytes) }),
      ),
    );
  });
  list.replaceChildren(...items);
  $('#local-empty').hidden = items.length > 0 || !modelState.ready;
}

function renderCatalog() {
  const q = $('#catalog-search').value.trim().toLowerCase();
  const entries = modelState.catalog.filter((e) => !q || `${e.name} ${e.repo} ${e.category}`.toLowerCase().includes(q));
  $('#catalog').replaceChildren(
    ...entries.map((e) => {
      const d = latestDownload((x) => x.catalog_id === e.id || x.repo === e.repo);
      const downloading = d && d.status === 'downloading';
      const showDone = d && d.status === 'completed' && e.downloaded;
      const actions = [];
      if (e.downloaded && !downloading) {
        if (/^(LLM|VLM)$/i.test(e.category)) actions.push(h('button', { type: 'button', class: 'btn btn-primary btn-tiny act-use', text: 'Chat', 'aria-label': `Chat with ${e.name}`, onclick: () => ui.useModel(e.model_id) }));
        actions.push(h('button', { type: 'button', class: 'btn btn-ghost btn-tiny act-delete', text: 'Delete', 'aria-label': `Delete ${e.name}`, onclick: () => deleteModel(e.model_id, e.size_bytes) }));
      } else if (!downloading) {
        actions.push(h('button', { type: 'button', class: 'btn btn-primary btn-tiny act-download', text: 'Download', 'aria-label': `Download ${e.name} (${e.size})`, onclick: () => startDownload({ catalog_id: e.id }) }));
      }
      const status = downloading || (d && d.status !== 'completed') || showDone ? downloadControls(d, () => startDownload({ catalog_id: e.id })) : [];
      return h(
        'li',
        { class: 'card', dataset: { catalog: e.id } },
        h(
          'div',
          { class: 'card-main' },
          h('div', { class: 'card-title' }, h('span', { text: e.name }), badge(e.category, 'plain'), e.loaded ? badge('Loaded', 'ok') : e.downloaded ? badge('Downloaded', 'ok') : null),
          h('div', { class: 'small muted', text: `${e.repo} · ${e.size}` }),
          ...status,
        ),
        h('div', { class: 'card-actions' }, ...actions),
      );
    }),
  );
}

function renderRepoDownloads() {
  const catalogRepos = new Set(modelState.catalog.map((e) => e.repo));
  const byRepo = new Map();
  for (const d of modelState.downloads.values()) if (!catalogRepos.has(d.repo) && !d.catalog_id) byRepo.set(d.repo, latestDownload((x) => x.repo === d.repo));
  $('#repo-downloads').replaceChildren(
    ...[...byRepo.values()].map((d) =>
      h('li', { class: 'card', dataset: { repo: d.repo } }, h('div', { class: 'card-main' }, h('div', { class: 'card-title', text: d.repo }), ...downloadControls(d, () => startDownload({ repo: d.repo, revision: d.revision })))),
    ),
  );
}

function render() {
  renderLocal();
  renderCatalog();
  renderRepoDownloads();
}
