"""Unit tests of bench/warm's pure parts (trace mapping, statistics, /metrics parsing, the
configuration): `$(scripts/setup-bench)/bin/python -m pytest bench/warm`."""
import math
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import hearthd_config as config  # noqa: E402
import prometheus  # noqa: E402
import schedule  # noqa: E402
from schedule import MappingOptions, map_traces, popularity, segment  # noqa: E402
from summary import Record, compare, forecast_error, rolling, summarize_policy, ttft_dist  # noqa: E402


def steady(n, gap, ctx=100, gen=50):
    return [(i * gap, ctx, gen) for i in range(n)]


def test_popularity_is_a_normalized_power_law():
    p = popularity(4, 1.0)
    assert sum(p) == pytest.approx(1.0)
    assert p[0] / p[1] == pytest.approx(2.0)
    assert p[0] / p[3] == pytest.approx(4.0)
    assert popularity(3, 0.0) == pytest.approx([1 / 3] * 3)
    with pytest.raises(ValueError):
        popularity(0, 1.0)


def test_segment_wraps_around_the_trace_end():
    rows = steady(10, 1.0)  # span 10 s (last row at 9 plus the mean gap)
    seg = segment(rows, 8.0, 4.0)  # trace times 8, 9, then 10 -> 0, 11 -> 1
    assert [t for t, _, _ in seg] == [0.0, 1.0, 2.0, 3.0]
    assert len(segment(rows, 0.0, 25.0)) == 25  # longer than the trace: repeats it


def test_each_model_gets_its_share_and_its_own_segment():
    # A trace whose rows carry their own index as the context length, so the mapping can be read back.
    rows = [(float(i), i + 1, 5) for i in range(600)]
    o = MappingOptions(duration_s=100.0, total_rate=2.0, alpha=1.0, max_prompt_tokens=10_000, max_output_tokens=3)
    arr = map_traces({"t": rows}, ["a", "b", "c"], o)
    counts = {m: sum(1 for a in arr if a.model == m) for m in "abc"}
    shares = popularity(3, 1.0)
    for m, s in zip("abc", shares):
        assert counts[m] == round(200 * s)
    assert [a.at for a in arr] == sorted(a.at for a in arr)
    assert all(0 <= a.at < 100 for a in arr)
    # Compression 6 (the 600 s trace over 100 s); model i starts at i/3 of the trace.
    for i, m in enumerate("abc"):
        for a in (x for x in arr if x.model == m):
            assert a.trace_at == pytest.approx((200 * i + a.at * 6) % 600)
            assert len(a.prompt) == int(a.trace_at) + 1  # the row's own context length
            assert a.max_tokens == 3  # min(5, the cap)


def test_mapping_is_deterministic_and_caps_lengths():
    rows = steady(1000, 0.5, ctx=4000, gen=0)
    o = MappingOptions(duration_s=60.0, total_rate=1.0, max_prompt_tokens=64, max_output_tokens=8, seed=7)
    a1 = map_traces({"x": rows, "y": rows}, ["m0", "m1"], o)
    a2 = map_traces({"x": rows, "y": rows}, ["m0", "m1"], o)
    assert a1 == a2
    assert all(len(a.prompt) == 64 and a.max_tokens == 1 for a in a1)
    assert {a.trace for a in a1 if a.model == "m0"} == {"x"}
    assert {a.trace for a in a1 if a.model == "m1"} == {"y"}
    assert all(schedule.TOKEN_LO <= t < schedule.TOKEN_HI for a in a1 for t in a.prompt)
    assert map_traces({"x": rows}, ["m0", "m1"], MappingOptions(60.0, 1.0, seed=8)) != a1


def test_the_least_popular_model_gets_at_least_one_request():
    arr = map_traces({"t": steady(100, 1.0)}, [f"m{i}" for i in range(6)], MappingOptions(10.0, 0.1, alpha=3.0))
    assert {a.model for a in arr} == {f"m{i}" for i in range(6)}


def test_thinning_keeps_the_shape_of_the_rate():
    # First half of the trace 9x as dense as the second: the thinned arrivals keep about that.
    rows = [(i / 9, 10, 10) for i in range(900)] + [(100 + i, 10, 10) for i in range(100)]
    arr = map_traces({"t": rows}, ["m"], MappingOptions(duration_s=200.0, total_rate=1.0, compression=1.0))
    first = sum(1 for a in arr if a.at < 100)
    assert len(arr) == 200
    assert 160 <= first <= 200


def rec(model, ttft, at=100.0, ok=True, state="warm"):
    return Record(model=model, at=at, sent=at, ttft=ttft, ok=ok, state_at_send=state)


METRICS_BEFORE = """# TYPE hearth_model_cold_starts_total counter
hearth_model_cold_starts_total{model="a"} 2
"""
METRICS_AFTER = """# HELP hearth_model_cold_starts_total Requests that waited.
# TYPE hearth_model_cold_starts_total counter
hearth_model_cold_starts_total{model="a"} 5
hearth_model_cold_starts_total{model="b"} 1
hearth_model_swaps_total{model="a",kind="swap_in"} 3
hearth_model_swaps_total{model="a",kind="stage"} 9
hearth_prewarm_actions_total{model="b",action="load",outcome="done"} 2
hearth_prewarm_actions_total{model="a",action="load",outcome="cancelled"} 1
hearth_prewarm_hits_total{model="b"} 4
# TYPE hearth_prewarm_waste_total counter
"""


