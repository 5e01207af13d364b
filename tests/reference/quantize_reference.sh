#!/usr/bin/env bash
# `mofa quantize` against the independent quantizer of tools/gen_fixture.py (which follows
# mlx.core.quantize): quantizing the hf-bf16 fixture must give exactly the tensors of the mlx
# fixture of the same seed, byte for byte, for 4 and 8 bits and every group size.
set -euo pipefail
src="${MOFA_SOURCE_DIR:?}"
bin="${MOFA_BINARY_DIR:?}"
py=/usr/bin/python3
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for family in qwen2 llama; do
  "$py" "$src/tools/gen_fixture.py" --family "$family" --layout hf-bf16 --size tiny --seed 11 \
    --out "$work/$family-bf16" >/dev/null
  for bits in 4 8; do
    for gs in 32 64; do
      "$py" "$src/tools/gen_fixture.py" --family "$family" --layout "mlx-${bits}bit" --size tiny \
        --seed 11 --group-size "$gs" --out "$work/$family-ref-$bits-$gs" >/dev/null
      "$bin/mofa" quantize --model "$work/$family-bf16" --out "$work/$family-ours-$bits-$gs" \
        --bits "$bits" --group-size "$gs" 2>/dev/null
      "$py" - "$work/$family-ref-$bits-$gs" "$work/$family-ours-$bits-$gs" <<'PY'
import json, os, struct, sys

def tensors(d):
    out = {}
    for f in sorted(os.listdir(d)):
        if not f.endswith(".safetensors"):
            continue
        raw = open(os.path.join(d, f), "rb").read()
        n = struct.unpack("<Q", raw[:8])[0]
        header = json.loads(raw[8:8 + n])
        for name, info in header.items():
            if name == "__metadata__":
                continue
            b, e = info["data_offsets"]
            out[name] = (info["dtype"], info["shape"], raw[8 + n + b:8 + n + e])
    return out

ref, ours = tensors(sys.argv[1]), tensors(sys.argv[2])
assert sorted(ref) == sorted(ours), (sorted(set(ref) ^ set(ours)))[:10]
for name in ref:
    assert ref[name][:2] == ours[name][:2], (name, ref[name][:2], ours[name][:2])
    assert ref[name][2] == ours[name][2], f"{name}: bytes differ"
cfg_ref = json.load(open(os.path.join(sys.argv[1], "config.json")))
cfg_ours = json.load(open(os.path.join(sys.argv[2], "config.json")))
assert cfg_ref["quantization"] == cfg_ours["quantization"], (cfg_ref["quantization"], cfg_ours["quantization"])
print(f"{os.path.basename(sys.argv[2])}: {len(ref)} tensors identical")
PY
    done
  done
done
