#!/usr/bin/python3
"""Independent reference forward pass for MiniCPM4 ("minicpm") and MiniCPM-SALA ("minicpm_sala")
checkpoints (PyTorch, float64 by default), following the released modeling_minicpm.py /
modeling_minicpm_sala.py:

  embeddings * scale_emb; per layer h = x + attn(rms_norm(x)) * scale_depth / sqrt(layers), then
  h + mlp(rms_norm(h)) * the same factor (SwiGLU MLP); final RMSNorm; logits =
  lm_head(hidden / (hidden_size / dim_model_base)).

  minicpm:       softmax attention with GQA, scale 1/sqrt(head_dim), rotate_half RoPE; rope_scaling
                 "longrope" as MiniCPMLongRoPE (tables built for max_position_embeddings: long
                 factors iff max_position_embeddings > original_max_position_embeddings; cos and
                 sin times sqrt(1 + ln(max / orig) / ln(orig))).
  minicpm_sala:  per mixer_types entry either
                 "minicpm4": softmax attention with GQA, RoPE only if attn_use_rope, output times
                   sigmoid(o_gate(x)) if attn_use_output_gate;
                 "lightning-attn": q/k/v (lightning_nkv K/V heads), per-head RMSNorm of q and k
                   (qk_norm), RoPE (lightning_use_rope), simple gated linear attention with decay
                   g_h = -ALiBi slope_h, evaluated here in its parallel form
                   o_t = scale * sum_{s<=t} exp(g_h (t - s)) (q_t . k_s) v_s
                   (the recurrent form the engine runs is the same sum), RMSNorm of the whole
                   output (use_output_norm), times sigmoid(z_proj(x)) (use_output_gate), o_proj.

minicpm_sala's minicpm4 layers switch to InfLLM-v2 block-sparse attention (infllm_v2.py) in a
forward whose keys reach sparse_config.dense_len. The reference runs a prompt as one forward and
then one forward per generated token, so a prompt row is sparse iff the prompt reaches dense_len
and a generated row at position p iff p + 1 does; this script recomputes the whole sequence each
step but keeps that per-row rule (and each row's forward length, which the block choice depends
on). MiniCPM4 ("minicpm") has InfLLM-v2 only under flash_attention_2 and a sparse_config in its
config.json; this reference refuses such a sequence instead of approximating it.

Weights are read with qwen_forward.py's safetensors reader (F32 / BF16 / MLX affine-quantized).
Every greedy step recomputes the whole sequence (no cache), so the continuation does not depend on
any state carried between steps.

Usage:
  /usr/bin/python3 tools/reference/minicpm_forward.py --model DIR --ids 1,2,3 [--greedy 32]
      [--all-logits] [--dtype float64|float32] [--cuda-stage1-alignment] --out out.json
"""

import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import forward_driver  # noqa: E402
from infllm_v2 import SparseConfig, infllm_v2_attention  # noqa: E402
from qwen_forward import load_weights, rotate_half  # noqa: E402


def alibi_slopes(n):
    def pow2(n):
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start**i for i in range(n)]

    if math.log2(n).is_integer():
        return pow2(n)
    closest = 2 ** math.floor(math.log2(n))
    return pow2(closest) + alibi_slopes(2 * closest)[0::2][: n - closest]


