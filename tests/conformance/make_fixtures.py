#!/usr/bin/env python3
"""Makes the llama.cpp conformance fixtures for SmolLM2-135M-Instruct (Q4_1, and
its F16 export made by `hearth-export MODEL --format gguf --dtype f16`).

Runs llama.cpp (PyPI llama-cpp-python) on the model and writes, for each prompt:
its token ids, the top-1 token and top-5 log-probabilities at every prompt
position, a 64-token greedy continuation (EOS included, no stopping), and the
top-1 token at every position when prompt + continuation are evaluated as one
batch ("forced_top1"), and the greedy continuation llama.cpp gives when every step
evaluates the whole sequence as one batch ("greedy_batched"). llama.cpp sums attention in a different order for a
one-token batch than for a longer one, so its free-running greedy text is not
what its own batched evaluation of the same tokens predicts; Hearth computes
every position the same way however the tokens are batched, and is checked
against the batched evaluation.
CI reads the JSON; it never needs llama.cpp.

  python tests/conformance/make_fixtures.py SmolLM2-135M-Instruct.Q4_1.gguf > tests/conformance/smollm2_q4_1.json
  python tests/conformance/make_fixtures.py SmolLM2-135M-Instruct.F16.gguf > tests/conformance/smollm2_f16.json
"""
import json
import sys

import llama_cpp
import numpy as np

PROMPTS = [
    "The capital of France is",
    "Once upon a time, in a small village by the sea,",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "Q: What is 17 times 23?\nA:",
    "The three primary colors are",
    "In 1969, astronauts first landed on",
    "Here is a haiku about autumn leaves:\n",
    "Water boils at a temperature of",
    "The quick brown fox",
    "Translate to French: 'Good morning, how are you?'\n",
    "A list of fruits: apple, banana,",
    "The largest planet in our solar system is",
    "To make a cup of tea, first",
    "import numpy as np\n\nx = np.arange(10)\n",
    "The mitochondria is the",
    "Photosynthesis converts sunlight into",
    "<|im_start|>user\nWhat is the boiling point of water?<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
    "<|im_start|>user\nWrite a short poem about the moon.<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nList three uses of a paperclip.<|im_end|>\n<|im_start|>assistant\n",
    "SELECT name, age FROM users WHERE",
]
NUM_GENERATE = 64
TOP_N = 5


def log_softmax(row):
    row = np.asarray(row, dtype=np.float64)
    m = row.max()
    return row - m - np.log(np.exp(row - m).sum())


def greedy_batched(llm, tokens, generated, forced):
    """llama.cpp's greedy continuation when every step evaluates the whole sequence as one
    batch, so that no step takes llama.cpp's one-token path. It equals `generated` up to the
    first position where the batched evaluation (`forced`) picks another token; from there
    each step re-evaluates prompt + continuation from an empty cache."""
    out = []
    for i, tok in enumerate(generated):
        pick = forced[len(tokens) + i - 1]
        out.append(pick)
        if pick != tok:
            break
    while len(out) < len(generated):
        llm.reset()
        llm.eval(tokens + out)
        out.append(int(np.argmax(llm.scores[llm.n_tokens - 1])))
    return out


def main():
    model_path = sys.argv[1]
    llm = llama_cpp.Llama(model_path=model_path, n_ctx=1024, n_threads=2, n_batch=512,
                          logits_all=True, verbose=False)
    cases = []
    for text in PROMPTS:
        tokens = llm.tokenize(text.encode(), add_bos=True, special=True)
        llm.reset()
        llm.eval(tokens)
        positions = []
        for i in range(len(tokens)):
            lp = log_softmax(llm.scores[i])
            top = np.argsort(-lp, kind="stable")[:TOP_N]
            positions.append({"top": [[int(t), round(float(lp[t]), 5)] for t in top]})
        generated = []
        last = llm.scores[len(tokens) - 1]
        for _ in range(NUM_GENERATE):
            tok = int(np.argmax(last))
            generated.append(tok)
            llm.eval([tok])
            last = llm.scores[llm.n_tokens - 1]
        llm.reset()
        llm.eval(tokens + generated)
        forced = [int(np.argmax(llm.scores[i])) for i in range(len(tokens) + len(generated))]
        batched = greedy_batched(llm, tokens, generated, forced)
        cases.append({"prompt": text, "tokens": tokens, "positions": positions,
                      "greedy": generated, "forced_top1": forced, "greedy_batched": batched,
                      "greedy_text": llm.detokenize(generated).decode("utf-8", "replace")})
    json.dump({"model": model_path.rsplit("/", 1)[-1],
               "reference": "llama.cpp via llama-cpp-python " + llama_cpp.__version__,
               "cases": cases}, sys.stdout, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()
