"""Spot preemption: a small cluster replaying a real spot availability trace while it serves a
real request trace (docs/benchmarks.md, "Spot preemption (bench/spot)").

One etcd and 1 + --spot-nodes hearthd nodes on loopback serve SmolLM2 as `smollm2`. node-a is
the on-demand entry node: every request is sent there, and its worker's memory budget is too
small for the model, so it routes and holds no weights (an on-demand node that could hold the
model would get its only home, by the placement rule, and the spot nodes would serve nothing).
node-b, node-c, ... (4 by default) serve. The runs:

  c  on-demand only: node-b, node-c, ... on-demand, no preemption. Also the reference texts.
  a  node-b, node-c, ... spot; each fall of the trace's count gives the serving spot node a
     preemption notice (POST /admin/v1/preempt) `--grace` seconds before the trace's time, and
     the node drains, publishes its migration plan, hands its streams back and exits by itself.
  b  restart on preemption, the baseline: the same nodes and times, no notice (the serving spot
     node is SIGKILLed at the trace's time), and every node runs with `[cluster] resubmit =
     "restart"`: the entry node sends each cut stream to the next node without its committed
     tokens, and that node generates it again from its prompt (the tokens the client already has
     are regenerated, checked by the entry node and dropped). What a router that loses a
     request costs.
  b2 (optional, not in the default --runs) SIGKILL without notice, `resubmit = "continue"`:
     each cut stream is resubmitted with its committed tokens, so it loses only the tokens in
     flight. Separates what the notice saves from what carrying the tokens saves.

Each rise of the trace's count restarts a spot node (a fresh name and data directory: a new VM).
Requests follow the Azure conversation trace's arrival gaps, scaled to `--rate`, streamed, with
a seeded prompt and seed per request, the same in every run.

    $(scripts/setup-bench)/bin/python bench/spot/spot.py     # runs c,a,b: ~6 min on 2 cores

Results: --out-dir/spot-DATE-TIME.json (and .png when matplotlib is there). Exit status 0 when
no run lost a request, every text matched the reference and no entry node logged a regenerated
token that differed from the one its client had.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.join(ROOT, "bench", "cluster"))
sys.path.append(os.path.join(ROOT, "bench", "load"))

import cluster as cluster_bench  # noqa: E402  (bench/cluster/cluster.py: timed_stream, wait_for_home)
import cluster_procs as procs  # noqa: E402
from cluster_stats import percentile  # noqa: E402
import spot_trace  # noqa: E402

MODEL = cluster_bench.MODEL
ROUTER_BUDGET = 16 << 20  # node-a's worker page pool: less than the model's ~94 MiB of weights


RESUBMIT = {"a": "continue", "b": "restart", "b2": "continue", "c": "continue"}
KILLS = ("b", "b2")  # the runs whose spot nodes are SIGKILLed without notice
# The entry node's log line when a restarted request's regenerated token differs from the one its
# client already has (the text would then depend on the restart: a hearthd bug).
REGEN_MISMATCH = "a restarted request generated a different token"


def node_config(args, instance: str, price: float, router: bool, resubmit: str) -> str:
    cfg = ("request_retention_count = 2048\n\n" + procs.render_config(MODEL, args.model_path, args.token_budget) +
           f"\n[cluster]\ninstance = \"{instance}\"\nprice_per_hour = {price}\nresubmit = \"{resubmit}\"\n")
    if router:
        cfg += f"\n[workers]\nmemory_budget_bytes = {ROUTER_BUDGET}\n"
    return cfg


def scrape(node: procs.Node) -> Optional[Dict[str, float]]:
    """The figures of `node`'s /metrics the bench sums; None when it does not answer."""
    status, text = procs.http("GET", node.url + "/metrics", timeout=3)
    if status != 200:
        return None
    out = {"cost": 0.0, "tokens": 0.0, "uptime": 0.0}
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if line.startswith("hearth_node_cost_dollars_total"):
            out["cost"] = float(value)
        elif line.startswith("hearth_generated_tokens_total"):
            out["tokens"] += float(value)
        elif line.startswith("hearth_node_uptime_seconds_total"):
            out["uptime"] = float(value)
        elif line.startswith("hearth_cluster_handoff_seconds") or line.startswith("hearth_cluster_kv_"):
            out[name] = float(value)
    return out


