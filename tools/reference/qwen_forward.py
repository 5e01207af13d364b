#!/usr/bin/python3
"""Independent reference forward pass for Qwen2 / Qwen3 / Qwen3-MoE / Llama / Mistral / Mixtral
checkpoints (PyTorch, float64 by default).

Follows Hugging Face transformers' modeling_qwen2.py / modeling_qwen3.py / modeling_llama.py /
modeling_mistral.py semantics (Mistral: sliding window on every layer when sliding_window is set;
Llama/Mistral: biases only where the checkpoint has them, i.e. attention_bias / mlp_bias):
RMSNorm (x * rsqrt(mean(x^2) + eps) * weight), rotate_half RoPE (default / linear / dynamic / yarn /
llama3 inv_freq), grouped-query attention by repeating K/V heads, causal softmax attention scaled by
1/sqrt(head_dim), optional Qwen2 sliding window on layers >= max_window_layers, SiLU-gated MLP,
q/k/v biases (Qwen2 or attention_bias), per-head q_norm / k_norm before RoPE (Qwen3), tied or untied
output head. Mixture-of-experts MLPs follow modeling_mixtral.py / modeling_qwen3_moe.py: router
logits, softmax over all experts, top-k, renormalised to sum 1 (Mixtral always, Qwen3-MoE when
norm_topk_prob), the sum of the chosen SwiGLU experts weighted by those probabilities; Qwen3-MoE
layers in mlp_only_layers or off decoder_sparse_step stay dense. Experts are read from the HF
per-expert tensors or from mlx-lm's stacked switch_mlp tensors [n_experts, out, in].

It reads model directories itself: safetensors (single file or sharded with an index) parsed with
numpy, F32 / F16 / BF16 / F64 tensors, and MLX affine-quantized layers (uint32 `weight` holding a
little-endian bit stream of codes, `scales`, `biases`), dequantized as value = scale * code + bias.

Usage:
  /usr/bin/python3 tools/reference/qwen_forward.py --model DIR --ids 1,2,3 [--greedy 32]
      [--stop-eos] [--all-logits] [--dtype float64|float32] --out out.json
"""

import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import forward_driver  # noqa: E402

# ---------------------------------------------------------------------------------------------
# safetensors reading

_NP_DTYPES = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "BF16": "<u2",
    "U32": "<u4",
    "I32": "<i4",
    "I64": "<i8",
    "U8": "u1",
    "I8": "i1",
    "U16": "<u2",
    "I16": "<i2",
    "BOOL": "u1",
}


