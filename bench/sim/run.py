"""Runs hearth-sim's measurements (docs/benchmarks.md, "Cluster simulator (bench/sim)").

    python3 bench/sim/run.py validate            # bench/warm and bench/spot scenarios, CPU profile
    python3 bench/sim/run.py scale --nodes 10,100,1000 --duration 60
    python3 bench/sim/run.py policy --nodes 10 --duration 900
    python3 bench/sim/run.py scale --nodes 100 --duration 30 --step-by-step   # one event per step: same reports

Each run's report goes to bench/sim/results/NAME.json (or --out-dir); the script prints a
table with each run's wall time, peak memory (from /usr/bin/time) and the report's figures.
Scenario variants are written to a temporary directory: fleet.json with the node count, the
request rate (scaled with the nodes) and the duration changed."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TRACE_SPAN_S = 3501.72  # the conversation trace's length: compression 1 replays it at real speed


def run(sim: str, scenario: str, out: str, extra: list[str]) -> dict:
    cmd = ["/usr/bin/time", "-f", "TIME %e %M %U", sim, scenario, "-q", "-o", out] + extra
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"hearth-sim failed: {' '.join(cmd)}\n{p.stderr}")
    wall, rss_kb, user = next(line.split()[1:] for line in p.stderr.splitlines() if line.startswith("TIME "))
    # "hearth-sim: N events (M handled, ...": the events the simulator handled (decode runs).
    handled = next((line.split("(")[1].split()[0] for line in p.stderr.splitlines()
                    if line.startswith("hearth-sim: ") and "handled" in line), "0")
    with open(out) as f:
        report = json.load(f)
    report["_wall_s"] = float(wall)
    report["_rss_mib"] = int(rss_kb) / 1024
    report["_user_s"] = float(user)  # CPU time: on a shared machine, steadier than the wall time
    report["_handled"] = int(handled)
    return report


def variant(tmp: str, name: str, nodes: int, rate: float, duration: float, window: float,
            spot_share: float = 0.0, gpus: int = 8, cluster: bool = True) -> str:
    with open(os.path.join(HERE, "fleet.json")) as f:
        s = json.load(f)
    od = dict(s["nodes"][0], gpus=gpus)
    od["count"] = nodes - int(round(nodes * spot_share))
    s["nodes"] = [od]
    if spot_share > 0:
        spot = dict(od, name="spot", instance="spot", price_per_hour=round(od["price_per_hour"] * 0.3, 2),
                    count=int(round(nodes * spot_share)))
        s["nodes"].append(spot)
        # Trace hours 1.5-3.5 compressed into the run: 24 changes of the live count between 2 and
        # 11 instances, scaled so that 11 is the fleet's spot share.
        s["spot"] = {"trace": "/work/shared/traces/spotserve_g4dn.csv", "start_s": 5400,
                     "compression": 7200 / duration,
                     "notice_s": 30}
    s["arrivals"]["rate"] = rate
    s["arrivals"]["duration_s"] = duration
    s["arrivals"]["compression"] = TRACE_SPAN_S / max(duration, TRACE_SPAN_S)
    s["policy"]["window_s"] = window
    s["policy"]["cluster_placement"] = cluster
    s["policy"]["warmup_s"] = min(s["policy"]["warmup_s"], duration / 5)
    path = os.path.join(tmp, name + ".json")
    with open(path, "w") as f:
        json.dump(s, f)
    return path


def row(name: str, r: dict) -> str:
    o, c = r["overall"], r["counters"]
    busy = c["busy_gpu_hours"] / c["gpu_hours"] if c["gpu_hours"] else 0
    return (f"| {name} | {r['_wall_s']:.1f} | {r['_user_s']:.1f} | {c['events']:,} | {r['_handled']:,} | "
            f"{c['events'] / max(r['_wall_s'], 1e-9):,.0f} | "
            f"{r['_rss_mib']:.0f} | {o['requests']:,} | {busy:.2f} | {o['ttft_ms']['p50']:.0f} / "
            f"{o['ttft_ms']['p99']:.0f} | {o['tpot_ms']['p50']:.1f} / {o['tpot_ms']['p99']:.1f} | "
            f"{o['slo_attainment']:.3f} | {o['cold_starts']} | {c['preemptions']} | {o['lost']} | "
            f"{c['gpu_hours']:.1f} | {c['cost']:.0f} |")


HEADER = ("| run | wall s | CPU s | events | handled | events/s | peak MiB | requests | GPU busy | TTFT P50 / P99 ms | "
          "TPOT P50 / P99 ms | SLO | cold starts | preemptions | lost | GPU-h | cost $ |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["validate", "scale", "policy"])
    ap.add_argument("--sim", default=os.path.join(ROOT, "build", "bin", "hearth-sim"))
    ap.add_argument("--out-dir", default=os.path.join(HERE, "results"))
    ap.add_argument("--nodes", default="10")
    ap.add_argument("--duration", type=float, default=3600)
    ap.add_argument("--rate-per-node", type=float, default=10.0, help="requests/s per 8-GPU node")
    ap.add_argument("--window", type=float, default=300)
    ap.add_argument("--gpus", type=int, default=8, help="GPUs per node")
    ap.add_argument("--no-cluster-placement", action="store_true",
                    help="nodes place on their own (no pinned homes, no replica counts)")
    ap.add_argument("--step-by-step", action="store_true",
                    help="hearth-sim --step-by-step: one event per GPU step (slower, the same reports)")
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    print(HEADER)
    with tempfile.TemporaryDirectory() as tmp:
        runs: list[tuple[str, str, list[str]]] = []
        if args.what == "validate":
            warm, spot = os.path.join(HERE, "warm.json"), os.path.join(HERE, "spot.json")
            runs = [("warm-lru", warm, ["--placement", "lru"]), ("warm-forecast", warm, ["--placement", "forecast"]),
                    ("spot-c-ondemand", os.path.join(HERE, "spot-ondemand.json"), []),
                    ("spot-a-migrate", spot, ["--preemption", "migrate"]),
                    ("spot-b-restart", spot, ["--preemption", "restart"])]
        for n in [int(x) for x in args.nodes.split(",")]:
            rate = args.rate_per_node * n
            if args.what == "scale":
                runs.append((f"scale-{n}", variant(tmp, f"scale-{n}", n, rate, args.duration, args.window,
                                                             gpus=args.gpus), []))
            elif args.what == "policy":
                cluster = not args.no_cluster_placement
                od = variant(tmp, f"od-{n}", n, rate, args.duration, args.window, gpus=args.gpus, cluster=cluster)
                mixed = variant(tmp, f"mixed-{n}", n, rate, args.duration, args.window, spot_share=0.5,
                                gpus=args.gpus, cluster=cluster)
                runs += [(f"lru-{n}", od, ["--placement", "lru"]), (f"forecast-{n}", od, ["--placement", "forecast"]),
                         (f"mixed-restart-{n}", mixed, ["--preemption", "restart"]),
                         (f"mixed-migrate-{n}", mixed, ["--preemption", "migrate"])]
        for name, scenario, extra in runs:
            if args.step_by_step:
                extra = extra + ["--step-by-step"]
            r = run(args.sim, scenario, os.path.join(args.out_dir, name + ".json"), extra)
            print(row(name, r), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
