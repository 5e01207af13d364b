#!/usr/bin/env bash
# Qwen2/Qwen3 logits and greedy continuations against the independent PyTorch reference, on tiny
# random-weight fixtures in every layout (HF f32/bf16, MLX 4/8-bit) and "wide" MLX 4-bit ones,
# loaded as the server loads them (read into memory).
set -euo pipefail
src="${MOFA_SOURCE_DIR:?}"
bin="${MOFA_BINARY_DIR:?}"
py=/usr/bin/python3
out="$bin/fixtures/reference"
mkdir -p "$out"
ids="151644,872,198,9707,11,1246,525,498,30,151645,198,151644,77091,198"
# The "wide" shape's 4-bit rows span many vector chunks, and its 1088-column rows end in a
# partial one (tiny rows are a single group), at groups of 64 and 32; its vocabulary is 2048,
# hence other ids.
wide_ids="1,100,200,1500,7,2047,42,999,3"
for family in qwen2 qwen3; do
  for layout in hf-f32 hf-bf16 mlx-4bit mlx-8bit wide-mlx-4bit-g64 wide-mlx-4bit-g32; do
    dir="$out/$family-$layout"
    if [ ! -f "$dir/reference.json" ]; then
      rm -rf "$dir"
      size=tiny gen_layout=$layout group=64 prompt=$ids
      case "$layout" in
        wide-*) size=wide gen_layout=mlx-4bit group=${layout##*-g} prompt=$wide_ids ;;
      esac
      "$py" "$src/tools/gen_fixture.py" --family "$family" --layout "$gen_layout" --size "$size" \
        --group-size "$group" --seed 7 --out "$dir" >/dev/null
      "$py" "$src/tools/reference/qwen_forward.py" --model "$dir" --ids "$prompt" --greedy 32 \
        --out "$dir/reference.tmp.json"
      "$py" - "$dir/reference.tmp.json" "$dir/reference.json" "$prompt" <<'PY'
import json, sys
ref = json.load(open(sys.argv[1]))
ref["ids"] = [int(x) for x in sys.argv[3].split(",")]
json.dump(ref, open(sys.argv[2], "w"))
PY
      rm "$dir/reference.tmp.json"
    fi
  done
done
MOFA_REFERENCE_DIR="$out" "$bin/mofa_models_tests" --gtest_filter='CausalLMReference.*'
