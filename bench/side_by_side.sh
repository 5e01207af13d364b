#!/usr/bin/env bash
# Side-by-side speed of `mofa bench` and llama.cpp's `llama-bench` on this machine.
#
# One random-weight model (tools/gen_fixture.py, one seed) is written three ways for us
# (hf-bf16, mlx-8bit, mlx-4bit, group 64) and three ways for llama.cpp (GGUF bf16, Q8_0, Q4_0,
# converted from the same hf-bf16 weights), then each pair runs pp512 and tg128 (and tg128 after
# a 4096-token context) at the same thread count. Prints a Markdown table with tokens/s, the
# ratio ours/llama, and the weight bandwidth each decode step achieved against bench/membw.c.
#
# llama.cpp is never part of this repository: it is cloned from the git bundle inside the npm
# package node-llama-cpp and built outside the repo (LLAMA_CPP_DIR).
#
# Usage: bench/side_by_side.sh [options]
#   -t, --threads N      threads for both engines (default 2)
#   --shape NAME         qwen2.5-0.5b (default) or qwen3-4b
#   --reps N             repetitions of each pp512/tg128 test, both engines (default 3)
#   --depth N            context depth of the long tg run, 0 to skip (default 4096)
#   --float bf16|f16     float GGUF type paired with hf-bf16 (default bf16)
#   --pure               quantize every GGUF tensor to Q4_0/Q8_0 (llama-quantize --pure): the
#                        output head is then as narrow as MLX's, instead of llama.cpp's Q6_K default
#   --pairs LIST         comma list of 4bit,8bit,bf16 (default all three)
#   --seed N             fixture seed (default 0)
#   --fresh              regenerate fixtures and GGUF files even when cached
#   --out FILE           also write the Markdown table to FILE
#   --quiet-load L       before each run, wait (up to QUIET_WAIT_MAX seconds, default 900) until
#                        the 1-minute load average is below L. On a shared machine this matters more
#                        than nice: with autogroup scheduling every login session gets an equal CPU
#                        share whatever its niceness, and multi-threaded decode collapses when a
#                        worker thread is descheduled at a barrier.
# Environment:
#   BUILD          our CMake build directory holding `mofa` (default <repo>/build)
#   LLAMA_CPP_DIR  llama.cpp checkout (default <repo>/../llama.cpp; cloned if absent)
#   LLAMA_JOBS     parallel jobs for the llama.cpp build (default 1; it runs under nice)
#   BENCH_WORK     cache for fixtures, GGUF files and results (default ~/.cache/mofa-bench)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=/usr/bin/python3
THREADS=2
SHAPE=qwen2.5-0.5b
REPS=3
DEPTH=4096
FLOAT=bf16
PURE=0
PAIRS=4bit,8bit,bf16
SEED=0
FRESH=0
OUT_MD=""
QUIET_LOAD=""

while [[ $# -gt 0 ]]; do
  case "$1" in
    -t|--threads) THREADS=$2; shift 2 ;;
    --shape) SHAPE=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --depth) DEPTH=$2; shift 2 ;;
    --float) FLOAT=$2; shift 2 ;;
    --pure) PURE=1; shift ;;
    --pairs) PAIRS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --fresh) FRESH=1; shift ;;
    --out) OUT_MD=$2; shift 2 ;;
    --quiet-load) QUIET_LOAD=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "side_by_side: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

case "$SHAPE" in
  qwen2.5-0.5b) FAMILY=qwen2 ;;
  qwen3-4b) FAMILY=qwen3 ;;
  *) echo "side_by_side: --shape '$SHAPE' is not qwen2.5-0.5b or qwen3-4b" >&2; exit 2 ;;
esac
case "$FLOAT" in bf16|f16) ;; *) echo "side_by_side: --float '$FLOAT' is not bf16 or f16" >&2; exit 2 ;; esac

