#!/usr/bin/env python3
"""Renders every chat template in templates/ for every conversation in conversations.json with
Python's jinja2, configured as Hugging Face transformers' apply_chat_template configures it, and
writes renderings.json: the reference model/jinja/fixtures_test.cc compares Hearth's output to.

    python3 model/jinja/testdata/render_reference.py [SmolLM2.gguf]

With a GGUF path it first refreshes templates/smollm2.jinja from the file's
tokenizer.chat_template. Needs only jinja2 (3.1.x; the renderings were made with 3.1.6).
"""
import datetime
import json
import os
import struct
import sys

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
# strftime_now's clock, fixed so the output is reproducible: 2024-07-26 12:00 UTC (the C++ test
# passes the same instant).
NOW = datetime.datetime(2024, 7, 26, 12, 0, 0)
NOW_UNIX = 1721995200

# The special tokens each model's tokenizer gives apply_chat_template.
TOKENS = {
    "llama3.1": ("<|begin_of_text|>", "<|eot_id|>"),
    "llama3.2": ("<|begin_of_text|>", "<|eot_id|>"),
    "qwen2.5": ("", "<|im_end|>"),  # no BOS: "" rather than None, which no template prints
    "mistral-nemo": ("<s>", "</s>"),
    "gemma2": ("<bos>", "<eos>"),
    "phi3.5": ("<s>", "<|endoftext|>"),
    "smollm2": ("<|im_start|>", "<|im_end|>"),
    # More published templates, under their names in llama.cpp's models/templates.
    "meta-llama-Llama-3.3-70B-Instruct": ("<|begin_of_text|>", "<|eot_id|>"),
    "Qwen-Qwen3-0.6B": ("", "<|im_end|>"),
    "Qwen-QwQ-32B": ("", "<|im_end|>"),
    "deepseek-ai-DeepSeek-R1-Distill-Llama-8B": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "openai-gpt-oss-120b": ("<|startoftext|>", "<|return|>"),
    "moonshotai-Kimi-K2": ("[BOS]", "[EOS]"),
    "CohereForAI-c4ai-command-r7b-12-2024-tool_use": ("<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>"),
    "CohereForAI-c4ai-command-r-plus-tool_use": ("<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>"),
    "ibm-granite-granite-3.3-2B-Instruct": ("", "<|end_of_text|>"),
    "NousResearch-Hermes-3-Llama-3.1-8B-tool_use": ("<|begin_of_text|>", "<|im_end|>"),
    "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use": ("<|begin_of_text|>", "<|im_end|>"),
    "Mistral-Small-3.2-24B-Instruct-2506": ("<s>", "</s>"),
    "unsloth-mistral-Devstral-Small-2507": ("<s>", "</s>"),
    "meetkai-functionary-medium-v3.2": ("<|begin_of_text|>", "<|eot_id|>"),
    "fireworks-ai-llama-3-firefunction-v2": ("<|begin_of_text|>", "<|eot_id|>"),
}


def gguf_chat_template(path):
    """tokenizer.chat_template from a GGUF file's metadata (version 2 or 3)."""
    with open(path, "rb") as f:
        data = f.read(64 << 20)
    assert data[:4] == b"GGUF", "not a GGUF file"
    _, _, n_kv = struct.unpack_from("<IQQ", data, 4)
    pos = 24
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}

    def read_str(pos):
        (n,) = struct.unpack_from("<Q", data, pos)
        return data[pos + 8:pos + 8 + n].decode("utf-8"), pos + 8 + n

    def skip(kind, pos):
        if kind == 8:
            return read_str(pos)[1]
        if kind == 9:
            sub, n = struct.unpack_from("<IQ", data, pos)
            pos += 12
            for _ in range(n):
                pos = skip(sub, pos)
            return pos
        return pos + sizes[kind]

    for _ in range(n_kv):
        key, pos = read_str(pos)
        (kind,) = struct.unpack_from("<I", data, pos)
        pos += 4
        if key == "tokenizer.chat_template":
            return read_str(pos)[0]
        pos = skip(kind, pos)
    raise KeyError("tokenizer.chat_template")


def make_env():
    # As transformers' chat template utilities: sandboxed, trim/lstrip blocks, loop controls,
    # tojson without HTML escaping, raise_exception and strftime_now.
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: NOW.strftime(fmt)
    return env


def main():
    if len(sys.argv) > 1:
        with open(os.path.join(HERE, "templates", "smollm2.jinja"), "w") as f:
            f.write(gguf_chat_template(sys.argv[1]))
    with open(os.path.join(HERE, "conversations.json")) as f:
        conversations = json.load(f)
    env = make_env()
    out = {"jinja2_version": jinja2.__version__, "now_unix": NOW_UNIX,
           "tokens": {name: {"bos_token": bos, "eos_token": eos} for name, (bos, eos) in TOKENS.items()},
           "renderings": []}
    for name in sorted(TOKENS):
        with open(os.path.join(HERE, "templates", name + ".jinja")) as f:
            template = env.from_string(f.read())
        bos, eos = TOKENS[name]
        for conv in conversations:
            for add_generation_prompt in (True, False):
                r = {"template": name, "conversation": conv["name"],
                     "add_generation_prompt": add_generation_prompt}
                try:
                    r["text"] = template.render(messages=conv["messages"], tools=conv.get("tools"),
                                                add_generation_prompt=add_generation_prompt,
                                                bos_token=bos, eos_token=eos)
                except Exception as e:  # raise_exception, or a type error inside the template
                    r["error"] = str(e)
                out["renderings"].append(r)
    with open(os.path.join(HERE, "renderings.json"), "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("wrote %d renderings" % len(out["renderings"]))


if __name__ == "__main__":
    main()
