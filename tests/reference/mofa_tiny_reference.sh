#!/usr/bin/env bash
# mofa-tiny, the built-in model: our engine's held-out perplexity equals the training framework's
# (PyTorch, recorded in training.json) within 1%, the fast mode stays within 1% of the exact one,
# the committed 4-bit copy is exactly what `mofa quantize` writes, and the model talks.
set -euo pipefail
src="${MOFA_SOURCE_DIR:?}"
bin="${MOFA_BINARY_DIR:?}"
py=/usr/bin/python3
tiny="$src/models/mofa-tiny"
tiny4="$src/models/mofa-tiny-4bit"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

ppl() {  # model dir, extra flags
  "$bin/mofa" perplexity --model "$1" --file "$tiny/heldout.txt" --ctx 128 --json "${@:2}" |
    "$py" -c 'import json,sys; print(json.load(sys.stdin)["perplexity"])'
}
within() {  # a b tolerance label
  "$py" - "$@" <<'PY'
import sys
a, b, tol, label = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
rel = abs(a - b) / b
print(f"{label}: {a:.4f} vs {b:.4f} ({100 * rel:.3f}%)")
sys.exit(0 if rel <= tol else 1)
PY
}

torch_ppl=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["heldout_perplexity"])' "$tiny/training.json")
unigram=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["unigram_perplexity"])' "$tiny/training.json")
exact=$(ppl "$tiny" --exact)
fast=$(ppl "$tiny")
within "$exact" "$torch_ppl" 0.01 "f32 exact vs PyTorch"
within "$fast" "$exact" 0.01 "f32 fast vs exact"
half_kv=$(ppl "$tiny" --exact --cache-type-k f16 --cache-type-v f16)
within "$half_kv" "$exact" 0.001 "f16 KV cache vs f32"
q8_kv=$(ppl "$tiny" --cache-type-k q8_0 --cache-type-v q8_0)
within "$q8_kv" "$fast" 0.01 "q8_0 KV cache vs f16"
exact4=$(ppl "$tiny4" --exact)
fast4=$(ppl "$tiny4")
within "$fast4" "$exact4" 0.01 "4-bit fast vs exact"
"$py" -c "import sys; e,u=$exact4,$unigram; print(f'4-bit {e:.2f} vs unigram {u:.1f}'); sys.exit(0 if e < u / 3 else 1)"

# The committed 4-bit copy is our quantizer's output, byte for byte.
"$bin/mofa" quantize --model "$tiny" --out "$work/q4" --bits 4 --group-size 64 2>/dev/null
cmp "$work/q4/model.safetensors" "$tiny4/model.safetensors"
cmp "$work/q4/config.json" "$tiny4/config.json"

# It answers in the corpus's language: mostly letters and spaces, several words.
answer=$("$bin/mofa" run --model "$tiny" --prompt "And God said unto Moses," --temp 0 -n 40)
echo "answer: $answer"
"$py" - "$answer" <<'PY'
import sys
a = sys.argv[1]
letters = sum(c.isalpha() or c.isspace() for c in a)
assert len(a.split()) >= 8 and letters >= 0.85 * len(a), a
PY
# The same greedy answer with a half-precision KV cache; an unknown cache type is refused.
# (q8_0, a coarser cache, is checked above by perplexity: a greedy answer may fork from it.)
answer16=$("$bin/mofa" run --model "$tiny" --prompt "And God said unto Moses," --temp 0 -n 40 \
  --cache-type-k f16 --cache-type-v f16)
[ "$answer16" = "$answer" ] || { echo "f16 KV cache answered: $answer16"; exit 1; }
if "$bin/mofa" run --model "$tiny" --prompt x -n 1 --cache-type-k q4_0 2>"$work/err"; then
  echo "an unknown cache type was accepted"; exit 1
fi
grep -q "cache-type-k" "$work/err"
# The same answer on 1 and 2 threads (the pool splits every op differently); a thread count past
# the limit, or below 0, is refused before anything loads.
answer1=$("$bin/mofa" run --model "$tiny" --prompt "And God said unto Moses," --temp 0 -n 40 -t 1)
answer2=$("$bin/mofa" run --model "$tiny" --prompt "And God said unto Moses," --temp 0 -n 40 -t 2)
[ "$answer1" = "$answer2" ] || { echo "1 thread: $answer1; 2 threads: $answer2"; exit 1; }
for t in 100000 -3; do
  if "$bin/mofa" run --model "$tiny" --prompt x -n 1 --threads "$t" 2>"$work/err"; then
    echo "--threads $t was accepted"; exit 1
  fi
  grep -q -- "--threads" "$work/err" || { cat "$work/err"; exit 1; }
done