BUILD=${BUILD:-$REPO/build}
MOFA=$BUILD/mofa
LLAMA_CPP_DIR=${LLAMA_CPP_DIR:-$(dirname "$REPO")/llama.cpp}
LLAMA_BUILD=$LLAMA_CPP_DIR/build
LLAMA_JOBS=${LLAMA_JOBS:-1}
WORK=${BENCH_WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/mofa-bench}
MODELS=$WORK/$SHAPE-seed$SEED
RESULTS=$WORK/results/$(date -u +%Y%m%dT%H%M%SZ)-$SHAPE-t$THREADS
mkdir -p "$MODELS" "$RESULTS"
export LLAMA_CPP_DIR

log() { echo "[side_by_side] $*" >&2; }

# --- llama.cpp: clone from the node-llama-cpp bundle and build only the two tools we run -------
ensure_llama() {
  if [[ ! -f $LLAMA_CPP_DIR/CMakeLists.txt ]]; then
    local npm_dir=$WORK/llama-npm
    mkdir -p "$npm_dir"
    if [[ ! -f $npm_dir/package/llama/gitRelease.bundle ]]; then
      log "fetching node-llama-cpp from npm into $npm_dir"
      (cd "$npm_dir" && npm pack --silent node-llama-cpp >/dev/null && tar xzf node-llama-cpp-*.tgz)
    fi
    log "cloning llama.cpp from the bundle into $LLAMA_CPP_DIR"
    git clone -q "$npm_dir/package/llama/gitRelease.bundle" "$LLAMA_CPP_DIR"
  fi
  if [[ ! -x $LLAMA_BUILD/bin/llama-bench || ! -x $LLAMA_BUILD/bin/llama-quantize ]]; then
    log "building llama.cpp (CPU, Release, -j$LLAMA_JOBS) in $LLAMA_BUILD; this takes a while"
    if [[ ! -f $LLAMA_BUILD/build.ninja ]]; then
      cmake -S "$LLAMA_CPP_DIR" -B "$LLAMA_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF \
        -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF >"$RESULTS/llama-cmake.log"
    fi
    nice -n 10 ninja -C "$LLAMA_BUILD" -j "$LLAMA_JOBS" llama-bench llama-quantize >"$RESULTS/llama-build.log"
  fi
}

# --- models -------------------------------------------------------------------------------------
fixture() {  # layout -> directory
  local dir=$MODELS/$1
  if [[ $FRESH == 1 || ! -f $dir/config.json ]]; then
    log "generating $SHAPE $1 (seed $SEED)"
    "$PY" "$REPO/tools/gen_fixture.py" --family "$FAMILY" --size "$SHAPE" --layout "$1" \
      --group-size 64 --seed "$SEED" --out "$dir" >&2
  fi
  echo "$dir"
}

gguf_float() {
  local file=$MODELS/gguf/model-$FLOAT.gguf
  if [[ $FRESH == 1 || ! -f $file ]]; then
    mkdir -p "$MODELS/gguf"
    log "writing $file"
    "$PY" "$REPO/bench/write_gguf.py" "$(fixture hf-bf16)" "$file" --outtype "$FLOAT" >&2
  fi
  echo "$file"
}

gguf_quant() {  # Q8_0|Q4_0 -> file
  local suffix=""
  [[ $PURE == 1 ]] && suffix=-pure
  local file=$MODELS/gguf/model-$1$suffix.gguf
  if [[ $FRESH == 1 || ! -f $file ]]; then
    local src
    src=$(gguf_float)
    log "quantizing $file"
    local pure_flag=()
    [[ $PURE == 1 ]] && pure_flag=(--pure)
    "$LLAMA_BUILD/bin/llama-quantize" "${pure_flag[@]}" "$src" "$file" "$1" "$THREADS" \
      >"$RESULTS/quantize-$1$suffix.log" 2>&1
  fi
  echo "$file"
}

