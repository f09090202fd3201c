"""PNG plot of latency against request rate for one or more sweeps."""
from __future__ import annotations

from typing import Dict, List, Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _series(points: List[dict], metric: str, q: str):
    pts = sorted(points, key=lambda p: p["offered_rate"])
    xs, ys = [], []
    for p in pts:
        v = p[metric][q]
        if v is None or v == float("inf"):
            v = float("nan")
        xs.append(p["offered_rate"])
        ys.append(v)
    return xs, ys


def plot_sweeps(sweeps: Dict[str, List[dict]], path: str, slo: Optional[dict] = None, title: str = "") -> None:
    """sweeps: label -> summaries (stats.summarize) at several offered rates."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, (metric, name) in zip(axes, [("ttft_s", "TTFT"), ("tpot_s", "TPOT"), ("e2e_s", "end-to-end latency")]):
        for label, points in sweeps.items():
            if not points:
                continue
            xs, ys = _series(points, metric, "p99")
            line, = ax.plot(xs, ys, marker="o", label=f"{label} p99")
            xs, ys = _series(points, metric, "p50")
            ax.plot(xs, ys, marker=".", linestyle="--", color=line.get_color(), alpha=0.6, label=f"{label} p50")
        if slo and metric == "ttft_s":
            ax.axhline(slo["ttft_p99_s"], color="gray", linestyle=":", label="SLO")
        if slo and metric == "tpot_s":
            ax.axhline(slo["tpot_p99_s"], color="gray", linestyle=":", label="SLO")
        ax.set_xlabel("offered request rate (req/s)")
        ax.set_ylabel(f"{name} (s)")
        ax.set_yscale("log")
        ax.set_title(name)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
