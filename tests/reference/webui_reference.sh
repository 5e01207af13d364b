#!/usr/bin/env bash
# The web UI: its Markdown renderer in node (tests/node/webui_markdown_test.mjs), then the whole UI
# in headless Chromium (playwright-core + Debian's chromium) against the real mofa-server serving
# random-weight fixture models, with a local hub mimic for downloads (tests/node/webui_test.mjs).
# Screenshots and the server log of a failure land in $MOFA_BINARY_DIR/webui-artifacts.
set -euo pipefail
src="${MOFA_SOURCE_DIR:?set MOFA_SOURCE_DIR}"
bin="${MOFA_BINARY_DIR:?set MOFA_BINARY_DIR}"

node "$src/tests/node/webui_markdown_test.mjs"

server="$bin/mofa-server"
[ -x "$server" ] || { echo "webui_reference: $server is not built"; exit 1; }
chromium="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$chromium" ] || { echo "webui_reference: $chromium is missing (scripts/install-deps.sh installs chromium)"; exit 1; }
[ -d "$src/tests/node/node_modules/playwright-core" ] ||
  { echo "webui_reference: playwright-core is missing (scripts/install-deps.sh --tests)"; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
gen() { /usr/bin/python3 "$src/tools/gen_fixture.py" --size tiny "$@" >/dev/null; }
gen --family qwen3 --layout hf-f32 --seed 1 --out "$tmp/models/tiny-qwen3"
gen --family qwen3 --layout hf-f32 --seed 2 --out "$tmp/models/tiny-qwen3-b"
# What the hub mimic serves as the catalog's Qwen2.5-0.5B entry.
repo="mlx-community/Qwen2.5-0.5B-Instruct-4bit"
gen --family qwen2 --layout mlx-4bit --seed 3 --out "$tmp/hub/$repo"

artifacts="$bin/webui-artifacts"
rm -rf "$artifacts"
cd "$src/tests/node"
CHROMIUM="$chromium" node webui_test.mjs --binary "$server" --models "$tmp/models" \
  --default tiny-qwen3 --other tiny-qwen3-b --hub-repo "$repo" --hub-dir "$tmp/hub/$repo" \
  --artifacts "$artifacts"
