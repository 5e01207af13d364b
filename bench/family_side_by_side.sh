#!/usr/bin/env bash
# One family's benchmark row next to llama.cpp: `mofa bench` on our MLX 4-bit layout against
# `llama-bench` on Q4_0 (and, with --pairs 4bit,bf16, HF bf16 against GGUF bf16), same threads.
#
# A random-weight model of the family's published shape, cut to fewer layers (tools/gen_fixture.py,
# one seed), is written twice: mlx-4bit (group 64) for us and hf-bf16, which bench/write_gguf.py
# converts to a bf16 GGUF and llama-quantize to Q4_0 for llama.cpp. Fixtures and GGUF files are
# cached under BENCH_WORK; once Q4_0 exists the bf16 intermediates are deleted unless the bf16 pair
# runs or --keep is given (a reduced Mixtral-8x7B is still ~6 GB in bf16). Prints a Markdown table
# of pp / tg tokens/s and the ratio ours / llama.cpp.
#
# bench/side_by_side.sh is the fuller Qwen comparison (depth, thread scaling, memory, profiles); it
# runs as a whole and only knows Qwen shapes, so this script has its own short loop, with the same
# conventions (BUILD, LLAMA_CPP_DIR, BENCH_WORK, --quiet-load) and the same JSON readers.
#
# Usage: bench/family_side_by_side.sh --family NAME [options]
#   --family NAME       mixtral, qwen3_moe, chatglm, glm, glm4, minicpm (or qwen2, qwen3, llama, mistral)
#   --shape NAME        published shape (default per family: mixtral-8x7b, qwen3-30b-a3b, glm-4-9b,
#                       minicpm4-0.5b, qwen2.5-0.5b, qwen3-4b, llama-3.1-8b, mistral-7b), or tiny
#                       (the 2-layer test shape: a dry run of the script)
#   --layers N          decoder layers (default per shape: mixtral-8x7b 2, qwen3-30b-a3b 4,
#                       glm-4-9b 8, other real shapes 8, minicpm4-0.5b all 24; tiny keeps 2)
#   -t, --threads N     threads for both engines (default 2)
#   -p, --n-prompt N    prompt tokens of the pp test (default 512)
#   -n, --n-gen N       generated tokens of the tg test (default 128)
#   -r, --reps N        repetitions of each test, both engines (default 3)
#   --pairs LIST        comma list of 4bit,bf16 (default 4bit)
#   --seed N            fixture seed (default 0)
#   --fresh             regenerate fixtures and GGUF files even when cached
#   --keep              keep the hf-bf16 fixture and bf16 GGUF after quantizing
#   --out FILE          also write the Markdown table to FILE
#   --quiet-load L      before each run, wait (up to QUIET_WAIT_MAX seconds, default 900) until the
#                       1-minute load average is below L (see bench/side_by_side.sh)
# Environment:
#   BUILD          our CMake build directory holding `mofa` (default <repo>/build)
#   LLAMA_CPP_DIR  llama.cpp checkout with build/bin/llama-bench and llama-quantize
#                  (default <repo>/../llama.cpp; build them with bench/side_by_side.sh once)
#   BENCH_WORK     cache for fixtures, GGUF files and results (default ~/.cache/mofa-bench)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=/usr/bin/python3
FAMILY=""
SHAPE=""
LAYERS=""
THREADS=2
NP=512
NG=128
REPS=3
PAIRS=4bit
SEED=0
FRESH=0
KEEP=0
OUT_MD=""
QUIET_LOAD=""

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { echo "family_side_by_side: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --family) FAMILY=$2; shift 2 ;;
    --shape) SHAPE=$2; shift 2 ;;
    --layers) LAYERS=$2; shift 2 ;;
    -t|--threads) THREADS=$2; shift 2 ;;
    -p|--n-prompt) NP=$2; shift 2 ;;
    -n|--n-gen) NG=$2; shift 2 ;;
    -r|--reps) REPS=$2; shift 2 ;;
    --pairs) PAIRS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --fresh) FRESH=1; shift ;;
    --keep) KEEP=1; shift ;;
    --out) OUT_MD=$2; shift 2 ;;
    --quiet-load) QUIET_LOAD=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[[ -n $FAMILY ]] || die "--family is required (see --help)"
for v in THREADS NP NG REPS SEED; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v '${!v}' is not a non-negative integer"
done
[[ -z $LAYERS || $LAYERS =~ ^[1-9][0-9]*$ ]] || die "--layers '$LAYERS' is not a positive integer"

