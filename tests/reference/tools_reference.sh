#!/usr/bin/env bash
# Tool calling end to end: the real mofa-server on a random-weight Qwen3 fixture (real Qwen3
# tokenizer and chat template), driven by the official `openai` and `ollama` npm clients
# (tests/node/server_tools.mjs): tools render through the template, tool_choice "required" and a
# named function yield valid calls plain and streamed, and calls go back through the template;
# then Mistral and Llama fixtures answer tool_choice "required" / named in their own formats.
set -euo pipefail
src="${MOFA_SOURCE_DIR:?set MOFA_SOURCE_DIR}"
bin="${MOFA_BINARY_DIR:?set MOFA_BINARY_DIR}"
server="$bin/mofa-server"
[ -x "$server" ] || { echo "tools_reference: $server is not built"; exit 1; }
[ -d "$src/tests/node/node_modules/openai" ] && [ -d "$src/tests/node/node_modules/ollama" ] ||
  { echo "tools_reference: npm packages missing (cd tests/node && npm ci)"; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for family in qwen3 mistral llama; do
  /usr/bin/python3 "$src/tools/gen_fixture.py" --family "$family" --layout hf-f32 --size tiny \
    --seed 3 --out "$tmp/tiny-$family" >/dev/null
done
# A private MOFA_HOME: the test never reads or writes the user's ~/.mofa.
export MOFA_HOME="$tmp/home"

cd "$src/tests/node"
for family in qwen3 mistral llama; do
  node server_tools.mjs --binary "$server" --model "$tmp/tiny-$family" --family "$family"
done
