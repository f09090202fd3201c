"""Self-check of cluster_stats (no pytest needed: `python bench/cluster/test_cluster_stats.py`)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_stats as s  # noqa: E402


def test_percentile_nearest_rank():
    assert s.percentile([], 50) is None
    assert s.percentile([3, 1, 2], 50) == 2
    assert s.percentile(list(range(1, 11)), 90) == 9
    assert s.percentile([5], 99) == 5


def test_tpot():
    assert s.tpot(1.0, 1.0, 1) is None
    assert abs(s.tpot(1.0, 1.3, 4) - 0.1) < 1e-12


def test_ratios_and_deltas():
    f, d = s.spread([0.02, 0.03]), s.spread([0.01, 0.015])
    assert s.ratios(f, d) == {"p50": 2.0, "p90": 2.0}
    assert s.ratios({"p50": None, "p90": 1}, {"p50": 1, "p90": 0}) == {"p50": None, "p90": None}
    assert s.paired_deltas([(0.012, 0.010), (0.013, 0.010)])["p50"] == 2.0


def test_burst_summary():
    b = s.burst_summary(["completed", "rejected", "rejected", "hung"], [0.1, 0.2], [0.5], [1.0])
    assert (b["completed"], b["rejected"], b["failed"], b["hung"]) == (1, 2, 0, 1)
    assert b["reject_ms"]["max"] == 200.0


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_"):
            fn()
    print("ok")
