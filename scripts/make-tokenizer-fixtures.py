#!/usr/bin/env python3
"""Writes the tokenizer conformance fixtures from llama.cpp (the reference) and jinja2.

    /root/.cache/hearth/refvenv/bin/python scripts/make-tokenizer-fixtures.py [MODEL.gguf]

Outputs (committed, so CI never needs llama.cpp):
  model/testdata/tokenizer/smollm2.jsonl       {"text", "special", "ids"} per line
  model/testdata/tokenizer/chat_templates.json  templates, conversations and rendered prompts
The strings are generated deterministically (fixed seed). Code points unassigned in this
Python's Unicode version are left out, since Unicode versions differ between implementations.
"""
import json
import os
import random
import sys
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, 'model', 'testdata', 'tokenizer')
SEED = 20240611

FIXED = [
    "Hello world", "Hello, world!", " leading space", "trailing space ", "  two leading",
    "I'm here, you're there, they'll go, we've been, she'd say, it's done, don't",
    "I'M SHOUTING, YOU'RE TOO, IT'S LOUD", "rock'n'roll 'quoted' ''", "O'Neil's",
    "The quick brown fox jumps over the lazy dog.", "", " ", "  ", "\t", "\n", "\n\n\n",
    "\r\n", "a\r\nb", "line1\nline2\n\nline4", " \n ", "\t\tindented\n\t\t\tmore",
    "word     spaced      out", "tabs\tand\tspaces \t mixed", "end with newline\n",
    "1234567890", "3.14159265358979", "1,000,000.00", "2024-01-01T12:34:56Z", "-42 +17 ±3",
    "0x1F600 0b1010 1e-10", "v1.2.3-rc4", "12345678901234567890123456789", "phone: +1 (555) 010-9999",
    "café naïve résumé", "Ünïcödé Ĉĥåŕåĉŧéŗš", "Straße Grüße", "e\u0301 combining acute",
    "你好，世界！", "这是一个测试。", "こんにちは世界", "カタカナとひらがな", "안녕하세요 세계",
    "مرحبا بالعالم", "שלום עולם", "Привет, мир!", "Γειά σου Κόσμε", "नमस्ते दुनिया", "สวัสดีชาวโลก",
    "Xin chào thế giới", "Merhaba dünya", "Cześć świecie", "😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷🇯🇵",
    "I ❤️ emoji 🎉🎊🥳", "∑∫√π ≤ ≥ ≠ ∞", "x² + y³ = z⁴", "½ ¼ ¾ ⅓", "ＡＢＣ１２３", "Ⅻ Ⅳ ⅷ",
    "٣٤٥ ١٢", "non\u00a0breaking\u00a0space", "ideographic\u3000space", "zero\u200bwidth",
    "em—dash en–dash … «quotes» „Anführung“", "\u2028line sep\u2029para sep",
    "def foo(x):\n    return x * 2\n", "int main() {\n\treturn 0;\n}\n",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }", "if (a && b || !c) x->y = *z;",
    "const re = /^[a-z]+$/gi;", "<div class=\"x\">Hi &amp; bye</div>", "SELECT * FROM t WHERE id = 42;",
    "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}}", "https://example.com/path?q=1&r=two#frag",
    "user@example.com", "$ ls -la | grep foo > out.txt 2>&1", "// comment\n/* block */",
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_start|>user\nHello!<|im_end|>\n",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>assistant\n",
    "text<|im_end|>more text", "<|im_end|><|im_end|>", "<|im_start", "im_start|>", "<|im_start|",
    "<|im_start|><|endoftext|>", "<repo_name>hearth<file_sep>main.cc", "<reponame> <filename>",
    "<jupyter_code>print(1)<jupyter_output>1", "<gh_stars>100", "<issue_start>bug<issue_closed>",
    "a<|endoftext|>b", " <|im_start|> spaced <|im_end|> ",
]

WORDS = ("the of and to in is you that it he was for on are as with his they I at be this have "
         "from or one had by word but not what all were we when your can said there use an each "
         "which she do how their if will up other about out many then them these so some her "
         "would make like him into time has look two more write go see number no way could "
         "people my than first water been call who oil its now find long down day did get come "
         "made may part tokenizer hearth daemon GPU CPU llama smol Hugging Face").split()
PUNCT = list(".,;:!?-_()[]{}<>\"'`~@#$%^&*+=/\\|")
SPACES = [" ", " ", " ", "  ", "   ", "\t", "\n", "\n\n", " \n", "\r\n", "\u00a0", "\u3000"]
SPECIALS = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<repo_name>", "<file_sep>"]
# Blocks to draw random characters from (start, end inclusive).
BLOCKS = [(0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x5FF),
          (0x600, 0x6FF), (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF), (0x2000, 0x206F),
          (0x2070, 0x209F), (0x20A0, 0x20CF), (0x2100, 0x214F), (0x2150, 0x218F),
          (0x2190, 0x21FF), (0x2200, 0x22FF), (0x2460, 0x24FF), (0x3000, 0x303F),
          (0x3040, 0x30FF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xFF00, 0xFFEF),
          (0x1D400, 0x1D7FF), (0x1F300, 0x1F64F), (0x1F900, 0x1F9FF)]


def random_char(rng):
    while True:
        lo, hi = rng.choice(BLOCKS)
        ch = chr(rng.randint(lo, hi))
        if unicodedata.category(ch) not in ('Cn', 'Cs', 'Co'):
            return ch


