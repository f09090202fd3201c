"""What the load generator sends: arrival times and prompt/output lengths.

Arrivals are open loop: Poisson at a rate, or the timestamps of an Azure LLM
inference trace (../shared/traces/, see its README) scaled in time. Lengths are
fixed, uniform, a short/long mix, or the trace's own (clipped). Prompts are
random token ids, so both servers see exactly the same number of prompt tokens
without any tokenizer on this side.
"""
from __future__ import annotations

import csv
import datetime as dt
import random
from dataclasses import dataclass
from typing import Iterable, List, Optional, Tuple

# Ordinary vocabulary ids for SmolLM2 and most BPE vocabularies (specials are low).
TOKEN_LO, TOKEN_HI = 200, 30000


@dataclass
class Item:
    at: float  # seconds after the run's start
    prompt_len: int
    output_len: int
    prompt: List[int]


def poisson_arrivals(rate: float, duration_s: float, seed: int) -> List[float]:
    """Arrival times of a Poisson process at `rate` over `duration_s`, conditioned on holding
    exactly round(rate * duration_s) arrivals: given their count, a Poisson process's arrival
    times are independent and uniform over the window, so these are sorted uniform draws. The
    bursts are Poisson's, but every point offers the load its label says (unconditioned, a
    120 s point at 0.5 req/s drew 38 arrivals instead of 60, and a lower rate could draw more
    than a higher one)."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    rng = random.Random(seed)
    n = int(round(rate * duration_s))
    return sorted(rng.uniform(0.0, duration_s) for _ in range(n))


def _parse_ts(s: str) -> float:
    # "2023-11-16 18:15:46.6805900": 7 fractional digits; datetime takes 6.
    date, _, frac = s.strip().partition(".")
    base = dt.datetime.strptime(date, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.timezone.utc).timestamp()
    return base + (float("0." + frac) if frac else 0.0)


def parse_trace_rows(lines: Iterable[str], time_scale: float = 1.0) -> List[Tuple[float, int, int]]:
    """(arrival offset / time_scale, context tokens, generated tokens) per row.
    time_scale 2 replays the trace twice as fast."""
    rows = list(csv.reader(line.rstrip("\r\n") for line in lines))
    if not rows or rows[0][:3] != ["TIMESTAMP", "ContextTokens", "GeneratedTokens"]:
        raise ValueError("not an Azure LLM inference trace (bad header)")
    out, t0 = [], None
    for r in rows[1:]:
        if not r:
            continue
        t = _parse_ts(r[0])
        t0 = t if t0 is None else t0
        out.append(((t - t0) / time_scale, int(r[1]), int(r[2])))
    return out


def load_trace(path: str, time_scale: float, duration_s: float, skip_s: float = 0.0) -> List[Tuple[float, int, int]]:
    with open(path, newline="") as f:
        rows = parse_trace_rows(f, time_scale)
    return [(t - skip_s, p, o) for (t, p, o) in rows if skip_s <= t < skip_s + duration_s]


def parse_length(spec: str, rng: random.Random, trace_value: Optional[int] = None) -> int:
    """fixed:N | N | uniform:A:B | mix:A:B:LONG:FRACTION (uniform A..B, LONG with probability FRACTION) | trace"""
    parts = spec.split(":")
    kind = parts[0]
    if kind.isdigit():
        return int(kind)
    if kind == "fixed":
        return int(parts[1])
    if kind == "uniform":
        return rng.randint(int(parts[1]), int(parts[2]))
    if kind == "mix":
        if rng.random() < float(parts[4]):
            return int(parts[3])
        return rng.randint(int(parts[1]), int(parts[2]))
    if kind == "trace":
        if trace_value is None:
            raise ValueError("length 'trace' needs --trace")
        return trace_value
    raise ValueError(f"unknown length spec '{spec}'")


def build(
    *,
    rate: Optional[float],
    duration_s: float,
    prompt_spec: str,
    output_spec: str,
    seed: int,
    trace: Optional[str] = None,
    time_scale: float = 1.0,
    trace_skip_s: float = 0.0,
    max_prompt: int = 4096,
    max_output: int = 1024,
) -> List[Item]:
    rng = random.Random(seed * 7919 + 1)
    if trace:
        rows = load_trace(trace, time_scale, duration_s, trace_skip_s)
    else:
        rows = [(t, None, None) for t in poisson_arrivals(rate, duration_s, seed)]
    items = []
    for t, p_trace, o_trace in rows:
        p = max(1, min(max_prompt, parse_length(prompt_spec, rng, p_trace)))
        o = max(1, min(max_output, parse_length(output_spec, rng, o_trace)))
        prompt = [rng.randint(TOKEN_LO, TOKEN_HI) for _ in range(p)]
        items.append(Item(at=t, prompt_len=p, output_len=o, prompt=prompt))
    return items
