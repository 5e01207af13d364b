#!/usr/bin/env bash
# The server end to end: the real mofa-server binary on a random-weight Qwen3 fixture, driven over
# loopback HTTP by the official `openai` and `ollama` npm clients (tests/node/server_openai.mjs,
# server_ollama.mjs with a local hub mimic for pulls), then 50 concurrent streaming clients and a
# mid-stream disconnect (server_load.mjs).
set -euo pipefail
src="${MOFA_SOURCE_DIR:?set MOFA_SOURCE_DIR}"
bin="${MOFA_BINARY_DIR:?set MOFA_BINARY_DIR}"
server="$bin/mofa-server"
[ -x "$server" ] || { echo "server_reference: $server is not built"; exit 1; }
[ -d "$src/tests/node/node_modules/openai" ] && [ -d "$src/tests/node/node_modules/ollama" ] ||
  { echo "server_reference: npm packages missing (cd tests/node && npm ci)"; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
gen() { /usr/bin/python3 "$src/tools/gen_fixture.py" --family qwen3 --layout hf-f32 --size tiny "$@" >/dev/null; }
gen --seed 1 --out "$tmp/tiny-qwen3"
gen --seed 2 --out "$tmp/hub/pulled"
mkdir -p "$tmp/models"
# A private MOFA_HOME: the tests never read or write the user's ~/.mofa.
export MOFA_HOME="$tmp/home"

cd "$src/tests/node"
node server_openai.mjs --binary "$server" --model "$tmp/tiny-qwen3"
node server_ollama.mjs --binary "$server" --model "$tmp/tiny-qwen3" --models-dir "$tmp/models" \
  --hub-dir "$tmp/hub/pulled"
node server_load.mjs --binary "$server" --model "$tmp/tiny-qwen3"
