#!/usr/bin/env python3
"""Per-token cost of grammar-constrained sampling, with and without a grammar.

Starts mofa-server on a model (default: a random-weight Qwen3 fixture with the real 151,936-token
Qwen vocabulary, written by tools/gen_fixture.py) and runs /api/generate requests, reading the
engine's own eval_count / eval_duration. A random-weight model is the worst case for the grammar:
almost every sampled token is rejected, so the fallback (the full-vocabulary mask) runs often.

  /usr/bin/python3 bench/constrained_sampling.py --server build/mofa-server [--model DIR] [-n 200]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CASES = [
    ("free text", None),
    ("schema: array of short strings", {"type": "array", "items": {"type": "string", "maxLength": 24}, "maxItems": 64}),
    ("schema: records (object/int/enum)", {"type": "array", "maxItems": 32, "items": {
        "type": "object", "additionalProperties": False, "required": ["id", "name", "kind"],
        "properties": {"id": {"type": "integer", "minimum": 0, "maximum": 9999},
                       "name": {"type": "string", "maxLength": 12},
                       "kind": {"enum": ["alpha", "beta", "gamma"]}}}}),
    ('format "json" (any object)', "json"),
]


SAMPLING = [
    ("greedy", {"temperature": 0.0}),
    ("temp 1, top-k 40", {"temperature": 1.0, "top_k": 40, "top_p": 1.0, "min_p": 0.0}),
    ("temp 1, full vocabulary", {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0}),
]


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", default=os.path.join(ROOT, "build", "mofa-server"))
    ap.add_argument("--model", help="model directory (default: a fresh random-weight Qwen3 fixture)")
    ap.add_argument("-n", type=int, default=200, help="tokens per request")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp()
    model = args.model
    if not model:
        model = os.path.join(tmp, "qwen3-fixture")
        subprocess.run([sys.executable, os.path.join(ROOT, "tools", "gen_fixture.py"), "--family", "qwen3",
                        "--layout", "hf-f32", "--size", "tiny", "--seed", "1", "--out", model],
                       check=True, stdout=subprocess.DEVNULL)
    env = dict(os.environ, MOFA_HOME=os.path.join(tmp, "home"))
    proc = subprocess.Popen([args.server, "--model", model, "--host", "127.0.0.1", "--port", "0",
                             "--threads", str(args.threads), "--ctx-size", "2048"],
                            stderr=subprocess.PIPE, text=True, env=env)
    url = None
    while url is None:
        line = proc.stderr.readline()
        if not line:
            sys.exit("mofa-server exited")
        m = re.search(r"listening on (http://[\d.]+:\d+)", line)
        url = m.group(1) if m else None
    try:
        name = os.path.basename(model.rstrip("/"))
        post(url + "/api/generate", {"model": name, "prompt": "warm up", "stream": False, "options": {"num_predict": 4}})
        print(f"model {model}, {args.n} tokens x {args.seeds} seeds, {args.threads} threads")
        print("| sampling | case | tokens | ms/token | vs free text |")
        print("|---|---|---|---|---|")
        for sampling, opts in SAMPLING:
            base = None
            for label, fmt in CASES:
                tokens, ns = 0, 0
                for seed in range(1, args.seeds + 1):
                    body = {"model": name, "prompt": "Write JSON:", "stream": False, "raw": True,
                            "options": {"num_predict": args.n, "seed": seed, **opts}}
                    if fmt is not None:
                        body["format"] = fmt
                    r = post(url + "/api/generate", body)
                    tokens += r["eval_count"]
                    ns += r["eval_duration"]
                per = ns / max(tokens, 1) / 1e6
                base = base or per
                print(f"| {sampling} | {label} | {tokens} | {per:.2f} | {100 * (per / base - 1):+.1f}% |")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
