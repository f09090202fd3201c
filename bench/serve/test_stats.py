"""Unit tests of bench/serve/stats.py: `pytest bench/serve` (in the venv of scripts/setup-bench)."""
import math
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from stats import RequestRecord, Slo, capacity, next_rate, percentile, summarize  # noqa: E402
from workload import parse_trace_rows, poisson_arrivals  # noqa: E402


def test_percentile_interpolates_like_numpy():
    xs = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert percentile(xs, 0) == 1.0
    assert percentile(xs, 50) == 3.0
    assert percentile(xs, 100) == 5.0
    assert percentile(xs, 90) == pytest.approx(4.6)
    assert percentile(list(range(1, 101)), 99) == pytest.approx(99.01)
    assert percentile([], 50) is None
    inf = float("inf")
    assert percentile([1.0, inf, inf], 99) == inf  # not nan
    assert percentile([1.0, 2.0, inf], 0) == 1.0
    with pytest.raises(ValueError):
        percentile(xs, 101)


def rec(ttft, e2e, n, ok=True, sent=0.0):
    return RequestRecord(sent_at=sent, prompt_tokens=10, max_tokens=n, ok=ok, ttft=ttft, e2e=e2e, output_tokens=n if ok else 0)


def test_tpot_excludes_the_first_token():
    r = rec(0.5, 2.5, 5)
    assert r.tpot == pytest.approx(0.5)  # (2.5 - 0.5) / 4
    assert rec(0.5, 0.5, 1).tpot is None


def test_summary_goodput_and_slo():
    slo = Slo(ttft_p99_s=1.0, tpot_p99_s=0.1)
    good = [rec(0.2, 0.2 + 9 * 0.05, 10) for _ in range(9)]
    slow = rec(0.2, 0.2 + 9 * 0.3, 10)  # TPOT 0.3 > 0.1
    s = summarize(good + [slow], duration_s=10.0, slo=slo, offered_rate=1.0)
    assert s["completed"] == 10
    assert s["goodput_req_s"] == pytest.approx(0.9)
    assert s["request_throughput"] == pytest.approx(1.0)
    assert s["output_throughput_tok_s"] == pytest.approx(10.0)
    assert s["tpot_s"]["p50"] == pytest.approx(0.05)
    assert s["tpot_s"]["p99"] > 0.1
    assert not s["meets_slo"]
    assert summarize(good, 10.0, slo)["meets_slo"]


def test_a_failed_request_cannot_hide_from_p99():
    slo = Slo(ttft_p99_s=1.0, tpot_p99_s=0.1)
    records = [rec(0.1, 0.5, 5) for _ in range(99)] + [rec(None, None, 5, ok=False)]
    s = summarize(records, 10.0, slo)
    assert s["failed"] == 1
    assert math.isinf(s["ttft_s"]["max"])
    assert not s["meets_slo"]


def pt(rate, ok):
    return {"offered_rate": rate, "meets_slo": ok}


def test_capacity_is_the_highest_passing_rate_below_any_failure():
    assert capacity([pt(1, True), pt(2, True), pt(4, False)]) == 2
    assert capacity([pt(1, True), pt(2, False), pt(3, True)]) == 1  # 3 is noise
    assert capacity([pt(1, False)]) is None
    assert capacity([]) is None


def test_next_rate_doubles_then_bisects_then_stops():
    assert next_rate([], start=1.0) == 1.0
    assert next_rate([pt(1, True)], start=1.0) == 2.0
    assert next_rate([pt(1, True), pt(2, True), pt(4, False)], start=1.0) == pytest.approx(math.sqrt(8))
    assert next_rate([pt(2, True), pt(2.2, False)], start=1.0) is None  # within 15 %
    assert next_rate([pt(1, False)], start=1.0) == 0.5
    assert next_rate([pt(1, False), pt(0.5, False), pt(0.25, False), pt(0.125, False)], start=1.0) is None


def test_poisson_arrivals_have_the_rate_and_are_seeded():
    a = poisson_arrivals(rate=5.0, duration_s=200.0, seed=1)
    assert a == poisson_arrivals(rate=5.0, duration_s=200.0, seed=1)
    assert all(0 <= t < 200.0 for t in a)
    assert a == sorted(a)
    assert len(a) == 1000  # exactly rate * duration
    # Poisson bursts, not a metronome: the gaps vary like exponential ones (cv ~ 1).
    gaps = [y - x for x, y in zip(a, a[1:])]
    mean = sum(gaps) / len(gaps)
    sd = (sum((g - mean) ** 2 for g in gaps) / len(gaps)) ** 0.5
    assert sd / mean == pytest.approx(1.0, abs=0.15)
    assert poisson_arrivals(rate=5.0, duration_s=200.0, seed=2) != a


def test_trace_rows_are_time_scaled():
    rows = ["TIMESTAMP,ContextTokens,GeneratedTokens", "2023-11-16 18:15:46.0000000,374,44",
            "2023-11-16 18:15:48.0000000,396,109", "2023-11-16 18:15:50.0000000,10,7"]
    t = parse_trace_rows(rows, time_scale=2.0)
    assert [x[0] for x in t] == pytest.approx([0.0, 1.0, 2.0])
    assert [(x[1], x[2]) for x in t] == [(374, 44), (396, 109), (10, 7)]