# --- shapes -------------------------------------------------------------------------------------
# gen_fixture.py knows some published shapes by name (--size); the others are its tiny shape with
# every dimension overridden to the published config.json values.
case "$FAMILY" in
  mixtral) SHAPE=${SHAPE:-mixtral-8x7b} ;;
  qwen3_moe) SHAPE=${SHAPE:-qwen3-30b-a3b} ;;
  chatglm|glm|glm4) SHAPE=${SHAPE:-glm-4-9b} ;;
  minicpm) SHAPE=${SHAPE:-minicpm4-0.5b} ;;
  qwen2) SHAPE=${SHAPE:-qwen2.5-0.5b} ;;
  qwen3) SHAPE=${SHAPE:-qwen3-4b} ;;
  llama) SHAPE=${SHAPE:-llama-3.1-8b} ;;
  mistral) SHAPE=${SHAPE:-mistral-7b} ;;
  minicpm_sala) die "llama.cpp has no MiniCPM-SALA architecture (see bench/write_gguf.py); no llama.cpp row" ;;
  *) die "--family '$FAMILY' is not one of mixtral, qwen3_moe, chatglm, glm, glm4, minicpm, qwen2, qwen3, llama, mistral" ;;
esac
SHAPE_ARGS=()
DEFAULT_LAYERS=8
case "$SHAPE" in
  tiny) SHAPE_ARGS=(--size tiny); DEFAULT_LAYERS=2 ;;
  glm-4-9b|minicpm4-0.5b|minicpm4-8b|qwen2.5-0.5b|qwen3-0.6b|qwen3-4b) SHAPE_ARGS=(--size "$SHAPE") ;;
  # mistralai/Mixtral-8x7B-Instruct-v0.1
  mixtral-8x7b) SHAPE_ARGS=(--size tiny --hidden-size 4096 --num-attention-heads 32 --num-key-value-heads 8
                  --head-dim 128 --intermediate-size 14336 --vocab-size 32000 --num-experts 8
                  --experts-per-tok 2); DEFAULT_LAYERS=2 ;;
  # Qwen/Qwen3-30B-A3B
  qwen3-30b-a3b) SHAPE_ARGS=(--size tiny --hidden-size 2048 --num-attention-heads 32 --num-key-value-heads 4
                   --head-dim 128 --intermediate-size 6144 --moe-intermediate-size 768 --vocab-size 151936
                   --num-experts 128 --experts-per-tok 8); DEFAULT_LAYERS=4 ;;
  # meta-llama/Llama-3.1-8B-Instruct
  llama-3.1-8b) SHAPE_ARGS=(--size tiny --hidden-size 4096 --num-attention-heads 32 --num-key-value-heads 8
                  --head-dim 128 --intermediate-size 14336 --vocab-size 128256) ;;
  # mistralai/Mistral-7B-Instruct-v0.2
  mistral-7b) SHAPE_ARGS=(--size tiny --hidden-size 4096 --num-attention-heads 32 --num-key-value-heads 8
                --head-dim 128 --intermediate-size 14336 --vocab-size 32000) ;;
  *) die "--shape '$SHAPE' is not tiny, glm-4-9b, minicpm4-0.5b, minicpm4-8b, qwen2.5-0.5b, qwen3-0.6b, qwen3-4b, mixtral-8x7b, qwen3-30b-a3b, llama-3.1-8b or mistral-7b" ;;
esac
[[ $SHAPE == minicpm4-0.5b ]] && DEFAULT_LAYERS=24
LAYERS=${LAYERS:-$DEFAULT_LAYERS}
SHAPE_ARGS+=(--num-hidden-layers "$LAYERS")

IFS=, read -r -a PAIR_LIST <<<"$PAIRS"
for pair in "${PAIR_LIST[@]}"; do
  case "$pair" in 4bit|bf16) ;; *) die "--pairs entry '$pair' is not 4bit or bf16" ;; esac
done

BUILD=${BUILD:-$REPO/build}
MOFA=$BUILD/mofa
LLAMA_CPP_DIR=${LLAMA_CPP_DIR:-$(dirname "$REPO")/llama.cpp}
LLAMA_BUILD=$LLAMA_CPP_DIR/build
WORK=${BENCH_WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/mofa-bench}
MODELS=$WORK/family-$FAMILY-$SHAPE-${LAYERS}l-seed$SEED
RESULTS=$WORK/results/$(date -u +%Y%m%dT%H%M%SZ)-$FAMILY-$SHAPE-${LAYERS}l-t$THREADS
mkdir -p "$MODELS/gguf" "$RESULTS"
export LLAMA_CPP_DIR

log() { echo "[family_side_by_side] $*" >&2; }
for tool in llama-bench llama-quantize; do
  [[ -x $LLAMA_BUILD/bin/$tool ]] ||
    die "$LLAMA_BUILD/bin/$tool missing: build llama.cpp first (bench/side_by_side.sh does it, or ninja -C $LLAMA_BUILD llama-bench llama-quantize)"
done
[[ -x $MOFA ]] || die "$MOFA missing: build it (ninja -C $BUILD mofa) or set BUILD"
command -v jq >/dev/null || die "jq is needed to read the JSON results"

# --- models -------------------------------------------------------------------------------------
fixture() {  # layout -> directory
  local dir=$MODELS/$1
  if [[ $FRESH == 1 || ! -f $dir/config.json ]]; then
    log "generating $FAMILY $SHAPE ($LAYERS layers) $1 (seed $SEED)"
    "$PY" "$REPO/tools/gen_fixture.py" --family "$FAMILY" "${SHAPE_ARGS[@]}" --layout "$1" \
      --group-size 64 --seed "$SEED" --out "$dir" >&2
  fi
  echo "$dir"
}