class Fleet:
    """The nodes of one run, those started and stopped during it included, with the last metrics
    each answered (a node that exits takes its counters with it)."""

    def __init__(self, args, root: str, etcd_url: str, token: str, spot: bool, resubmit: str):
        self.args, self.root, self.etcd_url, self.token, self.spot = args, root, etcd_url, token, spot
        self.resubmit = resubmit
        self.nodes: Dict[str, procs.Node] = {}
        self.info: Dict[str, dict] = {}
        self.lock = threading.Lock()
        self.t0 = time.monotonic()

    def start(self, name: str, router: bool = False) -> procs.Node:
        price = self.args.on_demand_price if router or not self.spot else self.args.spot_price
        instance = "spot" if self.spot and not router else "on-demand"
        node = procs.Node(self.args.hearthd_copy, self.root, name, self.etcd_url,
                          node_config(self.args, instance, price, router, self.resubmit), self.args.threads, self.token)
        with self.lock:
            self.nodes[name] = node
            self.info[name] = {"instance": instance, "price": price, "started_s": self.now(), "baseline": None,
                               "last": None, "ended_s": None, "exit": None, "how": None}
        return node

    def now(self) -> float:
        return round(time.monotonic() - self.t0, 3)

    def scrape_all(self) -> None:
        with self.lock:
            live = [(n, node) for n, node in self.nodes.items() if node.alive()]
        for name, node in live:
            m = scrape(node)
            if m is not None:
                with self.lock:
                    self.info[name]["last"] = m

    def spot_alive(self) -> List[str]:
        return [n for n, node in self.nodes.items() if n != "node-a" and node.alive() and not self.info[n]["how"]]

    def reap(self) -> None:
        for name, node in self.nodes.items():
            if not node.alive() and self.info[name]["ended_s"] is None:
                self.info[name]["ended_s"], self.info[name]["exit"] = self.now(), node.proc.poll()


def wait_up(node: procs.Node, router: bool, timeout_s: float = 120) -> None:
    """/readyz for a serving node; /healthz for the router (it never loads a model, and /readyz
    wants one)."""
    if not router:
        node.wait_ready(timeout_s)
        return
    deadline = time.monotonic() + timeout_s
    while procs.http("GET", node.url + "/healthz", timeout=2)[0] != 200:
        if not node.alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{node.name} not up:\n{node.log_tail()}")
        time.sleep(0.1)


def victim(fleet: Fleet) -> Optional[str]:
    """The spot node the model is warm (or loading) on, as the entry node sees the cluster: the
    one serving, so that every preemption cuts live streams; else the oldest spot node alive."""
    alive = fleet.spot_alive()
    if not alive:
        return None
    try:
        states = cluster_bench.model_states(fleet.nodes["node-a"])
    except Exception:  # noqa: BLE001: fall back to the oldest
        states = {}
    serving = [n for n in alive if states.get(n) in ("warm", "loading")]
    return (serving or alive)[0]


def spot_names(args) -> List[str]:
    """node-b, node-c, ...: the serving nodes a run starts with."""
    return [f"node-{chr(ord('b') + i)}" for i in range(args.spot_nodes)]


