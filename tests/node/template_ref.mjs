// Renders every conversation of tests/text/templates/conversations.jsonl with every real template
// of tests/text/templates/manifest.json through @huggingface/jinja (the reference), the way
// transformers' apply_chat_template calls a template, and compares byte for byte with
// `mofa template --jsonl`.
//
// usage: node template_ref.mjs MOFA_BINARY [TEMPLATE_FILE_SUBSTRING]
// Exit status 0 when every rendering matches (a template error on both sides counts as a match).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { Template } from "@huggingface/jinja";

const here = path.dirname(fileURLToPath(import.meta.url));
const dataDir = path.join(here, "..", "text", "templates");
const [mofa, only] = process.argv.slice(2);
if (!mofa) {
  console.error("usage: node template_ref.mjs MOFA_BINARY [TEMPLATE_FILE_SUBSTRING]");
  process.exit(2);
}

const manifest = JSON.parse(readFileSync(path.join(dataDir, "manifest.json"), "utf8"));
const convLines = readFileSync(path.join(dataDir, "conversations.jsonl"), "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "");
const conversations = convLines.map((l) => JSON.parse(l));

// Where @huggingface/jinja is known to differ from Python's jinja2 (which transformers uses),
// the pair is listed here with the reason; tests/reference/template_jinja2_reference.sh checks
// those renderings against Python's jinja2 itself.
const knownReferenceDifferences = JSON.parse(
  readFileSync(path.join(dataDir, "reference_differences.json"), "utf8"),
).differences;

function isKnownDifference(file, index) {
  return knownReferenceDifferences.some(
    (d) =>
      d.files.includes(file) &&
      (d.conversation_index === "all" || [d.conversation_index].flat().includes(index)),
  );
}

function renderReference(template, bos, eos, conv) {
  // transformers: tools=None unless given; special tokens and kwargs become top-level variables.
  // @huggingface/jinja defines raise_exception itself.
  const tools = Array.isArray(conv.tools) && conv.tools.length > 0 ? conv.tools : null;
  const vars = {
    bos_token: bos,
    eos_token: eos,
    ...(conv.kwargs ?? {}),
    messages: conv.messages,
    tools,
    documents: null,
    add_generation_prompt: conv.add_generation_prompt ?? false,
  };
  try {
    return { prompt: template.render(vars) };
  } catch (e) {
    return { error: String(e.message ?? e) };
  }
}

let failures = 0;
let compared = 0;
let skipped = 0;
for (const entry of manifest.templates) {
  if (only && !entry.file.includes(only)) continue;
  const source = readFileSync(path.join(dataDir, entry.file), "utf8");
  let template;
  try {
    template = new Template(source);
  } catch (e) {
    console.log(`SKIP ${entry.file}: @huggingface/jinja cannot parse it (${e.message})`);
    skipped += conversations.length;
    continue;
  }
  const dir = mkdtempSync(path.join(tmpdir(), "mofa-template-"));
  try {
    writeFileSync(path.join(dir, "chat_template.jinja"), source);
    writeFileSync(
      path.join(dir, "tokenizer_config.json"),
      JSON.stringify({ bos_token: entry.bos_token, eos_token: entry.eos_token }),
    );
    const run = spawnSync(mofa, ["template", "--model", dir, "--jsonl"], {
      input: convLines.join("\n") + "\n",
      encoding: "utf8",
      maxBuffer: 64 << 20,
    });
    if (run.status !== 0) {
      console.log(`FAIL ${entry.file}: mofa exited ${run.status}: ${run.stderr}`);
      failures += 1;
      continue;
    }
    const ours = run.stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
    if (ours.length !== conversations.length) {
      console.log(`FAIL ${entry.file}: mofa wrote ${ours.length} lines for ${conversations.length}`);
      failures += 1;
      continue;
    }
    let bad = 0;
    conversations.forEach((conv, i) => {
      if (isKnownDifference(entry.file, i)) {
        skipped += 1;
        return;
      }
      compared += 1;
      const ref = renderReference(template, entry.bos_token, entry.eos_token, conv);
      const got = ours[i];
      const same =
        ("error" in ref && "error" in got) ||
        ("prompt" in ref && "prompt" in got && ref.prompt === got.prompt);
      if (!same) {
        bad += 1;
        console.log(`MISMATCH ${entry.file} conversation ${i}`);
        console.log(`  reference: ${JSON.stringify(ref).slice(0, 2000)}`);
        console.log(`  mofa:      ${JSON.stringify(got).slice(0, 2000)}`);
      }
    });
    failures += bad;
    console.log(`${bad ? "FAIL" : "ok  "} ${entry.file} (${entry.model})`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log(`${compared} renderings compared, ${skipped} skipped as known reference differences, ${failures} failures`);
process.exit(failures === 0 && compared > 0 ? 0 : 1);
