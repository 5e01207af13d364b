"""GLM-4 family pieces of tools/gen_fixture.py: config.json, generation_config.json, tensor plan
and tokenizer files of the three published GLM-4 layouts.

  chatglm  THUDM/glm-4-9b-chat (and MLX conversions that keep its names): transformer.* tensors,
           fused query_key_value (+ bias) and dense_h_to_4h, Megatron config field names,
           tiktoken-style tokenizer.model read by tokenization_chatglm.py.
  glm      THUDM/glm-4-9b-chat-hf (transformers' GlmForCausalLM): q/k/v_proj with biases, fused
           gate_up_proj, tokenizer.json.
  glm4     THUDM/GLM-4-9B-0414 (Glm4ForCausalLM): glm plus post_self_attn_layernorm and
           post_mlp_layernorm.

No GLM tokenizer is reachable from this machine, so the fixtures carry a real byte-level BPE
vocabulary of the same kind: Llama 3's 128000 tiktoken ranks (GLM-4's tokenizer is a tiktoken
BPE with the very same pre-tokenizer regex), followed by GLM-4's 14 special tokens in GLM's order
([gMASK], <sop>, <|user|>, ...) at ids 128000.., where GLM-4 has them at 151329... Token ids
in config.json (eos, pad) name the same tokens at their fixture ids.
"""

import base64
import copy
import json
import os

FAMILIES = ("chatglm", "glm", "glm4")

# GLM-4's special tokens in tokenization_chatglm.py's order; ids follow the mergeable ranks.
SPECIAL_TOKENS = ["<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>", "<|system|>",
                  "<|user|>", "<|assistant|>", "<|observation|>", "<|begin_of_image|>",
                  "<|end_of_image|>", "<|begin_of_video|>", "<|end_of_video|>"]
N_RANKS = 128000  # mergeable ranks of the Llama 3 vocabulary the fixtures use
# 128014 tokens padded to a multiple of 128, as GLM-4 pads its 151343 tokens to 151552.
TINY_VOCAB = 128128


def special_id(token):
    return N_RANKS + SPECIAL_TOKENS.index(token)


# glm-4-9b-chat's eos ids 151329, 151336, 151338 are <|endoftext|>, <|user|>, <|observation|>.
EOS_IDS = [special_id("<|endoftext|>"), special_id("<|user|>"), special_id("<|observation|>")]
PAD_ID = special_id("<|endoftext|>")

SIZES = {
    # THUDM/glm-4-9b-chat, glm-4-9b-chat-hf and GLM-4-9B-0414 share this shape.
    "glm-4-9b": dict(
        hidden_size=4096,
        num_hidden_layers=40,
        num_attention_heads=32,
        num_key_value_heads=2,
        head_dim=128,
        intermediate_size=13696,
        vocab_size=151552,
    ),
}

TEMPLATE_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                             "tests", "text", "templates", "glm-4-9b-chat.jinja")


