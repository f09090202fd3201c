"""Maps real request traces onto several models, as WarmServe does: model i's share of the
requests is proportional to (i+1)^-alpha, each model replays its own time segment of a trace,
time is compressed and the arrivals thinned so that a small CPU keeps up.

Pure: no I/O, no clock. The same arguments give the same arrivals, so both placement
policies see exactly the same requests.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

# Ordinary vocabulary ids of SmolLM2's tokenizer, which every model of the bench shares.
TOKEN_LO, TOKEN_HI = 200, 30000

TraceRow = Tuple[float, int, int]  # (seconds after the trace's first row, context tokens, generated tokens)


@dataclass(frozen=True)
class Arrival:
    at: float  # seconds after the replay's start (compressed time)
    model: str
    prompt: Tuple[int, ...]  # token ids; len = min(context tokens, the cap)
    max_tokens: int  # min(generated tokens, the cap), at least 1
    trace: str  # the trace it comes from
    trace_at: float  # the row's time in its trace, seconds (uncompressed)


@dataclass(frozen=True)
class MappingOptions:
    duration_s: float  # replay length, warm-up included
    total_rate: float  # requests per second over all models, after thinning
    alpha: float = 1.0  # popularity exponent
    compression: float = 0.0  # trace seconds per replayed second; 0: the whole trace spans the replay
    max_prompt_tokens: int = 64
    max_output_tokens: int = 8
    seed: int = 0


def popularity(n: int, alpha: float) -> List[float]:
    """Shares of the requests, (i+1)^-alpha normalized to sum to 1."""
    if n < 1:
        raise ValueError("need at least one model")
    w = [(i + 1) ** -alpha for i in range(n)]
    s = sum(w)
    return [x / s for x in w]


def trace_span(rows: Sequence[TraceRow]) -> float:
    """The trace's length in seconds: its last row's time plus the mean gap, so that the trace
    repeats seamlessly when its segment wraps around the end."""
    if not rows:
        raise ValueError("empty trace")
    last = rows[-1][0]
    return last + (last / (len(rows) - 1) if len(rows) > 1 else 1.0)


def segment(rows: Sequence[TraceRow], start: float, length: float) -> List[TraceRow]:
    """Rows whose time lies in [start, start + length) of the trace repeated end to end, with
    times relative to `start`. A segment longer than the trace repeats it."""
    span = trace_span(rows)
    out: List[TraceRow] = []
    start %= span
    base = 0.0  # which repetition of the trace
    while base < start + length:
        for t, ctx, gen in rows:
            tt = base + t
            if start <= tt < start + length:
                out.append((tt - start, ctx, gen))
        base += span
    return out


def map_traces(traces: Dict[str, Sequence[TraceRow]], models: Sequence[str], o: MappingOptions) -> List[Arrival]:
    """The arrivals of every model, sorted by time.

    Model i (popularity rank i) replays trace number i % len(traces); its segment starts at
    i/n of that trace (models on the same trace see different times of it) and lasts
    duration_s * compression trace seconds, replayed in duration_s. From the segment's rows,
    exactly round(total_rate * share_i * duration_s) are kept, drawn uniformly without
    replacement: thinning keeps the shape of the trace's rate over time, only scaled down
    (and at least one row per model). Prompt and output lengths are the rows' own, capped."""
    if o.duration_s <= 0 or o.total_rate <= 0:
        raise ValueError("duration and rate must be positive")
    names = list(traces)
    if not names:
        raise ValueError("no trace")
    shares = popularity(len(models), o.alpha)
    out: List[Arrival] = []
    for i, model in enumerate(models):
        trace = names[i % len(names)]
        rows = traces[trace]
        span = trace_span(rows)
        compression = o.compression or span / o.duration_s
        start = span * i / len(models)
        seg = segment(rows, start, o.duration_s * compression)
        want = max(1, int(round(o.total_rate * shares[i] * o.duration_s)))
        rng = random.Random(f"{o.seed}:{i}:{model}")
        kept = sorted(rng.sample(range(len(seg)), min(want, len(seg))))
        for k in kept:
            t, ctx, gen = seg[k]
            n_prompt = max(1, min(ctx, o.max_prompt_tokens))
            prompt = tuple(rng.randrange(TOKEN_LO, TOKEN_HI) for _ in range(n_prompt))
            out.append(Arrival(at=t / compression, model=model, prompt=prompt,
                               max_tokens=max(1, min(gen, o.max_output_tokens)), trace=trace,
                               trace_at=(start + t) % span))
    out.sort(key=lambda a: (a.at, a.model))
    return out


def rates_over_time(arrivals: Sequence[Arrival], bucket_s: float) -> Dict[str, List[int]]:
    """Arrivals per model in consecutive buckets of bucket_s seconds (for the report)."""
    if not arrivals:
        return {}
    n = int(max(a.at for a in arrivals) // bucket_s) + 1
    out: Dict[str, List[int]] = {}
    for a in arrivals:
        out.setdefault(a.model, [0] * n)[int(a.at // bucket_s)] += 1
    return out
