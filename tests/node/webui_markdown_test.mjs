// Unit tests of the web UI's Markdown renderer, highlighter and <think> splitter (web/js/markdown.js),
// run in node: they are pure functions with no DOM.
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = process.env.MOFA_SOURCE_DIR || path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { renderMarkdown, highlight, splitThinking, escapeHtml } = await import(pathToFileURL(path.join(root, 'web/js/markdown.js')).href);

let failures = 0;
function test(name, fn) {
  try {
    fn();
    console.log(`ok   ${name}`);
  } catch (err) {
    failures++;
    console.log(`FAIL ${name}\n${err.message}`);
  }
}

test('model output cannot inject markup or script', () => {
  const html = renderMarkdown('<img src=x onerror=alert(1)> <script>alert(2)</script> **<b>x</b>**');
  assert.ok(!/<img|<script|<b>/.test(html), html);
  assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'), html);
  assert.ok(html.includes('<strong>&lt;b&gt;x&lt;/b&gt;</strong>'), html);
});

test('links keep only http(s) and mailto targets', () => {
  const html = renderMarkdown('[ok](https://example.com/a?b=1&c=2) [bad](javascript:alert(1)) [data](data:text/html,x)');
  assert.ok(html.includes('<a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">ok</a>'), html);
  assert.ok(!html.includes('href="javascript'), html);
  assert.ok(!html.includes('href="data'), html);
});

test('fenced code blocks get a language label, a copy button and highlighting', () => {
  const html = renderMarkdown('Before\n\n```js\nconst x = "a<b"; // note\nfoo(1)\n```\nAfter');
  assert.ok(html.startsWith('<p>Before</p><div class="code-block">'), html);
  assert.ok(html.includes('<span class="code-lang">js</span>'), html);
  assert.ok(html.includes('class="btn btn-tiny copy-code"'), html);
  assert.ok(html.includes('<span class="tok-k">const</span>'), html);
  assert.ok(html.includes('<span class="tok-s">&quot;a&lt;b&quot;</span>'), html);
  assert.ok(html.includes('<span class="tok-c">// note</span>'), html);
  assert.ok(html.includes('<span class="tok-f">foo</span>(<span class="tok-n">1</span>)'), html);
  assert.ok(html.endsWith('<p>After</p>'), html);
});

test('an unclosed fence (a streaming answer) still renders as code', () => {
  const html = renderMarkdown('```python\ndef f():\n    return 1');
  assert.ok(html.includes('<span class="tok-k">def</span> <span class="tok-f">f</span>():\n    <span class="tok-k">return</span>'), html);
});

test('unknown languages are escaped, not highlighted', () => {
  assert.equal(highlight('if <x>', 'brainfuck'), 'if &lt;x&gt;');
  assert.equal(highlight('if x', 'bash'), '<span class="tok-k">if</span> x');
});

test('headings, lists, quotes, tables, rules and inline styles', () => {
  const html = renderMarkdown('# Title\n\n- a\n- *b*\n\n1. one\n2. two\n\n> quoted `c`\n\n| h1 | h2 |\n|:--|--:|\n| x | y |\n\n---\n~~gone~~ line\nnext');
  assert.ok(html.includes('<h1>Title</h1>'), html);
  assert.ok(html.includes('<ul><li>a</li><li><em>b</em></li></ul>'), html);
  assert.ok(html.includes('<ol><li>one</li><li>two</li></ol>'), html);
  assert.ok(html.includes('<blockquote><p>quoted <code>c</code></p></blockquote>'), html);
  assert.ok(html.includes('<th style="text-align:left">h1</th><th style="text-align:right">h2</th>'), html);
  assert.ok(html.includes('<td style="text-align:left">x</td>'), html);
  assert.ok(html.includes('<hr>'), html);
  assert.ok(html.includes('<p><del>gone</del> line<br>next</p>'), html);
});

test('inline code keeps its content literal', () => {
  assert.equal(renderMarkdown('use `**not bold** <x>` here'), '<p>use <code>**not bold** &lt;x&gt;</code> here</p>');
});

test('snake_case identifiers are not italicised', () => {
  assert.equal(renderMarkdown('call my_func_name now'), '<p>call my_func_name now</p>');
});

test('think blocks split from the answer', () => {
  assert.deepEqual(splitThinking('<think>\nplan\n</think>\n\nHi'), { thinking: '\nplan\n', answer: '\n\nHi', open: false });
  assert.deepEqual(splitThinking('<think>still going'), { thinking: 'still going', answer: '', open: true });
  // Qwen3's template opens <think> in the prompt: the answer starts inside the block.
  assert.deepEqual(splitThinking('reasoning</think>Answer'), { thinking: 'reasoning', answer: 'Answer', open: false });
  assert.deepEqual(splitThinking('plain answer'), { thinking: null, answer: 'plain answer', open: false });
  assert.deepEqual(splitThinking('text mentioning <think> later'), { thinking: null, answer: 'text mentioning <think> later', open: false });
});

test('escapeHtml escapes quotes too', () => {
  assert.equal(escapeHtml(`<a href="x" title='y'>&`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;');
});

if (failures) {
  console.log(`${failures} test(s) failed`);
  process.exit(1);
}
console.log('all markdown tests passed');
