"""The figures of bench/cluster from what its clients recorded. Pure."""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence


def percentile(values: Sequence[float], p: float) -> Optional[float]:
    """Nearest rank, as bench/load; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def tpot(first_token_s: float, last_token_s: float, tokens: int) -> Optional[float]:
    """Time per output token after the first: (last - first) / (tokens - 1)."""
    if tokens < 2:
        return None
    return (last_token_s - first_token_s) / (tokens - 1)


def spread(values: Sequence[float]) -> Dict[str, Optional[float]]:
    """p50, p90 and max, in milliseconds (rounded to 0.01)."""
    def ms(p):
        v = percentile(values, p)
        return None if v is None else round(v * 1000, 2)
    return {"n": len(values), "p50": ms(50), "p90": ms(90), "max": ms(100)}


def ratios(forwarded: Dict[str, Optional[float]], direct: Dict[str, Optional[float]]) -> Dict[str, Optional[float]]:
    """forwarded / direct of each of p50 and p90."""
    out = {}
    for k in ("p50", "p90"):
        f, d = forwarded.get(k), direct.get(k)
        out[k] = None if f is None or not d else round(f / d, 3)
    return out


def paired_deltas(pairs: List[tuple]) -> Dict[str, Optional[float]]:
    """(forwarded - direct) of each pair, in ms: the pairs ran back to back, so this cancels slow
    drift of the machine that the two distributions alone would not."""
    return spread([f - d for f, d in pairs])


def burst_summary(outcomes: Sequence[str], reject_s: Sequence[float], ttft_s: Sequence[float],
                  total_s: Sequence[float]) -> dict:
    """Counts by outcome and the latencies of the 1000-stream burst."""
    counts = {k: sum(1 for o in outcomes if o == k) for k in ("completed", "rejected", "failed", "hung")}
    return {**counts, "reject_ms": spread(reject_s), "ttft_ms": spread(ttft_s), "stream_ms": spread(total_s)}
