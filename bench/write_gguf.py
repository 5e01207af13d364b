#!/usr/bin/python3
"""Convert a Hugging Face qwen2/qwen3/llama/mistral model directory into a GGUF file llama.cpp can run.

Only for benchmarks: llama.cpp is the speed anchor, and it reads GGUF, while our fixtures are
written in the Hugging Face layout (config.json + model.safetensors + tokenizer.json). We write
our own small converter because llama.cpp's convert_hf_to_gguf.py needs `transformers`, which this
machine does not have; the GGUF writer itself (gguf-py) is imported from a llama.cpp checkout
given by --llama-dir or $LLAMA_CPP_DIR, never copied into this repository.

Usage: /usr/bin/python3 bench/write_gguf.py MODEL_DIR OUT.gguf [--outtype bf16|f16|f32]
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
from pathlib import Path

import numpy as np

ARCHES = {"qwen2": "QWEN2", "qwen3": "QWEN3", "llama": "LLAMA", "mistral": "LLAMA"}
# llama.cpp's llama architecture rotates interleaved pairs, Hugging Face's Llama rotates halves:
# its converter permutes the rows of q_proj / k_proj so both compute the same model.
PERMUTED = {"llama", "mistral"}
SAFETENSORS_DTYPES = {"BF16": np.uint16, "F16": np.float16, "F32": np.float32}


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


def convert_array(gguf, dtype: str, array: np.ndarray, outtype: str):
    """Return (array to write, ggml type); 1-D tensors (norms, biases) stay f32 as llama.cpp's converter does."""
    q = gguf.GGMLQuantizationType
    if array.ndim <= 1 or outtype == "f32":
        return np.ascontiguousarray(to_f32(dtype, array)), q.F32
    if outtype == "bf16":
        if dtype == "BF16":
            return np.ascontiguousarray(array), q.BF16
        return gguf.quants.quantize(to_f32(dtype, array), q.BF16), q.BF16
    if dtype == "F16":
        return np.ascontiguousarray(array), q.F16
    return to_f32(dtype, array).astype(np.float16), q.F16


def permute_rows(array: np.ndarray, n_head: int) -> np.ndarray:
    """Rows of a q/k projection from rotate-half order to interleaved-pair order, per head."""
    rows = array.shape[0]
    return np.ascontiguousarray(
        array.reshape(n_head, 2, rows // n_head // 2, *array.shape[1:]).swapaxes(1, 2).reshape(array.shape))


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


def add_hparams(writer, config: dict) -> None:
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_context_length(config.get("max_position_embeddings", 32768))
    writer.add_embedding_length(hidden)
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(heads)
    writer.add_head_count_kv(config.get("num_key_value_heads", heads))
    rope = config.get("rope_parameters") or {}
    writer.add_rope_freq_base(float(config.get("rope_theta", rope.get("rope_theta", 10000.0))))
    writer.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-6)))
    if config.get("head_dim") is not None:
        writer.add_key_length(config["head_dim"])
        writer.add_value_length(config["head_dim"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--outtype", choices=["bf16", "f16", "f32"], default="bf16")
    parser.add_argument("--llama-dir", default=os.environ.get("LLAMA_CPP_DIR"))
    args = parser.parse_args()
    gguf = import_gguf(args.llama_dir)

    config = json.loads((args.model_dir / "config.json").read_text())
    model_type = config.get("model_type")
    if model_type not in ARCHES:
        fail(f"{args.model_dir}/config.json: model_type '{model_type}' not supported ({', '.join(ARCHES)})")
    if "quantization" in config or "quantization_config" in config:
        fail(f"{args.model_dir}: quantized checkpoint; convert the float (hf-f32/hf-bf16) layout")
    arch = getattr(gguf.MODEL_ARCH, ARCHES[model_type])
    n_layers = config["num_hidden_layers"]
    name_map = gguf.get_tensor_name_map(arch, n_layers)
    tied = config.get("tie_word_embeddings", False)

    checkpoint = open_checkpoint(args.model_dir)
    plan: list[tuple[str, str]] = []  # (hf name, gguf name)
    for hf_name in sorted(checkpoint):
        if hf_name == "lm_head.weight" and tied:
            continue
        gguf_name = name_map.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            fail(f"{args.model_dir}: tensor '{hf_name}' has no {model_type} GGUF name")
        plan.append((hf_name, gguf_name))

    file_types = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
                  "bf16": gguf.LlamaFileType.MOSTLY_BF16}
    writer = gguf.GGUFWriter(args.out, gguf.MODEL_ARCH_NAMES[arch])
    writer.add_name(args.model_dir.name)
    writer.add_file_type(file_types[args.outtype])
    add_hparams(writer, config)
    add_vocab(gguf, writer, args.model_dir, config["vocab_size"], "qwen2" if model_type.startswith("qwen") else "default")

    # Two passes (describe every tensor, then stream the data) keep memory at one tensor, not the model.
    q = gguf.GGMLQuantizationType
    for hf_name, gguf_name in plan:
        dtype, array = checkpoint[hf_name].tensor(hf_name)
        if array.ndim <= 1 or args.outtype == "f32":
            ggml_type, item = q.F32, 4
        elif args.outtype == "bf16":
            ggml_type, item = q.BF16, 2
        else:
            ggml_type, item = q.F16, 2
        writer.add_tensor_info(gguf_name, array.shape, np.dtype(np.float32 if item == 4 else np.uint16),
                               array.size * item, raw_dtype=ggml_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for hf_name, gguf_name in plan:
        dtype, array = checkpoint[hf_name].tensor(hf_name)
        if model_type in PERMUTED and hf_name.endswith(("self_attn.q_proj.weight", "self_attn.k_proj.weight")):
            heads = config["num_attention_heads"]
            if "k_proj" in hf_name:
                heads = config.get("num_key_value_heads", heads)
            array = permute_rows(array, heads)
        data, _ = convert_array(gguf, dtype, array, args.outtype)
        writer.write_tensor_data(data)
    writer.close()
    print(f"[write_gguf] {args.out}: {model_type} {len(plan)} tensors, {args.outtype}")


if __name__ == "__main__":
    main()
