"""The bench's six models, made once into a cache directory: SmolLM2-135M Q4_1 (the default
model, scripts/fetch-default-model), its Q8_0 and F16 exports (hearth-export) and three larger
random-weight models with SmolLM2's tokenizer (hearth-make-model), so that every model takes
the same token ids. Listed by popularity rank: the first is the most requested."""
from __future__ import annotations

import os
import subprocess
from typing import Dict, List, Tuple

SMOL = "SmolLM2-135M-Instruct.Q4_1.gguf"

# (name, file, how to make it). Sizes are interleaved over the ranks, so that large and
# small models are both popular and rare. Random models: Llama shapes with SmolLM2's vocab
# (49152); weights dominate the file, as in real models of those sizes.
MODELS: List[Tuple[str, str, Tuple[str, ...]]] = [
    ("smol-q8", "smol-q8_0.gguf", ("export", "q8_0")),  # 138 MiB
    ("rand8-f16", "rand-l8-h1024-f16-s1.gguf",  # 366 MiB
     ("make", "--layers", "8", "--hidden", "1024", "--heads", "16", "--kv-heads", "4", "--ffn", "2816",
      "--ctx", "2048", "--type", "f16", "--seed", "1")),
    ("smol-f16", "smol-f16.gguf", ("export", "f16")),  # 258 MiB
    ("rand8-f32", "rand-l8-h1024-f32-s3.gguf",  # 730 MiB
     ("make", "--layers", "8", "--hidden", "1024", "--heads", "16", "--kv-heads", "4", "--ffn", "2816",
      "--ctx", "2048", "--type", "f32", "--seed", "3")),
    ("smol-q4", SMOL, ("source",)),  # 93 MiB
    ("rand16-f16", "rand-l16-h1024-f16-s2.gguf",  # 538 MiB
     ("make", "--layers", "16", "--hidden", "1024", "--heads", "16", "--kv-heads", "4", "--ffn", "2816",
      "--ctx", "2048", "--type", "f16", "--seed", "2")),
]


def smol_path() -> str:
    if os.environ.get("HEARTH_MODEL_PATH"):
        return os.environ["HEARTH_MODEL_PATH"]
    return os.path.join(os.environ.get("HEARTH_CACHE") or os.path.expanduser("~/.cache/hearth"), SMOL)


def ensure(bin_dir: str, model_dir: str) -> Dict[str, str]:
    """name -> path, in popularity order; makes the files that are missing (a few seconds each)."""
    src = smol_path()
    if not os.path.isfile(src):
        raise RuntimeError(f"no model at {src}; run scripts/fetch-default-model")
    os.makedirs(model_dir, exist_ok=True)
    out: Dict[str, str] = {}
    for name, file, how in MODELS:
        if how[0] == "source":
            out[name] = src
            continue
        path = os.path.join(model_dir, file)
        if not os.path.isfile(path):
            tmp = path + ".part"
            if how[0] == "export":
                argv = [os.path.join(bin_dir, "hearth-export"), src, "--format", "gguf", "--dtype", how[1], "--out", tmp]
            else:
                argv = [os.path.join(bin_dir, "hearth-make-model"), *how[1:], "--tokenizer-from", src, "--out", tmp]
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
            os.replace(tmp, path)
        out[name] = path
    return out
