#!/usr/bin/env bash
# Chat templates against Python's jinja2 set up as transformers' apply_chat_template does
# (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, {% generation %},
# tojson = json.dumps(ensure_ascii=False), raise_exception, strftime_now; tools=None when absent):
# every real template in tests/text/templates/ x every conversation, byte for byte with
# `mofa template --jsonl`. A template error must be an error on both sides.
set -euo pipefail
src="${MOFA_SOURCE_DIR:?}"
bin="${MOFA_BINARY_DIR:?}"
/usr/bin/python3 - "$src/tests/text/templates" "$bin/mofa" <<'PY'
import json
import os
import subprocess
import sys
import tempfile
from datetime import datetime

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

data_dir, mofa = sys.argv[1], sys.argv[2]


class Generation(Extension):
    """transformers' AssistantTracker: {% generation %} renders its body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


class TemplateError(Exception):
    pass


def raise_exception(message):
    raise TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def strftime_now(fmt):
    return datetime.now().strftime(fmt)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                    extensions=[Generation, jinja2.ext.loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = strftime_now

manifest = json.load(open(os.path.join(data_dir, "manifest.json"), encoding="utf-8"))
lines = [l for l in open(os.path.join(data_dir, "conversations.jsonl"), encoding="utf-8")
         if l.strip()]
convs = [json.loads(l) for l in lines]
failures = compared = 0
for entry in manifest["templates"]:
    source = open(os.path.join(data_dir, entry["file"]), encoding="utf-8").read()
    template = env.from_string(source)
    with tempfile.TemporaryDirectory() as model:
        with open(os.path.join(model, "chat_template.jinja"), "w", encoding="utf-8") as f:
            f.write(source)
        with open(os.path.join(model, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump({"bos_token": entry["bos_token"], "eos_token": entry["eos_token"]}, f)
        run = subprocess.run([mofa, "template", "--model", model, "--jsonl"],
                             input="".join(lines).encode(), capture_output=True)
    if run.returncode != 0:
        print(f"FAIL {entry['file']}: mofa exited {run.returncode}: {run.stderr.decode()}")
        failures += 1
        continue
    ours = [json.loads(l) for l in run.stdout.decode().splitlines() if l]
    bad = 0
    for i, conv in enumerate(convs):
        variables = {"bos_token": entry["bos_token"], "eos_token": entry["eos_token"]}
        variables.update(conv.get("kwargs") or {})
        try:
            ref = {"prompt": template.render(
                messages=conv["messages"], tools=conv.get("tools") or None, documents=None,
                add_generation_prompt=conv.get("add_generation_prompt", False), **variables)}
        except Exception as e:  # a template error: mofa must report one too
            ref = {"error": f"{type(e).__name__}: {e}"}
        got = ours[i] if i < len(ours) else {}
        compared += 1
        if ("error" in ref) != ("error" in got) or ref.get("prompt") != got.get("prompt"):
            bad += 1
            print(f"MISMATCH {entry['file']} conversation {i}")
            print("  jinja2:", json.dumps(ref, ensure_ascii=False)[:2000])
            print("  mofa:  ", json.dumps(got, ensure_ascii=False)[:2000])
    failures += bad
    print(f"{'FAIL' if bad else 'ok  '} {entry['file']} ({entry['model']})")
print(f"{compared} renderings compared with jinja2 {jinja2.__version__}, {failures} failures")
sys.exit(1 if failures or not compared else 0)
PY
