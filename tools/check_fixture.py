#!/usr/bin/python3
"""Checks a fixture directory written by gen_fixture.py.

- every safetensors file: header size, JSON, 8-byte alignment, __metadata__.format, offsets that are
  contiguous, in bounds and match dtype x shape, file size = 8 + header + data;
- the index (when present): every tensor mapped to the file that holds it, total_size;
- mlx layouts: the dequantized weights (scale * code + bias, read back with the reference's reader)
  against the generator's values for --seed; the error per group must stay within |scale|/2 plus
  what storing scale and bias in the model dtype adds (|dscale| * code + |dbias|); values that MLX
  clips at the far end of a group (its zero-exact scale nudge) may be off by up to one |scale|.

Exit status 0 when every check passes. Prints one line per check.
"""

import argparse
import json
import os
import sys

import numpy as np

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS_DIR)
sys.path.insert(0, os.path.join(TOOLS_DIR, "reference"))

import gen_fixture  # noqa: E402
import qwen_forward  # noqa: E402

DTYPE_SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "U32": 4, "I32": 4, "I64": 8, "U8": 1, "I8": 1}


def check_file(path, expect_format):
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        hlen = int.from_bytes(f.read(8), "little")
        raw = f.read(hlen)
    assert (8 + hlen) % 8 == 0, f"{path}: header end {8 + hlen} not 8-byte aligned"
    assert raw[:1] == b"{", f"{path}: header does not start with '{{'"
    header = json.loads(raw.decode("utf-8"))
    meta = header.pop("__metadata__")
    assert meta.get("format") == expect_format, f"{path}: metadata {meta}, expected format {expect_format}"
    spans = sorted((info["data_offsets"][0], info["data_offsets"][1], name) for name, info in header.items())
    pos = 0
    for b, e, name in spans:
        info = header[name]
        assert b == pos, f"{path}: tensor {name} starts at {b}, expected {pos} (gap or overlap)"
        n = int(np.prod(info["shape"])) if info["shape"] else 1
        assert e - b == n * DTYPE_SIZES[info["dtype"]], f"{path}: tensor {name} size mismatch"
        pos = e
    assert 8 + hlen + pos == size, f"{path}: file size {size} != 8 + {hlen} + {pos}"
    return set(header), pos


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--seed", type=int, default=0, help="the seed the fixture was generated with")
    args = ap.parse_args(argv)

    with open(os.path.join(args.dir, "config.json")) as f:
        cfg = json.load(f)
    quant = cfg.get("quantization")
    fmt = "mlx" if quant else "pt"
    files = sorted(p for p in os.listdir(args.dir) if p.endswith(".safetensors"))
    names_by_file = {}
    total = 0
    for fname in files:
        names, nbytes = check_file(os.path.join(args.dir, fname), fmt)
        names_by_file[fname] = names
        total += nbytes
    print(f"ok  {len(files)} safetensors file(s) parse, {total} data bytes")
    index_path = os.path.join(args.dir, "model.safetensors.index.json")
    if os.path.exists(index_path):
        with open(index_path) as f:
            index = json.load(f)
        wm = index["weight_map"]
        for fname, names in names_by_file.items():
            for n in names:
                assert wm.get(n) == fname, f"index maps {n} to {wm.get(n)}, it is in {fname}"
        assert len(wm) == sum(len(v) for v in names_by_file.values()), "index lists tensors no file holds"
        assert index["metadata"]["total_size"] == total, f"total_size {index['metadata']['total_size']} != {total}"
        print(f"ok  index maps {len(wm)} tensors, total_size {total}")

    if not quant:
        return 0
    # Rebuild the generator's plan from config.json and compare dequantized weights.
    cfg = gen_fixture.fixture_glm.standard_config(cfg)
    shape = {k: cfg[k] for k in ("hidden_size", "num_hidden_layers", "num_attention_heads",
                                 "num_key_value_heads", "intermediate_size", "vocab_size")}
    shape["head_dim"] = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    plan = gen_fixture.tensor_plan(cfg["model_type"], shape, cfg["tie_word_embeddings"])
    raw = qwen_forward.load_raw_tensors(args.dir)
    bits, gs = quant["bits"], quant["group_size"]
    fmt_float = {"BF16": "bf16", "F16": "f16", "F32": "f32"}
    worst = 0.0
    worst_in = 0.0
    worst_clip = 0.0
    n_quant = n_clipped = n_values = 0
    for name, shp, kind, fan_in in plan:
        base = name[: -len(".weight")]
        w32 = gen_fixture.draw_tensor(name, shp, kind, fan_in, args.seed, 1.0)
        if base + ".scales" not in raw:
            dt, arr = raw[name]
            _, stored = gen_fixture.encode_float(w32, fmt_float[dt])
            got = qwen_forward.to_float64(dt, arr)
            assert np.array_equal(got, stored.astype(np.float64)), f"{name}: float tensor differs from generator"
            continue
        n_quant += 1
        sdt, s = raw[base + ".scales"]
        _, b = raw[base + ".biases"]
        _, wsrc = gen_fixture.encode_float(w32, fmt_float[sdt])  # mlx-lm casts before quantizing
        scales = qwen_forward.to_float64(sdt, s)
        biases = qwen_forward.to_float64(sdt, b)
        deq = qwen_forward.dequantize(raw[name][1], scales, biases, bits, gs)
        rows, cols = shp
        err = np.abs(deq - wsrc.astype(np.float64)).reshape(rows, cols // gs, gs).max(-1)
        # Exact f32 quantization parameters, to separate the quantizer's error from storage rounding.
        _, s32, b32 = gen_fixture.mlx_affine_quantize(wsrc, gs, bits)
        codes = qwen_forward.unpack_codes(raw[name][1], bits, cols).reshape(rows, cols // gs, gs)
        w3 = wsrc.reshape(rows, cols // gs, gs).astype(np.float64)
        s3, b3 = s32[..., None].astype(np.float64), b32[..., None].astype(np.float64)
        err32 = np.abs(s3 * codes + b3 - w3) / np.abs(s3)
        # MLX nudges the scale so 0.0 is exact; the far end of a group's range can then fall up to
        # about one step outside [0, 2^bits-1] and clip. Inside the range the error is <= |scale|/2.
        unclipped = np.rint((w3 - b3) / s3)
        inside = (unclipped >= 0) & (unclipped <= (1 << bits) - 1)
        in_ratio = float(err32[inside].max())
        clip_ratio = float(err32[~inside].max()) if (~inside).any() else 0.0
        n_clipped += int((~inside).sum())
        n_values += codes.size
        bound = np.abs(s32) / 2 + np.abs(scales - s32) * ((1 << bits) - 1) + np.abs(biases - b32)
        bound = np.maximum(bound, np.abs(s32) * clip_ratio + np.abs(scales - s32) * ((1 << bits) - 1)
                           + np.abs(biases - b32))
        ratio = float((err / bound).max())
        worst = max(worst, ratio)
        worst_in = max(worst_in, in_ratio)
        worst_clip = max(worst_clip, clip_ratio)
        assert in_ratio <= 0.5 + 1e-4, f"{base}: in-range error {in_ratio:.4f} x |scale| exceeds 1/2"
        assert clip_ratio <= 1.0 + 1e-4, f"{base}: clipped error {clip_ratio:.4f} x |scale| exceeds 1"
        assert ratio <= 1.0 + 1e-4, f"{base}: stored-parameter error {ratio:.4f} x bound exceeds 1"
    print(f"ok  {n_quant} quantized tensors ({bits}-bit, group {gs}): with f32 parameters max error "
          f"{worst_in:.4f} x |scale| in range, {worst_clip:.4f} x |scale| on {n_clipped} of {n_values} values "
          f"clipped at a range end; with stored parameters {worst:.4f} x the bound")
    return 0


if __name__ == "__main__":
    sys.exit(main())
