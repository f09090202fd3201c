#!/usr/bin/env python3
"""Hearth's engine benchmark beside llama.cpp, in one run on one machine.

Runs hearth-bench-engine (built beforehand; this script builds nothing) and
llama.cpp through llama-cpp-python on the same GGUF file, the same token ids
(taken from the Hearth binary) and the same thread count, alternating the two
engines round by round so machine noise hits both. Prints a table with the
Hearth/llama.cpp ratios and writes JSON.

Figures are medians over every measured repeat of every round. Both engines
are timed by the wall clock around the same work: Hearth around Forward (plus
argmax), llama.cpp around `Llama.eval` (plus a numpy argmax over the last
logits row) or `llama_decode` for batched decode. llama.cpp's own perf
counters (llama_perf_context) are recorded too where they report anything: in
llama-cpp-python 0.3.36 the prompt-eval counter reads zero on the high-level
Llama's context; the decode counters match the wall clock within about 1%.

Run with the reference venv: /root/.cache/hearth/refvenv/bin/python bench/engine/run.py
"""

import argparse
import ctypes
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_MODEL = os.environ.get(
    "HEARTH_MODEL_PATH", os.path.expanduser("~/.cache/hearth/SmolLM2-135M-Instruct.Q4_1.gguf"))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hearth-bin", default=os.path.join(REPO, "build", "bin", "hearth-bench-engine"))
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--prompt-tokens", type=int, default=512)
    p.add_argument("--gen-tokens", type=int, default=128)
    p.add_argument("--decode-prompt-tokens", type=int, default=32)
    p.add_argument("--concurrency", default="1,4,16")
    p.add_argument("--rounds", type=int, default=3, help="alternations of Hearth and llama.cpp")
    p.add_argument("--repeats", type=int, default=2, help="measured repeats per engine per round")
    p.add_argument("--long-context", type=int, default=0,
                   help="also decode one stream after a prompt this long (0: not), where attention counts")
    p.add_argument("--no-llama-batch", action="store_true",
                   help="skip llama.cpp's concurrent decode (low-level llama_batch)")
    p.add_argument("--out", default=os.path.join(REPO, "bench", "engine", "results.json"))
    return p.parse_args()


def hearth_cmd(args, *extra):
    return [args.hearth_bin, "--model", args.model, "--threads", str(args.threads),
            "--prompt-tokens", str(args.prompt_tokens), "--gen-tokens", str(args.gen_tokens),
            "--decode-prompt-tokens", str(args.decode_prompt_tokens), *extra]


