// A small Markdown renderer for model answers, and a syntax highlighter for their code blocks.
// Safety comes first: every piece of text is HTML-escaped before any markup is added, and links
// keep only http(s) and mailto targets, so a model's output can never inject markup or script.

export function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

// ---------------------------------------------------------------- syntax highlighting

const KEYWORDS = {
  js: 'async await break case catch class const continue debugger default delete do else export extends false finally for from function if import in instanceof let new null of return static super switch this throw true try typeof undefined var void while yield interface type enum implements private public protected readonly',
  py: 'and as assert async await break class continue def del elif else except False finally for from global if import in is lambda None nonlocal not or pass raise return self True try while with yield match case print',
  c: 'auto bool break case catch char class const constexpr continue default delete do double else enum explicit extern false float for friend if inline int long namespace new noexcept nullptr operator private protected public return short signed sizeof static static_cast struct switch template this throw true try typedef typename union unsigned using virtual void volatile while include define ifdef ifndef endif pragma std size_t int64_t uint8_t int32_t uint32_t',
  rust: 'as async await break const continue crate else enum extern false fn for if impl in let loop match mod move mut pub ref return self Self static struct super trait true type unsafe use where while Some None Ok Err Box Vec String Option Result',
  go: 'break case chan const continue default defer else fallthrough for func go goto if import interface map package range return select struct switch type var nil true false string int error',
  java: 'abstract boolean break byte case catch char class const continue default do double else enum extends final finally float for if implements import instanceof int interface long new null package private protected public return short static super switch this throw throws true false try void while var String',
  sh: 'if then else elif fi for while until do done case esac function in return export local echo exit set unset source cd sudo apt-get npm git cmake make',
  sql: 'select from where and or not insert into values update set delete create table drop alter join left right inner outer on group by order having limit as distinct null is in like primary key index union all',
};
const ALIASES = {
  javascript: 'js', ts: 'js', typescript: 'js', jsx: 'js', tsx: 'js', mjs: 'js', json: 'js',
  python: 'py', py3: 'py',
  cpp: 'c', 'c++': 'c', cc: 'c', h: 'c', hpp: 'c', cuda: 'c', cs: 'java', csharp: 'java', kotlin: 'java', swift: 'java',
  rs: 'rust', golang: 'go', bash: 'sh', shell: 'sh', zsh: 'sh', console: 'sh', shellscript: 'sh',
};
const keywordSets = {};
for (const [lang, words] of Object.entries(KEYWORDS)) keywordSets[lang] = new Set(words.split(' '));

function commentPattern(lang) {
  if (lang === 'py' || lang === 'sh') return '#[^\\n]*';
  if (lang === 'sql') return '--[^\\n]*';
  return '\\/\\/[^\\n]*|\\/\\*[\\s\\S]*?\\*\\/';
}

// Returns highlighted HTML for `code`; unknown languages are only escaped.
export function highlight(code, language) {
  const lang = ALIASES[(language || '').toLowerCase()] || (language || '').toLowerCase();
  const words = keywordSets[lang];
  if (!words) return escapeHtml(code);
  const strings = lang === 'py' ? `"""[\\s\\S]*?"""|'''[\\s\\S]*?'''|` : '';
  const re = new RegExp(
    `(${commentPattern(lang)})|(${strings}"(?:\\\\.|[^"\\\\\\n])*"|'(?:\\\\.|[^'\\\\\\n])*'|\`(?:\\\\.|[^\`\\\\])*\`)` +
      '|(\\b(?:0x[0-9a-fA-F]+|\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?)\\b)|([A-Za-z_$][\\w$]*)',
    'g',
  );
  let out = '';
  let last = 0;
  for (let m; (m = re.exec(code)); ) {
    out += escapeHtml(code.slice(last, m.index));
    last = re.lastIndex;
    const text = escapeHtml(m[0]);
    if (m[1]) out += `<span class="tok-c">${text}</span>`;
    else if (m[2]) out += `<span class="tok-s">${text}</span>`;
    else if (m[3]) out += `<span class="tok-n">${text}</span>`;
    else if (words.has(lang === 'sql' ? m[4].toLowerCase() : m[4])) out += `<span class="tok-k">${text}</span>`;
    else if (code[re.lastIndex] === '(') out += `<span class="tok-f">${text}</span>`;
    else out += text;
  }
  return out + escapeHtml(code.slice(last));
}

// ---------------------------------------------------------------- inline markdown