def drive_events(fleet: Fleet, mode: str, schedule, t_start: float, events_out: list, stop: threading.Event):
    """Replays the schedule: mode "a" notices, "b" and "b2" SIGKILL; restarts in all."""
    grace = fleet.args.grace
    actions = []
    for at, what in schedule:
        if what == "preempt":
            actions.append((at - grace if mode == "a" else at, "notice" if mode == "a" else "kill", at))
        elif what == "restart":
            actions.append((at, "restart", at))
    actions.sort()
    restarts = 0
    for when, what, trace_at in actions:
        while time.monotonic() - t_start < when:
            if stop.wait(0.05):
                return
            fleet.reap()
        t = round(time.monotonic() - t_start, 3)
        if what == "restart":
            restarts += 1
            dead = sorted(set(spot_names(fleet.args)) - {re.sub(r"-\d+$", "", n) for n in fleet.spot_alive()})
            name = f"{dead[0] if dead else 'node-x'}-{restarts + 1}"
            fleet.start(name)
            events_out.append({"t_s": t, "trace_s": trace_at, "event": "restart", "node": name})
            continue
        name = victim(fleet)
        if name is None:
            events_out.append({"t_s": t, "trace_s": trace_at, "event": what, "node": None})
            continue
        fleet.info[name]["how"] = what
        if what == "notice":
            status, body = procs.http("POST", fleet.nodes[name].admin_url + "/admin/v1/preempt",
                                      {"grace_seconds": grace}, timeout=5)
            events_out.append({"t_s": t, "trace_s": trace_at, "event": "notice", "node": name, "status": status})
        else:
            fleet.nodes[name].proc.send_signal(signal.SIGKILL)
            events_out.append({"t_s": t, "trace_s": trace_at, "event": "kill", "node": name})


async def send_all(port: int, requests: List[dict], t_start: float, timeout_s: float) -> List[dict]:
    async def one(r: dict) -> dict:
        delay = r["at_s"] - (time.monotonic() - t_start)
        if delay > 0:
            await asyncio.sleep(delay)
        sent = time.monotonic() - t_start
        try:
            out = await cluster_bench.timed_stream(port, r["body"], timeout_s)
        except Exception as e:  # noqa: BLE001: any client-side failure is an outcome
            out = {"status": 0, "done": False, "error": f"{type(e).__name__}: {e}"[:200], "text": "",
                   "first_s": None, "last_s": None, "tokens": None, "finish": None, "id": None}
        out["sent_s"] = round(sent, 3)
        return out
    return await asyncio.gather(*(one(r) for r in requests))


def make_requests(args) -> List[dict]:
    arrivals = spot_trace.read_arrivals(args.arrivals, args.requests, args.rate, args.arrival_offset)
    out = []
    for i, (at, ctx, gen) in enumerate(arrivals):
        seed = args.seed + i
        body = {"model": MODEL, "prompt": spot_trace.prompt_of(seed, ctx, args.max_prompt_words),
                "max_tokens": max(args.min_tokens, min(args.max_tokens, gen)), "temperature": 0.8, "seed": seed,
                "stream": True, "stream_options": {"include_usage": True}}
        out.append({"at_s": at, "body": body})
    return out


def handoffs_from_log(path: str) -> List[float]:
    with open(path, "rb") as f:
        text = f.read().decode(errors="replace")
    return [float(m) for m in re.findall(r'forwarded request taken over.*?handoff_seconds=([0-9.eE+-]+)', text)]