# --- runs ---------------------------------------------------------------------------------------
wait_quiet() {
  [[ -n $QUIET_LOAD ]] || return 0
  local waited=0
  while awk -v l="$QUIET_LOAD" '{ exit !($1 >= l) }' /proc/loadavg && [[ $waited -lt ${QUIET_WAIT_MAX:-900} ]]; do
    sleep 15
    waited=$((waited + 15))
  done
  log "load average $(cut -d' ' -f1 /proc/loadavg) after waiting ${waited}s"
}

# Each run writes its raw JSON under $RESULTS; a failed run leaves an empty file and shows as n/a.
llama_run() {  # name file
  wait_quiet
  log "llama-bench $1"
  "$LLAMA_BUILD/bin/llama-bench" -m "$2" -p 512 -n 128 -t "$THREADS" -r "$REPS" -o json \
    >"$RESULTS/llama-$1.json" 2>"$RESULTS/llama-$1.err" || log "llama-bench $1 failed (see $RESULTS/llama-$1.err)"
  if [[ $DEPTH -gt 0 ]]; then
    wait_quiet
    log "llama-bench $1 tg128 at depth $DEPTH"
    "$LLAMA_BUILD/bin/llama-bench" -m "$2" -p 0 -n 128 -d "$DEPTH" -t "$THREADS" -r 1 -o json \
      >"$RESULTS/llama-$1-depth.json" 2>"$RESULTS/llama-$1-depth.err" ||
      log "llama-bench $1 depth run failed (see $RESULTS/llama-$1-depth.err)"
  fi
}

mofa_run() {  # name dir
  if [[ ! -x $MOFA ]]; then
    log "$MOFA not built; our columns show n/a"
    return
  fi
  wait_quiet
  log "mofa bench $1"
  "$MOFA" bench --model "$2" -p 512 -n 128 -t "$THREADS" -r "$REPS" --json \
    >"$RESULTS/mofa-$1.json" 2>"$RESULTS/mofa-$1.err" || log "mofa bench $1 failed (see $RESULTS/mofa-$1.err)"
  if [[ $DEPTH -gt 0 ]]; then
    if "$MOFA" bench --help 2>/dev/null | grep -q -- '--depth'; then
      wait_quiet
      log "mofa bench $1 tg128 at depth $DEPTH"
      "$MOFA" bench --model "$2" -p 0 -n 128 --depth "$DEPTH" -t "$THREADS" -r 1 --json \
        >"$RESULTS/mofa-$1-depth.json" 2>"$RESULTS/mofa-$1-depth.err" ||
        log "mofa bench $1 depth run failed (see $RESULTS/mofa-$1-depth.err)"
    else
      log "mofa bench has no --depth yet; the depth column shows n/a for us"
    fi
  fi
}

# llama-bench -o json prints an array with one object per test; mofa bench prints one object.
llama_tps() {  # file n_prompt n_gen -> avg tokens/s or empty
  [[ -s $1 ]] || return 0
  jq -r --argjson p "$2" --argjson n "$3" \
    '[.[] | select(.n_prompt == $p and .n_gen == $n) | .avg_ts][0] // empty' "$1" 2>/dev/null || true
}
mofa_tps() {  # file key -> value or empty
  [[ -s $1 ]] || return 0
  grep '^{' "$1" | tail -n 1 | jq -r --arg k "$2" '.[$k] // empty' 2>/dev/null || true
}

fmt() { [[ -n $1 ]] && printf '%.1f' "$1" || printf 'n/a'; }
ratio() { [[ -n $1 && -n $2 ]] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }' || printf 'n/a'; }
gbps() {  # tokens/s, bytes/token, membw -> "X GB/s (Y%)"
  [[ -n $1 && -n $2 ]] || { printf 'n/a'; return; }
  awk -v t="$1" -v b="$2" -v m="$3" 'BEGIN { g = t * b / 1e9; printf "%.1f (%.0f%%)", g, 100 * g / m }'
}

