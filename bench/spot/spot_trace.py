"""The two traces of bench/spot, as schedules: when spot nodes go and come back (from SpotServe's
g4dn availability trace) and when requests arrive (from Azure's LLM inference trace). Pure."""
from __future__ import annotations

import csv
import datetime as dt
import random
from typing import List, Tuple

# Words the prompts are drawn from: the traces publish token counts, not text.
WORDS = ("the river ran past an old mill where a girl kept bees and counted the days until "
         "spring came back to the valley with its rain and its long evenings of light").split()


def read_availability(path: str) -> List[Tuple[float, int]]:
    """(seconds from the trace's start, instances alive from then on), one row per time at which
    the count changes."""
    alive, at = 0, {}
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            ms, action, _node = line.strip().split(",")
            alive += 1 if action == "add" else -1
            at[int(ms) / 1000.0] = alive
    return sorted(at.items())


def spot_schedule(availability: List[Tuple[float, int]], start_s: float, end_s: float, compress: float,
                  num_spot: int) -> List[Tuple[float, str]]:
    """The trace's window [start_s, end_s] replayed on `num_spot` spot nodes, all alive at the
    start: (bench seconds, "preempt" | "restart" | "skip-preempt" | "skip-restart").

    Each time at which the trace's count falls takes one spot node away, each time at which it
    rises brings one back. A fall that would leave no spot node is skipped (the entry node holds
    no model, so the cluster would have nothing to serve with), and so is a rise with every spot
    node up. Time is divided by `compress`."""
    out: List[Tuple[float, str]] = []
    alive, before = num_spot, None
    for t, count in availability:
        if t <= start_s:
            before = count
            continue
        if t > end_s:
            break
        at = (t - start_s) / compress
        if before is not None and count < before:
            if alive > 1:
                alive -= 1
                out.append((at, "preempt"))
            else:
                out.append((at, "skip-preempt"))
        elif before is not None and count > before:
            if alive < num_spot:
                alive += 1
                out.append((at, "restart"))
            else:
                out.append((at, "skip-restart"))
        before = count
    return out


def read_arrivals(path: str, count: int, rate_per_s: float, offset: int = 0) -> List[Tuple[float, int, int]]:
    """`count` requests from the Azure trace from row `offset`: (send time in seconds, context
    tokens, generated tokens), the trace's gaps scaled so that the mean rate is `rate_per_s`."""
    rows = []
    with open(path, newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for i, row in enumerate(reader):
            if i < offset:
                continue
            if len(rows) == count:
                break
            when = dt.datetime.strptime(row[0].strip()[:26], "%Y-%m-%d %H:%M:%S.%f")
            rows.append((when, int(row[1]), int(row[2])))
    if not rows:
        return []
    t0 = rows[0][0]
    raw = [(r[0] - t0).total_seconds() for r in rows]
    span = raw[-1] if raw[-1] > 0 else 1.0
    scale = (len(rows) - 1) / rate_per_s / span if len(rows) > 1 else 1.0
    return [(t * scale, ctx, gen) for t, (_, ctx, gen) in zip(raw, rows)]


def prompt_of(seed: int, context_tokens: int, max_words: int) -> str:
    """A seeded prompt of about context_tokens / 4 words (at most max_words, at least 4)."""
    rng = random.Random(seed)
    n = max(4, min(max_words, context_tokens // 4))
    return " ".join(rng.choice(WORDS) for _ in range(n))