function safeUrl(url) {
  const u = url.trim();
  return /^(https?:|mailto:)/i.test(u) ? u : null;
}

function inline(text) {
  const stash = [];
  const keep = (html) => `\u0000${stash.push(html) - 1}\u0000`;
  let s = text.replace(/\u0000/g, '');
  s = s.replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, (_, __, code) => keep(`<code>${escapeHtml(code.trim() || code)}</code>`));
  s = s.replace(/\[([^\]\n]+)\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g, (whole, label, url) => {
    const href = safeUrl(url);
    if (!href) return whole;
    return keep(`<a href="${escapeHtml(href)}" target="_blank" rel="noopener noreferrer">${inlineRest(label)}</a>`);
  });
  s = s.replace(/\bhttps?:\/\/[^\s<>()"']+[^\s<>()"'.,;:!?]/g, (url) =>
    keep(`<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${escapeHtml(url)}</a>`),
  );
  s = inlineRest(s);
  return s.replace(/\u0000(\d+)\u0000/g, (_, i) => stash[Number(i)]);
}

function inlineRest(text) {
  let s = escapeHtml(text);
  s = s.replace(/\*\*(?=\S)([\s\S]*?\S)\*\*/g, '<strong>$1</strong>');
  s = s.replace(/__(?=\S)([\s\S]*?\S)__/g, '<strong>$1</strong>');
  s = s.replace(/(^|[^*\w])\*(?=\S)([^*\n]*?\S)\*(?!\*)/g, '$1<em>$2</em>');
  s = s.replace(/(^|[^_\w])_(?=\S)([^_\n]*?\S)_(?!\w)/g, '$1<em>$2</em>');
  s = s.replace(/~~(?=\S)([\s\S]*?\S)~~/g, '<del>$1</del>');
  return s;
}

// ---------------------------------------------------------------- blocks

const FENCE = /^( {0,3})(`{3,}|~{3,})\s*([\w+#.-]*)[^\n]*$/;
const LIST_ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const TABLE_SEP = /^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$/;

function splitRow(line) {
  let s = line.trim();
  if (s.startsWith('|')) s = s.slice(1);
  if (s.endsWith('|') && !s.endsWith('\\|')) s = s.slice(0, -1);
  return s.split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, '|'));
}

function codeBlock(code, lang) {
  const label = lang ? escapeHtml(lang) : 'text';
  return (
    `<div class="code-block"><div class="code-head"><span class="code-lang">${label}</span>` +
    `<button type="button" class="btn btn-tiny copy-code" aria-label="Copy code">Copy</button></div>` +
    `<pre><code${lang ? ` class="language-${escapeHtml(lang)}"` : ''}>${highlight(code, lang)}</code></pre></div>`
  );
}

function renderList(lines, start) {
  const first = lines[start].match(LIST_ITEM);
  const ordered = /\d/.test(first[2]);
  const indent = first[1].length;
  const items = [];
  let i = start;
  while (i < lines.length) {
    const m = lines[i].match(LIST_ITEM);
    if (m && m[1].length === indent && /\d/.test(m[2]) === ordered) {
      items.push([m[3]]);
      i++;
      continue;
    }
    if (lines[i].trim() === '') {
      const next = lines[i + 1];
      if (next === undefined) break;
      const nm = next.match(LIST_ITEM);
      const sameList = nm && nm[1].length === indent && /\d/.test(nm[2]) === ordered;
      const nested = nm && nm[1].length > indent;
      const continued = !nm && /^\s{2,}\S/.test(next);
      if (!(sameList || nested || continued)) break;
      items[items.length - 1].push('');
      i++;
      continue;
    }
    if (m && m[1].length <= indent) break;  // another kind of list at this level ends this one
    if (m || /^\s+\S/.test(lines[i]) || !/^(#{1,6}\s|>|```|~~~)/.test(lines[i].trim())) {
      const item = items[items.length - 1];
      if (!m && /^\S/.test(lines[i]) && item[item.length - 1] === '') break;
      item.push(m ? lines[i].slice(indent + 2) : lines[i].replace(new RegExp(`^\\s{0,${indent + 4}}`), ''));
      i++;
      continue;
    }
    break;
  }
  const startAttr = ordered && parseInt(first[2], 10) !== 1 ? ` start="${parseInt(first[2], 10)}"` : '';
  const tag = ordered ? 'ol' : 'ul';
  const html = items
    .map((item) => {
      const nested = item.length > 1 && item.slice(1).some((l) => LIST_ITEM.test(l) || l.startsWith('```'));
      const body = nested ? blocks(item.join('\n')) : inline(item.filter((l) => l !== '').join('\n')).replace(/\n/g, '<br>');
      return `<li>${body}</li>`;
    })
    .join('');
  return { html: `<${tag}${startAttr}>${html}</${tag}>`, next: i };
}

