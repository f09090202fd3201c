"""TTFT over the replay's time for each policy: every request as a point (coloured by model),
and a rolling P50 and P99 of both policies on one panel. PNG with matplotlib; without it, a
plain SVG of the points and the rolling P99 drawn here (no dependency)."""
from __future__ import annotations

import math
from typing import Dict, List, Sequence

from summary import Record, rolling

ROLL_WINDOW_S, ROLL_STEP_S = 30.0, 5.0
COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]


def _points(records: Sequence[Record]):
    """(send time, TTFT) of each request; a failed one is drawn at the top of the axis."""
    return [(r.sent, r.ttft if r.ok and r.ttft is not None else math.inf, r.model) for r in records]


def plot(runs: Dict[str, Sequence[Record]], models: Sequence[str], warmup_s: float, path_stem: str,
         title: str = "") -> str:
    """Writes path_stem + ".png" (or ".svg" without matplotlib); returns the path written."""
    try:
        import matplotlib
    except ImportError:
        return _svg(runs, warmup_s, path_stem + ".svg", title)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colour = {m: COLOURS[i % len(COLOURS)] for i, m in enumerate(models)}
    fig, axes = plt.subplots(len(runs) + 1, 1, figsize=(12, 3.2 * (len(runs) + 1)), sharex=True)
    top = max([r.ttft for rs in runs.values() for r in rs if r.ok and r.ttft] + [1.0]) * 1.5
    for ax, (policy, records) in zip(axes, runs.items()):
        for m in models:
            pts = [(t, min(y, top)) for t, y, mm in _points(records) if mm == m]
            if pts:
                ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=6, color=colour[m], label=m)
        ax.set_title(f"{policy}: TTFT of each request (a failed one at the top)")
        ax.set_yscale("log")
        ax.set_ylabel("TTFT (s)")
        ax.axvline(warmup_s, color="gray", linestyle=":")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7, ncol=len(models), markerscale=2)
    ax = axes[-1]
    for i, (policy, records) in enumerate(runs.items()):
        for q, style in ((99, "-"), (50, "--")):
            pts = rolling(records, ROLL_WINDOW_S, ROLL_STEP_S, q)
            ax.plot([p[0] for p in pts], [min(p[1], top) for p in pts], style, color=COLOURS[i],
                    label=f"{policy} P{q}")
    ax.set_title(f"rolling TTFT over {ROLL_WINDOW_S:.0f} s of send time (dotted line: end of the warm-up)")
    ax.set_yscale("log")
    ax.set_ylabel("TTFT (s)")
    ax.set_xlabel("replay time (s)")
    ax.axvline(warmup_s, color="gray", linestyle=":")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = path_stem + ".png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _svg(runs: Dict[str, Sequence[Record]], warmup_s: float, path: str, title: str) -> str:
    w, h, pad = 1000, 420, 50
    pts = {p: _points(rs) for p, rs in runs.items()}
    finite = [y for ps in pts.values() for _, y, _ in ps if y != math.inf and y > 0] or [0.01, 1.0]
    lo, hi = math.log10(min(finite)), math.log10(max(finite) * 1.5)
    t_end = max([t for ps in pts.values() for t, _, _ in ps] + [1.0])

    def xy(t: float, y: float):
        y = max(min(y, 10 ** hi), 10 ** lo)
        return pad + (w - 2 * pad) * t / t_end, h - pad - (h - 2 * pad) * (math.log10(y) - lo) / (hi - lo or 1)

    out: List[str] = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-size="11">',
                      f'<text x="{pad}" y="20">{title} TTFT (s, log) over replay time; lines: rolling P99</text>']
    for k in range(math.floor(lo), math.ceil(hi) + 1):
        _, y = xy(0, 10 ** k)
        out.append(f'<line x1="{pad}" x2="{w - pad}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                   f'<text x="5" y="{y:.1f}">{10 ** k:g}</text>')
    x, _ = xy(warmup_s, 1)
    out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{pad}" y2="{h - pad}" stroke="gray" stroke-dasharray="3"/>')
    for i, (policy, ps) in enumerate(pts.items()):
        c = COLOURS[i]
        for t, y, _ in ps:
            px, py = xy(t, y)
            out.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="1.5" fill="{c}" fill-opacity="0.5"/>')
        line = " ".join("%.1f,%.1f" % xy(t, y) for t, y in rolling(runs[policy], ROLL_WINDOW_S, ROLL_STEP_S, 99))
        out.append(f'<polyline points="{line}" fill="none" stroke="{c}" stroke-width="2"/>')
        out.append(f'<text x="{w - pad - 150}" y="{pad + 15 * i}" fill="{c}">{policy}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return path