def random_number(rng):
    kind = rng.randrange(4)
    if kind == 0:
        return str(rng.randint(0, 10 ** rng.randint(1, 25)))
    if kind == 1:
        return "%.*f" % (rng.randint(1, 6), rng.uniform(-1e4, 1e4))
    if kind == 2:
        return "{:,}".format(rng.randint(0, 10 ** 12))
    return "".join(random_char(rng) for _ in range(rng.randint(1, 4))) + str(rng.randint(0, 99))


def random_fragment(rng, with_specials):
    r = rng.random()
    if r < 0.40:
        w = rng.choice(WORDS)
        return w.upper() if rng.random() < 0.1 else (w.capitalize() if rng.random() < 0.2 else w)
    if r < 0.55:
        return random_number(rng)
    if r < 0.68:
        return "".join(rng.choice(PUNCT) for _ in range(rng.randint(1, 3)))
    if r < 0.88:
        return "".join(random_char(rng) for _ in range(rng.randint(1, 6)))
    if r < 0.94:
        return "'" + rng.choice(["s", "t", "re", "ve", "m", "ll", "d", "S", "LL", "x"])
    if with_specials:
        return rng.choice(SPECIALS)
    return rng.choice(SPACES)


def random_string(rng, max_fragments=14):
    with_specials = rng.random() < 0.3
    parts = []
    for _ in range(rng.randint(1, max_fragments)):
        parts.append(random_fragment(rng, with_specials))
        if rng.random() < 0.6:
            parts.append(rng.choice(SPACES))
    return "".join(parts)


def make_strings():
    rng = random.Random(SEED)
    strings = list(FIXED)
    while len(strings) < 560:
        strings.append(random_string(rng))
    for _ in range(4):  # a few long texts (a few KB) to exercise long inputs
        strings.append("".join(random_string(rng, 40) for _ in range(12)))
    return strings


def tokenize_fixtures(model_path):
    from llama_cpp import Llama
    llm = Llama(model_path=model_path, vocab_only=True, verbose=False)
    lines = []
    for text in make_strings():
        ids = llm.tokenize(text.encode('utf-8'), add_bos=False, special=True)
        lines.append({"text": text, "special": True, "ids": ids})
        if "<" in text:  # the same text with special tokens treated as plain text
            ids = llm.tokenize(text.encode('utf-8'), add_bos=False, special=False)
            lines.append({"text": text, "special": False, "ids": ids})
    path = os.path.join(OUT_DIR, 'smollm2.jsonl')
    with open(path, 'w', encoding='utf-8') as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    print("wrote %s: %d lines, %d bytes" % (path, len(lines), os.path.getsize(path)))


def gguf_chat_template(model_path):
    from gguf import GGUFReader
    reader = GGUFReader(model_path)
    field = reader.fields['tokenizer.chat_template']
    return bytes(field.parts[field.data[0]]).decode('utf-8')


# Public templates of the Llama 3 Instruct and Mistral Instruct v0.1 models (format facts).
LLAMA3_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim "
    "+ '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant"
    "<|end_header_id|>\n\n' }}{% endif %}")
MISTRAL_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != "
    "(loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
    "user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}"
    "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
    "{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant "
    "roles are supported!') }}{% endif %}{% endfor %}")

CONVERSATIONS = [
    [{"role": "user", "content": "Hello!"}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi there"}],
    [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4."},
     {"role": "user", "content": "And 3+3?"}],
    [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "  spaced \n"},
     {"role": "assistant", "content": "Sure: 中文 😀"}, {"role": "user", "content": "Thanks"}],
]


def chat_fixtures(model_path):
    import jinja2
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)

    def raise_exception(msg):
        raise ValueError(msg)

    templates = {"smollm2": gguf_chat_template(model_path), "llama3": LLAMA3_TEMPLATE,
                 "mistral": MISTRAL_TEMPLATE}
    eos = {"smollm2": "<|im_end|>", "llama3": "<|eot_id|>", "mistral": "</s>"}
    cases = []
    for name, source in templates.items():
        tmpl = env.from_string(source)
        for messages in CONVERSATIONS:
            for add_gen in (True, False):
                if name == "mistral" and messages[0]["role"] == "system":
                    continue  # that template rejects system messages
                # bos_token is left empty: Hearth adds BOS when tokenizing, as llama.cpp does.
                text = tmpl.render(messages=messages, add_generation_prompt=add_gen,
                                   bos_token="", eos_token=eos[name],
                                   raise_exception=raise_exception)
                cases.append({"template": name, "messages": messages,
                              "add_generation_prompt": add_gen, "expected": text})
    out = {"templates": templates, "eos": eos, "cases": cases}
    path = os.path.join(OUT_DIR, 'chat_templates.json')
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
    print("wrote %s: %d cases" % (path, len(cases)))


def main():
    default = os.path.join(os.environ.get("HOME", "/root"), ".cache", "hearth",
                           "SmolLM2-135M-Instruct.Q4_1.gguf")
    model_path = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("HEARTH_MODEL_PATH", default)
    os.makedirs(OUT_DIR, exist_ok=True)
    tokenize_fixtures(model_path)
    chat_fixtures(model_path)


if __name__ == '__main__':
    main()
