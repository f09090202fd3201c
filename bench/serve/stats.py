"""Pure statistics of the serving benchmark: percentiles, per-run summaries,
goodput at an SLO, and capacity (the highest request rate that meets it).

No I/O and no clocks: every function takes plain numbers and records, so the
unit tests in test_stats.py pin them down exactly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence


@dataclass
class RequestRecord:
    """One request as the load generator saw it. Times in seconds."""

    sent_at: float  # when the request was sent (relative to the run's start)
    prompt_tokens: int
    max_tokens: int
    ok: bool = False  # finished with a complete response
    error: str = ""
    ttft: Optional[float] = None  # sent -> first token
    e2e: Optional[float] = None  # sent -> last byte
    output_tokens: int = 0  # completion tokens (usage when reported, else chunks)
    token_times: list = field(default_factory=list)  # arrival of each streamed chunk, relative to sent_at

    @property
    def tpot(self) -> Optional[float]:
        """Mean time per output token after the first: (e2e - ttft) / (n - 1)."""
        if not self.ok or self.ttft is None or self.e2e is None or self.output_tokens < 2:
            return None
        return (self.e2e - self.ttft) / (self.output_tokens - 1)


@dataclass(frozen=True)
class Slo:
    ttft_p99_s: float = 2.0
    tpot_p99_s: float = 0.200


def percentile(values: Sequence[float], q: float) -> Optional[float]:
    """The q-th percentile (0..100) by linear interpolation between order
    statistics (numpy's default); None for no values."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside [0, 100]")
    xs = sorted(v for v in values if v is not None)
    if not xs:
        return None
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = math.ceil(pos)
    if lo == hi or math.isinf(xs[hi]):  # inf - inf would be nan; past a finite value it is inf
        return xs[hi] if pos > lo else xs[lo]
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _dist(values: Iterable[Optional[float]]) -> dict:
    xs = [v for v in values if v is not None]
    return {
        "mean": (sum(xs) / len(xs)) if xs else None,
        "p50": percentile(xs, 50),
        "p90": percentile(xs, 90),
        "p99": percentile(xs, 99),
        "max": max(xs) if xs else None,
    }


def meets_request_slo(r: RequestRecord, slo: Slo) -> bool:
    """Per request (for goodput): finished, TTFT and TPOT within the SLO's bounds."""
    if not r.ok or r.ttft is None or r.ttft > slo.ttft_p99_s:
        return False
    tpot = r.tpot
    return tpot is None or tpot <= slo.tpot_p99_s


def summarize(records: Sequence[RequestRecord], duration_s: float, slo: Slo, offered_rate: Optional[float] = None) -> dict:
    """One run's figures. `duration_s` is the time from the first send to the
    last completion (the throughput's denominator). A request that failed or
    never finished counts against the SLO: its TTFT and end-to-end latency are
    taken as infinite for the percentiles, so P99 cannot look good by dropping
    the slow ones."""
    if duration_s <= 0:
        raise ValueError("duration must be positive")
    n = len(records)
    ok = [r for r in records if r.ok]
    inf = float("inf")
    ttfts = [r.ttft if r.ok and r.ttft is not None else inf for r in records]
    e2es = [r.e2e if r.ok and r.e2e is not None else inf for r in records]
    tpots = [r.tpot for r in ok if r.tpot is not None]
    out_tokens = sum(r.output_tokens for r in ok)
    prompt_tokens = sum(r.prompt_tokens for r in ok)
    good = [r for r in records if meets_request_slo(r, slo)]
    ttft = _dist(ttfts)
    tpot = _dist(tpots)
    meets = (
        n > 0
        and len(ok) == n
        and ttft["p99"] is not None
        and ttft["p99"] <= slo.ttft_p99_s
        and (tpot["p99"] is None or tpot["p99"] <= slo.tpot_p99_s)
    )
    return {
        "offered_rate": offered_rate,
        "requests": n,
        "completed": len(ok),
        "failed": n - len(ok),
        "errors": sorted({r.error for r in records if r.error})[:5],
        "duration_s": duration_s,
        "request_throughput": len(ok) / duration_s,
        "output_throughput_tok_s": out_tokens / duration_s,
        "total_throughput_tok_s": (out_tokens + prompt_tokens) / duration_s,
        "mean_output_tokens": (out_tokens / len(ok)) if ok else None,
        "ttft_s": ttft,
        "tpot_s": tpot,
        "e2e_s": _dist(e2es),
        "goodput_req_s": len(good) / duration_s,
        "slo": {"ttft_p99_s": slo.ttft_p99_s, "tpot_p99_s": slo.tpot_p99_s},
        "meets_slo": meets,
    }


def capacity(points: Sequence[dict]) -> Optional[float]:
    """The highest offered rate whose summary meets the SLO, provided no lower
    rate failed it (a rate above a failing one is noise, not capacity); None
    when even the lowest rate fails."""
    best = None
    for p in sorted(points, key=lambda p: p["offered_rate"]):
        if not p["meets_slo"]:
            break
        best = p["offered_rate"]
    return best


def next_rate(points: Sequence[dict], start: float, factor: float = 2.0, resolution: float = 0.15) -> Optional[float]:
    """The next rate to try when searching for capacity: `start` first; then
    multiply by `factor` while every rate meets the SLO; once one fails,
    bisect (geometrically) between the highest passing and the lowest failing
    rate until they are within `resolution` (relative). None when done."""
    if not points:
        return start
    passing = [p["offered_rate"] for p in points if p["meets_slo"]]
    failing = [p["offered_rate"] for p in points if not p["meets_slo"]]
    if not failing:
        return max(passing) * factor
    lo_fail = min(failing)
    below = [r for r in passing if r < lo_fail]
    if not below:
        lo = min(points, key=lambda p: p["offered_rate"])["offered_rate"]
        if lo <= start / (factor**3):
            return None  # even far below the start it fails
        return lo / factor
    hi_pass = max(below)
    if lo_fail / hi_pass <= 1 + resolution:
        return None
    return math.sqrt(hi_pass * lo_fail)
