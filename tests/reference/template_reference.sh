#!/usr/bin/env bash
# Chat templates against @huggingface/jinja: every real template in tests/text/templates/ renders
# every conversation of conversations.jsonl through `mofa template --jsonl`, byte for byte.
set -euo pipefail
src="${MOFA_SOURCE_DIR:?}"
bin="${MOFA_BINARY_DIR:?}"
cd "$src/tests/node"
node template_ref.mjs "$bin/mofa"
