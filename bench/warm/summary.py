"""The figures of one policy's run (TTFT percentiles per model and overall, cold starts,
swap-ins, prewarm hits and waste, the forecaster's error) and the comparison of two runs.
Pure: records and counter deltas in, plain dicts out."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "serve"))
from stats import percentile  # noqa: E402  (bench/serve/stats.py: numpy's linear interpolation)

import prometheus  # noqa: E402

INF = float("inf")


@dataclass
class Record:
    """One replayed request as the client saw it. Times in seconds."""

    model: str
    at: float  # scheduled send time, after the replay's start
    sent: float = 0.0  # actual send time, after the replay's start
    ttft: Optional[float] = None  # sent -> first token event
    e2e: Optional[float] = None  # sent -> end of the stream
    ok: bool = False
    error: str = ""
    state_at_send: str = ""  # the model's state in the admin API's last sample before sending


def ttft_dist(records: Sequence[Record]) -> dict:
    """Percentiles of TTFT; a request that failed counts as infinitely slow, so that dropping
    the slow ones cannot make P99 look good."""
    xs = [r.ttft if r.ok and r.ttft is not None else INF for r in records]
    finite = [x for x in xs if x != INF]
    return {
        "n": len(xs),
        "p50": percentile(xs, 50),
        "p90": percentile(xs, 90),
        "p99": percentile(xs, 99),
        "mean": sum(finite) / len(finite) if finite else None,
        "max": max(xs) if xs else None,
    }


def counters(d: Dict[prometheus.Sample, float], models: Sequence[str]) -> dict:
    """Per model, the counters that matter here, from the delta of two /metrics scrapes."""
    per = {
        "cold_starts": prometheus.by_label(d, "hearth_model_cold_starts_total", "model"),
        "loads": prometheus.by_label(d, "hearth_model_loads_total", "model", status="ok"),
        "swap_ins": prometheus.by_label(d, "hearth_model_swaps_total", "model", kind="swap_in"),
        "swap_outs": prometheus.by_label(d, "hearth_model_swaps_total", "model", kind="swap_out"),
        "stages": prometheus.by_label(d, "hearth_model_swaps_total", "model", kind="stage"),
        "evictions": prometheus.by_label(d, "hearth_model_evictions_total", "model"),
        "prewarm_hits": prometheus.by_label(d, "hearth_prewarm_hits_total", "model"),
        "prewarm_waste": prometheus.by_label(d, "hearth_prewarm_waste_total", "model"),
        "prewarm_actions": prometheus.by_label(d, "hearth_prewarm_actions_total", "model"),
    }
    out = {m: {k: int(v.get(m, 0)) for k, v in per.items()} for m in models}
    actions: Dict[str, int] = {}
    for (name, labels), v in d.items():
        if name == "hearth_prewarm_actions_total" and v:
            lab = dict(labels)
            key = f"{lab.get('action', '?')}/{lab.get('outcome', '?')}"
            actions[key] = actions.get(key, 0) + int(v)
    total = {k: sum(out[m][k] for m in models) for k in per}
    total["prewarm_actions_by_kind"] = dict(sorted(actions.items()))
    return {"per_model": out, "total": total}


def forecast_error(histories: Dict[str, dict]) -> dict:
    """The "error" object of each model's /history (the forecast against the naive "next =
    last window" predictor), or a note that this hearthd does not report one."""
    errors = {m: h.get("error") for m, h in histories.items() if isinstance(h, dict)}
    if not errors or all(e is None for e in errors.values()):
        return {"reported": False, "note": "GET /admin/v1/models/{name}/history has no \"error\" key"}
    out: dict = {"reported": True, "per_model": errors}
    rows = [e for e in errors.values() if e and e.get("windows")]
    for k in ("avg", "peak", "naive_avg", "naive_peak"):
        vals = [e[k] for e in rows if isinstance(e.get(k), (int, float))]
        out[f"mean_{k}"] = sum(vals) / len(vals) if vals else None
    return out


def _not_warm(r: Record) -> bool:
    return bool(r.state_at_send) and r.state_at_send != "warm"


def summarize_policy(records: Sequence[Record], warmup_s: float, metric_delta: Dict[prometheus.Sample, float],
                     models: Sequence[str], histories: Optional[Dict[str, dict]] = None) -> dict:
    """Only requests scheduled after the warm-up count; the counters are the delta over the same
    span (the caller scrapes /metrics at the warm-up's end and after the last request)."""
    measured = [r for r in records if r.at >= warmup_s]
    not_warm = [r for r in measured if _not_warm(r)]
    c = counters(metric_delta, models)
    per_model = {}
    for m in models:
        rs = [r for r in measured if r.model == m]
        per_model[m] = {"ttft_s": ttft_dist(rs), "sent_while_not_warm": sum(1 for r in rs if _not_warm(r)),
                        **c["per_model"][m]}
    failed = [r for r in measured if not r.ok]
    return {
        "requests": len(measured),
        "completed": len(measured) - len(failed),
        "failed": len(failed),
        "errors": sorted({r.error for r in failed if r.error})[:5],
        "ttft_s": ttft_dist(measured),
        "ttft_s_sent_while_warm": ttft_dist([r for r in measured if r.state_at_send == "warm"]),
        "ttft_s_sent_while_not_warm": ttft_dist(not_warm),
        "sent_while_not_warm": len(not_warm),
        "counters": c["total"],
        "per_model": per_model,
        "forecast_error": forecast_error(histories or {}),
    }


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    if a is None or b is None or b == 0 or a == INF or b == INF:
        return None
    return a / b


def _reduction(a: float, b: float) -> Optional[float]:
    """Percent fewer in b than in a (negative: more)."""
    return None if not a else 100.0 * (a - b) / a


def compare(base: dict, other: dict) -> dict:
    """TTFT ratios base/other (above 1: other is faster) and the reduction of cold starts and
    of requests sent to a model that was not warm, in percent of base."""
    out = {q: _ratio(base["ttft_s"][q], other["ttft_s"][q]) for q in ("p50", "p90", "p99")}
    out = {f"ttft_{q}_ratio": v for q, v in out.items()}
    out["cold_starts_reduction_pct"] = _reduction(base["counters"]["cold_starts"], other["counters"]["cold_starts"])
    out["not_warm_reduction_pct"] = _reduction(base["sent_while_not_warm"], other["sent_while_not_warm"])
    out["per_model_ttft_p99_ratio"] = {m: _ratio(base["per_model"][m]["ttft_s"]["p99"],
                                                 other["per_model"][m]["ttft_s"]["p99"])
                                       for m in base["per_model"] if m in other["per_model"]}
    return out


def rolling(records: Sequence[Record], window_s: float, step_s: float, q: float) -> List[tuple]:
    """(window centre, q-th percentile of TTFT) over sliding windows of send time, for the plot;
    failed requests count as infinite."""
    if not records:
        return []
    end = max(r.sent for r in records)
    out, t = [], 0.0
    while t <= end:
        xs = [r.ttft if r.ok and r.ttft is not None else INF for r in records if t <= r.sent < t + window_s]
        if xs:
            out.append((t + window_s / 2, percentile(xs, q)))
        t += step_s
    return out