class MiniCPMReference:
    def __init__(self, model_dir, dtype=torch.float64, cuda_alignment=False):
        with open(os.path.join(model_dir, "config.json")) as f:
            self.config = c = json.load(f)
        self.family = c.get("model_type")
        if self.family not in ("minicpm", "minicpm_sala"):
            raise ValueError(f"{model_dir}: model_type {self.family} is not minicpm/minicpm_sala")
        if c.get("hidden_act", "silu") != "silu":
            raise ValueError(f"hidden_act {c.get('hidden_act')} is not supported")
        self.dtype = dtype
        self.cuda_alignment = cuda_alignment  # see infllm_v2.py
        self.hidden = int(c["hidden_size"])
        self.n_layers = int(c["num_hidden_layers"])
        self.n_heads = int(c["num_attention_heads"])
        self.n_kv = int(c.get("num_key_value_heads") or self.n_heads)
        self.head_dim = self.hidden // self.n_heads  # MiniCPMAttention derives it
        self.lt_head_dim = int(c.get("head_dim") or self.head_dim)
        self.eps = float(c.get("rms_norm_eps", 1e-6))
        self.scale_emb = float(c.get("scale_emb", 1))
        self.res_scale = float(c.get("scale_depth", 1)) / math.sqrt(self.n_layers)
        self.logit_div = self.hidden / float(c.get("dim_model_base", 1))
        self.tie = bool(c.get("tie_word_embeddings", self.family == "minicpm"))
        sc = c.get("sparse_config") or None
        self.sparse = SparseConfig(sc) if sc else None
        if self.family == "minicpm_sala":
            self.mixers = list(c["mixer_types"])
            self.attn_rope = bool(c.get("attn_use_rope", True))
            self.attn_gate = bool(c.get("attn_use_output_gate", False))
            self.lt_rope = bool(c.get("lightning_use_rope", True))
            self.lt_qk_norm = bool(c.get("qk_norm", True))
            self.lt_out_norm = bool(c.get("use_output_norm", False))
            self.lt_out_gate = bool(c.get("use_output_gate", False))
            self.lt_nkv = int(c.get("lightning_nkv") or self.n_kv)
            kind = c.get("lightning_scale", "1/sqrt(d)")
            d = self.lt_head_dim
            self.lt_scale = d**-0.5 if kind == "1/sqrt(d)" else 1.0 / d if kind == "1/d" else 1.0
            self.decay = -torch.tensor(alibi_slopes(self.n_heads), dtype=torch.float64).to(dtype)
            if self.sparse and self.sparse.use_nope and self.attn_rope:
                raise ValueError("sparse_config.use_nope with attn_use_rope is not modelled here")
        else:
            self.mixers = ["minicpm4"] * self.n_layers
            self.attn_rope, self.attn_gate = True, False
        w = load_weights(model_dir, c)
        self.w = {k: torch.from_numpy(np.ascontiguousarray(v)).to(dtype) for k, v in w.items()}
        self.head = self.w["model.embed_tokens.weight"] if self.tie else self.w["lm_head.weight"]
        eos = c.get("eos_token_id")
        self.eos = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])

    def cos_sin(self, dim, positions):
        """MiniCPMRotaryEmbedding / MiniCPMLongRoPE tables at `positions`."""
        c = self.config
        base = float(c.get("rope_theta", 10000.0))
        inv = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
        t = torch.tensor(positions, dtype=torch.float64)
        rs = c.get("rope_scaling") or None
        scaling = 1.0
        if rs is None:
            freqs = torch.outer(t, inv)
        else:
            rtype = rs.get("rope_type", rs.get("type"))
            if rtype != "longrope":
                raise ValueError(f"rope_scaling {rtype} is not supported here")
            max_pos = int(c["max_position_embeddings"])
            orig = int(rs["original_max_position_embeddings"])
            ext = torch.tensor(rs["long_factor"] if max_pos > orig else rs["short_factor"],
                               dtype=torch.float64)
            scaling = math.sqrt(1 + math.log(max_pos / orig) / math.log(orig))
            freqs = torch.outer(t, 1.0 / ext) * inv
        emb = torch.cat((freqs, freqs), dim=-1)
        return (emb.cos() * scaling).to(self.dtype), (emb.sin() * scaling).to(self.dtype)

    def rms_norm(self, x, weight):
        var = x.pow(2).mean(-1, keepdim=True)
        return weight * (x * torch.rsqrt(var + self.eps))

    def linear(self, x, name):
        return x @ self.w[name + ".weight"].T

    def softmax_attention(self, h, p, n, call_lens):
        a = p + "self_attn."
        d = self.head_dim
        q = self.linear(h, a + "q_proj").view(n, self.n_heads, d).transpose(0, 1)
        k = self.linear(h, a + "k_proj").view(n, self.n_kv, d).transpose(0, 1)
        v = self.linear(h, a + "v_proj").view(n, self.n_kv, d).transpose(0, 1)
        if self.attn_rope:
            cos, sin = self.cos_sin(d, list(range(n)))
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
        rep = self.n_heads // self.n_kv
        k_kv, v_kv = k, v  # [n_kv, n, d]
        k = k.repeat_interleave(rep, dim=0)
        v = v.repeat_interleave(rep, dim=0)
        scores = (q @ k.transpose(1, 2)) / math.sqrt(d)
        mask = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
        scores = scores.masked_fill(mask, float("-inf"))
        o = torch.softmax(scores, dim=-1) @ v  # [H, n, d]
        sparse_rows = [i for i in range(n) if self.family == "minicpm_sala" and self.sparse
                       and call_lens[i] >= self.sparse.dense_len]
        if sparse_rows:
            idx = torch.tensor(sparse_rows)
            o_sparse, _ = infllm_v2_attention(
                q[:, idx], k_kv, v_kv, sparse_rows, [call_lens[i] for i in sparse_rows],
                self.sparse, 1.0 / math.sqrt(d), prefill_len=call_lens[0],
                cuda_alignment=self.cuda_alignment)
            o[:, idx] = o_sparse
        o = o.transpose(0, 1).reshape(n, -1)
        if self.attn_gate:
            o = o * torch.sigmoid(self.linear(h, a + "o_gate"))
        return self.linear(o, a + "o_proj")

    def lightning_attention(self, h, p, n):
        a = p + "self_attn."
        d = self.lt_head_dim
        q = self.linear(h, a + "q_proj").view(n, self.n_heads, d).transpose(0, 1)
        k = self.linear(h, a + "k_proj").view(n, self.lt_nkv, d).transpose(0, 1)
        v = self.linear(h, a + "v_proj").view(n, self.lt_nkv, d).transpose(0, 1)
        if self.lt_qk_norm:
            q = self.rms_norm(q, self.w[a + "q_norm.weight"])
            k = self.rms_norm(k, self.w[a + "k_norm.weight"])
        if self.lt_rope:
            cos, sin = self.cos_sin(d, list(range(n)))
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
        rep = self.n_heads // self.lt_nkv
        k = k.repeat_interleave(rep, dim=0)
        v = v.repeat_interleave(rep, dim=0)
        t = torch.arange(n, dtype=self.dtype)
        dist = t[:, None] - t[None, :]  # t - s
        causal = dist >= 0
        weight = torch.exp(self.decay[:, None, None] * dist.clamp(min=0)) * causal
        o = ((q @ k.transpose(1, 2)) * weight * self.lt_scale) @ v
        o = o.transpose(0, 1).reshape(n, -1)
        if self.lt_out_norm:
            o = self.rms_norm(o, self.w[a + "o_norm.weight"])
        if self.lt_out_gate:
            o = o * torch.sigmoid(self.linear(h, a + "z_proj"))
        return self.linear(o, a + "o_proj")

    def forward(self, ids, all_positions=False, prompt_len=None):
        """Logits of `ids`, of which the first prompt_len (default all) were one forward."""
        n = len(ids)
        prompt_len = n if prompt_len is None else prompt_len
        call_lens = [prompt_len if i < prompt_len else i + 1 for i in range(n)]
        if self.family == "minicpm" and self.sparse and max(call_lens) >= self.sparse.dense_len:
            raise ValueError(f"{n} tokens reach sparse_config.dense_len {self.sparse.dense_len}: "
                             "MiniCPM4 attends sparsely there, which this script does not model")
        x = self.w["model.embed_tokens.weight"][torch.tensor(ids)] * self.scale_emb
        for i, mixer in enumerate(self.mixers):
            p = f"model.layers.{i}."
            h = self.rms_norm(x, self.w[p + "input_layernorm.weight"])
            if mixer == "minicpm4":
                y = self.softmax_attention(h, p, n, call_lens)
            elif mixer in ("lightning", "lightning_attn", "lightning-attn"):
                y = self.lightning_attention(h, p, n)
            else:
                raise ValueError(f"mixer {mixer} is not supported")
            x = x + y * self.res_scale
            h = self.rms_norm(x, self.w[p + "post_attention_layernorm.weight"])
            g = self.linear(h, p + "mlp.gate_proj")
            u = self.linear(h, p + "mlp.up_proj")
            x = x + self.linear(torch.nn.functional.silu(g) * u, p + "mlp.down_proj") * self.res_scale
        x = self.rms_norm(x, self.w["model.norm.weight"])
        if not all_positions:
            x = x[-1:]
        return (x / self.logit_div) @ self.head.T


def main(argv=None):
    ap = forward_driver.parser(__doc__)
    ap.add_argument("--cuda-stage1-alignment", action="store_true",
                    help="minicpm_sala sparse prompts: mask compressed keys as infllmv2_cuda_impl's "
                         "stage-1 kernel does (see tools/reference/infllm_v2.py)")
    args = ap.parse_args(argv)
    run = forward_driver.Run(args, "minicpm_forward")
    model = MiniCPMReference(args.model, run.dtype, args.cuda_stage1_alignment)
    run.check_vocab(model.head.shape[0])
    with torch.no_grad():
        logits = model.forward(run.ids, all_positions=args.all_logits)
        run.prompt_logits(model.family, logits)
        # Each step's 8 largest logits too: the decode steps are checked by value.
        run.greedy(logits[-1], lambda seq: model.forward(seq, prompt_len=len(run.ids))[-1], top=8)
    return run.write()


if __name__ == "__main__":
    sys.exit(main())