function blocks(text) {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const out = [];
  let para = [];
  const flush = () => {
    if (para.length) out.push(`<p>${inline(para.join('\n')).replace(/\n/g, '<br>')}</p>`);
    para = [];
  };
  for (let i = 0; i < lines.length; ) {
    const line = lines[i];
    const fence = line.match(FENCE);
    if (fence) {
      flush();
      const marker = fence[2];
      const body = [];
      i++;
      while (i < lines.length && !new RegExp(`^ {0,3}${marker[0]}{${marker.length},}\\s*$`).test(lines[i])) {
        body.push(lines[i].startsWith(fence[1]) ? lines[i].slice(fence[1].length) : lines[i]);
        i++;
      }
      i++;  // the closing fence (or the end of a still-streaming block)
      out.push(codeBlock(body.join('\n'), fence[3]));
      continue;
    }
    if (line.trim() === '') {
      flush();
      i++;
      continue;
    }
    const heading = line.match(/^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/);
    if (heading) {
      flush();
      const level = heading[1].length;
      out.push(`<h${level}>${inline(heading[2])}</h${level}>`);
      i++;
      continue;
    }
    if (/^\s{0,3}([-*_])(\s*\1){2,}\s*$/.test(line)) {
      flush();
      out.push('<hr>');
      i++;
      continue;
    }
    if (/^\s{0,3}>/.test(line)) {
      flush();
      const quoted = [];
      while (i < lines.length && /^\s{0,3}>/.test(lines[i])) quoted.push(lines[i++].replace(/^\s{0,3}>\s?/, ''));
      out.push(`<blockquote>${blocks(quoted.join('\n'))}</blockquote>`);
      continue;
    }
    if (line.includes('|') && i + 1 < lines.length && TABLE_SEP.test(lines[i + 1]) && lines[i + 1].includes('-')) {
      flush();
      const head = splitRow(line);
      const aligns = splitRow(lines[i + 1]).map((c) =>
        c.startsWith(':') && c.endsWith(':') ? 'center' : c.endsWith(':') ? 'right' : c.startsWith(':') ? 'left' : '',
      );
      const cell = (tag, c, k) => `<${tag}${aligns[k] ? ` style="text-align:${aligns[k]}"` : ''}>${inline(c)}</${tag}>`;
      let html = `<div class="table-wrap"><table><thead><tr>${head.map((c, k) => cell('th', c, k)).join('')}</tr></thead><tbody>`;
      i += 2;
      while (i < lines.length && lines[i].includes('|') && lines[i].trim() !== '') {
        const row = splitRow(lines[i]);
        html += `<tr>${head.map((_, k) => cell('td', row[k] || '', k)).join('')}</tr>`;
        i++;
      }
      out.push(`${html}</tbody></table></div>`);
      continue;
    }
    if (LIST_ITEM.test(line) && (para.length === 0 || /^\s*([-*+]|1[.)])\s/.test(line))) {
      flush();
      const list = renderList(lines, i);
      out.push(list.html);
      i = list.next;
      continue;
    }
    para.push(line);
    i++;
  }
  flush();
  return out.join('');
}

// Renders Markdown text to safe HTML.
export function renderMarkdown(text) {
  return blocks(text || '');
}

// Splits a Qwen3-style answer into its reasoning and its reply. A template that opens the
// <think> tag in the prompt makes the answer start inside the block, so a lone </think> also
// closes one. `open` is true while the reasoning is still being written.
export function splitThinking(text) {
  const s = text || '';
  const open = s.indexOf('<think>');
  const close = s.indexOf('</think>');
  if (open >= 0 && (close < 0 || open < close) && s.slice(0, open).trim() === '') {
    if (close < 0) return { thinking: s.slice(open + 7), answer: '', open: true };
    return { thinking: s.slice(open + 7, close), answer: s.slice(close + 8), open: false };
  }
  if (close >= 0 && (open < 0 || close < open)) {
    return { thinking: s.slice(0, close), answer: s.slice(close + 8), open: false };
  }
  return { thinking: null, answer: s, open: false };
}
