#!/usr/bin/python3
"""Independent reference forward pass for GLM-4 checkpoints (PyTorch, float64 by default), in the
three published layouts:

  chatglm  THUDM's modeling_chatglm.py (glm-4-9b-chat, ChatGLM2/3): Megatron field names
           (num_layers, ffn_hidden_size, kv_channels, multi_query_group_num, padded_vocab_size,
           layernorm_epsilon, seq_length, rope_ratio); fused query_key_value Linear (bias when
           add_qkv_bias) whose output splits into [queries | keys | values]; RotaryEmbedding of
           dim kv_channels // 2 with base 10000 * rope_ratio applied to the first kv_channels // 2
           features of each head, rotating adjacent pairs (x[2i], x[2i+1]) by angle pos * theta_i
           (original_rope=false: the two halves of that slice instead, GPT-NeoX style); core
           attention softmax(q k^T / sqrt(kv_channels)) v with grouped K/V; dense (no bias);
           MLP dense_h_to_4h -> chunk(2) -> silu(first) * second -> dense_4h_to_h; RMSNorm
           x * rsqrt(mean(x^2) + eps) * w before attention and MLP; final_layernorm;
           output_layer.
  glm      transformers' modeling_glm.py (glm-4-9b-chat-hf): q/k/v_proj (biases when
           attention_bias, default true), partial_rotary_factor (default 0.5) of each head rotated
           with rotate_half_llm (interleaved pairs) and cos/sin repeat_interleave'd, gate_up_proj
           split in two halves [gate | up], down_proj.
  glm4     transformers' modeling_glm4.py (GLM-4-0414): glm plus post_self_attn_layernorm on the
           attention output and post_mlp_layernorm on the MLP output, each before its residual add.

Weights come from tools/reference/qwen_forward.py's safetensors reader (MLX affine layers
dequantized as scale * code + bias), the one shared piece; the model itself is written here.

Usage:
  /usr/bin/python3 tools/reference/glm_forward.py --model DIR --ids 1,2,3 [--greedy 32]
      [--all-logits] [--dtype float64|float32] --out out.json
"""

import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import forward_driver  # noqa: E402
from qwen_forward import load_weights  # noqa: E402


