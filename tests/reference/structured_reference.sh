#!/usr/bin/env bash
# Structured outputs end to end: the real mofa-server on a random-weight Qwen3 fixture (the real
# 151,936-token Qwen vocabulary), driven by the `openai` and `ollama` npm clients, every output
# validated by ajv (tests/node/server_structured.mjs).
set -euo pipefail
src="${MOFA_SOURCE_DIR:?set MOFA_SOURCE_DIR}"
bin="${MOFA_BINARY_DIR:?set MOFA_BINARY_DIR}"
server="$bin/mofa-server"
[ -x "$server" ] || { echo "structured_reference: $server is not built"; exit 1; }
for pkg in openai ollama ajv ajv-formats; do
  [ -d "$src/tests/node/node_modules/$pkg" ] ||
    { echo "structured_reference: npm package $pkg missing (cd tests/node && npm ci)"; exit 1; }
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 "$src/tools/gen_fixture.py" --family qwen3 --layout hf-f32 --size tiny --seed 1 \
  --out "$tmp/tiny-qwen3" >/dev/null
export MOFA_HOME="$tmp/home"

cd "$src/tests/node"
node server_structured.mjs --binary "$server" --model "$tmp/tiny-qwen3"
