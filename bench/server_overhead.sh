#!/usr/bin/env bash
# Starts mofa-server on a model directory and measures what the HTTP layer adds to the engine's
# own timings (bench/server_overhead.mjs). Default model: a random-weight Qwen2.5-0.5B-shape
# MLX 4-bit fixture (cached in BENCH_WORK).
# Usage: bench/server_overhead.sh [MODEL_DIR] [-t THREADS] [--reps N] [--tokens N]
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$REPO/build}
WORK=${BENCH_WORK:-$HOME/.cache/mofa-bench}
MODEL=""
THREADS=2
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    -t|--threads) THREADS=$2; shift 2 ;;
    --reps|--tokens) EXTRA+=("$1" "$2"); shift 2 ;;
    *) MODEL=$1; shift ;;
  esac
done
if [ -z "$MODEL" ]; then
  MODEL="$WORK/qwen2.5-0.5b-mlx-4bit"
  [ -f "$MODEL/config.json" ] || /usr/bin/python3 "$REPO/tools/gen_fixture.py" --family qwen2 \
    --size qwen2.5-0.5b --layout mlx-4bit --seed 0 --out "$MODEL" >/dev/null
fi
PORT=${PORT:-18473}
"$BUILD/mofa-server" --model "$MODEL" --port "$PORT" --threads "$THREADS" >/dev/null 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
  sleep 0.1
done
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), threads $THREADS, $(date -u +%F), commit $(git -C "$REPO" rev-parse --short HEAD)"
node "$REPO/bench/server_overhead.mjs" --url "http://127.0.0.1:$PORT" --model "$(basename "$MODEL")" "${EXTRA[@]}"
