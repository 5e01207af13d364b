#!/usr/bin/python3
"""Self-test of the fixture generator and the reference: generates every layout of both families
(tiny), checks the files (check_fixture.py), runs the reference on each and compares:

- hf-bf16 vs hf-f32 logits (same model, bf16-rounded weights): close;
- mlx-8bit / mlx-4bit vs hf-bf16 logits: progressively looser, still strongly correlated;
- float32 vs float64 reference on hf-f32: tight;
- greedy continuations of typical prompts are not degenerate (many distinct tokens).

Prints a table of numbers; exits non-zero when a check fails.
Usage: /usr/bin/python3 tools/selftest_fixtures.py [--keep DIR]
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import torch

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, TOOLS_DIR)
sys.path.insert(0, os.path.join(TOOLS_DIR, "reference"))

import check_fixture  # noqa: E402
import gen_fixture  # noqa: E402
import qwen_forward  # noqa: E402

# Token ids from the real Qwen tokenizer: "Hello, world! How are you?", a chat prompt, digits.
PROMPTS = [
    [9707, 11, 1879, 0, 2585, 525, 498, 30],
    [151644, 872, 198, 9707, 151645, 198, 151644, 77091, 198],
    [16, 17, 18, 19, 20],
    [785, 3974, 13876, 38835, 34208, 916, 279, 15678, 5562, 13],
]
LAYOUTS = ["hf-f32", "hf-bf16", "mlx-8bit", "mlx-4bit"]


def greedy(model, ids, n):
    seq = list(ids)
    out = []
    with torch.no_grad():
        for _ in range(n):
            t = int(model.forward(seq)[-1].argmax())
            out.append(t)
            seq.append(t)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", help="write fixtures here and keep them")
    args = ap.parse_args(argv)
    root = args.keep or tempfile.mkdtemp(prefix="mofa-fixtures-")
    failures = []

    def expect(cond, msg):
        print(("ok   " if cond else "FAIL ") + msg)
        if not cond:
            failures.append(msg)

    try:
        for fam in ("qwen2", "qwen3"):
            logits = {}
            for lay in LAYOUTS:
                d = os.path.join(root, f"{fam}-{lay}")
                t0 = time.time()
                gen_fixture.main(["--family", fam, "--layout", lay, "--out", d])
                t_gen = time.time() - t0
                check_fixture.main([d])
                t0 = time.time()
                m = qwen_forward.QwenReference(d)
                with torch.no_grad():
                    logits[lay] = [m.forward(p)[-1].numpy() for p in PROMPTS]
                t_ref = time.time() - t0
                expect(t_gen < 5, f"{fam} {lay}: generated in {t_gen:.2f} s")
                print(f"     {fam} {lay}: reference load + {len(PROMPTS)} forwards {t_ref:.2f} s")
                if lay == "hf-f32":
                    outs = [greedy(m, p, 32) for p in PROMPTS]
                    distinct = [len(set(o)) for o in outs]
                    expect(min(distinct) >= 8, f"{fam} {lay}: distinct tokens in 32-step greedy runs {distinct}")
                    m32 = qwen_forward.QwenReference(d, torch.float32)
                    with torch.no_grad():
                        l32 = [m32.forward(p)[-1].numpy().astype(np.float64) for p in PROMPTS]
                    diff = max(float(np.abs(a - b).max()) for a, b in zip(l32, logits[lay]))
                    expect(diff < 1e-3, f"{fam}: float32 vs float64 reference max |dlogit| {diff:.2e}")
            base = logits["hf-f32"]
            spread = float(np.mean([np.std(x) for x in base]))
            print(f"     {fam}: logit std {spread:.3f}")
            for lay, tol_abs, min_corr in (("hf-bf16", 0.25, 0.9995), ("mlx-8bit", 1.0, 0.995),
                                           ("mlx-4bit", 8.0, 0.8)):
                ref = base if lay == "hf-bf16" else logits["hf-bf16"]
                d = max(float(np.abs(a - b).max()) for a, b in zip(logits[lay], ref))
                corr = min(float(np.corrcoef(a, b)[0, 1]) for a, b in zip(logits[lay], ref))
                top1 = sum(int(np.argmax(a) == np.argmax(b)) for a, b in zip(logits[lay], ref))
                against = "hf-f32" if lay == "hf-bf16" else "hf-bf16"
                expect(d < tol_abs and corr > min_corr,
                       f"{fam} {lay} vs {against}: max |dlogit| {d:.4f}, min corr {corr:.5f}, "
                       f"top-1 agree {top1}/{len(PROMPTS)}")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print("selftest:", "FAILED" if failures else "passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