def run_hearth(args):
    extra = ["--long-context", str(args.long_context)] if args.long_context else []
    out = subprocess.run(hearth_cmd(args, "--concurrency", args.concurrency, "--repeats", str(args.repeats), *extra),
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


class LlamaCpp:
    """llama.cpp through llama-cpp-python: the high-level Llama for single-stream
    figures, and a second raw context for batched decode of several sequences."""

    def __init__(self, args):
        import llama_cpp
        self.lc = llama_cpp
        self.args = args
        self.llm = llama_cpp.Llama(model_path=args.model, n_threads=args.threads, n_threads_batch=args.threads,
                                   n_ctx=max(2048, args.long_context + args.gen_tokens + 8), n_batch=512,
                                   verbose=False)
        self.n_vocab = self.llm.n_vocab()
        self.batch_ctx = None

    def _last_logits(self, ctx, i=-1):
        return np.ctypeslib.as_array(self.lc.llama_get_logits_ith(ctx, i), shape=(self.n_vocab,))

    def _perf(self, ctx):
        return self.lc.llama_perf_context(ctx)

    def prefill(self, prompt):
        """(wall seconds, perf-counter seconds) for one eval of the whole prompt."""
        self.llm.reset()
        self.lc.llama_perf_context_reset(self.llm.ctx)
        t0 = time.perf_counter()
        self.llm.eval(prompt)
        wall = time.perf_counter() - t0
        return wall, self._perf(self.llm.ctx).t_p_eval_ms / 1e3

    def decode(self, prompt, steps):
        """(wall seconds, perf-counter seconds) for `steps` greedy single-token evals."""
        self.llm.reset()
        self.llm.eval(prompt)
        tok = int(np.argmax(self._last_logits(self.llm.ctx)))
        self.lc.llama_perf_context_reset(self.llm.ctx)
        t0 = time.perf_counter()
        for _ in range(steps):
            self.llm.eval([tok])
            tok = int(np.argmax(self._last_logits(self.llm.ctx)))
        wall = time.perf_counter() - t0
        return wall, self._perf(self.llm.ctx).t_eval_ms / 1e3

    def _open_batch_ctx(self, max_seqs):
        lc = self.lc
        params = lc.llama_context_default_params()
        per_seq = self.args.decode_prompt_tokens + self.args.gen_tokens + 1
        params.n_ctx = max_seqs * ((per_seq + 255) // 256) * 256  # llama.cpp splits it evenly per sequence
        params.n_batch = max(512, self.args.decode_prompt_tokens * max_seqs)
        params.n_ubatch = params.n_batch
        params.n_seq_max = max_seqs
        params.n_threads = params.n_threads_batch = self.args.threads
        params.no_perf = False
        self.batch_ctx = lc.llama_init_from_model(self.llm.model, params)
        if not self.batch_ctx:
            raise RuntimeError("llama_init_from_model failed")
        self.batch = lc.llama_batch_init(params.n_batch, 0, 1)

    def decode_batched(self, prompts, steps):
        """(wall seconds, perf-counter seconds) for `steps` decode steps of len(prompts)
        sequences, one llama_batch with one token per sequence per step."""
        lc = self.lc
        if self.batch_ctx is None:
            self._open_batch_ctx(max(int(c) for c in self.args.concurrency.split(",")))
        ctx, b = self.batch_ctx, self.batch
        lc.llama_memory_clear(lc.llama_get_memory(ctx), True)

        def fill(entries):  # entries: [(token, pos, seq, want_logits)]
            b.n_tokens = len(entries)
            for i, (tok, pos, seq, want) in enumerate(entries):
                b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = tok, pos, 1, want
                b.seq_id[i][0] = seq
            if lc.llama_decode(ctx, b) != 0:
                raise RuntimeError("llama_decode failed")

        entries = []
        rows = []
        for s, p in enumerate(prompts):
            entries += [(t, i, s, i == len(p) - 1) for i, t in enumerate(p)]
            rows.append(len(entries) - 1)
        fill(entries)
        nxt = [int(np.argmax(self._last_logits(ctx, r))) for r in rows]
        lc.llama_perf_context_reset(ctx)
        t0 = time.perf_counter()
        for step in range(steps):
            fill([(nxt[s], len(p) + step, s, True) for s, p in enumerate(prompts)])
            nxt = [int(np.argmax(self._last_logits(ctx, s))) for s in range(len(prompts))]
        wall = time.perf_counter() - t0
        perf = self._perf(ctx)
        return wall, (perf.t_p_eval_ms + perf.t_eval_ms) / 1e3


def decode_prompt(tokens, length, s):
    """Same rotation as engine_bench.cc's DecodePrompt."""
    p = tokens[:length]
    k = (s * 7) % length
    return p[k:] + p[:k]


def median(v):
    return statistics.median(v) if v else None


def median_or_none(v):
    v = [x for x in v if x is not None]
    return median(v)


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main():
    args = parse_args()
    load_at_start = os.getloadavg()
    if not os.path.exists(args.hearth_bin):
        sys.exit(f"{args.hearth_bin} not found: build the hearth-bench-engine target first")
    long_arg = ["--long-context", str(args.long_context)] if args.long_context else []
    toks = json.loads(subprocess.run(hearth_cmd(args, "--tokens-only", *long_arg), check=True, capture_output=True,
                                     text=True).stdout)["tokens"]
    long_prompt = toks.get("long_prompt", [])
    prompt, short = toks["prompt"], toks["decode_prompt"]
    all_tokens = prompt if len(prompt) >= len(short) else short
    conc = [int(c) for c in args.concurrency.split(",")]
    batched = [c for c in conc if c > 1]

    llama = LlamaCpp(args)
    # llama.cpp warm-up, as the Hearth binary warms up in each run.
    llama.prefill(prompt)
    llama.decode(short, 8)

    h_prefill, h_decode, h_long, l_long, roofline = [], {}, [], [], []
    l_prefill, l_prefill_perf, l_decode, l_decode_perf = [], [], [], []
    l_batch, l_batch_perf = {c: [] for c in batched}, {c: [] for c in batched}
    do_batch = not args.no_llama_batch
    for r in range(args.rounds):
        print(f"round {r + 1}/{args.rounds}: hearth", file=sys.stderr, flush=True)
        h = run_hearth(args)
        h_prefill += h["prefill"]["samples_tok_s"]
        for d in h["decode"]:
            h_decode.setdefault(d["concurrency"], []).extend(d["samples_tok_s"])
        if "long_decode" in h:
            h_long += h["long_decode"]["samples_tok_s"]
        if "memory_read_gb_s" in h:
            roofline.append((h["memory_read_gb_s"], h["weight_bytes_per_token"], h["roofline_tok_s"]))
        print(f"round {r + 1}/{args.rounds}: llama.cpp", file=sys.stderr, flush=True)
        for _ in range(args.repeats):
            wall, perf = llama.prefill(prompt)
            l_prefill.append(len(prompt) / wall)
            l_prefill_perf.append(len(prompt) / perf if perf > 0 else None)
            wall, perf = llama.decode(short, args.gen_tokens)
            l_decode.append(args.gen_tokens / wall)
            l_decode_perf.append(args.gen_tokens / perf if perf > 0 else None)
            if long_prompt:
                wall, _ = llama.decode(long_prompt, args.gen_tokens)
                l_long.append(args.gen_tokens / wall)
            if do_batch:
                try:
                    for c in batched:
                        prompts = [decode_prompt(all_tokens, args.decode_prompt_tokens, s) for s in range(c)]
                        wall, perf = llama.decode_batched(prompts, args.gen_tokens)
                        l_batch[c].append(c * args.gen_tokens / wall)
                        l_batch_perf[c].append(c * args.gen_tokens / perf if perf > 0 else None)
                except Exception as e:  # optional figure: report and carry on without it
                    print(f"llama.cpp batched decode skipped: {e}", file=sys.stderr)
                    do_batch = False

    rows = [("prompt processing", len(prompt), median(h_prefill), median(l_prefill)),
            ("decode, 1 stream", 1, median(h_decode.get(1, [])), median(l_decode))]
    for c in batched:
        rows.append((f"decode, {c} streams (aggregate)", c, median(h_decode.get(c, [])),
                     median(l_batch[c]) if l_batch[c] else None))

    if long_prompt:
        rows.append((f"decode, 1 stream at {len(long_prompt)} context", 1, median(h_long), median(l_long)))

    # Noise from other processes only slows a run down, so the best sample is
    # printed beside the median: on a busy machine it is the steadier figure.
    best_rows = [("prompt processing", max(h_prefill), max(l_prefill)),
                 ("decode, 1 stream", max(h_decode.get(1, [0])), max(l_decode))]
    for c in batched:
        best_rows.append((f"decode, {c} streams (aggregate)", max(h_decode.get(c, [0])),
                          max(l_batch[c]) if l_batch[c] else None))
    if long_prompt:
        best_rows.append((f"decode, 1 stream at {len(long_prompt)} context", max(h_long), max(l_long)))
    for title, table in (("median", [(n, h, l) for n, _, h, l in rows]), ("best", best_rows)):
        print(f"\n{'tok/s (' + title + ')':34} {'Hearth':>10} {'llama.cpp':>10} {'ratio':>7}")
        for name, h, l in table:
            ls = f"{l:10.1f}" if l else f"{'-':>10}"
            ratio = f"{h / l:7.2f}" if (h and l) else f"{'-':>7}"
            print(f"{name:34} {h:10.1f} {ls} {ratio}")

    # The decode roofline: every weight read once per token at the machine's read bandwidth
    # (measured by the Hearth binary at the end of each of its runs; the best run is kept).
    roof = None
    if roofline:
        bw, wbytes, roof_tok_s = max(roofline)
        h1, l1 = median(h_decode.get(1, [])), median(l_decode)
        roof = {"memory_read_gb_s": bw, "weight_bytes_per_token": wbytes, "roofline_tok_s": roof_tok_s,
                "hearth_decode_1_of_roofline": h1 / roof_tok_s, "llama_cpp_decode_1_of_roofline": l1 / roof_tok_s}
        print(f"\nmemory read {bw:.1f} GB/s, {wbytes / 1e6:.1f} MB of weights per token: roofline "
              f"{roof_tok_s:.1f} tok/s; decode 1 stream (median) Hearth {100 * h1 / roof_tok_s:.0f}%, "
              f"llama.cpp {100 * l1 / roof_tok_s:.0f}% of it")
    print(f"load average at the end: {os.getloadavg()}")

    result = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {"cpu": cpu_model(), "logical_cpus": os.cpu_count(), "load_avg_at_start": load_at_start,
                    "load_avg_at_end": os.getloadavg()},
        "model": args.model,
        "threads": args.threads,
        "prompt_tokens": len(prompt),
        "gen_tokens": args.gen_tokens,
        "decode_prompt_tokens": len(short),
        "rounds": args.rounds,
        "repeats_per_round": args.repeats,
        "statistic": "median over all repeats of all rounds",
        "timing": "wall clock around the same work in both engines; llama.cpp perf counters in *_perf (null: they read zero)",
        "llama_cpp_version": getattr(llama.lc, "__version__", "?"),
        "hearth": {"prefill_tok_s": median(h_prefill), "prefill_samples": h_prefill,
                   "decode_tok_s": {str(c): median(v) for c, v in h_decode.items()},
                   "decode_samples": {str(c): v for c, v in h_decode.items()}},
        "llama_cpp": {"prefill_tok_s": median(l_prefill), "prefill_samples": l_prefill,
                      "prefill_perf_tok_s": median_or_none(l_prefill_perf),
                      "decode_tok_s": {"1": median(l_decode), **{str(c): median(v) for c, v in l_batch.items() if v}},
                      "decode_samples": {"1": l_decode, **{str(c): v for c, v in l_batch.items() if v}},
                      "decode_perf_tok_s": {"1": median_or_none(l_decode_perf),
                                            **{str(c): median_or_none(v) for c, v in l_batch_perf.items() if v}}},
        "roofline": roof,
        "long_context": {"context": len(long_prompt), "hearth_tok_s": median(h_long), "llama_cpp_tok_s": median(l_long),
                         "hearth_samples": h_long, "llama_cpp_samples": l_long} if long_prompt else None,
        "ratios_hearth_over_llama_cpp": {name: (h / l if h and l else None) for name, _, h, l in rows},
        "best_tok_s": {name: {"hearth": h, "llama_cpp": l, "ratio": (h / l if h and l else None)}
                       for name, h, l in best_rows},
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"\nwrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
