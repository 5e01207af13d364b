#!/usr/bin/python3
"""Convert a Hugging Face model directory into a GGUF file llama.cpp can run.

Only for benchmarks: llama.cpp is the speed anchor, and it reads GGUF, while our fixtures are
written in the Hugging Face layout (config.json + model.safetensors + tokenizer files). We write
our own small converter because llama.cpp's convert_hf_to_gguf.py needs `transformers`, which this
machine does not have; the GGUF writer itself (gguf-py) is imported from a llama.cpp checkout
given by --llama-dir or $LLAMA_CPP_DIR, never copied into this repository.

Families (config.json model_type -> llama.cpp architecture):
  qwen2, qwen3           QWEN2, QWEN3
  llama, mistral         LLAMA (q/k rows permuted: llama.cpp rotates interleaved pairs; Llama 3.1's
                         rope_scaling "llama3" as the rope_freqs divisors)
  mixtral                LLAMA with stacked experts (ffn_{gate,down,up}_exps) and ffn_gate_inp
  qwen3_moe              QWEN3MOE (every layer sparse, top-k weights renormalised)
  chatglm, glm           CHATGLM (fused query_key_value or q/k/v_proj with biases, fused gate+up)
  glm4                   GLM4 (glm plus post-attention / post-MLP norms)
  minicpm                MINICPM (MiniCPM4: scale_emb, scale_depth, dim_model_base, LongRoPE)
MiniCPM-SALA (minicpm_sala) has no llama.cpp architecture and is refused with the reason.

Usage: /usr/bin/python3 bench/write_gguf.py MODEL_DIR OUT.gguf [--outtype bf16|f16|f32]
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import re
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

ARCHES = {"qwen2": "QWEN2", "qwen3": "QWEN3", "llama": "LLAMA", "mistral": "LLAMA", "mixtral": "LLAMA",
          "qwen3_moe": "QWEN3MOE", "chatglm": "CHATGLM", "glm": "CHATGLM", "glm4": "GLM4",
          "minicpm": "MINICPM"}
# Hugging Face's Llama-style models rotate halves of each head, llama.cpp's LLAMA and MINICPM
# architectures rotate interleaved pairs: the rows of q_proj / k_proj are permuted so both compute
# the same model. (Qwen runs llama.cpp's NEOX rotation, the same as Hugging Face's; GLM rotates
# interleaved pairs of its rotary half in both.)
PERMUTED = {"llama", "mistral", "mixtral", "minicpm"}
# Why a family we know of cannot be written for llama.cpp (at commit de3ff81).
UNSUPPORTED = {
    "minicpm_sala": "MiniCPM-SALA has no llama.cpp architecture: its 'lightning-attn' layers (gated "
                    "linear attention with an ALiBi-slope decay, q/k RMSNorm, an output RMSNorm and a "
                    "sigmoid z_proj gate), the sigmoid o_gate of its softmax layers, per-layer "
                    "mixer_types and InfLLM-v2 sparse attention exist in no llama.cpp model graph. The "
                    "nearest, MINIMAX01's lightning attention, differs in every one: SiLU on a fused qkv, "
                    "no q/k norm, no RoPE, slopes rescaled per layer, no 1/sqrt(d), an MoE-only MLP, no "
                    "gate on its softmax layers, no muP embedding/residual/logit scales",
}
SAFETENSORS_DTYPES = {"BF16": np.uint16, "F16": np.float16, "F32": np.float32}
EXPERT_RE = re.compile(r"^model\.layers\.(\d+)\.(?:block_sparse_moe|mlp)\.experts\.(\d+)\.(\w+)\.weight$")
# Per-expert projection name -> GGUF stacked tensor (Mixtral's w1/w2/w3 and the Qwen names).
EXPERT_PROJ = {"w1": "FFN_GATE_EXP", "gate_proj": "FFN_GATE_EXP", "w2": "FFN_DOWN_EXP",
               "down_proj": "FFN_DOWN_EXP", "w3": "FFN_UP_EXP", "up_proj": "FFN_UP_EXP"}


def fail(message: str) -> None:
    sys.exit(f"[write_gguf] {message}")


def import_gguf(llama_dir: str | None):
    if not llama_dir:
        fail("set --llama-dir or LLAMA_CPP_DIR to a llama.cpp checkout (its gguf-py is used)")
    gguf_py = Path(llama_dir) / "gguf-py"
    if not (gguf_py / "gguf" / "__init__.py").is_file():
        fail(f"{gguf_py}: no gguf package there")
    sys.path.insert(0, str(gguf_py))
    import gguf  # noqa: E402

    return gguf


class SafetensorsFile:
    """One .safetensors file, memory-mapped; tensors are numpy views into the map."""

    def __init__(self, path: Path):
        self.path = path
        with open(path, "rb") as f:
            (header_len,) = struct.unpack("<Q", f.read(8))
            self.header = json.loads(f.read(header_len))
        self.header.pop("__metadata__", None)
        self.data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_len)

    def names(self) -> list[str]:
        return list(self.header)

    def tensor(self, name: str) -> tuple[str, np.ndarray]:
        info = self.header[name]
        dtype = info["dtype"]
        if dtype not in SAFETENSORS_DTYPES:
            fail(f"{self.path.name}: tensor '{name}' has dtype {dtype}; only BF16/F16/F32 convert")
        begin, end = info["data_offsets"]
        if end > self.data.size or begin > end:
            fail(f"{self.path.name}: tensor '{name}' offsets [{begin}, {end}] exceed data size {self.data.size}")
        array = self.data[begin:end].view(SAFETENSORS_DTYPES[dtype]).reshape(info["shape"])
        return dtype, array

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.header[name]["shape"])


def open_checkpoint(model_dir: Path) -> dict[str, SafetensorsFile]:
    """Map each tensor name to the file that holds it (single file or sharded with an index)."""
    index = model_dir / "model.safetensors.index.json"
    if index.is_file():
        weight_map = json.loads(index.read_text())["weight_map"]
        files = {f: SafetensorsFile(model_dir / f) for f in sorted(set(weight_map.values()))}
        return {name: files[f] for name, f in weight_map.items()}
    single = model_dir / "model.safetensors"
    if not single.is_file():
        fail(f"{model_dir}: neither model.safetensors nor model.safetensors.index.json")
    st = SafetensorsFile(single)
    return {name: st for name in st.names()}


def to_f32(dtype: str, array: np.ndarray) -> np.ndarray:
    if dtype == "BF16":
        return (array.astype(np.uint32) << 16).view(np.float32)
    return array.astype(np.float32)


def permute_rows(array: np.ndarray, n_head: int) -> np.ndarray:
    """Rows of a q/k projection from rotate-half order to interleaved-pair order, per head."""
    rows = array.shape[0]
    return np.ascontiguousarray(
        array.reshape(n_head, 2, rows // n_head // 2, *array.shape[1:]).swapaxes(1, 2).reshape(array.shape))


# --- config ---------------------------------------------------------------------------------------
def normalized_config(config: dict, model_dir: Path) -> dict:
    """config.json with ChatGLM's Megatron field names also under the transformers names, after
    checking the ChatGLM options llama.cpp's CHATGLM graph hard-codes."""
    if config.get("model_type") != "chatglm":
        return config
    where = f"{model_dir}/config.json"
    for key, want in (("rmsnorm", True), ("add_bias_linear", False),
                      ("apply_residual_connection_post_layernorm", False), ("post_layer_norm", True)):
        if config.get(key, want) != want:
            fail(f"{where}: {key} = {config[key]}; llama.cpp's CHATGLM graph needs {want}")
    if not config.get("original_rope", True):
        fail(f"{where}: original_rope = false (the half-split rotation) has no llama.cpp CHATGLM form")
    out = dict(config)
    out["num_hidden_layers"] = config["num_layers"]
    out["intermediate_size"] = config["ffn_hidden_size"]
    out["head_dim"] = config.get("kv_channels", config["hidden_size"] // config["num_attention_heads"])
    out["vocab_size"] = config["padded_vocab_size"]
    out["num_key_value_heads"] = (config["multi_query_group_num"] if config.get("multi_query_attention")
                                  else config["num_attention_heads"])
    out["rms_norm_eps"] = config.get("layernorm_epsilon", 1e-5)
    out["rope_theta"] = 10000.0 * float(config.get("rope_ratio", 1))
    out["max_position_embeddings"] = config.get("seq_length", 131072)
    out["partial_rotary_factor"] = 0.5  # GLM-4 rotates the first half of every head
    return out


def check_representable(config: dict, model_type: str, model_dir: Path) -> None:
    """Refuse configurations whose computation a llama.cpp graph hard-codes differently."""
    where = f"{model_dir}/config.json"
    if model_type == "qwen3_moe":
        # llama.cpp's QWEN3MOE graph: every layer sparse, chosen weights always renormalised.
        if config.get("mlp_only_layers"):
            fail(f"{where}: mlp_only_layers {config['mlp_only_layers']}: llama.cpp's QWEN3MOE has no dense layers")
        if config.get("decoder_sparse_step", 1) != 1:
            fail(f"{where}: decoder_sparse_step {config['decoder_sparse_step']}: llama.cpp's QWEN3MOE needs 1")
        if not config.get("norm_topk_prob", False):
            fail(f"{where}: norm_topk_prob false: llama.cpp's QWEN3MOE always renormalises the top-k weights")


def add_hparams(gguf, writer, config: dict, model_type: str, model_dir: Path) -> None:
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    layers = config["num_hidden_layers"]
    head_dim = config.get("head_dim") or hidden // heads
    writer.add_block_count(layers)
    writer.add_context_length(config.get("max_position_embeddings", 32768))
    writer.add_embedding_length(hidden)
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(config.get("num_key_value_heads", heads))
    rope = config.get("rope_parameters") or {}
    writer.add_rope_freq_base(float(config.get("rope_theta", rope.get("rope_theta", 10000.0))))
    writer.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-6)))
    if config.get("head_dim") is not None:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    where = f"{model_dir}/config.json"
    if model_type in ("mistral", "mixtral") and config.get("sliding_window"):
        print(f"[write_gguf] {where}: sliding_window {config['sliding_window']} is not written (llama.cpp's "
              "LLAMA attends to the whole context): same model up to that many tokens", file=sys.stderr)
    scaling = config.get("rope_scaling") or {}
    kind = scaling.get("rope_type", scaling.get("type"))
    if scaling and model_type != "minicpm" and not (model_type == "llama" and kind == "llama3"):
        print(f"[write_gguf] {where}: rope_scaling type '{kind}' is not written; llama.cpp runs plain RoPE "
              "(same speed, other logits)", file=sys.stderr)

    if model_type in ("mixtral", "qwen3_moe"):
        n_exp = config["num_local_experts"] if model_type == "mixtral" else config["num_experts"]
        writer.add_expert_count(n_exp)
        writer.add_expert_used_count(config["num_experts_per_tok"])
    if model_type == "qwen3_moe":
        writer.add_expert_feed_forward_length(config["moe_intermediate_size"])

    if model_type in ("chatglm", "glm", "glm4"):
        partial = float(config.get("partial_rotary_factor", 0.5))
        writer.add_rope_dimension_count(int(head_dim * partial))
        writer.add_add_bos_token(False)  # the chat template writes [gMASK]<sop> itself

    if model_type == "minicpm":
        writer.add_embedding_scale(float(config["scale_emb"]))
        writer.add_residual_scale(float(config["scale_depth"]) / math.sqrt(layers))
        writer.add_logit_scale(hidden / float(config["dim_model_base"]))
        scaling = config.get("rope_scaling") or {}
        kind = scaling.get("rope_type", scaling.get("type"))
        if kind == "longrope":
            max_pos = config["max_position_embeddings"]
            orig = scaling["original_max_position_embeddings"]
            writer.add_rope_scaling_type(gguf.RopeScalingType.LONGROPE)
            writer.add_rope_scaling_orig_ctx_len(orig)
            if max_pos > orig:
                # MiniCPMLongRoPE scales cos/sin by this for every length; llama.cpp multiplies
                # its rope attention factor in.
                writer.add_rope_scaling_attn_factors(math.sqrt(1 + math.log(max_pos / orig) / math.log(orig)))
        elif kind is not None:
            fail(f"{where}: rope_scaling type '{kind}' is not converted for minicpm (only longrope)")


