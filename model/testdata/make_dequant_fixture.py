#!/usr/bin/env python3
"""Writes dequant_fixture.gguf: quantized blocks plus the floats the `gguf` Python
package decodes them to, so model/dequant_fixture_test checks our decoders (kernels/cpu/quant.h)
against an independent implementation without needing Python in CI.

Run with the reference venv: /root/.cache/hearth/refvenv/bin/python make_dequant_fixture.py
"""
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize

rng = np.random.default_rng(1234)


def random_blocks(qtype, num_blocks, f16_fields):
    """Random bytes, with the f16 scale fields set to small finite values."""
    block_elems, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(num_blocks, block_bytes), dtype=np.uint8)
    for offset in f16_fields:
        vals = rng.uniform(-0.05, 0.05, size=num_blocks).astype(np.float16)
        raw[:, offset:offset + 2] = vals.view(np.uint8).reshape(num_blocks, 2)
    return raw.reshape(1, -1)


def main(out_path, model_path):
    w = gguf.GGUFWriter(out_path, arch="fixture")
    cases = {
        "q4_k": (T.Q4_K, random_blocks(T.Q4_K, 3, [0, 2])),
        "q6_k": (T.Q6_K, random_blocks(T.Q6_K, 3, [208])),
        "q4_0": (T.Q4_0, random_blocks(T.Q4_0, 4, [0])),
        "q8_0": (T.Q8_0, random_blocks(T.Q8_0, 4, [0])),
    }
    if model_path:
        # Two real rows of a Q4_1 tensor from SmolLM2.
        r = gguf.GGUFReader(model_path)
        t = next(t for t in r.tensors if t.name == "blk.0.attn_q.weight")
        cases["q4_1_real"] = (T.Q4_1, np.ascontiguousarray(t.data[:2]).reshape(1, -1))
    for name, (qtype, raw) in cases.items():
        expected = dequantize(raw, qtype).astype(np.float32).reshape(-1)
        w.add_tensor(name + ".raw", raw, raw_dtype=qtype)
        w.add_tensor(name + ".expected", expected)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "dequant_fixture.gguf",
         sys.argv[2] if len(sys.argv) > 2 else None)