def run_one(mode: str, args, schedule, requests: List[dict], token: str) -> dict:
    root = tempfile.mkdtemp(prefix=f"hearth-bench-spot-{mode}-")
    etcd = procs.Etcd(root)
    fleet = Fleet(args, root, etcd.url, token, spot=mode != "c", resubmit=RESUBMIT[mode])
    events: list = []
    stop = threading.Event()
    try:
        etcd.wait_healthy()
        for name, router in [("node-a", True)] + [(n, False) for n in spot_names(args)]:
            fleet.start(name, router)
        for name, n in fleet.nodes.items():
            wait_up(n, router=name == "node-a")
        home = cluster_bench.wait_for_home(list(fleet.nodes.values()))
        entry = fleet.nodes["node-a"]
        for i in range(2):  # warm-up through the entry node
            asyncio.run(cluster_bench.timed_stream(entry.port, {**requests[0]["body"], "seed": 10**6 + i,
                                                                 "max_tokens": 8}, 60))
        fleet.scrape_all()
        for name in fleet.nodes:
            fleet.info[name]["baseline"] = fleet.info[name]["last"]
        print(f"run {mode}: model warm on {home}; traffic starts (logs under {root})", flush=True)
        scraper_stop = threading.Event()

        def scrape_loop():
            while not scraper_stop.wait(0.5):
                fleet.scrape_all()
                fleet.reap()
        scraper = threading.Thread(target=scrape_loop, daemon=True)
        scraper.start()
        t_start = time.monotonic()
        fleet.t0 = t_start
        for name in fleet.info:
            fleet.info[name]["started_s"] = 0.0
        driver = threading.Thread(target=drive_events,
                                  args=(fleet, mode, schedule if mode != "c" else [], t_start, events, stop),
                                  daemon=True)
        driver.start()
        results = asyncio.run(send_all(entry.port, requests, t_start, args.client_timeout))
        # The window ends with the trace's window or the last request, whichever is later.
        while time.monotonic() - t_start < args.window_s and driver.is_alive():
            time.sleep(0.2)
        stop.set()
        driver.join()
        fleet.scrape_all()
        scraper_stop.set()
        scraper.join()
        window_s = time.monotonic() - t_start
        fleet.reap()
        for r in results:
            if r.get("id"):
                r["served_by"] = cluster_bench.served_by(entry, r["id"])
        entry_metrics = scrape(entry) or {}
        handoff_log = handoffs_from_log(entry.log_path)
        with open(entry.log_path, "rb") as f:
            regen_mismatch = [l for l in f.read().decode(errors="replace").splitlines() if REGEN_MISMATCH in l]
        logs = {n: cluster_bench.log_findings(node) for n, node in fleet.nodes.items()}
        alive_at_end = {n: node.alive() for n, node in fleet.nodes.items()}
    finally:
        stop.set()
        for node in fleet.nodes.values():
            node.stop()
        etcd.stop(signal.SIGKILL, 10)
        if not args.keep_dir:
            shutil.rmtree(root, ignore_errors=True)
    r = summarize(mode, fleet, results, events, window_s, entry_metrics, handoff_log, logs, alive_at_end)
    r["regenerated_token_mismatch_lines"] = regen_mismatch[:20]
    return r


