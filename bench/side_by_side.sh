#!/usr/bin/env bash
# Side-by-side speed and memory of `mofa bench` and llama.cpp's `llama-bench` on this machine.
#
# One random-weight model (tools/gen_fixture.py, one seed) is written three ways for us
# (hf-bf16, mlx-8bit, mlx-4bit, group 64) and three ways for llama.cpp (GGUF bf16, Q8_0, Q4_0,
# converted from the same hf-bf16 weights). Each pair runs, at the same thread count:
#   pp512 and tg128 (-r reps), tg128 after a 4096-token context (-r 1), and tg128 at 1 thread
#   (generation scaling 1 -> N threads), each under /usr/bin/time -v for the peak resident memory.
# Our main and depth runs add `mofa bench --profile` (one extra profiled pass, after the timed
# ones) to show where generation time goes. Prints Markdown tables: tokens/s and ratios; weight
# bandwidth against bench/membw.c (best of probes before the first pair and after each), peak RSS
# and thread scaling; our per-op time shares.
# Then paired rounds settle the generation ratios on a machine whose memory bandwidth drifts
# (a VM's can halve from one minute to the next, and a pair's runs are minutes apart): each round
# probes membw and runs tgN of both engines back to back, at N threads and at 1, the order
# alternating between rounds. Their table gives per-round medians: ours / llama.cpp, each
# engine's 1 -> N scaling, and our weight bandwidth against that round's own probe.
#
# llama.cpp is never part of this repository: it is cloned from the git bundle inside the npm
# package node-llama-cpp and built outside the repo (LLAMA_CPP_DIR).
#
# Usage: bench/side_by_side.sh [options]
#   -t, --threads N      threads for both engines (default 2)
#   --shape NAME         qwen2.5-0.5b (default), qwen3-4b, or tiny (a 2-layer dry run of the script)
#   -p, --n-prompt N     prompt tokens of the pp test (default 512)
#   -n, --n-gen N        generated tokens of the tg tests (default 128)
#   --reps N             repetitions of each pp/tg test, both engines (default 3)
#   --depth N            context depth of the long tg run, 0 to skip (default 4096)
#   --no-scaling         skip the 1-thread generation runs
#   --rounds N           paired generation rounds per pair (default 5; 0 skips them)
#   --float bf16|f16     float GGUF type paired with hf-bf16 (default bf16)
#   --kv f16|f32|q8_0    KV cache type of both engines (default f16, llama.cpp's default; ours
#                        is then run with --cache-type-k/-v f16; q8_0 is the same block layout
#                        in both, and llama.cpp's flash attention is left on auto)
#   --pure               quantize every GGUF tensor to Q4_0/Q8_0 (llama-quantize --pure): the
#                        output head is then as narrow as MLX's, instead of llama.cpp's Q6_K default
#   --pairs LIST         comma list of 4bit,8bit,bf16 (default all three)
#   --seed N             fixture seed (default 0)
#   --fresh              regenerate fixtures and GGUF files even when cached
#   --out FILE           also write the Markdown tables to FILE
#   --quiet-load L       before each run, wait (up to QUIET_WAIT_MAX seconds, default 900) until
#                        the 1-minute load average is below L. On a shared machine this matters more
#                        than nice: with autogroup scheduling every login session gets an equal CPU
#                        share whatever its niceness, and multi-threaded decode collapses when a
#                        worker thread is descheduled at a barrier.
# Environment:
#   BUILD          our CMake build directory holding `mofa` (default <repo>/build)
#   LLAMA_CPP_DIR  llama.cpp checkout (default <repo>/../llama.cpp; cloned if absent)
#   LLAMA_JOBS     parallel jobs for the llama.cpp build (default 1; it runs under nice -n 19)
#   BENCH_WORK     cache for fixtures, GGUF files and results (default ~/.cache/mofa-bench)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=/usr/bin/python3
THREADS=2
SHAPE=qwen2.5-0.5b
NP=512
NG=128
REPS=3
DEPTH=4096
SCALING=1
FLOAT=bf16
KV=f16
PURE=0
PAIRS=4bit,8bit,bf16
SEED=0
FRESH=0
ROUNDS=5
OUT_MD=""
QUIET_LOAD=""