# --- main ---------------------------------------------------------------------------------------
ensure_llama
cc -O3 -march=native -pthread "$REPO/bench/membw.c" -o "$WORK/membw"
wait_quiet
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
"$WORK/membw" 1024 "$THREADS" 5 >"$RESULTS/membw.txt" 2>/dev/null
MEMBW=$(awk -v t="$THREADS" '$2 == "threads=" t { sub("gbps=", "", $4); print $4 }' "$RESULTS/membw.txt")
log "membw at $THREADS threads: $MEMBW GB/s"

declare -a ROWS=()
IFS=, read -r -a PAIR_LIST <<<"$PAIRS"
for pair in "${PAIR_LIST[@]}"; do
  case "$pair" in
    4bit) ours=$(fixture mlx-4bit); theirs=$(gguf_quant Q4_0); label="mlx 4-bit g64 vs Q4_0" ;;
    8bit) ours=$(fixture mlx-8bit); theirs=$(gguf_quant Q8_0); label="mlx 8-bit g64 vs Q8_0" ;;
    bf16) ours=$(fixture hf-bf16); theirs=$(gguf_float); label="hf bf16 vs GGUF $FLOAT" ;;
    *) echo "side_by_side: --pairs entry '$pair' is not 4bit, 8bit or bf16" >&2; exit 2 ;;
  esac
  [[ $PURE == 1 && $pair != bf16 ]] && label="$label (--pure)"
  mofa_run "$pair" "$ours"
  llama_run "$pair" "$theirs"

  our_pp=$(mofa_tps "$RESULTS/mofa-$pair.json" pp_tps)
  our_tg=$(mofa_tps "$RESULTS/mofa-$pair.json" tg_tps)
  our_dtg=$(mofa_tps "$RESULTS/mofa-$pair-depth.json" tg_tps)
  ll_pp=$(llama_tps "$RESULTS/llama-$pair.json" 512 0)
  ll_tg=$(llama_tps "$RESULTS/llama-$pair.json" 0 128)
  ll_dtg=$(llama_tps "$RESULTS/llama-$pair-depth.json" 0 128)
  our_bytes=$("$PY" "$REPO/bench/weight_bytes.py" "$ours")
  ll_bytes=$("$PY" "$REPO/bench/weight_bytes.py" "$theirs")
  ROWS+=("| $label | $(fmt "$our_pp") | $(fmt "$ll_pp") | $(ratio "$our_pp" "$ll_pp") | $(fmt "$our_tg") | $(fmt "$ll_tg") | $(ratio "$our_tg" "$ll_tg") | $(fmt "$our_dtg") | $(fmt "$ll_dtg") | $(ratio "$our_dtg" "$ll_dtg") | $(gbps "$our_tg" "$our_bytes" "$MEMBW") | $(gbps "$ll_tg" "$ll_bytes" "$MEMBW") | $(awk -v b="$our_bytes" 'BEGIN { printf "%.0f", b / 1e6 }') / $(awk -v b="$ll_bytes" 'BEGIN { printf "%.0f", b / 1e6 }') |")
done

CPU=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
LLAMA_COMMIT=$(git -C "$LLAMA_CPP_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
OUR_COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
{
  echo "Shape $SHAPE (seed $SEED), $THREADS threads, $(date -u +%Y-%m-%d), CPU: $CPU ($(nproc) cores)."
  echo "mofa $OUR_COMMIT; llama.cpp $LLAMA_COMMIT (llama-bench -r $REPS; depth run -r 1). membw read bandwidth at $THREADS threads: $MEMBW GB/s."
  echo "Load average (1/5/15 min) before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg); other work on the machine lowers every figure."
  echo
  echo "| pair | ours pp512 | llama pp512 | ratio | ours tg128 | llama tg128 | ratio | ours tg128@$DEPTH | llama tg128@$DEPTH | ratio | ours weight GB/s (% membw) | llama weight GB/s (% membw) | MB read/token ours / llama |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "tokens/s; ratio = ours / llama.cpp (>1 means we are faster). Raw JSON: $RESULTS"
} | tee "$RESULTS/table.md"
[[ -n $OUT_MD ]] && cp "$RESULTS/table.md" "$OUT_MD"
exit 0