class GlmReference:
    def __init__(self, model_dir, dtype=torch.float64):
        with open(os.path.join(model_dir, "config.json")) as f:
            c = json.load(f)
        self.config = c
        mt = c.get("model_type")
        if mt not in ("chatglm", "glm", "glm4"):
            raise ValueError(f"{model_dir}: model_type {mt} is not chatglm/glm/glm4")
        self.family = mt
        self.dtype = dtype
        self.hidden = int(c["hidden_size"])
        self.n_heads = int(c["num_attention_heads"])
        if mt == "chatglm":
            for key, want in (("rmsnorm", True), ("post_layer_norm", True),
                              ("apply_residual_connection_post_layernorm", False), ("add_bias_linear", False)):
                if bool(c.get(key, want)) != want:
                    raise ValueError(f"chatglm {key}={c.get(key)} is not supported")
            self.n_layers = int(c["num_layers"])
            self.head_dim = int(c.get("kv_channels") or self.hidden // self.n_heads)
            self.n_kv = int(c["multi_query_group_num"]) if c.get("multi_query_attention") else self.n_heads
            self.eps = float(c.get("layernorm_epsilon", 1e-5))
            self.rot = self.head_dim // 2
            base = 10000.0 * float(c.get("rope_ratio", 1.0))
            self.interleaved = bool(c.get("original_rope", True))
            self.sandwich = False
        else:
            if c.get("hidden_act", "silu") != "silu":
                raise ValueError(f"hidden_act {c.get('hidden_act')} is not supported")
            self.n_layers = int(c["num_hidden_layers"])
            self.head_dim = int(c.get("head_dim") or self.hidden // self.n_heads)
            self.n_kv = int(c.get("num_key_value_heads") or self.n_heads)
            self.eps = float(c.get("rms_norm_eps", 1e-5))
            self.rot = int(self.head_dim * float(c.get("partial_rotary_factor", 0.5)))
            base = float(c.get("rope_theta", 10000.0))
            self.interleaved = True
            self.sandwich = mt == "glm4"
        if c.get("rope_scaling"):
            raise ValueError("rope_scaling is not supported by this reference")
        # theta_i = base^(-2i / rot), i < rot / 2 (both codes compute it this way).
        self.inv_freq = 1.0 / (base ** (torch.arange(0, self.rot, 2, dtype=torch.float64) / self.rot))
        w = load_weights(model_dir, c)
        self.w = {k: torch.from_numpy(np.ascontiguousarray(v)).to(dtype) for k, v in w.items()}
        if mt == "chatglm":
            self.embed = self.w["transformer.embedding.word_embeddings.weight"]
            self.head = self.w["transformer.output_layer.weight"]
            self.final_norm = self.w["transformer.encoder.final_layernorm.weight"]
        else:
            self.embed = self.w["model.embed_tokens.weight"]
            tie = bool(c.get("tie_word_embeddings", False))
            self.head = self.embed if tie else self.w["lm_head.weight"]
            self.final_norm = self.w["model.norm.weight"]

    def rms_norm(self, x, weight):
        return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))

    def linear(self, x, name):
        y = x @ self.w[name + ".weight"].T
        if name + ".bias" in self.w:
            y = y + self.w[name + ".bias"]
        return y

    def rope(self, x, pos):
        """x [H, T, hd]: the first `rot` features of each head rotated by position."""
        ang = (pos[:, None] * self.inv_freq[None, :]).to(self.dtype)  # [T, rot/2]
        cos, sin = ang.cos(), ang.sin()
        xr, xp = x[..., : self.rot], x[..., self.rot:]
        if self.interleaved:
            a, b = xr[..., 0::2], xr[..., 1::2]
            out = torch.stack((a * cos - b * sin, b * cos + a * sin), dim=-1).flatten(-2)
        else:
            h = self.rot // 2
            a, b = xr[..., :h], xr[..., h:]
            out = torch.cat((a * cos - b * sin, b * cos + a * sin), dim=-1)
        return torch.cat((out, xp), dim=-1)

    def attention(self, i, h, pos, cache):
        T = h.shape[0]
        hd, nq, nkv = self.head_dim, self.n_heads, self.n_kv
        if self.family == "chatglm":
            p = f"transformer.encoder.layers.{i}.self_attention."
            qkv = self.linear(h, p + "query_key_value")
            q, k, v = qkv.split([nq * hd, nkv * hd, nkv * hd], dim=-1)
        else:
            p = f"model.layers.{i}.self_attn."
            q, k, v = (self.linear(h, p + n) for n in ("q_proj", "k_proj", "v_proj"))
        q = self.rope(q.view(T, nq, hd).transpose(0, 1), pos)
        k = self.rope(k.view(T, nkv, hd).transpose(0, 1), pos)
        v = v.view(T, nkv, hd).transpose(0, 1)
        if len(cache) <= i:
            cache.append((k, v))
        else:
            k = torch.cat((cache[i][0], k), dim=1)
            v = torch.cat((cache[i][1], v), dim=1)
            cache[i] = (k, v)
        rep = nq // nkv
        k = k.repeat_interleave(rep, dim=0)
        v = v.repeat_interleave(rep, dim=0)
        past = k.shape[1] - T
        qi = torch.arange(past, past + T)[:, None]
        ki = torch.arange(past + T)[None, :]
        scores = (q @ k.transpose(1, 2)) / (hd ** 0.5)
        scores = scores.masked_fill(~(ki <= qi), float("-inf"))
        a = (torch.softmax(scores, dim=-1) @ v).transpose(0, 1).reshape(T, nq * hd)
        return self.linear(a, p + ("dense" if self.family == "chatglm" else "o_proj"))

    def mlp(self, i, h):
        if self.family == "chatglm":
            p = f"transformer.encoder.layers.{i}.mlp."
            gate, up = self.linear(h, p + "dense_h_to_4h").chunk(2, dim=-1)
            return self.linear(torch.nn.functional.silu(gate) * up, p + "dense_4h_to_h")
        p = f"model.layers.{i}.mlp."
        gate, up = self.linear(h, p + "gate_up_proj").chunk(2, dim=-1)
        return self.linear(torch.nn.functional.silu(gate) * up, p + "down_proj")

    def forward(self, ids, cache, all_positions=False):
        past = cache[0][0].shape[1] if cache else 0
        T = len(ids)
        pos = torch.arange(past, past + T, dtype=torch.float64)
        x = self.embed[torch.tensor(ids, dtype=torch.long)]
        for i in range(self.n_layers):
            p = (f"transformer.encoder.layers.{i}." if self.family == "chatglm" else f"model.layers.{i}.")
            a = self.attention(i, self.rms_norm(x, self.w[p + "input_layernorm.weight"]), pos, cache)
            if self.sandwich:
                a = self.rms_norm(a, self.w[p + "post_self_attn_layernorm.weight"])
            x = x + a
            m = self.mlp(i, self.rms_norm(x, self.w[p + "post_attention_layernorm.weight"]))
            if self.sandwich:
                m = self.rms_norm(m, self.w[p + "post_mlp_layernorm.weight"])
            x = x + m
        x = self.rms_norm(x, self.final_norm)
        if not all_positions:
            x = x[-1:]
        return x @ self.head.T


def main(argv=None):
    args = forward_driver.parser(__doc__).parse_args(argv)
    run = forward_driver.Run(args, "glm_forward")
    model = GlmReference(args.model, run.dtype)
    run.check_vocab(model.head.shape[0])
    with torch.no_grad():
        cache = []
        logits = model.forward(run.ids, cache, all_positions=args.all_logits)
        run.prompt_logits(model.family, logits)
        run.greedy(logits[-1], lambda seq: model.forward([seq[-1]], cache)[-1])
    return run.write()


if __name__ == "__main__":
    sys.exit(main())
