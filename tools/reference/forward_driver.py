"""The command line every reference forward shares (qwen_forward.py, glm_forward.py,
minicpm_forward.py): prompt token ids in; a JSON file out with the last position's logits (every
position's with --all-logits), a greedy continuation with each step's top-2 margin, and the
seconds it took. Each script adds its own flags, builds its model and says how the logits of one
more step are computed; the prompt checks, the greedy loop and the output format live here once.
"""

import argparse
import json
import sys
import time

import torch


def parse_ids(text):
    """Token ids from a JSON list or a comma / space separated string."""
    text = text.strip()
    if text.startswith("["):
        return [int(v) for v in json.loads(text)]
    return [int(v) for v in text.replace(",", " ").split()]


def parser(doc):
    """The shared flags: --model, --ids or --ids-file, --greedy, --all-logits, --dtype, --out."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--ids", help="comma-separated prompt token ids")
    src.add_argument("--ids-file", help="file with ids (JSON list, or comma/space separated)")
    ap.add_argument("--greedy", type=int, default=0, help="greedy continuation length")
    ap.add_argument("--all-logits", action="store_true", help="also write logits of every prompt position")
    ap.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    ap.add_argument("--out", required=True)
    return ap


class Run:
    """One invocation: the prompt, the torch dtype and the clock, from parsed arguments."""

    def __init__(self, args, name):
        self.args = args
        self.name = name
        text = args.ids if args.ids is not None else open(args.ids_file).read()
        self.ids = parse_ids(text)
        if not self.ids:
            sys.exit(f"{name}: empty prompt")
        self.dtype = torch.float64 if args.dtype == "float64" else torch.float32
        self.t0 = time.time()
        self.result = {}

    def check_vocab(self, vocab):
        bad = [i for i in self.ids if not 0 <= i < vocab]
        if bad:
            sys.exit(f"{self.name}: ids {bad[:5]} out of range [0, {vocab})")

    def prompt_logits(self, family, logits):
        """Records the prompt's logits ([positions, vocab], the last row at least)."""
        self.result.update({"model_type": family, "dtype": self.args.dtype, "ids": self.ids,
                            "logits_last": logits[-1].tolist()})
        if self.args.all_logits:
            self.result["all_logits"] = logits.tolist()

    def greedy(self, last, next_logits, stop=(), top=2):
        """Continues the prompt greedily for --greedy steps from the prompt's last logits.
        next_logits(seq) gives the logits after seq (the prompt plus the tokens chosen so far);
        a token in `stop` ends the continuation. With top > 2 every step's `top` largest logits
        are kept as [id, value] pairs (greedy_top), so decode steps can be checked by value."""
        steps = self.args.greedy
        if not steps:
            return
        greedy, margins, tops, seq = [], [], [], list(self.ids)
        for step in range(steps):
            if step > 0:
                last = next_logits(seq)
            best = torch.topk(last, top)
            tok = int(best.indices[0])
            margins.append(float(best.values[0] - best.values[1]))
            if top > 2:
                tops.append([[int(i), float(v)] for i, v in zip(best.indices, best.values)])
            greedy.append(tok)
            seq.append(tok)
            if tok in stop:
                break
        self.result["greedy"] = greedy
        self.result["greedy_margins"] = margins
        if top > 2:
            self.result["greedy_top"] = tops

    def write(self):
        self.result["seconds"] = round(time.time() - self.t0, 3)
        with open(self.args.out, "w") as f:
            json.dump(self.result, f)
        return 0