while [[ $# -gt 0 ]]; do
  case "$1" in
    -t|--threads) THREADS=$2; shift 2 ;;
    --shape) SHAPE=$2; shift 2 ;;
    -p|--n-prompt) NP=$2; shift 2 ;;
    -n|--n-gen) NG=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --depth) DEPTH=$2; shift 2 ;;
    --no-scaling) SCALING=0; shift ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --float) FLOAT=$2; shift 2 ;;
    --kv) KV=$2; shift 2 ;;
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
  qwen2.5-0.5b|tiny) FAMILY=qwen2 ;;
  qwen3-4b) FAMILY=qwen3 ;;
  *) echo "side_by_side: --shape '$SHAPE' is not qwen2.5-0.5b, qwen3-4b or tiny" >&2; exit 2 ;;
esac
case "$FLOAT" in bf16|f16) ;; *) echo "side_by_side: --float '$FLOAT' is not bf16 or f16" >&2; exit 2 ;; esac
case "$KV" in f16|f32|q8_0) ;; *) echo "side_by_side: --kv '$KV' is not f16, f32 or q8_0" >&2; exit 2 ;; esac
LLAMA_KV=(-ctk "$KV" -ctv "$KV")
MOFA_KV=(--cache-type-k "$KV" --cache-type-v "$KV")
for opt in threads:THREADS n-prompt:NP n-gen:NG reps:REPS depth:DEPTH seed:SEED rounds:ROUNDS; do
  var=${opt#*:}
  [[ ${!var} =~ ^[0-9]+$ ]] || { echo "side_by_side: --${opt%%:*} '${!var}' is not a whole number" >&2; exit 2; }
done
[[ $THREADS -ge 1 && $REPS -ge 1 && $NP -ge 1 && $NG -ge 1 ]] ||
  { echo "side_by_side: --threads, --reps, --n-prompt and --n-gen must be at least 1" >&2; exit 2; }
for tool in jq cc; do
  command -v "$tool" >/dev/null || { echo "side_by_side: '$tool' is needed (apt-get install $tool)" >&2; exit 2; }
done

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

# GNU time gives both engines' peak resident set size the same way (Debian package `time`).
TIME_BIN=""
if [[ -x /usr/bin/time ]] && /usr/bin/time -v true 2>/dev/null; then
  TIME_BIN=/usr/bin/time
else
  log "/usr/bin/time (GNU time, apt-get install time) is missing: llama.cpp's RSS shows n/a, ours comes from mofa bench"
fi
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
    nice -n 19 ninja -C "$LLAMA_BUILD" -j "$LLAMA_JOBS" llama-bench llama-quantize >"$RESULTS/llama-build.log"
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
# shellcheck source=bench/bench_common.sh
source "$REPO/bench/bench_common.sh"

# run NAME ENGINE ARGS...: one benchmark process, stdout to $RESULTS/NAME.json, stderr to NAME.err,
# GNU time's report to NAME.time. A failed run leaves an empty or partial file and shows as n/a.
run() {
  local name=$1
  shift
  wait_quiet
  log "$name: $(basename "$1") ${*:2}"
  local timer=()
  [[ -n $TIME_BIN ]] && timer=("$TIME_BIN" -v -o "$RESULTS/$name.time")
  "${timer[@]}" "$@" >"$RESULTS/$name.json" 2>"$RESULTS/$name.err" ||
    log "$name failed (see $RESULTS/$name.err)"
}

llama_runs() {  # pair gguf
  local bench=$LLAMA_BUILD/bin/llama-bench
  run "llama-$1" "$bench" -m "$2" -p "$NP" -n "$NG" -t "$THREADS" -r "$REPS" "${LLAMA_KV[@]}" -o json
  if [[ $DEPTH -gt 0 ]]; then
    run "llama-$1-depth" "$bench" -m "$2" -p 0 -n "$NG" -d "$DEPTH" -t "$THREADS" -r 1 "${LLAMA_KV[@]}" -o json
  fi
  if [[ $SCALING == 1 && $THREADS -gt 1 ]]; then
    run "llama-$1-t1" "$bench" -m "$2" -p 0 -n "$NG" -t 1 -r "$REPS" "${LLAMA_KV[@]}" -o json
  fi
}

mofa_runs() {  # pair dir
  if [[ ! -x $MOFA ]]; then
    log "$MOFA not built; our columns show n/a"
    return
  fi
  run "mofa-$1" "$MOFA" bench --model "$2" -p "$NP" -n "$NG" -t "$THREADS" -r "$REPS" "${MOFA_KV[@]}" --profile --json
  if [[ $DEPTH -gt 0 ]]; then
    run "mofa-$1-depth" "$MOFA" bench --model "$2" -p 0 -n "$NG" --depth "$DEPTH" -t "$THREADS" -r 1 \
      "${MOFA_KV[@]}" --profile --json
  fi
  if [[ $SCALING == 1 && $THREADS -gt 1 ]]; then
    run "mofa-$1-t1" "$MOFA" bench --model "$2" -p 0 -n "$NG" -t 1 -r "$REPS" "${MOFA_KV[@]}" --json
  fi
}

# round_runs PAIR OURS_DIR GGUF: ROUNDS paired rounds (see the header).
round_runs() {
  local i eng t
  for ((i = 1; i <= ROUNDS; i++)); do
    "$WORK/membw" 1024 "$THREADS" 3 2>/dev/null | grep "threads=$THREADS " >"$RESULTS/round-$1-$i-membw.txt" || true
    local order=(mofa llama)
    ((i % 2 == 0)) && order=(llama mofa)
    local counts=("$THREADS")
    [[ $SCALING == 1 && $THREADS -gt 1 ]] && counts+=(1)
    for t in "${counts[@]}"; do
      for eng in "${order[@]}"; do
        if [[ $eng == mofa ]]; then
          [[ -x $MOFA ]] && run "round-$1-$i-mofa-t$t" "$MOFA" bench --model "$2" -p 0 -n "$NG" -t "$t" -r 1 \
            "${MOFA_KV[@]}" --json
        else
          run "round-$1-$i-llama-t$t" "$LLAMA_BUILD/bin/llama-bench" -m "$3" -p 0 -n "$NG" -t "$t" -r 1 \
            "${LLAMA_KV[@]}" -o json
        fi
      done
    done
  done
}

# median of the numbers on stdin, "min–max" after it with `range`; empty when there are none.
median() {
  sort -g | awk -v range="${1:-}" '{ v[NR] = $1 } END {
    if (NR == 0) exit
    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    if (range != "") printf "%.2f (%.2f–%.2f)", m, v[1], v[NR]; else printf "%.2f", m }'
}