gguf_bf16() {
  local file=$MODELS/gguf/model-bf16.gguf
  if [[ $FRESH == 1 || ! -f $file ]]; then
    log "writing $file"
    "$PY" "$REPO/bench/write_gguf.py" "$(fixture hf-bf16)" "$file.tmp" --outtype bf16 >&2
    mv "$file.tmp" "$file"
  fi
  echo "$file"
}

gguf_q4() {
  local file=$MODELS/gguf/model-Q4_0.gguf
  if [[ $FRESH == 1 || ! -f $file ]]; then
    local src
    src=$(gguf_bf16)
    log "quantizing $file"
    "$LLAMA_BUILD/bin/llama-quantize" "$src" "$file.tmp" Q4_0 "$THREADS" >"$RESULTS/quantize.log" 2>&1 ||
      { log "llama-quantize failed (see $RESULTS/quantize.log)"; exit 1; }
    mv "$file.tmp" "$file"
  fi
  echo "$file"
}

# --- runs ---------------------------------------------------------------------------------------
# shellcheck source=bench/bench_common.sh
source "$REPO/bench/bench_common.sh"

run() {  # name command...: stdout to NAME.json, stderr to NAME.err; a failure shows as n/a
  local name=$1
  shift
  wait_quiet
  log "$name: $(basename "$1") ${*:2}"
  "$@" >"$RESULTS/$name.json" 2>"$RESULTS/$name.err" || log "$name failed (see $RESULTS/$name.err)"
}

fmt() { [[ -n $1 ]] && printf '%.1f' "$1" || printf 'n/a'; }
ratio() { [[ -n $1 && -n $2 ]] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }' || printf 'n/a'; }
size_mb() { du -sm "$1" 2>/dev/null | cut -f1; }

# --- main ---------------------------------------------------------------------------------------
# Prepare every file first, so the timed runs do not share the machine with conversion work.
declare -A OURS=() THEIRS=() LABEL=()
for pair in "${PAIR_LIST[@]}"; do
  case "$pair" in
    4bit) OURS[$pair]=$(fixture mlx-4bit); THEIRS[$pair]=$(gguf_q4); LABEL[$pair]="mlx 4-bit g64 vs Q4_0" ;;
    bf16) OURS[$pair]=$(fixture hf-bf16); THEIRS[$pair]=$(gguf_bf16); LABEL[$pair]="hf bf16 vs GGUF bf16" ;;
  esac
done
if [[ $KEEP == 0 && -z ${OURS[bf16]:-} ]]; then
  rm -rf "$MODELS/hf-bf16" "$MODELS/gguf/model-bf16.gguf"
fi

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
ROWS=()
for pair in "${PAIR_LIST[@]}"; do
  run "mofa-$pair" "$MOFA" bench --model "${OURS[$pair]}" -p "$NP" -n "$NG" -t "$THREADS" -r "$REPS" --json
  run "llama-$pair" "$LLAMA_BUILD/bin/llama-bench" -m "${THEIRS[$pair]}" -p "$NP" -n "$NG" -t "$THREADS" \
    -r "$REPS" -o json
  our_pp=$(mofa_json "mofa-$pair" .pp_tps)
  our_tg=$(mofa_json "mofa-$pair" .tg_tps)
  ll_pp=$(llama_tps "llama-$pair" "$NP" 0)
  ll_tg=$(llama_tps "llama-$pair" 0 "$NG")
  ROWS+=("| $FAMILY $SHAPE ${LAYERS}L | ${LABEL[$pair]} | $(size_mb "${OURS[$pair]}") / $(size_mb "${THEIRS[$pair]}") | $(fmt "$our_pp") | $(fmt "$ll_pp") | $(ratio "$our_pp" "$ll_pp") | $(fmt "$our_tg") | $(fmt "$ll_tg") | $(ratio "$our_tg" "$ll_tg") |")
done

CPU=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
LLAMA_COMMIT=$(git -C "$LLAMA_CPP_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
OUR_COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
{
  echo "$FAMILY, shape $SHAPE cut to $LAYERS layers (seed $SEED), $THREADS threads, -r $REPS, $(date -u +%Y-%m-%d), CPU: $CPU ($(nproc) cores)."
  echo "mofa $OUR_COMMIT; llama.cpp $LLAMA_COMMIT. Load average (1/5/15 min) before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "| model | pair | MB on disk ours / llama | ours pp$NP | llama pp$NP | ratio | ours tg$NG | llama tg$NG | ratio |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "tokens/s; ratio = ours / llama.cpp (>1 means we are faster). Raw JSON and stderr: $RESULTS"
} | tee "$RESULTS/table.md"
[[ -n $OUT_MD ]] && cp "$RESULTS/table.md" "$OUT_MD"
exit 0
