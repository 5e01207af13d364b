#!/usr/bin/python3
"""Trains mofa-tiny, the small model MOFA Local ships as its default.

Corpus: the King James Version of the Bible (public domain; text from Debian's bible-kjv-text
package, read through its `bible` program). Tokenizer: a byte-level BPE trained here on the
training split, written as a Hugging Face tokenizer.json (Qwen2-style pre-tokenizer regex).
Model: a Qwen3-architecture decoder trained with PyTorch on CPU. Everything is deterministic
from --seed.

  /usr/bin/python3 tools/train_mofa_tiny.py --out models/mofa-tiny [--steps N] [--threads 2]

Stages write into --out: corpus split (held-out text kept for perplexity), tokenizer.json,
tokenizer_config.json, config.json, generation_config.json, model.safetensors, train_log.csv,
README.md (held-out perplexity against the unigram baseline).
"""
import argparse
import collections
import heapq
import json
import math
import os
import random
import struct
import subprocess
import time

import numpy as np
import regex
import torch
import torch.nn.functional as F

PRETOKENIZE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}")


def bytes_to_unicode():
    """GPT-2's reversible map from bytes to printable unicode characters (ByteLevel)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_ENC = bytes_to_unicode()


def read_corpus():
    out = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True, capture_output=True,
                         text=True).stdout
    verses = []
    for line in out.splitlines():
        ref, _, text = line.partition(" ")
        if text.strip():
            verses.append(text.strip())
    return verses


def pretokens(text):
    return ["".join(BYTE_ENC[b] for b in piece.encode("utf-8"))
            for piece in regex.findall(PRETOKENIZE, text)]


def train_bpe(texts, vocab_size):
    """Byte-level BPE: merges learned greedily on pre-token counts (ties: lexicographic)."""
    counts = collections.Counter()
    for t in texts:
        counts.update(pretokens(t))
    words = [list(w) for w in counts]
    freqs = [counts[w] for w in counts]
    pair_counts = collections.Counter()
    where = collections.defaultdict(set)
    for i, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pair_counts[(a, b)] += freqs[i]
            where[(a, b)].add(i)
    vocab = [BYTE_ENC[b] for b in range(256)]
    merges = []
    n_merges = vocab_size - len(SPECIALS) - 256
    # Max-heap of (count, pair) with lazy deletion: stale entries are skipped when popped.
    heap = [(-c, p) for p, c in pair_counts.items()]
    heapq.heapify(heap)
    touched = set()
    for _ in range(n_merges):
        best = None
        while heap:
            c, p = heapq.heappop(heap)
            if pair_counts.get(p, 0) == -c and c < 0:
                best = p
                break
        if best is None:
            break
        a, b = best
        merged = a + b
        merges.append((a, b))
        vocab.append(merged)
        for i in list(where[best]):
            w = words[i]
            f = freqs[i]
            for x, y in zip(w, w[1:]):
                pair_counts[(x, y)] -= f
                if pair_counts[(x, y)] <= 0:
                    del pair_counts[(x, y)]
                else:
                    touched.add((x, y))
                where[(x, y)].discard(i)
            j, nw = 0, []
            while j < len(w):
                if j + 1 < len(w) and w[j] == a and w[j + 1] == b:
                    nw.append(merged)
                    j += 2
                else:
                    nw.append(w[j])
                    j += 1
            words[i] = nw
            for x, y in zip(nw, nw[1:]):
                pair_counts[(x, y)] += f
                where[(x, y)].add(i)
                touched.add((x, y))
        del where[best]
        for p in touched:
            if pair_counts.get(p, 0) > 0:
                heapq.heappush(heap, (-pair_counts[p], p))
        touched.clear()
    return vocab, merges


class Encoder:
    """Applies the learned merges (by rank) to pre-tokens; caches per pre-token."""

    def __init__(self, vocab, merges):
        self.ids = {t: i for i, t in enumerate(vocab)}
        self.rank = {m: r for r, m in enumerate(merges)}
        self.cache = {}

    def word(self, w):
        if w in self.cache:
            return self.cache[w]
        parts = list(w)
        while len(parts) > 1:
            best, best_rank = None, None
            for k in range(len(parts) - 1):
                r = self.rank.get((parts[k], parts[k + 1]))
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = k, r
            if best is None:
                break
            parts[best:best + 2] = [parts[best] + parts[best + 1]]
        ids = [self.ids[p] for p in parts]
        self.cache[w] = ids
        return ids

    def encode(self, text):
        out = []
        for w in pretokens(text):
            out.extend(self.word(w))
        return out


def tokenizer_json(vocab, merges):
    vocab_map = {t: i for i, t in enumerate(vocab)}
    added = []
    for k, s in enumerate(SPECIALS):
        added.append({"id": len(vocab) + k, "content": s, "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": False, "special": True})
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                  "use_regex": False}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": PRETOKENIZE}, "behavior": "Isolated",
             "invert": False}, byte_level]},
        "post_processor": byte_level,
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": "", "end_of_word_suffix": "", "fuse_unk": False,
                  "byte_fallback": False, "ignore_merges": False, "vocab": vocab_map,
                  "merges": [[a, b] for a, b in merges]},
    }


# ---- model: Qwen3 architecture, as our engine and transformers compute it ----

class RMSNorm(torch.nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Block(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        d, hd = c["hidden_size"], c["head_dim"]
        self.nh, self.nkv, self.hd = c["num_attention_heads"], c["num_key_value_heads"], hd
        self.input_layernorm = RMSNorm(d, c["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(d, c["rms_norm_eps"])
        self.q_proj = torch.nn.Linear(d, self.nh * hd, bias=False)
        self.k_proj = torch.nn.Linear(d, self.nkv * hd, bias=False)
        self.v_proj = torch.nn.Linear(d, self.nkv * hd, bias=False)
        self.o_proj = torch.nn.Linear(self.nh * hd, d, bias=False)
        self.q_norm = RMSNorm(hd, c["rms_norm_eps"])
        self.k_norm = RMSNorm(hd, c["rms_norm_eps"])
        self.gate_proj = torch.nn.Linear(d, c["intermediate_size"], bias=False)
        self.up_proj = torch.nn.Linear(d, c["intermediate_size"], bias=False)
        self.down_proj = torch.nn.Linear(c["intermediate_size"], d, bias=False)

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        h = self.input_layernorm(x)
        q = self.q_norm(self.q_proj(h).view(b, t, self.nh, self.hd)).transpose(1, 2)
        k = self.k_norm(self.k_proj(h).view(b, t, self.nkv, self.hd)).transpose(1, 2)
        v = self.v_proj(h).view(b, t, self.nkv, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.nh // self.nkv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
        mask = torch.ones(t, t, dtype=torch.bool).triu(1)
        a = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1) @ v
        x = x + self.o_proj(a.transpose(1, 2).reshape(b, t, self.nh * self.hd))
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class TinyQwen3(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed_tokens = torch.nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = torch.nn.ModuleList([Block(c) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        hd = c["head_dim"]
        inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
        self.register_buffer("inv_freq", inv, persistent=False)
        torch.nn.init.normal_(self.embed_tokens.weight, std=0.02)
        for layer in self.layers:
            for lin in (layer.q_proj, layer.k_proj, layer.v_proj, layer.gate_proj, layer.up_proj):
                torch.nn.init.normal_(lin.weight, std=0.02)
            for lin in (layer.o_proj, layer.down_proj):
                torch.nn.init.normal_(lin.weight, std=0.02 / math.sqrt(2 * c["num_hidden_layers"]))

    def forward(self, ids):
        t = ids.shape[1]
        freqs = torch.outer(torch.arange(t, dtype=torch.float32), self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, cos, sin)
        return self.norm(x) @ self.embed_tokens.weight.T  # tied head


def state_for_export(model):
    out = {"model.embed_tokens.weight": model.embed_tokens.weight, "model.norm.weight": model.norm.weight}
    names = ["input_layernorm", "post_attention_layernorm"]
    attn = ["q_proj", "k_proj", "v_proj", "o_proj", "q_norm", "k_norm"]
    mlp = ["gate_proj", "up_proj", "down_proj"]
    for i, layer in enumerate(model.layers):
        p = f"model.layers.{i}."
        for n in names:
            out[p + n + ".weight"] = getattr(layer, n).weight
        for n in attn:
            out[p + "self_attn." + n + ".weight"] = getattr(layer, n).weight
        for n in mlp:
            out[p + "mlp." + n + ".weight"] = getattr(layer, n).weight
    return {k: v.detach().float().contiguous().numpy() for k, v in out.items()}


def write_safetensors(path, tensors):
    header, offset, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype=np.float32)
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def perplexity(model, ids, ctx):
    """Mean NLL over chunks of `ctx` tokens, every token but each chunk's first one scored
    (the same method as `mofa perplexity`)."""
    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for s in range(0, len(ids) - 1, ctx):
            chunk = torch.tensor(ids[s:s + ctx])[None]
            if chunk.shape[1] < 2:
                break
            logits = model(chunk)[0, :-1].double()
            nll = F.cross_entropy(logits, chunk[0, 1:], reduction="sum")
            total += nll.item()
            count += chunk.shape[1] - 1
    return math.exp(total / count), count


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1611)
    ap.add_argument("--steps", type=int, default=700)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--vocab", type=int, default=4096)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=256)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()

    verses = read_corpus()
    n_held = len(verses) * 3 // 100
    train_v, held_v = verses[:-n_held], verses[-n_held:]
    held_text = "\n".join(held_v) + "\n"
    with open(os.path.join(args.out, "heldout.txt"), "w") as f:
        f.write(held_text)

    vocab, merges = train_bpe(train_v, args.vocab)
    tok = tokenizer_json(vocab, merges)
    with open(os.path.join(args.out, "tokenizer.json"), "w") as f:
        json.dump(tok, f, ensure_ascii=False)
    V = len(vocab) + len(SPECIALS)
    eot, im_start, im_end = len(vocab), len(vocab) + 1, len(vocab) + 2
    print(f"tokenizer: {V} tokens, {len(merges)} merges ({time.time() - t0:.0f}s)", flush=True)

    enc = Encoder(vocab, merges)
    nl = enc.encode("\n")
    role = {r: enc.encode(r + "\n") for r in ("user", "assistant")}
    # Two kinds of training text: the running corpus, and one-turn chats in which the assistant
    # answers a verse with the verse that follows it.
    stream = []
    for v in train_v:
        stream.extend(enc.encode(v) + nl)
    chats = []
    for a, b in zip(train_v, train_v[1:]):
        chats.extend([im_start] + role["user"] + enc.encode(a) + [im_end] + nl + [im_start] +
                     role["assistant"] + enc.encode(b) + [im_end] + nl)
    data = torch.tensor(stream + [eot] + chats, dtype=torch.long)
    held_ids = enc.encode(held_text)
    print(f"data: {len(stream)} corpus tokens, {len(chats)} chat tokens ({time.time() - t0:.0f}s)",
          flush=True)

    cfg = {
        "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": V,
        "hidden_size": args.hidden, "intermediate_size": 3 * args.hidden,
        "num_hidden_layers": args.layers,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 64,
        "max_position_embeddings": 2048, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
        "rope_scaling": None, "attention_bias": False, "attention_dropout": 0.0,
        "hidden_act": "silu", "initializer_range": 0.02, "tie_word_embeddings": True,
        "use_cache": True, "use_sliding_window": False, "sliding_window": None,
        "max_window_layers": args.layers, "torch_dtype": "float32", "bos_token_id": eot,
        "eos_token_id": im_end,
    }
    model = TinyQwen3(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.1)
    warm = max(1, args.steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(s, args.steps) / args.steps)))
    gen = torch.Generator().manual_seed(args.seed)
    log = open(os.path.join(args.out, "train_log.csv"), "w")
    log.write("step,loss,lr,seconds\n")
    model.train()
    for step in range(1, args.steps + 1):
        starts = torch.randint(0, len(data) - args.seq - 1, (args.batch,), generator=gen)
        batch = torch.stack([data[s:s + args.seq + 1] for s in starts])
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, V), batch[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 10 == 0 or step == 1:
            log.write(f"{step},{loss.item():.4f},{sched.get_last_lr()[0]:.6f},{time.time() - t0:.0f}\n")
            log.flush()
        if step % 50 == 0 or step == 1:
            print(f"step {step}/{args.steps} loss {loss.item():.3f} ({time.time() - t0:.0f}s)", flush=True)

    ppl, n_scored = perplexity(model, held_ids, args.seq)
    # Unigram baseline: training-token frequencies (add-one smoothed) on the same held-out tokens.
    freq = np.bincount(data.numpy(), minlength=V).astype(np.float64) + 1.0
    logp = np.log(freq / freq.sum())
    uni = math.exp(-np.mean(logp[np.array(held_ids[1:])]))
    print(f"held-out perplexity {ppl:.3f} over {n_scored} tokens; unigram {uni:.1f}", flush=True)

    write_safetensors(os.path.join(args.out, "model.safetensors"), state_for_export(model))
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(args.out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": eot, "eos_token_id": [im_end, eot], "do_sample": True,
                   "temperature": 0.7, "top_p": 0.9, "top_k": 40}, f, indent=2)
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump({
            "added_tokens_decoder": {str(a["id"]): {k: v for k, v in a.items() if k != "id"}
                                     for a in tok["added_tokens"]},
            "bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
            "unk_token": None, "model_max_length": 2048, "clean_up_tokenization_spaces": False,
            "tokenizer_class": "Qwen2Tokenizer", "chat_template": CHAT_TEMPLATE}, f, indent=2,
            ensure_ascii=False)
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump({"seed": args.seed, "steps": args.steps, "batch": args.batch, "seq": args.seq,
                   "lr": args.lr, "params": n_params, "train_tokens": len(data),
                   "heldout_tokens_scored": n_scored, "heldout_perplexity": ppl,
                   "unigram_perplexity": uni, "seconds": round(time.time() - t0)}, f, indent=2)
    print(f"done in {time.time() - t0:.0f}s, {n_params} parameters", flush=True)


if __name__ == "__main__":
    main()