# round_row LABEL PAIR OUR_BYTES: one line of the paired-rounds table.
round_row() {
  local i a b a1 b1 m ratios="" ours="" theirs="" pct="" our_sc="" ll_sc=""
  for ((i = 1; i <= ROUNDS; i++)); do
    a=$(mofa_json "round-$2-$i-mofa-t$THREADS" .tg_tps)
    b=$(llama_tps "round-$2-$i-llama-t$THREADS" 0 "$NG")
    a1=$(mofa_json "round-$2-$i-mofa-t1" .tg_tps)
    b1=$(llama_tps "round-$2-$i-llama-t1" 0 "$NG")
    m=$(awk '{ sub("gbps=", "", $4); print $4 }' "$RESULTS/round-$2-$i-membw.txt" 2>/dev/null)
    [[ -n $a ]] && ours+="$a"$'\n'
    [[ -n $b ]] && theirs+="$b"$'\n'
    [[ -n $a && -n $b ]] && ratios+="$(ratio "$a" "$b")"$'\n'
    [[ -n $a && -n $m && -n $3 ]] && pct+="$(awk -v t="$a" -v b="$3" -v m="$m" 'BEGIN { print 100 * t * b / 1e9 / m }')"$'\n'
    [[ -n $a && -n $a1 ]] && our_sc+="$(ratio "$a" "$a1")"$'\n'
    [[ -n $b && -n $b1 ]] && ll_sc+="$(ratio "$b" "$b1")"$'\n'
  done
  local cells=() v
  for v in "$ratios" "$ours" "$theirs" "$pct" "$our_sc" "$ll_sc"; do
    v=$(printf '%s' "$v" | grep . | median range)
    cells+=("${v:-n/a}")
  done
  echo "| $1 | ${cells[0]} | ${cells[1]} | ${cells[2]} | ${cells[3]} | ${cells[4]} | ${cells[5]} |"
}