def read_safetensors(path):
    """Returns {name: (dtype_str, np.ndarray raw view)} and the metadata dict of one file."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: {len(blob)} bytes, too short for a safetensors header")
    hlen = int.from_bytes(blob[:8], "little")
    if 8 + hlen > len(blob):
        raise ValueError(f"{path}: header length {hlen} exceeds file size {len(blob)}")
    header = json.loads(blob[8 : 8 + hlen].decode("utf-8"))
    data = memoryview(blob)[8 + hlen :]
    meta = header.pop("__metadata__", {}) or {}
    out = {}
    for name, info in header.items():
        dt = info["dtype"]
        if dt not in _NP_DTYPES:
            raise ValueError(f"{path}: tensor '{name}' has unsupported dtype {dt}")
        b, e = info["data_offsets"]
        if not (0 <= b <= e <= len(data)):
            raise ValueError(f"{path}: tensor '{name}' offsets [{b}, {e}] exceed data size {len(data)}")
        npdt = np.dtype(_NP_DTYPES[dt])
        shape = tuple(info["shape"])
        n = int(np.prod(shape)) if shape else 1
        if n * npdt.itemsize != e - b:
            raise ValueError(f"{path}: tensor '{name}' shape {list(shape)} {dt} needs {n * npdt.itemsize} "
                             f"bytes, offsets give {e - b}")
        out[name] = (dt, np.frombuffer(data[b:e], dtype=npdt).reshape(shape))
    return out, meta


def to_float64(dt, arr):
    if dt == "BF16":
        return (arr.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return arr.astype(np.float64)


def load_raw_tensors(model_dir):
    index = os.path.join(model_dir, "model.safetensors.index.json")
    files = []
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    elif os.path.exists(os.path.join(model_dir, "model.safetensors")):
        files = ["model.safetensors"]
    else:
        files = sorted(p for p in os.listdir(model_dir) if p.endswith(".safetensors"))
    if not files:
        raise FileNotFoundError(f"{model_dir}: no safetensors weights")
    tensors = {}
    for fname in files:
        t, _ = read_safetensors(os.path.join(model_dir, fname))
        for k, v in t.items():
            if k in tensors:
                raise ValueError(f"{model_dir}: tensor '{k}' appears in more than one shard")
            tensors[k] = v
    return tensors


# ---------------------------------------------------------------------------------------------
# MLX affine dequantization


def unpack_codes(words, bits, cols):
    """Codes of every row: code k lives at bit offset k*bits of the row's little-endian stream."""
    rows = words.shape[0]
    if 32 % bits == 0:
        # Whole codes per word: code j of word i is bits [j*bits, (j+1)*bits) of that word.
        shifts = np.arange(0, 32, bits, dtype=np.uint32)
        codes = (words[:, :, None] >> shifts) & np.uint32((1 << bits) - 1)
        return codes.reshape(rows, -1)[:, :cols].astype(np.float64)
    w = words.astype(np.uint64)
    # Pair each word with its successor so a code straddling a word boundary is one shift away.
    w_next = np.concatenate([w[:, 1:], np.zeros((rows, 1), dtype=np.uint64)], axis=1)
    pairs = w | (w_next << np.uint64(32))
    offs = np.arange(cols, dtype=np.uint64) * np.uint64(bits)
    word_idx = (offs // np.uint64(32)).astype(np.int64)
    shift = offs % np.uint64(32)
    mask = np.uint64((1 << bits) - 1)
    return ((pairs[:, word_idx] >> shift[None, :]) & mask).astype(np.float64)


def dequantize(wq, scales, biases, bits, group_size):
    rows, n_words = wq.shape
    cols = n_words * 32 // bits
    if scales.shape != (rows, cols // group_size) or biases.shape != scales.shape:
        raise ValueError(f"scales {scales.shape} / biases {biases.shape} do not fit weight {wq.shape} "
                         f"with bits {bits}, group_size {group_size}")
    out = np.empty((rows, cols), dtype=np.float64)
    step = max(1, (1 << 21) // max(cols, 1))
    for r0 in range(0, rows, step):
        codes = unpack_codes(wq[r0 : r0 + step], bits, cols)
        codes = codes.reshape(codes.shape[0], cols // group_size, group_size)
        s = scales[r0 : r0 + step, :, None]
        b = biases[r0 : r0 + step, :, None]
        out[r0 : r0 + step] = (s * codes + b).reshape(-1, cols)
    return out


def load_weights(model_dir, config):
    """Returns {hf_name: float64 ndarray} with MLX-quantized layers dequantized."""
    raw = load_raw_tensors(model_dir)
    qcfg = config.get("quantization") or config.get("quantization_config") or {}
    weights = {}
    for name, (dt, arr) in raw.items():
        if name.endswith(".scales") or name.endswith(".biases"):
            continue
        if name.endswith(".weight") and name[: -len(".weight")] + ".scales" in raw:
            base = name[: -len(".weight")]
            params = qcfg.get(base) if isinstance(qcfg.get(base), dict) else qcfg
            bits = int(params.get("bits", 4))
            gs = int(params.get("group_size", 64))
            mode = params.get("mode", "affine")
            if mode != "affine":
                raise ValueError(f"{base}: quantization mode {mode} is not supported (affine only)")
            if dt != "U32":
                raise ValueError(f"{name}: quantized weight must be U32, got {dt}")
            sdt, s = raw[base + ".scales"]
            bdt, b = raw[base + ".biases"]
            s, b = to_float64(sdt, s), to_float64(bdt, b)
            if arr.ndim == 3:
                # Stacked experts [E, rows, words]: each expert row is an ordinary quantized row.
                e, r = arr.shape[:2]
                w = dequantize(arr.reshape(e * r, -1), s.reshape(e * r, -1), b.reshape(e * r, -1), bits, gs)
                weights[name] = w.reshape(e, r, -1)
            else:
                weights[name] = dequantize(arr, s, b, bits, gs)
        else:
            weights[name] = to_float64(dt, arr)
    return weights


# ---------------------------------------------------------------------------------------------
# RoPE


def rope_inv_freq(config, head_dim, seq_len, dtype):
    """inv_freq and attention scaling as transformers' ROPE_INIT_FUNCTIONS compute them."""
    base = float(config.get("rope_theta", 10000.0))
    partial = float(config.get("partial_rotary_factor", 1.0))
    dim = int(head_dim * partial)
    rs = config.get("rope_scaling") or {}
    rtype = rs.get("rope_type", rs.get("type", "default")) if rs else "default"
    max_pos = int(config.get("max_position_embeddings", 2048))
    ar = torch.arange(0, dim, 2, dtype=torch.int64).to(dtype) / dim

    def default():
        return 1.0 / (base ** ar)

    attn = 1.0
    if rtype == "default":
        inv = default()
    elif rtype == "linear":
        inv = default() / float(rs["factor"])
    elif rtype == "dynamic":
        factor = float(rs["factor"])
        # HF grows the base only once the sequence exceeds max_position_embeddings.
        if seq_len > max_pos:
            b = base * ((factor * seq_len / max_pos) - (factor - 1)) ** (dim / (dim - 2))
        else:
            b = base
        inv = 1.0 / (b ** ar)
    elif rtype == "yarn":
        # Current transformers: an explicit factor wins; max_position_embeddings /
        # original_max_position_embeddings is only the fallback (4.4x-4.5x overrode factor with it).
        orig = int(rs.get("original_max_position_embeddings") or max_pos)
        factor = float(rs["factor"]) if rs.get("factor") is not None else max_pos / orig

        def get_mscale(scale, mscale=1.0):
            return 1.0 if scale <= 1 else 0.1 * mscale * math.log(scale) + 1.0

        attn = rs.get("attention_factor")
        if attn is None:
            ms, msa = rs.get("mscale"), rs.get("mscale_all_dim")
            attn = get_mscale(factor, ms) / get_mscale(factor, msa) if ms and msa else get_mscale(factor)
        beta_fast = rs.get("beta_fast") or 32
        beta_slow = rs.get("beta_slow") or 1

        def corr_dim(n_rot):
            return (dim * math.log(orig / (n_rot * 2 * math.pi))) / (2 * math.log(base))

        low, high = corr_dim(beta_fast), corr_dim(beta_slow)
        if rs.get("truncate", True):
            low, high = math.floor(low), math.ceil(high)
        low, high = max(low, 0), min(high, dim - 1)
        if low == high:
            high += 0.001
        ramp = torch.clamp((torch.arange(dim // 2, dtype=dtype) - low) / (high - low), 0, 1)
        pos_freqs = base ** ar
        extra_factor = 1 - ramp
        inv = (1.0 / (factor * pos_freqs)) * (1 - extra_factor) + (1.0 / pos_freqs) * extra_factor
    elif rtype == "llama3":
        inv = default()
        factor = float(rs["factor"])
        lo, hi = float(rs["low_freq_factor"]), float(rs["high_freq_factor"])
        old = float(rs["original_max_position_embeddings"])
        lo_wl, hi_wl = old / lo, old / hi
        wl = 2 * math.pi / inv
        scaled = torch.where(wl > lo_wl, inv / factor, inv)
        smooth = (old / wl - lo) / (hi - lo)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wl >= hi_wl) & (wl <= lo_wl)
        inv = torch.where(medium, smoothed, scaled)
    else:
        raise ValueError(f"rope_scaling type '{rtype}' is not supported")
    return inv.to(dtype), float(attn), dim


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


# ---------------------------------------------------------------------------------------------
# Model


class QwenReference:
    def __init__(self, model_dir, dtype=torch.float64):
        with open(os.path.join(model_dir, "config.json")) as f:
            self.config = json.load(f)
        c = self.config
        mt = c.get("model_type")
        if mt not in ("qwen2", "qwen3", "qwen3_moe", "llama", "mistral", "mixtral"):
            raise ValueError(f"{model_dir}: model_type {mt} is not qwen2/qwen3/qwen3_moe/llama/mistral/mixtral")
        self.family = mt
        self.dtype = dtype
        self.hidden = int(c["hidden_size"])
        self.n_layers = int(c["num_hidden_layers"])
        self.n_heads = int(c["num_attention_heads"])
        self.n_kv = int(c.get("num_key_value_heads") or self.n_heads)
        self.head_dim = int(c.get("head_dim") or self.hidden // self.n_heads)
        self.eps = float(c.get("rms_norm_eps", 1e-6))
        self.tie = bool(c.get("tie_word_embeddings", False))
        if mt in ("qwen2", "qwen3", "qwen3_moe"):
            self.sliding = c.get("sliding_window") if c.get("use_sliding_window", False) else None
            self.max_window_layers = int(c.get("max_window_layers") or self.n_layers)
        else:
            # transformers' Mistral applies sliding_window (when not null) to every layer; Llama
            # configs carry no window.
            self.sliding = c.get("sliding_window") if mt in ("mistral", "mixtral") else None
            self.max_window_layers = 0
        self.moe_layers = set()
        if mt == "mixtral":
            self.n_experts = int(c["num_local_experts"])
            self.top_k = int(c["num_experts_per_tok"])
            self.norm_topk = True
            self.moe_layers = set(range(self.n_layers))
        elif mt == "qwen3_moe":
            self.n_experts = int(c.get("num_experts", 128))
            self.top_k = int(c.get("num_experts_per_tok", 8))
            self.norm_topk = bool(c.get("norm_topk_prob", False))
            step = int(c.get("decoder_sparse_step", 1))
            dense = set(c.get("mlp_only_layers") or [])
            self.moe_layers = {i for i in range(self.n_layers)
                               if i not in dense and self.n_experts > 0 and (i + 1) % step == 0}
        # Smallest gap, over every routed token, between the k-th and (k+1)-th router logit: a gap
        # near f32 rounding (~1e-6 here) would let a float32 engine pick a different expert.
        self.router_min_gap = math.inf
        if c.get("hidden_act", "silu") != "silu":
            raise ValueError(f"hidden_act {c.get('hidden_act')} is not supported")
        w = load_weights(model_dir, c)
        self.w = {k: torch.from_numpy(np.ascontiguousarray(v)).to(dtype) for k, v in w.items()}
        if "lm_head.weight" in self.w and not self.tie:
            self.head = self.w["lm_head.weight"]
        else:
            self.head = self.w["model.embed_tokens.weight"]
        eos = c.get("eos_token_id")
        self.eos = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        gen_path = os.path.join(model_dir, "generation_config.json")
        if os.path.exists(gen_path):
            with open(gen_path) as f:
                g = json.load(f).get("eos_token_id")
            self.eos |= set(g if isinstance(g, list) else [g] if g is not None else [])

    def rms_norm(self, x, weight):
        var = x.pow(2).mean(-1, keepdim=True)
        return weight * (x * torch.rsqrt(var + self.eps))

    def linear(self, x, name, bias_ok=True):
        y = x @ self.w[name + ".weight"].T
        if bias_ok and name + ".bias" in self.w:
            y = y + self.w[name + ".bias"]
        return y

    def forward(self, ids, all_positions=False, cache=None):
        """Logits [T, vocab] (or [1, vocab] for the last position) of ids following the cache.

        cache is None (the sequence starts at position 0) or a list that holds each layer's
        post-RoPE keys and values [kv_heads, past, head_dim]; it is extended in place. A cached
        step computes exactly what a full recompute would, except for rope_scaling "dynamic" past
        max_position_embeddings, where transformers recomputes the frequencies (use no cache).
        """
        past = cache[0][0].shape[1] if cache else 0
        T = len(ids)
        x = self.w["model.embed_tokens.weight"][torch.tensor(ids, dtype=torch.long)]
        inv, attn_scale, rot = rope_inv_freq(self.config, self.head_dim, past + T, self.dtype)
        pos = torch.arange(past, past + T, dtype=self.dtype)
        freqs = pos[:, None] * inv[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos() * attn_scale, emb.sin() * attn_scale
        qi = torch.arange(past, past + T)[:, None]
        ki = torch.arange(past + T)[None, :]
        causal = ki <= qi
        rep = self.n_heads // self.n_kv
        hd = self.head_dim
        for i in range(self.n_layers):
            p = f"model.layers.{i}."
            h = self.rms_norm(x, self.w[p + "input_layernorm.weight"])
            q = self.linear(h, p + "self_attn.q_proj").view(T, self.n_heads, hd)
            k = self.linear(h, p + "self_attn.k_proj").view(T, self.n_kv, hd)
            v = self.linear(h, p + "self_attn.v_proj").view(T, self.n_kv, hd)
            if p + "self_attn.q_norm.weight" in self.w:
                q = self.rms_norm(q, self.w[p + "self_attn.q_norm.weight"])
                k = self.rms_norm(k, self.w[p + "self_attn.k_norm.weight"])
            q = q.transpose(0, 1)  # [H, T, hd]
            k = k.transpose(0, 1)
            v = v.transpose(0, 1)
            qr, qp = q[..., :rot], q[..., rot:]
            kr, kp = k[..., :rot], k[..., rot:]
            qr = qr * cos + rotate_half(qr) * sin
            kr = kr * cos + rotate_half(kr) * sin
            q = torch.cat((qr, qp), dim=-1)
            k = torch.cat((kr, kp), dim=-1)
            if cache is not None:
                if len(cache) <= i:
                    cache.append((k, v))
                else:
                    k = torch.cat((cache[i][0], k), dim=1)
                    v = torch.cat((cache[i][1], v), dim=1)
                    cache[i] = (k, v)
            k = k.repeat_interleave(rep, dim=0)
            v = v.repeat_interleave(rep, dim=0)
            scores = (q @ k.transpose(1, 2)) * (hd ** -0.5)
            allowed = causal
            if self.sliding is not None and i >= self.max_window_layers:
                allowed = allowed & (ki > qi - int(self.sliding))
            scores = scores.masked_fill(~allowed, float("-inf"))
            probs = torch.softmax(scores, dim=-1)
            a = (probs @ v).transpose(0, 1).reshape(T, self.n_heads * hd)
            x = x + self.linear(a, p + "self_attn.o_proj")
            h = self.rms_norm(x, self.w[p + "post_attention_layernorm.weight"])
            if i in self.moe_layers:
                x = x + self.moe(h, p)
                continue
            g = self.linear(h, p + "mlp.gate_proj")
            u = self.linear(h, p + "mlp.up_proj")
            x = x + self.linear(torch.nn.functional.silu(g) * u, p + "mlp.down_proj")
        x = self.rms_norm(x, self.w["model.norm.weight"])
        if not all_positions:
            x = x[-1:]
        return x @ self.head.T

    def expert_weight(self, block, proj, e):
        hf = {"gate_proj": "w1", "down_proj": "w2", "up_proj": "w3"}[proj] if self.family == "mixtral" else proj
        name = f"{block}experts.{e}.{hf}.weight"
        if name in self.w:
            return self.w[name]
        return self.w[f"{block}switch_mlp.{proj}.weight"][e]

    def moe(self, h, p):
        block = p + ("block_sparse_moe." if self.family == "mixtral" else "mlp.")
        logits = h @ self.w[block + "gate.weight"].T
        probs = torch.softmax(logits, dim=-1)
        top_w, top_i = torch.topk(probs, self.top_k, dim=-1)
        if self.top_k < self.n_experts:
            ordered = torch.sort(logits, dim=-1, descending=True).values
            gap = float((ordered[:, self.top_k - 1] - ordered[:, self.top_k]).min())
            self.router_min_gap = min(self.router_min_gap, gap)
        if self.norm_topk:
            top_w = top_w / top_w.sum(dim=-1, keepdim=True)
        out = torch.zeros_like(h)
        for e in range(self.n_experts):
            hit = top_i == e  # [T, k]
            rows = hit.any(dim=-1).nonzero().flatten()
            if rows.numel() == 0:
                continue
            w = (top_w * hit).sum(dim=-1)[rows]
            xe = h[rows]
            g = xe @ self.expert_weight(block, "gate_proj", e).T
            u = xe @ self.expert_weight(block, "up_proj", e).T
            y = (torch.nn.functional.silu(g) * u) @ self.expert_weight(block, "down_proj", e).T
            out[rows] += w[:, None] * y
        return out

    def uses_dynamic_rope(self):
        rs = self.config.get("rope_scaling") or {}
        return rs.get("rope_type", rs.get("type")) == "dynamic"


def main(argv=None):
    ap = forward_driver.parser(__doc__)
    ap.add_argument("--stop-eos", action="store_true", help="stop the continuation at an eos id")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--no-cache", action="store_true",
                    help="recompute the whole sequence for every greedy step instead of caching K/V")
    args = ap.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    run = forward_driver.Run(args, "qwen_forward")
    model = QwenReference(args.model, run.dtype)
    run.check_vocab(model.head.shape[0])
    with torch.no_grad():
        cache = None if (args.no_cache or model.uses_dynamic_rope()) else []
        logits = model.forward(run.ids, all_positions=args.all_logits, cache=cache)
        run.prompt_logits(model.family, logits)

        def next_logits(seq):
            if cache is None:
                return model.forward(seq)[-1]
            return model.forward([seq[-1]], cache=cache)[-1]

        run.greedy(logits[-1], next_logits, stop=model.eos if args.stop_eos else ())
        if model.moe_layers:
            run.result["router_min_gap"] = model.router_min_gap
    return run.write()


if __name__ == "__main__":
    sys.exit(main())
