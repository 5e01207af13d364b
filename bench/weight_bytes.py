#!/usr/bin/python3
"""Print the weight bytes one decode step reads from a model (GGUF file or safetensors directory).

Every matrix is read once per generated token, except the input embedding, of which only one row
is read; when the output head is tied to the embedding, that matrix is read in full as the head.
tokens/s times this number is the weight bandwidth a decode step achieved.

Usage: /usr/bin/python3 bench/weight_bytes.py PATH [--llama-dir DIR]   (DIR only needed for GGUF)
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
from pathlib import Path


def safetensors_sizes(model_dir: Path) -> dict[str, int]:
    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        sys.exit(f"[weight_bytes] {model_dir}: no .safetensors files")
    sizes: dict[str, int] = {}
    for path in files:
        with open(path, "rb") as f:
            (header_len,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(header_len))
        header.pop("__metadata__", None)
        for name, info in header.items():
            begin, end = info["data_offsets"]
            sizes[name] = end - begin
    return sizes


def gguf_sizes(path: Path, llama_dir: str | None) -> dict[str, int]:
    if not llama_dir:
        sys.exit("[weight_bytes] set --llama-dir or LLAMA_CPP_DIR to read GGUF files")
    sys.path.insert(0, str(Path(llama_dir) / "gguf-py"))
    import gguf  # noqa: E402

    reader = gguf.GGUFReader(path)
    return {t.name: int(t.n_bytes) for t in reader.tensors}


def decode_bytes(sizes: dict[str, int], embed_prefix: str, head_prefix: str) -> int:
    total = sum(sizes.values())
    has_head = any(name.startswith(head_prefix) for name in sizes)
    if has_head:
        total -= sum(size for name, size in sizes.items() if name.startswith(embed_prefix))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path)
    parser.add_argument("--llama-dir", default=os.environ.get("LLAMA_CPP_DIR"))
    args = parser.parse_args()
    if args.path.is_dir():
        print(decode_bytes(safetensors_sizes(args.path), "model.embed_tokens.", "lm_head."))
    else:
        print(decode_bytes(gguf_sizes(args.path, args.llama_dir), "token_embd.", "output."))


if __name__ == "__main__":
    main()
