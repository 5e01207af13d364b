#!/usr/bin/env bash
# MiniCPM4 ("minicpm") and MiniCPM-SALA ("minicpm_sala") logits and greedy continuations against
# the independent PyTorch reference (tools/reference/minicpm_forward.py, float64, following the
# released modeling_minicpm.py / modeling_minicpm_sala.py), on tiny random-weight fixtures in
# every layout (HF f32/bf16, MLX 4/8-bit) with the published config.json fields. minicpm uses
# MiniCPM4-8B's longrope (max_position_embeddings == original: short factors, no cos/sin
# scale); minicpm-long sets max_position_embeddings to 4x the original so the long factors and
# the sqrt(1 + ln 4 / ln orig) cos/sin scale apply. minicpm_sala has 4 layers: minicpm4,
# lightning-attn, lightning-attn, minicpm4. minicpm-sala-sparse-* shrink sparse_config (blocks of
# 8, k1 windows of 4 every 2, topk 4, window 16: 6 blocks kept, dense_len 24) so that InfLLM-v2
# sparse attention runs: -decode switches to it while generating after a dense 16-token prompt,
# -prefill runs its 64-token prompt sparse; both generate past 6 blocks, where blocks are
# dropped. Then the shared CausalLMReference tests and the MiniCPM ones (chunked prefill through
# the recurrent state, resuming after a rewind).
set -euo pipefail
src="${MOFA_SOURCE_DIR:?}"
bin="${MOFA_BINARY_DIR:?}"
py=/usr/bin/python3
out="$bin/fixtures/reference-minicpm"
mkdir -p "$out"
# "<s><|im_start|>user\nHello, how are you?<|im_end|>\n<|im_start|>assistant\n" in the fixtures'
# tokenizer: a 32000-token SentencePiece BPE plus MiniCPM4's special tokens at 32000.. (<|im_end|>
# 32000, <|im_start|> 32001; see tools/fixture_minicpm.py). `mofa tokenize` and @lenml/tokenizers agree.
ids="1,32001,2188,13,16230,28725,910,460,368,28804,32000,28705,13,32001,13892,13"
ids4="$ids,$ids,$ids,$ids"
sparse='{"block_size": 8, "dense_len": 24, "init_blocks": 1, "kernel_size": 4, "kernel_stride": 2,
  "topk": 4, "use_nope": false, "window_size": 16}'
make_case() {  # name family layout ids greedy [extra gen_fixture flags]
  local name="$1" family="$2" layout="$3" case_ids="$4" greedy="$5"
  shift 5
  local dir="$out/$name-$layout"
  # Reuse a case only if it was made for these ids and greedy length, after the scripts.
  local script stale=0
  for script in "$0" "$src/tools/reference/"{minicpm_forward,infllm_v2,forward_driver}.py; do
    [ "$dir/reference.json" -nt "$script" ] || stale=1
  done
  if [ "$stale" = 0 ] && "$py" -c 'import json, sys
ref = json.load(open(sys.argv[1]))
sys.exit(ref["ids"] != [int(i) for i in sys.argv[2].split(",")] or len(ref["greedy"]) != int(sys.argv[3]))' \
    "$dir/reference.json" "$case_ids" "$greedy"; then return; fi
  rm -rf "$dir"
  "$py" "$src/tools/gen_fixture.py" --family "$family" --layout "$layout" --size tiny \
    --seed 7 --out "$dir" "$@" >/dev/null
  if [ "$name" = minicpm-long ]; then
    "$py" - "$dir/config.json" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["max_position_embeddings"] = 4 * cfg["rope_scaling"]["original_max_position_embeddings"]
json.dump(cfg, open(sys.argv[1], "w"), indent=2)
PY
  fi
  if [[ "$name" == minicpm-sala-sparse-* ]]; then
    "$py" - "$dir/config.json" "$sparse" <<'PY'
import json, sys
cfg = json.load(open(sys.argv[1]))
cfg["sparse_config"] = json.loads(sys.argv[2])
json.dump(cfg, open(sys.argv[1], "w"), indent=2)
PY
  fi
  "$py" "$src/tools/reference/minicpm_forward.py" --model "$dir" --ids "$case_ids" \
    --greedy "$greedy" --out "$dir/reference.json"
}
for layout in hf-f32 hf-bf16 mlx-4bit mlx-8bit; do
  make_case minicpm minicpm "$layout" "$ids" 32
  make_case minicpm-sala minicpm_sala "$layout" "$ids" 32 --num-hidden-layers 4
done
make_case minicpm-long minicpm hf-f32 "$ids" 32
make_case minicpm-sala-sparse-decode minicpm_sala hf-f32 "$ids" 48 --num-hidden-layers 4
make_case minicpm-sala-sparse-prefill minicpm_sala hf-f32 "$ids4" 32 --num-hidden-layers 4
make_case minicpm-sala-sparse-prefill minicpm_sala mlx-8bit "$ids4" 32 --num-hidden-layers 4
MOFA_REFERENCE_DIR="$out" "$bin/mofa_models_tests" \
  --gtest_filter='CausalLMReference.*:MiniCpmReference.*'
# `mofa bench` at a depth on the hybrid model: each rep must resume the lightning layers'
# recurrent state at the depth, also with no prompt-processing test (-p 0) to snapshot it.
"$bin/mofa" bench --model "$out/minicpm-sala-mlx-8bit" -p 0 -n 8 --depth 64 -r 2 >/dev/null
"$bin/mofa" bench --model "$out/minicpm-sala-mlx-8bit" -p 16 -n 8 --depth 64 -r 2 >/dev/null
# --cache-type-k/v f16 on the hybrid model: reported in the JSON, and the cache (K/V rows plus
# the f32 lightning states) is smaller than the f32 one by half of the K/V bytes.
kv_bytes() {  # expected cache type, mofa bench flags
  "$bin/mofa" bench --model "$out/minicpm-sala-mlx-8bit" -p 16 -n 4 --depth 64 -r 1 --json "${@:2}" |
    "$py" -c 'import json,sys; b=json.load(sys.stdin); assert b["cache_type_k"]==b["cache_type_v"]=="'"$1"'", b; print(b["kv_cache_bytes"])'
}
f32_kv=$(kv_bytes f32 --cache-type-k f32 --cache-type-v f32)
f16_kv=$(kv_bytes f16 --cache-type-k f16 --cache-type-v f16)
# The defaults: f16 in the fast mode (as llama.cpp), f32 with --exact.
[ "$(kv_bytes f16)" = "$f16_kv" ]
[ "$(kv_bytes f32 --exact)" = "$f32_kv" ]
# llama.cpp's short spellings of the same flags.
[ "$(kv_bytes f32 -ctk f32 -ctv f32)" = "$f32_kv" ]
echo "KV cache bytes at depth 64: f32 $f32_kv, f16 $f16_kv"
[ "$f16_kv" -lt "$f32_kv" ]