# --- reading the results ------------------------------------------------------------------------
peak_rss_mib() {  # name -> MiB from GNU time, else (ours) from mofa bench's own VmHWM, else empty
  local file=$RESULTS/$1.time
  if [[ -s $file ]] && grep -q 'Maximum resident set size' "$file"; then
    awk -F: '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$file"
    return
  fi
  local bytes
  bytes=$(mofa_json "$1" .peak_rss_bytes)
  [[ -n $bytes ]] && awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1048576 }'
  return 0
}

mb() { [[ -n $1 ]] && awk -v b="$1" 'BEGIN { printf "%.0f", b / 1e6 }' || printf 'n/a'; }
fmt() { [[ -n $1 ]] && printf '%.1f' "$1" || printf 'n/a'; }
ratio() { [[ -n $1 && -n $2 ]] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }' || printf 'n/a'; }
gbps() {  # tokens/s, bytes/token, membw -> "X (Y%)"
  [[ -n $1 && -n $2 && -n $3 ]] || { printf 'n/a'; return; }
  awk -v t="$1" -v b="$2" -v m="$3" 'BEGIN { g = t * b / 1e9; printf "%.1f (%.0f%%)", g, 100 * g / m }'
}
rss_cell() {  # ours_mib llama_mib -> "A / B (ratio)"
  printf '%s / %s (%s)' "${1:-n/a}" "${2:-n/a}" "$(ratio "$1" "$2")"
}
# Weight GB/s while inside linear ops alone (bytes/token x tokens / time in linear ops): the
# kernels' own bandwidth, against the whole step's figure above.
linear_gbps() {  # name bytes membw
  local s
  s=$(mofa_json "$1" '[.profile.tg.ops[] | select(.op | startswith("linear_")) | .ms] | add / 1000')
  local n
  n=$(mofa_json "$1" .profile.tg.tokens)
  [[ -n $s && -n $n && -n $3 ]] || { printf 'n/a'; return; }
  awk -v s="$s" -v n="$n" -v b="$2" -v m="$3" 'BEGIN { g = n * b / s / 1e9; printf "%.1f (%.0f%%)", g, 100 * g / m }'
}
PROFILE_OPS=(linear_qkv linear_o linear_mlp linear_head attention norm rope elementwise embedding other)
profile_cells() {  # name phase(pp|tg) -> "| a% | b% | ..." over PROFILE_OPS, plus ms/token
  local name=$1 phase=$2 op share
  for op in "${PROFILE_OPS[@]}"; do
    share=$(mofa_json "$name" "[.profile.$phase.ops[] | select(.op == \"$op\") | .share][0]")
    [[ -n $share ]] && printf '| %.1f%% ' "$(awk -v s="$share" 'BEGIN { print 100 * s }')" || printf '| - '
  done
  local wall tokens
  wall=$(mofa_json "$name" ".profile.$phase.wall_ms")
  tokens=$(mofa_json "$name" ".profile.$phase.tokens")
  [[ -n $wall && -n $tokens ]] && printf '| %.3f |' "$(awk -v w="$wall" -v n="$tokens" 'BEGIN { print w / n }')" ||
    printf '| n/a |'
}

