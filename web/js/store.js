// Conversations and preferences kept in the browser's localStorage.

const CONV_KEY = 'mofa.conversations.v1';
const PREF_KEY = 'mofa.prefs.v1';

export function uid() {
  if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

function read(key, fallback) {
  try {
    const text = localStorage.getItem(key);
    return text ? JSON.parse(text) : fallback;
  } catch {
    return fallback;
  }
}

function write(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
    return true;
  } catch {
    return false;  // quota exceeded or storage disabled: the session keeps working in memory
  }
}

export const prefs = {
  value: { theme: 'system', apiKey: '', enterSends: true, ...read(PREF_KEY, {}) },
  save() {
    write(PREF_KEY, this.value);
  },
};

export function newConversation(model = '') {
  const now = Date.now();
  return {
    id: uid(),
    title: 'New chat',
    titled: false,  // true once the user or the first message has named it
    created: now,
    updated: now,
    model,
    system: '',
    params: { temperature: null, top_p: null, top_k: null, max_tokens: null },
    messages: [],
  };
}

export const store = {
  conversations: read(CONV_KEY, []).filter((c) => c && c.id && Array.isArray(c.messages)),
  save() {
    return write(CONV_KEY, this.conversations);
  },
  get(id) {
    return this.conversations.find((c) => c.id === id) || null;
  },
  add(conv) {
    this.conversations.unshift(conv);
    this.save();
    return conv;
  },
  remove(id) {
    this.conversations = this.conversations.filter((c) => c.id !== id);
    this.save();
  },
  touch(conv) {
    conv.updated = Date.now();
    this.conversations.sort((a, b) => b.updated - a.updated);
    this.save();
  },
  search(text) {
    const q = text.trim().toLowerCase();
    const list = [...this.conversations].sort((a, b) => b.updated - a.updated);
    if (!q) return list;
    return list.filter(
      (c) => c.title.toLowerCase().includes(q) || c.messages.some((m) => (m.content || '').toLowerCase().includes(q)),
    );
  },
};