def summarize(mode, fleet, results, events, window_s, entry_metrics, handoff_log, logs, alive_at_end) -> dict:
    completed = [r for r in results if r["status"] == 200 and r["done"] and r["finish"] in ("length", "stop")]
    nodes, cost, tokens, billed = {}, 0.0, 0.0, 0.0
    for name, i in fleet.info.items():
        base, last = i["baseline"] or {"cost": 0.0, "tokens": 0.0}, i["last"] or {"cost": 0.0, "tokens": 0.0}
        c, t = last["cost"] - base["cost"], last["tokens"] - base["tokens"]
        end = i["ended_s"] if i["ended_s"] is not None else window_s
        b = i["price"] * max(0.0, min(end, window_s) - i["started_s"]) / 3600
        cost, tokens, billed = cost + c, tokens + t, billed + b
        nodes[name] = {"instance": i["instance"], "price_per_hour": i["price"], "started_s": i["started_s"],
                       "ended_s": i["ended_s"], "exit": i["exit"], "ended_by": i["how"],
                       "alive_at_end": alive_at_end.get(name), "cost_dollars": round(c, 7),
                       "generated_tokens": t, "billed_by_clock_dollars": round(b, 7), "log": logs.get(name)}
    client_tokens = sum(r["tokens"] or 0 for r in completed)
    # The KV transfers of the run: what draining nodes sent (their last scrape) and peers imported.
    kv: Dict[str, float] = {}
    for i in fleet.info.values():
        for k, v in (i["last"] or {}).items():
            if k.startswith("hearth_cluster_kv_"):
                base = (i["baseline"] or {}).get(k, 0.0)
                kv[k] = kv.get(k, 0.0) + v - base
    served: Dict[str, int] = {}
    for r in completed:
        key = ",".join(r.get("served_by") or ["?"])
        served[key] = served.get(key, 0) + 1

    def ms(values, p):
        v = percentile(values, p)
        return None if v is None else round(v * 1000, 1)
    e2e = [r["last_s"] for r in completed]

    def meets_slo(r) -> bool:
        if r["first_s"] is None or r["first_s"] > fleet.args.slo_ttft:
            return False
        n = r["tokens"] or 0
        return n < 2 or (r["last_s"] - r["first_s"]) / (n - 1) <= fleet.args.slo_tpot
    slo_met = sum(1 for r in completed if meets_slo(r))
    ttft = [r["first_s"] for r in completed if r["first_s"] is not None]
    hist = {k.replace("hearth_cluster_handoff_seconds", ""): v for k, v in entry_metrics.items()
            if k.startswith("hearth_cluster_handoff_seconds")}
    return {
        "mode": mode, "resubmit": fleet.resubmit, "window_s": round(window_s, 1), "requests": len(results), "completed": len(completed),
        "lost": len(results) - len(completed),
        "lost_detail": [{k: r.get(k) for k in ("sent_s", "status", "error", "finish", "done", "id", "served_by")}
                        for r in results if r not in completed][:20],
        "e2e_ms": {"p50": ms(e2e, 50), "p99": ms(e2e, 99), "max": ms(e2e, 100)},
        "slo_attainment": round(slo_met / len(results), 4) if results else None,
        "ttft_ms": {"p50": ms(ttft, 50), "p99": ms(ttft, 99), "max": ms(ttft, 100)},
        "tokens_delivered": client_tokens, "tokens_generated_metrics": tokens,
        "cost_dollars_metrics": round(cost, 7), "cost_dollars_by_clock": round(billed, 7),
        "dollars_per_million_tokens": round(cost / tokens * 1e6, 3) if tokens else None,
        "dollars_per_million_delivered_tokens": round(cost / client_tokens * 1e6, 3) if client_tokens else None,
        "served_by": served, "events": events, "nodes": nodes, "kv_transfer": kv,
        "handoff_s_log": [round(x, 3) for x in handoff_log], "handoff_histogram": hist,
        "records": {"columns": ["sent_s", "ttft_s", "e2e_s", "tokens", "finish", "served_by"],
                    "rows": [[r["sent_s"], r["first_s"] and round(r["first_s"], 3),
                              r["last_s"] and round(r["last_s"], 3), r["tokens"], r["finish"],
                              ",".join(r.get("served_by") or [])] for r in results]},
        "_texts": [r["text"] if r in completed else None for r in results],
    }


def plot(out_png: str, runs: Dict[str, dict]) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(len(runs), 1, figsize=(10, 2.6 * len(runs)), sharex=True, squeeze=False)
    colors = {"notice": "orange", "kill": "red", "restart": "green"}
    for ax, (mode, r) in zip(axes[:, 0], runs.items()):
        rows = r["records"]["rows"]
        ax.scatter([x[0] for x in rows if x[2]], [x[2] for x in rows if x[2]], s=8, label="end-to-end")
        ax.scatter([x[0] for x in rows if x[1]], [x[1] for x in rows if x[1]], s=6, marker="x", label="TTFT")
        for e in r["events"]:
            ax.axvline(e["t_s"], color=colors.get(e["event"], "gray"), ls="--", lw=1)
        for name, n in r["nodes"].items():
            if n["ended_s"] is not None and n["ended_by"] == "notice":
                ax.axvline(n["ended_s"], color="red", lw=1)
        ax.set_ylabel("seconds")
        ax.set_title(f"run {mode}: {TITLES[mode]}", fontsize=9)
    axes[0, 0].legend(fontsize=8, loc="upper left")
    axes[-1, 0].set_xlabel("request sent (s into the trace window); orange: notice, red: node gone, green: restart")
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    return True


