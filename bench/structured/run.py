#!/usr/bin/env python3
"""The decode cost of structured output: aggregate decode tok/s of 16 concurrent streams with
and without a JSON-schema constraint, through a real hearthd on loopback.

Both kinds of round run the same 16 prompts for exactly --max-tokens tokens each: the
unconstrained ones with ignore_eos, the constrained ones with a schema (an array of 8 nested
objects with enums, numbers and strings) whose shortest answer is longer than --max-tokens, so
both end by length and differ only by the grammar mask. Sampled (temperature 1, a seed per
stream), so the streams walk different grammar states. Rounds alternate (free, constrained,
free, ...) so machine noise hits both; the figure is the median over rounds of
sum(completion tokens after each stream's first) / (last token of any stream - first token of
any stream).
The first constrained round compiles the grammar and fills the worker's mask cache; it is
reported apart ("cold") and not in the median.

    $(scripts/setup-bench)/bin/python bench/structured/run.py --rounds 5
"""
import argparse
import asyncio
import json
import os
import statistics
import sys
import time

import aiohttp

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests"))
from hearthd_process import MODEL_NAME, Hearthd  # noqa: E402

ITEM = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 24},
        "age": {"type": "integer"},
        "score": {"type": "number"},
        "role": {"enum": ["admin", "editor", "viewer"]},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 4},
        "address": {"type": "object", "properties": {"city": {"type": "string"}, "zip": {"type": "integer"}},
                    "required": ["city", "zip"]},
    },
    "required": ["name", "age", "score", "role", "tags", "address"],
}
SCHEMA = {"type": "object", "properties": {"people": {"type": "array", "items": ITEM, "minItems": 8, "maxItems": 8}},
          "required": ["people"]}
FORMAT = {"type": "json_schema", "json_schema": {"name": "people", "schema": SCHEMA}}
TOPICS = ["a library", "a hospital", "a farm", "a school", "a bakery", "a ship", "a mine", "a bank",
          "a circus", "a theatre", "a garage", "a museum", "a hotel", "a studio", "a prison", "a lab"]


async def one(session, url, i, constrained, max_tokens):
    body = {"model": MODEL_NAME, "max_tokens": max_tokens, "temperature": 1.0, "seed": 1000 + i, "stream": True,
            "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": f"List the people who work at {TOPICS[i % len(TOPICS)]} as JSON."}]}
    if constrained:
        body["response_format"] = FORMAT
    else:
        body["ignore_eos"] = True
    times, tokens = [], 0
    async with session.post(url + "/v1/chat/completions", json=body) as r:
        if r.status != 200:
            raise RuntimeError(f"HTTP {r.status}: {await r.text()}")
        async for raw in r.content:
            line = raw.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk.get("choices") and chunk["choices"][0]["delta"].get("content"):
                times.append(time.monotonic())
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
    return times, tokens


async def round_(url, streams, constrained, max_tokens):
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1800)) as s:
        results = await asyncio.gather(*(one(s, url, i, constrained, max_tokens) for i in range(streams)))
    first = min(t[0] for t, _ in results if t)
    last = max(t[-1] for t, _ in results if t)
    tokens = sum(n - 1 for _, n in results)  # after each stream's first token
    return tokens / (last - first), [n for _, n in results]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--streams", type=int, default=16)
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--rounds", type=int, default=5, help="rounds of each kind after the cold one")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="", help="write the figures as JSON here")
    args = p.parse_args()
    free, constrained = [], []
    with Hearthd(threads=args.threads) as d:
        cold, lengths = asyncio.run(round_(d.base_url, args.streams, True, args.max_tokens))
        print(f"cold constrained round: {cold:.1f} tok/s, tokens per stream {lengths}", flush=True)
        for r in range(args.rounds):
            for kind, into in ((False, free), (True, constrained)):
                rate, lengths = asyncio.run(round_(d.base_url, args.streams, kind, args.max_tokens))
                into.append(rate)
                name = "constrained" if kind else "free"
                print(f"round {r} {name}: {rate:.1f} tok/s (tokens per stream {min(lengths)}..{max(lengths)})",
                      flush=True)
    result = {"streams": args.streams, "max_tokens": args.max_tokens, "threads": args.threads,
              "free_tok_s": statistics.median(free), "constrained_tok_s": statistics.median(constrained),
              "cold_constrained_tok_s": cold, "free_rounds": free, "constrained_rounds": constrained}
    result["slowdown"] = 1 - result["constrained_tok_s"] / result["free_tok_s"]
    print(json.dumps(result, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
