#!/usr/bin/env bash
# Tokenizer encode speed, mofa vs @lenml/tokenizers, on 1 MB of mixed text: bench/tokenizer_speed.sh [BUILD_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
exec node "$here/bench/tokenizer_speed.mjs" --mofa "${1:-$here/build}/mofa" "${@:2}"