def longrope_factors(config: dict, model_dir: Path) -> np.ndarray | None:
    """MiniCPM4's LongRoPE frequency divisors. MiniCPMLongRoPE builds its tables once, with the long
    factors iff max_position_embeddings > original_max_position_embeddings, at every sequence
    length; llama.cpp picks long or short by the context size, so both GGUF tensors get that one
    list and llama.cpp computes the same rotation whatever context it runs with."""
    scaling = config.get("rope_scaling") or {}
    if scaling.get("rope_type", scaling.get("type")) != "longrope":
        return None
    use_long = config["max_position_embeddings"] > scaling["original_max_position_embeddings"]
    factors = scaling["long_factor" if use_long else "short_factor"]
    head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    if len(factors) != head_dim // 2:
        fail(f"{model_dir}/config.json: rope_scaling has {len(factors)} factors, head_dim {head_dim} needs {head_dim // 2}")
    return np.asarray(factors, dtype=np.float32)


def llama3_rope_divisors(config: dict, model_dir: Path) -> np.ndarray | None:
    """Llama 3.1's rope_scaling "llama3" as per-frequency divisors (llama.cpp's rope_freqs tensor):
    long wavelengths are slowed by `factor`, short ones kept, the band between blended linearly in
    the inverse wavelength, as transformers' llama3 inv_freq computes them."""
    scaling = config.get("rope_scaling") or {}
    if scaling.get("rope_type", scaling.get("type")) != "llama3":
        return None
    try:
        factor = float(scaling["factor"])
        low, high = float(scaling["low_freq_factor"]), float(scaling["high_freq_factor"])
        old_ctx = float(scaling["original_max_position_embeddings"])
    except KeyError as e:
        fail(f"{model_dir}/config.json: rope_scaling llama3 lacks {e}")
    head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    base = float(config.get("rope_theta", 10000.0))
    freqs = base ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    divisors = []
    for freq in freqs:
        wavelen = 2 * math.pi / freq
        if wavelen < old_ctx / high:
            divisors.append(1.0)
        elif wavelen > old_ctx / low:
            divisors.append(factor)
        else:
            smooth = (old_ctx / wavelen - low) / (high - low)
            divisors.append(1.0 / ((1 - smooth) / factor + smooth))
    return np.asarray(divisors, dtype=np.float32)