def make_config(family, shape, tie):
    hidden = shape["hidden_size"]
    heads = shape["num_attention_heads"]
    layers = shape["num_hidden_layers"]
    if family == "chatglm":
        # THUDM/glm-4-9b-chat's config.json (its auto_map points at the repo's own code).
        return {
            "_name_or_path": "THUDM/glm-4-9b-chat",
            "model_type": "chatglm",
            "architectures": ["ChatGLMModel"],
            "auto_map": {
                "AutoConfig": "configuration_chatglm.ChatGLMConfig",
                "AutoModel": "modeling_chatglm.ChatGLMForConditionalGeneration",
                "AutoModelForCausalLM": "modeling_chatglm.ChatGLMForConditionalGeneration",
                "AutoModelForSeq2SeqLM": "modeling_chatglm.ChatGLMForConditionalGeneration",
                "AutoModelForSequenceClassification": "modeling_chatglm.ChatGLMForSequenceClassification",
            },
            "add_bias_linear": False,
            "add_qkv_bias": True,
            "apply_query_key_layer_scaling": True,
            "apply_residual_connection_post_layernorm": False,
            "attention_dropout": 0.0,
            "attention_softmax_in_fp32": True,
            "attn_implementation": "sdpa",
            "bias_dropout_fusion": True,
            "ffn_hidden_size": shape["intermediate_size"],
            "fp32_residual_connection": False,
            "hidden_dropout": 0.0,
            "hidden_size": hidden,
            "kv_channels": shape["head_dim"],
            "layernorm_epsilon": 1.5625e-07,
            "multi_query_attention": True,
            "multi_query_group_num": shape["num_key_value_heads"],
            "num_attention_heads": heads,
            "num_hidden_layers": layers,
            "num_layers": layers,
            "rope_ratio": 500,
            "original_rope": True,
            "padded_vocab_size": shape["vocab_size"],
            "post_layer_norm": True,
            "rmsnorm": True,
            "seq_length": 131072,
            "use_cache": True,
            "torch_dtype": "bfloat16",
            "transformers_version": "4.44.0",
            "tie_word_embeddings": tie,
            "eos_token_id": EOS_IDS,
            "pad_token_id": PAD_ID,
        }
    cfg = {
        "architectures": ["GlmForCausalLM" if family == "glm" else "Glm4ForCausalLM"],
        "attention_bias": True,
        "attention_dropout": 0.0,
        "eos_token_id": EOS_IDS,
        "head_dim": shape["head_dim"],
        "hidden_act": "silu",
        "hidden_size": hidden,
        "initializer_range": 0.02,
        "intermediate_size": shape["intermediate_size"],
        "max_position_embeddings": 131072 if family == "glm" else 32768,
        "model_type": family,
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "num_key_value_heads": shape["num_key_value_heads"],
        "pad_token_id": PAD_ID,
        "partial_rotary_factor": 0.5,
        # glm-4-9b-chat-hf folds rope_ratio 500 into rope_theta; GLM-4-0414 uses the plain base.
        "rms_norm_eps": 1.5625e-07 if family == "glm" else 1e-05,
        "rope_theta": 5000000.0 if family == "glm" else 10000.0,
        "tie_word_embeddings": tie,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.46.0" if family == "glm" else "4.51.3",
        "use_cache": True,
        "vocab_size": shape["vocab_size"],
    }
    return cfg


def make_generation_config(family):
    if family == "glm4":
        # THUDM/GLM-4-9B-0414
        return {"_from_model_config": True, "eos_token_id": EOS_IDS, "pad_token_id": PAD_ID,
                "transformers_version": "4.51.3"}
    # THUDM/glm-4-9b-chat(-hf)
    return {"do_sample": True, "eos_token_id": EOS_IDS, "max_length": 128000, "pad_token_id": PAD_ID,
            "temperature": 0.8, "top_p": 0.8, "transformers_version": "4.44.0"}


def tensor_plan(family, shape, tie):
    """[(name, shape, kind, fan_in)] in the checkpoint's order (see gen_fixture.tensor_plan)."""
    h = shape["hidden_size"]
    hd = shape["head_dim"]
    nq = shape["num_attention_heads"] * hd
    nkv = shape["num_key_value_heads"] * hd
    inter = shape["intermediate_size"]
    vocab = shape["vocab_size"]
    plan = []
    if family == "chatglm":
        plan.append(("transformer.embedding.word_embeddings.weight", (vocab, h), "embed", h))
        for i in range(shape["num_hidden_layers"]):
            p = f"transformer.encoder.layers.{i}."
            plan.append((p + "input_layernorm.weight", (h,), "norm", 0))
            plan.append((p + "mlp.dense_4h_to_h.weight", (h, inter), "linear", inter))
            plan.append((p + "mlp.dense_h_to_4h.weight", (2 * inter, h), "linear", h))
            plan.append((p + "post_attention_layernorm.weight", (h,), "norm", 0))
            plan.append((p + "self_attention.dense.weight", (h, nq), "linear", nq))
            plan.append((p + "self_attention.query_key_value.bias", (nq + 2 * nkv,), "bias", 0))
            plan.append((p + "self_attention.query_key_value.weight", (nq + 2 * nkv, h), "linear", h))
        plan.append(("transformer.encoder.final_layernorm.weight", (h,), "norm", 0))
        if not tie:
            plan.append(("transformer.output_layer.weight", (vocab, h), "head", h))
        return plan
    plan.append(("model.embed_tokens.weight", (vocab, h), "embed", h))
    for i in range(shape["num_hidden_layers"]):
        p = f"model.layers.{i}."
        plan.append((p + "input_layernorm.weight", (h,), "norm", 0))
        plan.append((p + "mlp.down_proj.weight", (h, inter), "linear", inter))
        plan.append((p + "mlp.gate_up_proj.weight", (2 * inter, h), "linear", h))
        plan.append((p + "post_attention_layernorm.weight", (h,), "norm", 0))
        if family == "glm4":
            plan.append((p + "post_mlp_layernorm.weight", (h,), "norm", 0))
            plan.append((p + "post_self_attn_layernorm.weight", (h,), "norm", 0))
        plan.append((p + "self_attn.k_proj.bias", (nkv,), "bias", 0))
        plan.append((p + "self_attn.k_proj.weight", (nkv, h), "linear", h))
        plan.append((p + "self_attn.o_proj.weight", (h, nq), "linear", nq))
        plan.append((p + "self_attn.q_proj.bias", (nq,), "bias", 0))
        plan.append((p + "self_attn.q_proj.weight", (nq, h), "linear", h))
        plan.append((p + "self_attn.v_proj.bias", (nkv,), "bias", 0))
        plan.append((p + "self_attn.v_proj.weight", (nkv, h), "linear", h))
    if not tie:
        plan.append(("lm_head.weight", (vocab, h), "head", h))
    plan.append(("model.norm.weight", (h,), "norm", 0))
    return plan


