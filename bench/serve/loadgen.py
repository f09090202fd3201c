#!/usr/bin/env python3
"""Open-loop load generator for any OpenAI-compatible /v1/completions endpoint.

Sends each request of a workload (workload.py) at its arrival time, whether or
not earlier ones have finished, streams the answer (SSE), and reports
throughput, TTFT, TPOT and end-to-end latency (p50/p90/p99) and goodput at an
SLO as JSON (stats.py). Output length is forced where the server allows it:
`ignore_eos` (llama.cpp's server, vLLM) is always sent; servers that do not
know it ignore it, so the report gives the mean completion tokens actually
received.

  loadgen.py --url http://127.0.0.1:18080 --model smollm2 --rate 2 --duration 60 \
      --prompt mix:64:256:1500:0.1 --output fixed:64 --json out.json
  loadgen.py ... --trace ../shared/traces/azure_llm_2023_conv.csv --time-scale 0.5 \
      --prompt trace --output trace
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import List, Optional

import aiohttp

import stats
import workload


async def _one(session: aiohttp.ClientSession, url: str, model: str, item: workload.Item, seed: int,
               t_start: float, timeout_s: float, temperature: float) -> stats.RequestRecord:
    delay = t_start + item.at - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)
    body = {
        "model": model,
        "prompt": item.prompt,
        "max_tokens": item.output_len,
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": temperature,
        "seed": seed,
        "ignore_eos": True,
    }
    sent = time.perf_counter()
    r = stats.RequestRecord(sent_at=sent - t_start, prompt_tokens=item.prompt_len, max_tokens=item.output_len)
    chunks = 0
    usage_tokens = None
    try:
        async with session.post(url + "/v1/completions", json=body,
                                timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
            if resp.status != 200:
                r.error = f"HTTP {resp.status}: {(await resp.text())[:200]}"
                return r
            buf = b""
            done = False
            async for data in resp.content.iter_any():
                now = time.perf_counter()
                buf += data
                while b"\n\n" in buf:
                    event, buf = buf.split(b"\n\n", 1)
                    for line in event.split(b"\n"):
                        line = line.strip()
                        if not line.startswith(b"data:"):
                            continue
                        payload = line[5:].strip()
                        if payload == b"[DONE]":
                            done = True
                            continue
                        msg = json.loads(payload)
                        if "error" in msg:
                            r.error = str(msg["error"])[:200]
                            return r
                        if msg.get("usage"):
                            usage_tokens = msg["usage"].get("completion_tokens")
                        choices = msg.get("choices") or []
                        if choices and (choices[0].get("text") or choices[0].get("finish_reason") is None):
                            chunks += 1
                            if r.ttft is None:
                                r.ttft = now - sent
                            r.token_times.append(now - sent)
            r.e2e = time.perf_counter() - sent
            r.output_tokens = usage_tokens if usage_tokens is not None else chunks
            r.ok = done and r.ttft is not None
            if not r.ok and not r.error:
                r.error = "stream ended early"
    except asyncio.TimeoutError:
        r.error = "timeout"
    except (aiohttp.ClientError, ValueError) as e:
        r.error = f"{type(e).__name__}: {e}"[:200]
    return r


async def run(url: str, model: str, items: List[workload.Item], *, seed: int = 0, timeout_s: float = 300.0,
              drain_s: float = 60.0, temperature: float = 1.0) -> tuple:
    """Runs the workload; returns (records, duration_s). Requests still open
    `drain_s` after the last arrival are cancelled and count as failed."""
    conn = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=conn) as session:
        t_start = time.perf_counter() + 0.2
        tasks = [asyncio.create_task(_one(session, url, model, it, seed + i, t_start, timeout_s, temperature))
                 for i, it in enumerate(items)]
        last = max((it.at for it in items), default=0.0)
        deadline = t_start + last + drain_s
        done, pending = await asyncio.wait(tasks, timeout=max(0.1, deadline - time.perf_counter()))
        for t in pending:
            t.cancel()
        records = []
        for i, t in enumerate(tasks):
            if t in done and not t.cancelled() and t.exception() is None:
                records.append(t.result())
            else:
                rr = stats.RequestRecord(sent_at=items[i].at, prompt_tokens=items[i].prompt_len,
                                         max_tokens=items[i].output_len, error="unfinished at the drain deadline")
                records.append(rr)
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        ends = [r.sent_at + r.e2e for r in records if r.ok and r.e2e is not None]
        duration = max(ends + [last, 1e-3])
        return records, duration


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:8080")
    ap.add_argument("--model", required=True)
    ap.add_argument("--rate", type=float, help="Poisson arrivals per second")
    ap.add_argument("--trace", help="Azure trace CSV: replay its arrivals instead")
    ap.add_argument("--time-scale", type=float, default=1.0, help="trace speed-up (2: twice as fast)")
    ap.add_argument("--trace-skip", type=float, default=0.0, help="start this many (scaled) seconds into the trace")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of arrivals")
    ap.add_argument("--prompt", default="fixed:128", help="fixed:N | uniform:A:B | mix:A:B:LONG:FRAC | trace")
    ap.add_argument("--output", default="fixed:64", help="fixed:N | uniform:A:B | trace")
    ap.add_argument("--max-prompt", type=int, default=4096)
    ap.add_argument("--max-output", type=int, default=1024)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--drain", type=float, default=60.0, help="seconds to wait for stragglers after the last arrival")
    ap.add_argument("--slo-ttft", type=float, default=2.0, help="P99 TTFT bound, seconds")
    ap.add_argument("--slo-tpot", type=float, default=0.2, help="P99 TPOT bound, seconds")
    ap.add_argument("--json", help="write the summary here (default: stdout)")
    a = ap.parse_args(argv)
    if (a.rate is None) == (a.trace is None):
        ap.error("give exactly one of --rate and --trace")
    items = workload.build(rate=a.rate, duration_s=a.duration, prompt_spec=a.prompt, output_spec=a.output,
                           seed=a.seed, trace=a.trace, time_scale=a.time_scale, trace_skip_s=a.trace_skip,
                           max_prompt=a.max_prompt, max_output=a.max_output)
    records, duration = asyncio.run(run(a.url.rstrip("/"), a.model, items, seed=a.seed * 100000,
                                        drain_s=a.drain, temperature=a.temperature))
    offered = a.rate if a.rate else (len(items) / a.duration if a.duration else None)
    summary = stats.summarize(records, duration, stats.Slo(a.slo_ttft, a.slo_tpot), offered_rate=offered)
    summary["workload"] = {"prompt": a.prompt, "output": a.output, "duration_s": a.duration,
                           "trace": a.trace, "time_scale": a.time_scale, "seed": a.seed}
    text = json.dumps(summary, indent=2)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