# --- main ---------------------------------------------------------------------------------------
ensure_llama
cc -O3 -march=native -pthread "$REPO/bench/membw.c" -o "$WORK/membw"
wait_quiet
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
# The read bandwidth is measured before the first pair and after every pair, and the best
# figure counts: on a VM it can change by half within minutes, and the ceiling a decode run is
# held to should be the best the machine gave during the run, not whatever the first probe saw.
measure_membw() {
  "$WORK/membw" 1024 "$THREADS" 5 >>"$RESULTS/membw.txt" 2>/dev/null
  MEMBW=$(membw_of "$THREADS" max)
  MEMBW1=$(membw_of 1 max)
  log "membw: $MEMBW GB/s at $THREADS threads, $MEMBW1 GB/s at 1 thread (best so far)"
}
membw_of() {  # threads, max|min -> GB/s over every probe of this run
  awk -v t="$2" -v n="threads=$1" '$2 == n { sub("gbps=", "", $4); v = $4 + 0
    if (!seen || (t == "max" && v > best) || (t == "min" && v < best)) best = v; seen = 1 }
    END { printf "%.2f", best }' "$RESULTS/membw.txt"
}
: >"$RESULTS/membw.txt"
measure_membw

declare -a SPEED_ROWS=() MEM_ROWS=() MEM_ARGS=() PROFILE_ROWS=() ROUND_ROWS=()
IFS=, read -r -a PAIR_LIST <<<"$PAIRS"
for pair in "${PAIR_LIST[@]}"; do
  case "$pair" in
    4bit) ours=$(fixture mlx-4bit); theirs=$(gguf_quant Q4_0); label="mlx 4-bit g64 vs Q4_0" ;;
    8bit) ours=$(fixture mlx-8bit); theirs=$(gguf_quant Q8_0); label="mlx 8-bit g64 vs Q8_0" ;;
    bf16) ours=$(fixture hf-bf16); theirs=$(gguf_float); label="hf bf16 vs GGUF $FLOAT" ;;
    *) echo "side_by_side: --pairs entry '$pair' is not 4bit, 8bit or bf16" >&2; exit 2 ;;
  esac
  [[ $PURE == 1 && $pair != bf16 ]] && label="$label (--pure)"
  mofa_runs "$pair" "$ours"
  llama_runs "$pair" "$theirs"
  round_runs "$pair" "$ours" "$theirs"
  measure_membw

  our_pp=$(mofa_json "mofa-$pair" .pp_tps)
  our_tg=$(mofa_json "mofa-$pair" .tg_tps)
  our_dtg=$(mofa_json "mofa-$pair-depth" .tg_tps)
  our_tg1=$(mofa_json "mofa-$pair-t1" .tg_tps)
  ll_pp=$(llama_tps "llama-$pair" "$NP" 0)
  ll_tg=$(llama_tps "llama-$pair" 0 "$NG")
  ll_dtg=$(llama_tps "llama-$pair-depth" 0 "$NG")
  ll_tg1=$(llama_tps "llama-$pair-t1" 0 "$NG")
  our_bytes=$("$PY" "$REPO/bench/weight_bytes.py" "$ours")
  ll_bytes=$("$PY" "$REPO/bench/weight_bytes.py" "$theirs")

  SPEED_ROWS+=("| $label | $(fmt "$our_pp") | $(fmt "$ll_pp") | $(ratio "$our_pp" "$ll_pp") | $(fmt "$our_tg") | $(fmt "$ll_tg") | $(ratio "$our_tg" "$ll_tg") | $(fmt "$our_dtg") | $(fmt "$ll_dtg") | $(ratio "$our_dtg" "$ll_dtg") |")
  # The bandwidth cells wait for the loop's end: every pair is held to the best membw of the run.
  MEM_ARGS+=("$label|$pair|$our_tg|$our_bytes|$ll_tg|$ll_bytes|$our_tg1|$ll_tg1")
  [[ $ROUNDS -gt 0 ]] && ROUND_ROWS+=("$(round_row "$label" "$pair" "$our_bytes")")
  PROFILE_ROWS+=("| $label, pp$NP $(profile_cells "mofa-$pair" pp)")
  PROFILE_ROWS+=("| $label, tg$NG $(profile_cells "mofa-$pair" tg)")
  if [[ $DEPTH -gt 0 ]]; then
    PROFILE_ROWS+=("| $label, tg$NG@$DEPTH $(profile_cells "mofa-$pair-depth" tg)")
  fi
done