# --- vocabulary -----------------------------------------------------------------------------------
def add_vocab(gguf, writer, model_dir: Path, vocab_size: int, pre: str) -> None:
    """The tokenizer.json BPE vocabulary as a gpt2-style GGUF vocabulary (as llama.cpp's converter
    writes it for Qwen; for SentencePiece-style BPE files it loads and benchmarks the same, though
    llama.cpp would not tokenize text exactly like the model)."""
    tok = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    if tok["model"]["type"] != "BPE":
        fail(f"{model_dir}/tokenizer.json: model type {tok['model']['type']}, expected BPE")
    by_id: dict[int, str] = {i: t for t, i in tok["model"]["vocab"].items()}
    added = {a["id"]: a for a in tok.get("added_tokens", [])}
    for i, a in added.items():
        by_id[i] = a["content"]
    if max(by_id) >= vocab_size:
        fail(f"{model_dir}: token id {max(by_id)} >= config vocab_size {vocab_size}")
    tokens: list[str] = []
    types: list[int] = []
    token_type = gguf.TokenType
    for i in range(vocab_size):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(token_type.UNUSED)
            continue
        text = by_id[i]
        tokens.append(text)
        if i in added:
            looks_special = text.startswith("<|") and text.endswith("|>")
            types.append(token_type.CONTROL if added[i].get("special") or looks_special else token_type.USER_DEFINED)
        else:
            types.append(token_type.NORMAL)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special = gguf.SpecialVocab(model_dir, load_merges=True, n_vocab=vocab_size)
    special.add_to_gguf(writer, quiet=True)


