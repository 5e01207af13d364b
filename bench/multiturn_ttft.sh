#!/usr/bin/env bash
# Multi-turn chat time to first token: does the server reuse the KV-cache prefix of the previous
# turn? Starts mofa-server on a model, runs a TURNS-turn chat through /v1/chat/completions
# (bench/multiturn_ttft.mjs: streaming, temperature 0, each turn adds the previous answer and a
# ~200-token user message) and prints TTFT, prompt and cached tokens per turn. Then restarts the
# server and sends the last turn's exact prompt to it fresh (nothing cached), for comparison.
#
# Usage: bench/multiturn_ttft.sh [MODEL_DIR] [options]
#   MODEL_DIR            default: a random-weight Qwen2.5-0.5B-shape MLX 4-bit fixture (generated
#                        once into BENCH_WORK, shared with bench/side_by_side.sh)
#   -t, --threads N      server compute threads (default 2)
#   --turns N            turns of the chat (default 10)
#   --words N            words per user message (default 150, about 200 tokens)
#   --max-tokens N       tokens generated per turn (default 32)
# Environment: BUILD (default <repo>/build), BENCH_WORK (default ~/.cache/mofa-bench),
#   PORT (default 18474)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$REPO/build}
WORK=${BENCH_WORK:-${XDG_CACHE_HOME:-$HOME/.cache}/mofa-bench}
PORT=${PORT:-18474}
MODEL=""
THREADS=2
TURNS=10
WORDS=150
MAX_TOKENS=32

while [[ $# -gt 0 ]]; do
  case "$1" in
    -t|--threads) THREADS=$2; shift 2 ;;
    --turns) TURNS=$2; shift 2 ;;
    --words) WORDS=$2; shift 2 ;;
    --max-tokens) MAX_TOKENS=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "multiturn_ttft: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) MODEL=$1; shift ;;
  esac
done
for opt in threads:THREADS turns:TURNS words:WORDS max-tokens:MAX_TOKENS; do
  var=${opt#*:}
  [[ ${!var} =~ ^[1-9][0-9]*$ ]] || { echo "multiturn_ttft: --${opt%%:*} '${!var}' is not a positive whole number" >&2; exit 2; }
done
[[ -x $BUILD/mofa-server ]] || { echo "multiturn_ttft: $BUILD/mofa-server is not built (set BUILD)" >&2; exit 2; }
command -v node >/dev/null || { echo "multiturn_ttft: node is needed" >&2; exit 2; }

if [[ -z $MODEL ]]; then
  MODEL=$WORK/qwen2.5-0.5b-seed0/mlx-4bit
  if [[ ! -f $MODEL/config.json ]]; then
    echo "[multiturn_ttft] generating $MODEL" >&2
    /usr/bin/python3 "$REPO/tools/gen_fixture.py" --family qwen2 --size qwen2.5-0.5b --layout mlx-4bit \
      --group-size 64 --seed 0 --out "$MODEL" >/dev/null
  fi
fi
[[ -f $MODEL/config.json ]] || { echo "multiturn_ttft: $MODEL has no config.json" >&2; exit 2; }

TMP=$(mktemp -d)
PID=""
stop_server() {
  if [[ -n $PID ]]; then
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=""
  fi
}
trap 'stop_server; rm -rf "$TMP"' EXIT

start_server() {  # log file
  "$BUILD/mofa-server" --model "$MODEL" --port "$PORT" --threads "$THREADS" --parallel 1 --no-webui \
    >"$1" 2>&1 &
  PID=$!
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "multiturn_ttft: mofa-server did not come up on port $PORT (log: $1)" >&2
  cat "$1" >&2
  exit 1
}

URL=http://127.0.0.1:$PORT
echo "model $MODEL, $THREADS threads, $TURNS turns of ~$WORDS words, $MAX_TOKENS tokens each;" \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u '+%F %H:%M UTC')," \
  "commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown), load $(cut -d' ' -f1 /proc/loadavg)"
start_server "$TMP/server1.log"
node "$REPO/bench/multiturn_ttft.mjs" --url "$URL" --turns "$TURNS" --words "$WORDS" \
  --max-tokens "$MAX_TOKENS" --save-answers "$TMP/answers.json" | tee "$TMP/chat.txt"
stop_server

echo "fresh server, the turn-$TURNS prompt alone:"
start_server "$TMP/server2.log"
node "$REPO/bench/multiturn_ttft.mjs" --url "$URL" --turns "$TURNS" --words "$WORDS" \
  --max-tokens "$MAX_TOKENS" --only-turn "$TURNS" --answers "$TMP/answers.json" | tee "$TMP/fresh.txt"
stop_server

chat_json=$(grep '^json ' "$TMP/chat.txt" | cut -c6-)
fresh_json=$(grep '^json ' "$TMP/fresh.txt" | cut -c6-)
jq -rn --argjson c "$chat_json" --argjson f "$fresh_json" '
  def ms: if . == null then "n/a" else (. * 10 | round / 10 | tostring) + " ms" end;
  ($c.turns[0]) as $t1 | ($c.turns[-1]) as $tn | ($f.turns[0]) as $fr |
  "summary: TTFT turn 1 \($t1.ttft_ms | ms) (\($t1.prompt_tokens) prompt tokens), turn \($tn.turn) \($tn.ttft_ms | ms) " +
  "(\($tn.prompt_tokens) prompt tokens, \($tn.cached_tokens) cached), ratio turn \($tn.turn)/turn 1 " +
  (if $t1.ttft_ms and $tn.ttft_ms then ($tn.ttft_ms / $t1.ttft_ms * 100 | round / 100 | tostring) else "n/a" end) +
  "; same prompt on a fresh server \($fr.ttft_ms | ms) (\($fr.cached_tokens) cached)"'