for args in "${MEM_ARGS[@]}"; do
  IFS='|' read -r label pair our_tg our_bytes ll_tg ll_bytes our_tg1 ll_tg1 <<<"$args"
  MEM_ROWS+=("| $label | $(gbps "$our_tg" "$our_bytes" "$MEMBW") | $(linear_gbps "mofa-$pair" "$our_bytes" "$MEMBW") | $(gbps "$ll_tg" "$ll_bytes" "$MEMBW") | $(mb "$our_bytes") / $(mb "$ll_bytes") | $(rss_cell "$(peak_rss_mib "mofa-$pair")" "$(peak_rss_mib "llama-$pair")") | $(rss_cell "$(peak_rss_mib "mofa-$pair-depth")" "$(peak_rss_mib "llama-$pair-depth")") | $(fmt "$our_tg1") → $(fmt "$our_tg") (×$(ratio "$our_tg" "$our_tg1")) | $(fmt "$ll_tg1") → $(fmt "$ll_tg") (×$(ratio "$ll_tg" "$ll_tg1")) |")
done

CPU=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
LLAMA_COMMIT=$(git -C "$LLAMA_CPP_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
OUR_COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
DCOL="tg$NG@$DEPTH"
{
  echo "Shape $SHAPE (seed $SEED), $THREADS threads, $(date -u +%Y-%m-%d), CPU: $CPU ($(nproc) cores)."
  echo "mofa $OUR_COMMIT; llama.cpp $LLAMA_COMMIT (-r $REPS; depth run -r 1); KV cache $KV in both. membw read bandwidth, best of $(grep -c "threads=1 " "$RESULTS/membw.txt") probes (one before the first pair, one after each): $MEMBW GB/s at $THREADS threads (lowest $(membw_of "$THREADS" min)), $MEMBW1 GB/s at 1 thread (lowest $(membw_of 1 min))."
  echo "Load average (1/5/15 min) before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg); other work on the machine lowers every figure."
  echo
  echo "| pair | ours pp$NP | llama pp$NP | ratio | ours tg$NG | llama tg$NG | ratio | ours $DCOL | llama $DCOL | ratio |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${SPEED_ROWS[@]}"
  echo
  echo "tokens/s; ratio = ours / llama.cpp (>1 means we are faster)."
  echo
  echo "| pair | ours weight GB/s (% membw) | ours inside linear ops | llama weight GB/s (% membw) | MB read/token ours / llama | peak RSS MiB ours / llama, pp$NP+tg$NG | peak RSS MiB, $DCOL | ours tg$NG 1 → $THREADS threads | llama tg$NG 1 → $THREADS threads |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${MEM_ROWS[@]}"
  echo
  echo "weight GB/s = tg tokens/s × bytes read per token (bench/weight_bytes.py); 'inside linear ops' divides by"
  echo "the time the profiled tg pass spent in linear kernels only. Peak RSS: GNU time's maximum resident set size"
  echo "of the whole benchmark process (ours includes one extra profiled pass)."
  echo
  if [[ $ROUNDS -gt 0 ]]; then
    echo "Paired rounds: $ROUNDS per pair, each a membw probe, then tg$NG of both engines back to back at $THREADS threads$([[ $SCALING == 1 && $THREADS -gt 1 ]] && echo " and at 1"), the order alternating (-r 1 each). Medians over the rounds (min–max):"
    echo
    echo "| pair | ratio tg$NG ours / llama | ours t/s | llama t/s | ours weight bandwidth, % of the round's membw | ours 1 → $THREADS threads | llama 1 → $THREADS threads |"
    echo "|---|---|---|---|---|---|---|"
    printf '%s\n' "${ROUND_ROWS[@]}"
    echo
  fi
  echo "Where our time goes (mofa bench --profile: one profiled pass; share of its wall time):"
  echo
  printf '| run '; printf '| %s ' "${PROFILE_OPS[@]}"; echo '| ms/token |'
  printf '|---'; printf '|---%.0s' "${PROFILE_OPS[@]}"; echo '|---|'
  printf '%s\n' "${PROFILE_ROWS[@]}"
  echo
  echo "Raw JSON, stderr and GNU time reports: $RESULTS"
} | tee "$RESULTS/table.md"
[[ -n $OUT_MD ]] && cp "$RESULTS/table.md" "$OUT_MD"
exit 0