def byte_encoder() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character table used by byte-level BPE vocabularies."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    table = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def split_by_ranks(ranks: dict[bytes, int], token: bytes) -> list[bytes]:
    """Byte-pair encode `token` using only merges ranked below its own rank: a tiktoken vocabulary
    stores no merge list, but the last merge that built a token is what this leaves as two parts."""
    limit = ranks[token]
    parts = [bytes([b]) for b in token]
    while len(parts) > 1:
        best, best_rank = -1, limit
        for i in range(len(parts) - 1):
            r = ranks.get(parts[i] + parts[i + 1])
            if r is not None and r < best_rank:
                best, best_rank = i, r
        if best < 0:
            break
        parts[best:best + 2] = [parts[best] + parts[best + 1]]
    return parts


def add_tiktoken_vocab(gguf, writer, model_dir: Path, config: dict) -> None:
    """ChatGLM's tokenizer.model (one 'base64(token bytes) rank' per line, GLM-4's tiktoken format)
    as the gpt2-style GGUF vocabulary llama.cpp's CHATGLM loads: tokens in byte-level characters,
    merges recovered from the ranks, GLM-4's special tokens from tokenizer_config.json as control
    tokens, the rest of the padded vocabulary unused."""
    path = model_dir / "tokenizer.model"
    if not path.is_file():
        fail(f"{model_dir}: no tokenizer.model (the chatglm layout's tiktoken vocabulary)")
    ranks: dict[bytes, int] = {}
    for n, line in enumerate(path.read_text(encoding="ascii").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2 or not fields[1].isdigit():
            fail(f"{path}:{n}: expected 'base64 rank'")
        ranks[base64.b64decode(fields[0])] = int(fields[1])
    vocab_size = config["vocab_size"]
    by_rank = sorted(ranks.items(), key=lambda kv: kv[1])
    if [r for _, r in by_rank] != list(range(len(by_rank))):
        fail(f"{path}: ranks are not 0..{len(by_rank) - 1}")
    enc = byte_encoder()

    def text(b: bytes) -> str:
        return "".join(enc[x] for x in b)

    tokens = [text(b) for b, _ in by_rank]
    types = [gguf.TokenType.NORMAL] * len(tokens)
    merges = []
    unreachable = 0
    for b, _ in by_rank:
        if len(b) < 2:
            continue
        parts = split_by_ranks(ranks, b)
        if len(parts) != 2:
            # tiktoken emits such a token only when a whole pre-tokenized piece equals it; a merge
            # list cannot say that, so llama.cpp's BPE will spell it with smaller tokens.
            unreachable += 1
            continue
        merges.append(f"{text(parts[0])} {text(parts[1])}")
    if unreachable:
        print(f"[write_gguf] {path.name}: {unreachable} of {len(by_rank)} tokens are no single merge of "
              "lower-ranked tokens; llama.cpp's tokenizer spells them with smaller ones", file=sys.stderr)
    tok_cfg_path = model_dir / "tokenizer_config.json"
    specials = {}
    if tok_cfg_path.is_file():
        for i, a in json.loads(tok_cfg_path.read_text(encoding="utf-8")).get("added_tokens_decoder", {}).items():
            specials[int(i)] = a["content"]
    for i in range(len(tokens), vocab_size):
        if i in specials:
            tokens.append(specials[i])
            types.append(gguf.TokenType.CONTROL)
        else:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
    if len(tokens) > vocab_size:
        fail(f"{path}: {len(tokens)} tokens > padded_vocab_size {vocab_size}")
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("chatglm-bpe")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    eos = config.get("eos_token_id")
    if isinstance(eos, list):
        eos = eos[0] if eos else None
    if eos is not None:
        writer.add_eos_token_id(eos)
    if config.get("pad_token_id") is not None:
        writer.add_pad_token_id(config["pad_token_id"])


# --- tensor plan ----------------------------------------------------------------------------------
@dataclass
class Item:
    """One GGUF tensor: its name, numpy shape, and how to read its (safetensors dtype, array)."""
    name: str
    shape: tuple[int, ...]
    load: Callable[[], tuple[str, np.ndarray]]
    keep_f32: bool = False


def plan_tensors(gguf, arch, config: dict, model_type: str, model_dir: Path,
                 checkpoint: dict[str, SafetensorsFile]) -> list[Item]:
    n_layers = config["num_hidden_layers"]
    name_map = gguf.get_tensor_name_map(arch, n_layers)
    tied = config.get("tie_word_embeddings", False)
    heads = config["num_attention_heads"]
    kv_heads = config.get("num_key_value_heads", heads)
    items: list[Item] = []
    experts: dict[tuple[int, str], dict[int, str]] = {}

    def loader(hf_name: str, permute_heads: int = 0):
        def load():
            dtype, array = checkpoint[hf_name].tensor(hf_name)
            return dtype, permute_rows(array, permute_heads) if permute_heads else array
        return load

    for hf_name in sorted(checkpoint):
        if hf_name in ("lm_head.weight", "transformer.output_layer.weight") and tied:
            continue
        if hf_name.endswith(".rotary_pos_emb.inv_freq"):
            continue  # ChatGLM stores its rope table; llama.cpp computes it
        m = EXPERT_RE.match(hf_name)
        if m:
            layer, expert, proj = int(m.group(1)), int(m.group(2)), m.group(3)
            if proj not in EXPERT_PROJ:
                fail(f"{model_dir}: expert tensor '{hf_name}' has an unknown projection '{proj}'")
            experts.setdefault((layer, EXPERT_PROJ[proj]), {})[expert] = hf_name
            continue
        gguf_name = None
        for candidate in (hf_name, hf_name.removeprefix("transformer.")):
            gguf_name = name_map.get_name(candidate, try_suffixes=(".weight", ".bias"))
            if gguf_name is not None:
                break
        if gguf_name is None:
            fail(f"{model_dir}: tensor '{hf_name}' has no {model_type} GGUF name")
        permute_heads = 0
        if model_type in PERMUTED and hf_name.endswith("self_attn.q_proj.weight"):
            permute_heads = heads
        elif model_type in PERMUTED and hf_name.endswith("self_attn.k_proj.weight"):
            permute_heads = kv_heads
        items.append(Item(gguf_name, checkpoint[hf_name].shape(hf_name), loader(hf_name, permute_heads),
                          keep_f32=gguf_name.endswith("ffn_gate_inp.weight")))

    if model_type in ("mixtral", "qwen3_moe"):
        n_exp = config["num_local_experts"] if model_type == "mixtral" else config["num_experts"]
        for layer in range(n_layers):
            for kind in ("FFN_GATE_EXP", "FFN_DOWN_EXP", "FFN_UP_EXP"):
                names = experts.pop((layer, kind), {})
                if sorted(names) != list(range(n_exp)):
                    fail(f"{model_dir}: layer {layer} has experts {sorted(names)} for {kind}, expected 0..{n_exp - 1}")
                ordered = [names[e] for e in range(n_exp)]
                first = checkpoint[ordered[0]].shape(ordered[0])

                def load_stack(ordered=ordered):
                    parts = [checkpoint[n].tensor(n) for n in ordered]
                    dtypes = {d for d, _ in parts}
                    if len(dtypes) != 1:
                        fail(f"{model_dir}: experts {ordered[0]}.. mix dtypes {sorted(dtypes)}")
                    return parts[0][0], np.stack([a for _, a in parts])

                gguf_name = gguf.TENSOR_NAMES[getattr(gguf.MODEL_TENSOR, kind)].format(bid=layer) + ".weight"
                items.append(Item(gguf_name, (n_exp, *first), load_stack))
    if experts:
        fail(f"{model_dir}: per-expert tensors in a {model_type} checkpoint (layer {min(experts)[0]})")

    divisors = llama3_rope_divisors(config, model_dir) if model_type == "llama" else None
    if divisors is not None:
        items.append(Item(gguf.TENSOR_NAMES[gguf.MODEL_TENSOR.ROPE_FREQS] + ".weight", divisors.shape,
                          lambda divisors=divisors: ("F32", divisors)))
    factors = longrope_factors(config, model_dir) if model_type == "minicpm" else None
    if factors is not None:
        for kind in ("ROPE_FACTORS_LONG", "ROPE_FACTORS_SHORT"):
            items.append(Item(gguf.TENSOR_NAMES[getattr(gguf.MODEL_TENSOR, kind)] + ".weight", factors.shape,
                              lambda factors=factors: ("F32", factors)))
    return items


def tensor_type(gguf, item: Item, outtype: str):
    """GGML type of one tensor: 1-D tensors (norms, biases, rope factors) and MoE routers stay f32,
    as llama.cpp's converter keeps them."""
    q = gguf.GGMLQuantizationType
    if len(item.shape) <= 1 or item.keep_f32 or outtype == "f32":
        return q.F32
    return q.BF16 if outtype == "bf16" else q.F16


def convert_array(gguf, dtype: str, array: np.ndarray, ggml_type) -> np.ndarray:
    q = gguf.GGMLQuantizationType
    if ggml_type == q.F32:
        return np.ascontiguousarray(to_f32(dtype, array))
    if ggml_type == q.BF16:
        if dtype == "BF16":
            return np.ascontiguousarray(array)
        return gguf.quants.quantize(to_f32(dtype, array), q.BF16)
    if dtype == "F16":
        return np.ascontiguousarray(array)
    return to_f32(dtype, array).astype(np.float16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--outtype", choices=["bf16", "f16", "f32"], default="bf16")
    parser.add_argument("--llama-dir", default=os.environ.get("LLAMA_CPP_DIR"))
    args = parser.parse_args()
    gguf = import_gguf(args.llama_dir)

    config_path = args.model_dir / "config.json"
    if not config_path.is_file():
        fail(f"{args.model_dir}: no config.json")
    config = json.loads(config_path.read_text())
    model_type = config.get("model_type")
    if model_type in UNSUPPORTED:
        fail(f"{config_path}: model_type '{model_type}': {UNSUPPORTED[model_type]}")
    if model_type not in ARCHES:
        fail(f"{config_path}: model_type '{model_type}' not supported ({', '.join(ARCHES)})")
    if "quantization" in config or "quantization_config" in config:
        fail(f"{args.model_dir}: quantized checkpoint; convert the float (hf-f32/hf-bf16) layout")
    config = normalized_config(config, args.model_dir)
    check_representable(config, model_type, args.model_dir)
    arch = getattr(gguf.MODEL_ARCH, ARCHES[model_type])
    checkpoint = open_checkpoint(args.model_dir)
    items = plan_tensors(gguf, arch, config, model_type, args.model_dir, checkpoint)

    file_types = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
                  "bf16": gguf.LlamaFileType.MOSTLY_BF16}
    writer = gguf.GGUFWriter(args.out, gguf.MODEL_ARCH_NAMES[arch])
    writer.add_name(args.model_dir.name)
    writer.add_file_type(file_types[args.outtype])
    add_hparams(gguf, writer, config, model_type, args.model_dir)
    if model_type == "chatglm":
        add_tiktoken_vocab(gguf, writer, args.model_dir, config)
    else:
        pre = {"qwen2": "qwen2", "qwen3": "qwen2", "qwen3_moe": "qwen2", "glm": "glm4", "glm4": "glm4"}
        add_vocab(gguf, writer, args.model_dir, config["vocab_size"], pre.get(model_type, "default"))

    # Two passes (describe every tensor, then stream the data) keep memory at one tensor, not the model.
    q = gguf.GGMLQuantizationType
    types = [tensor_type(gguf, item, args.outtype) for item in items]
    for item, ggml_type in zip(items, types):
        item_bytes = 4 if ggml_type == q.F32 else 2
        writer.add_tensor_info(item.name, item.shape, np.dtype(np.float32 if item_bytes == 4 else np.uint16),
                               math.prod(item.shape) * item_bytes, raw_dtype=ggml_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for item, ggml_type in zip(items, types):
        dtype, array = item.load()
        if tuple(array.shape) != item.shape:
            fail(f"{args.model_dir}: {item.name} has shape {array.shape}, planned {item.shape}")
        writer.write_tensor_data(convert_array(gguf, dtype, array, ggml_type))
    writer.close()
    print(f"[write_gguf] {args.out}: {model_type} -> {ARCHES[model_type]}, {len(items)} tensors, {args.outtype}")


if __name__ == "__main__":
    main()