def byte_decoder():
    """GPT-2's byte-level alphabet: vocabulary character -> byte."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def tokenizer_config(template, tokenizer_class):
    added = {}
    for tok in SPECIAL_TOKENS:
        added[str(special_id(tok))] = {"content": tok, "lstrip": False, "normalized": False,
                                       "rstrip": False, "single_word": False, "special": True}
    return {
        "added_tokens_decoder": added,
        "additional_special_tokens": SPECIAL_TOKENS[6:10],
        "chat_template": template,
        "clean_up_tokenization_spaces": False,
        "do_lower_case": False,
        "eos_token": "<|endoftext|>",
        "model_max_length": 128000,
        "pad_token": "<|endoftext|>",
        "padding_side": "left",
        "remove_space": False,
        "tokenizer_class": tokenizer_class,
    }


def write_tokenizer(out, family, llama3_dir):
    """chatglm: tokenizer.model (base64 token, space, rank per line) + tokenizer_config.json;
    glm / glm4: tokenizer.json (byte-level BPE) + tokenizer_config.json."""
    with open(os.path.join(llama3_dir, "tokenizer.json"), encoding="utf-8") as f:
        tj = json.load(f)
    with open(TEMPLATE_PATH, encoding="utf-8") as f:
        template = f.read()
    vocab = tj["model"]["vocab"]
    if len(vocab) != N_RANKS:
        raise SystemExit(f"gen_fixture: {llama3_dir}/tokenizer.json has {len(vocab)} tokens, expected {N_RANKS}")
    if family == "chatglm":
        dec = byte_decoder()
        by_rank = sorted(vocab.items(), key=lambda kv: kv[1])
        with open(os.path.join(out, "tokenizer.model"), "w", encoding="ascii") as f:
            for tok, rank in by_rank:
                raw = bytes(dec[c] for c in tok)
                f.write(base64.b64encode(raw).decode("ascii") + " " + str(rank) + "\n")
        cfg = tokenizer_config(template, "ChatGLM4Tokenizer")
        cfg["auto_map"] = {"AutoTokenizer": ["tokenization_chatglm.ChatGLM4Tokenizer", None]}
    else:
        tj = copy.deepcopy(tj)
        tj["added_tokens"] = [{"id": special_id(t), "content": t, "single_word": False, "lstrip": False,
                               "rstrip": False, "normalized": False, "special": True}
                              for t in SPECIAL_TOKENS]
        # The chat template writes [gMASK]<sop> itself; no BOS is added on encode.
        tj["post_processor"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                                "use_regex": True}
        with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(tj, f, ensure_ascii=False)
        cfg = tokenizer_config(template, "PreTrainedTokenizerFast")
        del cfg["remove_space"]
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2, ensure_ascii=False)


def standard_config(cfg):
    """config.json with ChatGLM's Megatron field names also under the transformers names
    (tools/check_fixture.py rebuilds the tensor plan from those)."""
    if cfg.get("model_type") != "chatglm":
        return cfg
    out = dict(cfg)
    out.setdefault("num_hidden_layers", cfg["num_layers"])
    out.setdefault("intermediate_size", cfg["ffn_hidden_size"])
    out.setdefault("head_dim", cfg["kv_channels"])
    out["vocab_size"] = cfg["padded_vocab_size"]
    out.setdefault("num_key_value_heads",
                   cfg["multi_query_group_num"] if cfg.get("multi_query_attention") else cfg["num_attention_heads"])
    return out