TITLES = {"a": "spot, notice + migration", "b": "spot, SIGKILL, restart from the prompt",
          "b2": "spot, SIGKILL without notice, continue with the committed tokens", "c": "on-demand only"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hearthd", default=os.path.join(ROOT, "build", "bin", "hearthd"))
    p.add_argument("--model-path", default=os.environ.get("HEARTH_MODEL_PATH") or os.path.expanduser(
        "~/.cache/hearth/SmolLM2-135M-Instruct.Q4_1.gguf"))
    p.add_argument("--runs", default="c,a,b", help="which runs (c, a, b, b2), in order; c gives the reference texts")
    p.add_argument("--availability", default="/work/shared/traces/spotserve_g4dn.csv")
    p.add_argument("--arrivals", default="/work/shared/traces/azure_llm_2023_conv.csv")
    p.add_argument("--trace-start", type=float, default=6840, help="spot trace window start (s)")
    p.add_argument("--trace-end", type=float, default=10020, help="spot trace window end (s)")
    p.add_argument("--compress", type=float, default=36, help="trace seconds per bench second")
    p.add_argument("--grace", type=float, default=5, help="notice seconds before the trace's removal")
    p.add_argument("--rate", type=float, default=1.5, help="requests per second (mean)")
    p.add_argument("--requests", type=int, default=0, help="0: rate x the window")
    p.add_argument("--arrival-offset", type=int, default=0, help="first row of the Azure trace")
    p.add_argument("--min-tokens", type=int, default=16)
    p.add_argument("--max-tokens", type=int, default=48, help="max_tokens = the trace's count within these")
    p.add_argument("--max-prompt-words", type=int, default=48)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--on-demand-price", type=float, default=1.0)
    p.add_argument("--spot-price", type=float, default=0.3)
    p.add_argument("--threads", type=int, default=1, help="each node's worker threads")
    p.add_argument("--spot-nodes", type=int, default=4, help="serving nodes (spot in a and b, on-demand in c)")
    p.add_argument("--slo-ttft", type=float, default=2.0, help="SLO: time to first token at most this (s)")
    p.add_argument("--slo-tpot", type=float, default=0.25, help="SLO: mean time per output token after it (s)")
    p.add_argument("--token-budget", type=int, default=64)
    p.add_argument("--client-timeout", type=float, default=120)
    p.add_argument("--keep-dir", action="store_true")
    p.add_argument("--out-dir", default=os.path.join(HERE, "results"))
    args = p.parse_args(argv)
    bad = [m for m in args.runs.split(",") if m not in RESUBMIT]
    if bad:
        p.error(f"--runs: unknown run(s) {bad}: c, a, b, b2")
    args.window_s = (args.trace_end - args.trace_start) / args.compress
    if not args.requests:
        args.requests = int(args.rate * args.window_s)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    token = os.environ.get("HEARTH_CLUSTER_TOKEN") or procs.DEFAULT_TOKEN
    # A private copy of the binaries: a rebuild meanwhile must not change them under the runs.
    bindir = tempfile.mkdtemp(prefix="hearth-bench-spot-bin-")
    for b in ("hearthd", "hearth-worker"):
        shutil.copy2(os.path.join(os.path.dirname(args.hearthd), b), bindir)
    args.hearthd_copy = os.path.join(bindir, "hearthd")
    schedule = spot_trace.spot_schedule(spot_trace.read_availability(args.availability), args.trace_start,
                                        args.trace_end, args.compress, args.spot_nodes)
    requests = make_requests(args)
    result = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "command": " ".join(sys.argv),
              "machine": {"cpu": cluster_bench._cpu(), "cores": os.cpu_count(), "load_avg_at_start": os.getloadavg()},
              "hearthd": {"path": args.hearthd, "git": cluster_bench.git_rev(), "built": cluster_bench._mtime(args.hearthd)},
              "args": {k: v for k, v in vars(args).items() if k != "hearthd_copy"},
              "schedule": [[round(t, 2), w] for t, w in schedule], "runs": {}, "ok": True}
    t_all = time.monotonic()
    try:
        for mode in args.runs.split(","):
            r = run_one(mode, args, schedule, requests, token)
            r["load_avg_after"] = os.getloadavg()
            result["runs"][mode] = r
            print_run(r)
    finally:
        shutil.rmtree(bindir, ignore_errors=True)
    ref = result["runs"].get("c", {}).get("_texts")
    for mode, r in result["runs"].items():
        texts = r.pop("_texts")
        if ref is not None and mode != "c":
            pairs = [(x, y) for x, y in zip(texts, ref) if x is not None and y is not None]
            r["text_compared"] = len(pairs)
            r["text_mismatches"] = sum(1 for x, y in pairs if x != y)
            r["text_mismatch_indexes"] = [i for i, (x, y) in enumerate(zip(texts, ref))
                                          if x is not None and y is not None and x != y][:20]
            result["ok"] &= r["text_mismatches"] == 0
            print(f"run {mode}: texts compared with run c: {len(pairs)}, mismatches {r['text_mismatches']}")
    for mode, r in result["runs"].items():
        result["ok"] &= r["lost"] == 0 and not r["regenerated_token_mismatch_lines"]
        if r["regenerated_token_mismatch_lines"]:
            print(f"run {mode}: {len(r['regenerated_token_mismatch_lines'])} regenerated token(s) differed:")
            for line in r["regenerated_token_mismatch_lines"][:5]:
                print("  ", line)
    runs = result["runs"]

    def ratio(x, y):
        return round(x / y, 3) if x is not None and y else None
    # Against the goals: P99 with notice + migration vs restart on preemption (>= 2.4x better), and
    # cost per delivered token vs on-demand only (<= 0.5x).
    result["ratios"] = {
        f"{k}_p99_{x}_over_{y}": ratio(runs[x][k]["p99"], runs[y][k]["p99"])
        for x, y in (("b", "a"), ("b2", "a"), ("a", "c"), ("b", "c")) if x in runs and y in runs
        for k in ("e2e_ms", "ttft_ms")}
    result["ratios"].update({
        f"cost_per_delivered_{x}_over_c": ratio(runs[x]["dollars_per_million_delivered_tokens"],
                                                runs["c"]["dollars_per_million_delivered_tokens"])
        for x in ("a", "b", "b2") if x in runs and "c" in runs})
    print("ratios:", result["ratios"])
    result["wall_s"] = round(time.monotonic() - t_all, 1)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    out = os.path.join(args.out_dir, f"spot-{stamp}.json")
    with open(out, "w") as f:
        f.write(cluster_bench.compact_json(result))
    png = os.path.join(args.out_dir, f"spot-{stamp}.png")
    result_png = plot(png, result["runs"])
    print(f"{'ok' if result['ok'] else 'CHECKS FAILED'}; {result['wall_s']} s; results: {out}"
          + (f", plot: {png}" if result_png else " (no matplotlib: no plot)"))
    return 0 if result["ok"] else 1


def print_run(r: dict) -> None:
    print(f"run {r['mode']}: {r['completed']}/{r['requests']} completed, lost {r['lost']}; SLO met {r['slo_attainment']}; e2e p50/p99 "
          f"{r['e2e_ms']['p50']}/{r['e2e_ms']['p99']} ms; TTFT p50/p99 {r['ttft_ms']['p50']}/{r['ttft_ms']['p99']} ms; "
          f"tokens {r['tokens_delivered']} delivered, {r['tokens_generated_metrics']} generated; cost "
          f"${r['cost_dollars_metrics']} (clock ${r['cost_dollars_by_clock']}), "
          f"${r['dollars_per_million_tokens']}/M generated, ${r['dollars_per_million_delivered_tokens']}/M delivered; served by {r['served_by']}; handoffs {r['handoff_s_log']}; "
          f"events {[(e['t_s'], e['event'], e['node']) for e in r['events']]}; kv {r['kv_transfer']}", flush=True)
    for d in r["lost_detail"][:5]:
        print("  LOST:", d)


if __name__ == "__main__":
    sys.exit(main())