def test_prometheus_delta_by_label():
    d = prometheus.delta(prometheus.parse(METRICS_BEFORE), prometheus.parse(METRICS_AFTER))
    assert prometheus.by_label(d, "hearth_model_cold_starts_total", "model") == {"a": 3, "b": 1}
    assert prometheus.by_label(d, "hearth_model_swaps_total", "model", kind="swap_in") == {"a": 3}
    assert prometheus.by_label(d, "hearth_prewarm_actions_total", "model") == {"a": 1, "b": 2}
    assert "hearth_prewarm_waste_total" in prometheus.families(METRICS_AFTER)
    assert prometheus.parse('x{l="a \\"q\\""} 1.5e3') == {("x", frozenset({("l", 'a "q"')})): 1500.0}


def test_ttft_percentiles_count_failures_as_infinite():
    rs = [rec("a", x / 100) for x in range(1, 100)] + [rec("a", None, ok=False)]
    d = ttft_dist(rs)
    assert d["n"] == 100
    assert d["p50"] == pytest.approx(0.505)
    assert d["p99"] == math.inf
    assert d["mean"] == pytest.approx(0.5)


def test_policy_summary_skips_the_warmup_and_counts_not_warm_sends():
    d = prometheus.delta(prometheus.parse(METRICS_BEFORE), prometheus.parse(METRICS_AFTER))
    rs = [rec("a", 9.0, at=5.0), rec("a", 0.1), rec("a", 0.2), rec("b", 1.5, state="registered"),
          rec("b", 0.3, state="staged"), rec("b", None, ok=False)]
    rs[-1].error = "HTTP 503"
    s = summarize_policy(rs, 10.0, d, ["a", "b"], {"a": {"windows": []}})
    assert s["requests"] == 5 and s["failed"] == 1 and s["errors"] == ["HTTP 503"]
    assert s["sent_while_not_warm"] == 2
    assert s["per_model"]["a"]["ttft_s"]["max"] == pytest.approx(0.2)  # the warm-up's 9 s is out
    assert s["per_model"]["b"]["sent_while_not_warm"] == 2
    assert s["counters"]["cold_starts"] == 4 and s["counters"]["swap_ins"] == 3 and s["counters"]["stages"] == 9
    assert s["counters"]["prewarm_hits"] == 4
    assert s["counters"]["prewarm_actions_by_kind"] == {"load/cancelled": 1, "load/done": 2}
    assert s["forecast_error"]["reported"] is False


def test_forecast_error_means_over_models():
    h = {"a": {"error": {"windows": 10, "avg": 0.2, "peak": 0.5, "naive_avg": 0.4, "naive_peak": 1.0}},
         "b": {"error": {"windows": 4, "avg": 0.4, "peak": 0.7, "naive_avg": 0.2, "naive_peak": 0.6}}}
    e = forecast_error(h)
    assert e["reported"] is True
    assert e["mean_avg"] == pytest.approx(0.3) and e["mean_naive_peak"] == pytest.approx(0.8)


def test_compare_gives_ratios_and_reductions():
    base = {"ttft_s": {"p50": 0.2, "p90": 1.0, "p99": 2.0}, "counters": {"cold_starts": 40}, "sent_while_not_warm": 50,
            "per_model": {"a": {"ttft_s": {"p99": 3.0}}}}
    other = {"ttft_s": {"p50": 0.2, "p90": 0.5, "p99": 0.5}, "counters": {"cold_starts": 10}, "sent_while_not_warm": 60,
             "per_model": {"a": {"ttft_s": {"p99": math.inf}}}}
    c = compare(base, other)
    assert c["ttft_p99_ratio"] == pytest.approx(4.0)
    assert c["cold_starts_reduction_pct"] == pytest.approx(75.0)
    assert c["not_warm_reduction_pct"] == pytest.approx(-20.0)
    assert c["per_model_ttft_p99_ratio"] == {"a": None}
    base["counters"]["cold_starts"] = 0
    assert compare(base, other)["cold_starts_reduction_pct"] is None


def test_rolling_percentile_windows():
    rs = [rec("a", float(i), at=float(i)) for i in range(10)]
    pts = rolling(rs, 5.0, 5.0, 50)
    assert pts == [(2.5, 2.0), (7.5, 7.0)]


def test_budgets_and_config():
    b = config.budgets([300 << 20, 600 << 20, 900 << 20], [100 << 20, 200 << 20, 700 << 20], 1 / 3, 1 / 3)
    assert b.memory_bytes == 900 << 20  # the largest model, which is more than a third
    assert b.staged_bytes == 700 << 20
    b = config.budgets([3 << 20] * 3, [1] * 3, 0.5, 0.5)
    assert b.memory_bytes == 6 << 20 and b.staged_bytes == 2 << 20  # whole pages, rounded up
    lru = config.render({"m": "/x.gguf"}, b, policy=None, window_s=10, period_s=600, prewarm_interval_ms=None)
    assert "policy" not in lru and "prewarm_interval_ms" not in lru
    assert "memory_budget_bytes = 6291456" in lru and '"m" = "/x.gguf"' in lru
    fc = config.render({"m": "/x.gguf"}, None, policy="forecast", window_s=10, period_s=600, prewarm_interval_ms=1000)
    assert 'policy = "forecast"' in fc and "prewarm_interval_ms = 1000" in fc and "[workers]" not in fc
