#!/usr/bin/env python3
"""Writes the small seed inputs under fuzz/corpus/{gguf,safetensors}.

Needs numpy and the `gguf` package (the reference venv has both):
  /root/.cache/hearth/refvenv/bin/python fuzz/corpus/make_seeds.py
"""
import json
import os
import struct

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

HERE = os.path.dirname(os.path.abspath(__file__))


def write_gguf(path, with_llama):
    w = gguf.GGUFWriter(path, arch="llama")
    if with_llama:
        w.add_block_count(1)
        w.add_embedding_length(32)
        w.add_head_count(2)
        w.add_head_count_kv(1)
        w.add_feed_forward_length(64)
        w.add_context_length(128)
        w.add_layer_norm_rms_eps(1e-5)
        w.add_vocab_size(4)
        w.add_token_list(["a", "b", "<s>", "</s>"])
        w.add_token_scores([0.0, -1.0, 0.0, 0.0])
        w.add_token_types([1, 1, 3, 3])
    w.add_bool("seed.bool", True)
    w.add_int8("seed.i8", -3)
    w.add_uint16("seed.u16", 7)
    w.add_int64("seed.i64", -9)
    w.add_float64("seed.f64", 0.5)
    w.add_array("seed.nested", [[1, 2], [3]])
    rng = np.random.default_rng(0)
    w.add_tensor("f32", rng.standard_normal((2, 8)).astype(np.float32))
    w.add_tensor("f16", rng.standard_normal(8).astype(np.float16))
    for name, qtype in [("q8_0", T.Q8_0), ("q4_0", T.Q4_0), ("q4_1", T.Q4_1), ("q4_k", T.Q4_K), ("q6_k", T.Q6_K)]:
        elems, size = gguf.GGML_QUANT_SIZES[qtype]
        raw = rng.integers(0, 256, size=(1, size), dtype=np.uint8)
        raw[0, 0:2] = np.frombuffer(np.float16(0.01).tobytes(), dtype=np.uint8)
        w.add_tensor(name, raw, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def write_safetensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    os.makedirs(os.path.join(HERE, "gguf"), exist_ok=True)
    os.makedirs(os.path.join(HERE, "safetensors"), exist_ok=True)
    write_gguf(os.path.join(HERE, "gguf", "small_llama.gguf"), True)
    write_gguf(os.path.join(HERE, "gguf", "tensors_only.gguf"), False)
    st = os.path.join(HERE, "safetensors")
    write_safetensors(os.path.join(st, "small.safetensors"), {
        "w": ("F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4)),
        "b": ("BF16", [2], b"\x80\x3f\x00\x40"),
        "i": ("I64", [], struct.pack("<q", 5)),
        "e": ("F16", [0, 3], b""),
    }, {"format": "pt"})
    write_safetensors(os.path.join(st, "ints.safetensors"), {
        "u8": ("U8", [3], b"\x01\x02\x03"), "i32": ("I32", [1], b"\x00\x00\x00\x01"),
    })
    with open(os.path.join(st, "config.json"), "w") as f:
        json.dump({"model_type": "llama", "vocab_size": 4, "hidden_size": 32, "intermediate_size": 64,
                   "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
                   "max_position_embeddings": 128, "rope_scaling": {"rope_type": "llama3", "factor": 8.0}}, f)


if __name__ == "__main__":
    main()
