"""Plots a hearth-sim report: TTFT (P50, P99) by arrival minute and cost over time.

    $(scripts/setup-bench)/bin/python bench/sim/plot.py REPORT.json [MORE.json ...] -o out.png

Each report is one line per panel, labelled by its file name. Needs matplotlib; without it the
script says so and exits 0 (the reports are the result; the plots only draw them)."""
from __future__ import annotations

import argparse
import json
import os
import sys


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reports", nargs="+")
    ap.add_argument("-o", "--out", required=True)
    args = ap.parse_args()
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot.py: matplotlib is not installed; no plot written", file=sys.stderr)
        return 0
    fig, (ax_ttft, ax_cost) = plt.subplots(2, 1, figsize=(9, 7))
    for path in args.reports:
        with open(path) as f:
            r = json.load(f)
        label = os.path.basename(path)
        t = [row[0] / 60 for row in r["ttft_over_time"] if row[3] > 0]
        ax_ttft.plot(t, [row[2] / 1e3 for row in r["ttft_over_time"] if row[3] > 0], label=label + " P99")
        ax_ttft.plot(t, [row[1] / 1e3 for row in r["ttft_over_time"] if row[3] > 0], "--", label=label + " P50")
        ax_cost.plot([p[0] / 60 for p in r["cost_over_time"]], [p[1] for p in r["cost_over_time"]], label=label)
    ax_ttft.set_yscale("log")
    ax_ttft.set_xlabel("arrival minute")
    ax_ttft.set_ylabel("TTFT (s)")
    ax_ttft.legend(fontsize=7)
    ax_cost.set_xlabel("simulated minute")
    ax_cost.set_ylabel("cost so far ($)")
    ax_cost.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"plot.py: wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
