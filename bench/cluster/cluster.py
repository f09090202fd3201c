"""Cluster forwarding: what a hop through another node costs, and what a node forwarding 1,000
streams at once does (docs/benchmarks.md, "Cluster forwarding (bench/cluster)").

One etcd and two hearthd nodes on loopback serve one model. The cluster's placement leader
gives the model one warm home; the bench unloads it from the other node, the entry node, so
that every request sent there is forwarded to the home (checked with served_by).

1. Forwarding cost: pairs of identical streamed completions (same prompt, seed and length), one
   sent to the entry node (forwarded), one straight to the home (direct), back to back, one at a
   time, the order swapped every pair. Time to first token (request written -> first event with
   text) and time per output token ((last token - first token) / (tokens - 1)), P50/P90 and
   forwarded / direct; and the paired difference.
2. Burst: --burst streaming requests opened at once through the entry node (each on its own
   connection, at most --connect-burst connecting at a time), the home's queue limits at their
   defaults. Each must complete ([DONE] after a finish_reason) or be rejected (429/503); one
   with no end within --client-timeout is hung. The entry node's VmRSS and threads before and
   at their peak during the burst.
3. Control: the same burst against one hearthd in no cluster, after the cluster stopped.

    cmake --build build -j2 --target hearthd hearth-worker
    $(scripts/setup-bench)/bin/python bench/cluster/cluster.py            # ~2 min
    $(scripts/setup-bench)/bin/python bench/cluster/cluster.py --quick    # ~1 min

Results: --out-dir/cluster-DATE-TIME.json. Every figure also reports the CPU time used by
processes other than the bench's own during it (cpu_meter.py; niced and not): on a shared
machine a figure taken while un-niced foreign work was high is disturbed and should be run
again. The exit status is 0
when every check held (served_by, no failed or hung stream, both nodes healthy after).
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import resource
import shutil
import subprocess
import tempfile
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.append(os.path.join(ROOT, "bench", "load"))

import cluster_procs as procs  # noqa: E402
import cluster_stats as stats  # noqa: E402
from cpu_meter import CpuMeter  # noqa: E402
from load import Client, read_head, read_stream  # noqa: E402  (bench/load/load.py)

MODEL = "smollm2"
PROMPT = "Once upon a time, in a land far away,"


# ---- the cluster ---------------------------------------------------------------------------

def wait_for_home(nodes: List[procs.Node], timeout_s: float = 60) -> str:
    """The node the placement leader made the model's home, once every node applied the leader's
    epoch."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        views = [n.cluster() for n in nodes]
        placements = [v.get("placement") or {} for v in views]
        epochs = {p.get("epoch") for p in placements} | {p.get("applied_epoch") for p in placements}
        homes = [n.name for n, p in zip(nodes, placements) if MODEL in (p.get("warm") or [])]
        if len(epochs) == 1 and None not in epochs and len(homes) == 1:
            return homes[0]
        time.sleep(0.5)
    raise RuntimeError("placement did not settle: " + json.dumps([n.cluster().get("placement") for n in nodes]))


def model_states(node: procs.Node) -> Dict[str, str]:
    """The model's state on every node, as `node` sees the cluster."""
    return {x["name"]: next((m["state"] for m in x.get("models", []) if m["name"] == MODEL), "absent")
            for x in node.cluster().get("nodes", [])}


def make_entry_cold(entry: procs.Node, home: procs.Node, timeout_s: float = 60) -> Dict[str, str]:
    status, body = procs.http("POST", f"{entry.admin_url}/admin/v1/models/{MODEL}/unload", {}, timeout=60)
    if status != 200:
        raise RuntimeError(f"unload on {entry.name}: {status} {body}")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        seen = [model_states(n) for n in (entry, home)]
        if all(s.get(home.name) == "warm" and s.get(entry.name) not in ("warm", "loading") for s in seen):
            return seen[0]
        time.sleep(0.2)
    raise RuntimeError(f"the cluster view never showed {MODEL} warm only on {home.name}: {seen}")


def metrics(node: procs.Node) -> Dict[str, float]:
    """hearthd's hearth_cluster_* samples."""
    out = {}
    for line in procs.http("GET", node.url + "/metrics", timeout=10)[1].splitlines():
        if line.startswith("hearth_cluster_"):
            key, _, value = line.rpartition(" ")
            try:
                out[key] = float(value)
            except ValueError:
                pass
    return out


def served_by(node: procs.Node, request_id: str) -> Optional[List[str]]:
    status, d = procs.http_json("GET", f"{node.url}/v1/requests/{request_id}", timeout=10)
    return d.get("served_by") if status == 200 else None


# ---- one streamed request, timed token by token ----------------------------------------------

def completion_request(port: int, body: dict) -> bytes:
    data = json.dumps(body).encode()
    head = (f"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n")
    return head.encode() + data


async def timed_stream(port: int, body: dict, timeout_s: float) -> dict:
    """One streamed completion: its request id, text, token count and the times (from the request
    written) of its first and last token events."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    try:
        writer.write(completion_request(port, body))
        await writer.drain()
        t0 = time.monotonic()
        return await asyncio.wait_for(_read_timed(reader, t0), timeout_s)
    finally:
        writer.close()


async def _read_timed(reader, t0: float) -> dict:
    status, headers = await read_head(reader)
    r = {"status": status, "id": headers.get("x-request-id"), "text": "", "first_s": None, "last_s": None,
         "tokens": None, "finish": None, "done": False}
    if status != 200:
        r["error"] = (await reader.read(4096)).decode(errors="replace")[:300]
        return r
    buffer = b""
    while not r["done"]:
        piece = await _next_chunk(reader, headers)
        if piece is None:
            break
        buffer += piece
        *events, buffer = buffer.split(b"\n\n")
        for event in events:
            data = next((line[6:] for line in event.split(b"\n") if line.startswith(b"data: ")), None)
            if data is None:
                continue
            if data == b"[DONE]":
                r["done"] = True
                break
            now = time.monotonic() - t0
            chunk = json.loads(data)
            if chunk.get("usage"):
                r["tokens"] = chunk["usage"].get("completion_tokens")
            for choice in chunk.get("choices", []):
                if choice.get("text") or choice.get("finish_reason"):
                    r["last_s"] = now
                if choice.get("text"):
                    r["text"] += choice["text"]
                    if r["first_s"] is None:
                        r["first_s"] = now
                if choice.get("finish_reason"):
                    r["finish"] = choice["finish_reason"]
    return r


async def _next_chunk(reader, headers) -> Optional[bytes]:
    if headers.get("transfer-encoding", "").lower() != "chunked":
        piece = await reader.read(65536)
        return piece or None
    size = int((await reader.readline()).split(b";")[0], 16)
    if size == 0:
        return None
    return (await reader.readexactly(size + 2))[:-2]


# ---- 1. forwarding cost ----------------------------------------------------------------------

def forward_cost(entry: procs.Node, home: procs.Node, args, roots: List[int]) -> dict:
    def body(seed: int) -> dict:
        return {"model": MODEL, "prompt": PROMPT, "max_tokens": args.max_tokens, "temperature": 0.9,
                "seed": seed, "stream": True, "stream_options": {"include_usage": True}}

    def one(node: procs.Node, seed: int) -> dict:
        return asyncio.run(timed_stream(node.port, body(seed), args.client_timeout))

    for seed in range(2):  # warm-up, both paths (first-request costs, connections between nodes)
        one(home, 1000 + seed), one(entry, 1000 + seed)
    metrics_before = metrics(entry)
    meter = CpuMeter(roots).start()
    records, problems = [], []
    for i in range(args.pairs):
        order = [("direct", home), ("forwarded", entry)]
        if i % 2:
            order.reverse()
        pair = {}
        for path, node in order:
            r = one(node, i)
            r["served_by"] = served_by(node, r["id"]) if r.get("id") else None
            pair[path] = r
            if r["status"] != 200 or not r["done"] or r["finish"] not in ("length", "stop"):
                problems.append(f"pair {i} {path}: {r}")
            if r["served_by"] != [home.name]:
                problems.append(f"pair {i} {path}: served_by {r['served_by']}, expected [{home.name}]")
        if pair["direct"]["text"] != pair["forwarded"]["text"]:
            problems.append(f"pair {i}: the texts differ")
        records.append({"pair": i, "order": [p for p, _ in order], **pair})
    cpu = meter.stop()
    metrics_after = metrics(entry)

    def figures(path: str):
        ttft = [r[path]["first_s"] for r in records if r[path]["first_s"] is not None]
        tpot = [stats.tpot(r[path]["first_s"], r[path]["last_s"], r[path]["tokens"] or 0) for r in records
                if r[path]["first_s"] is not None]
        return ttft, [x for x in tpot if x is not None]

    (ttft_f, tpot_f), (ttft_d, tpot_d) = figures("forwarded"), figures("direct")
    out = {"pairs": args.pairs, "max_tokens": args.max_tokens, "prompt": PROMPT,
           "ttft_ms": {"forwarded": stats.spread(ttft_f), "direct": stats.spread(ttft_d)},
           "tpot_ms": {"forwarded": stats.spread(tpot_f), "direct": stats.spread(tpot_d)},
           "cpu": cpu, "problems": problems,
           "tokens": sorted({r[p]["tokens"] for r in records for p in ("direct", "forwarded")} - {None}),
           "entry_routed_delta": {k: v - metrics_before.get(k, 0) for k, v in metrics_after.items()
                                  if "routed_requests_total" in k}}
    for k in ("ttft_ms", "tpot_ms"):
        out[k]["ratio"] = stats.ratios(out[k]["forwarded"], out[k]["direct"])
    paired = [(r["forwarded"], r["direct"]) for r in records
              if r["forwarded"]["first_s"] is not None and r["direct"]["first_s"] is not None]
    out["ttft_ms"]["paired_delta"] = stats.paired_deltas([(f["first_s"], d["first_s"]) for f, d in paired])
    out["tpot_ms"]["paired_delta"] = stats.paired_deltas(
        [(stats.tpot(f["first_s"], f["last_s"], f["tokens"]), stats.tpot(d["first_s"], d["last_s"], d["tokens"]))
         for f, d in paired if (f["tokens"] or 0) > 1 and (d["tokens"] or 0) > 1])
    out["records"] = [[r["pair"], r["order"][0]] + [[round(r[p]["first_s"] or -1, 4), round(r[p]["last_s"] or -1, 4),
                                                      r[p]["tokens"], r[p]["finish"]] for p in ("direct", "forwarded")]
                      for r in records]
    return out


# ---- 2. the burst --------------------------------------------------------------------------

async def burst_client(port: int, request: bytes, client: Client, started: asyncio.Event,
                       connecting: asyncio.Semaphore) -> None:
    """bench/load's client, keeping the response's X-Request-Id."""
    await started.wait()
    writer = None
    client.sent_at = time.monotonic()
    try:
        async with connecting:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
            writer.write(request)
            await writer.drain()
        t0 = time.monotonic()
        client.status, headers = await read_head(reader)
        client.request_id = headers.get("x-request-id")
        if client.status in (429, 503):
            client.reject_s = time.monotonic() - t0
            client.retry_after = headers.get("retry-after")
            client.error = (await reader.read(2048)).decode(errors="replace")[:200]
            client.outcome = "rejected"
        elif client.status != 200:
            client.error = f"HTTP {client.status}: " + (await reader.read(2048)).decode(errors="replace")[:200]
            client.outcome = "failed"
        else:
            client.outcome = await read_stream(reader, headers, client, t0)
    except asyncio.CancelledError:
        client.outcome = "hung"
        raise
    except Exception as e:  # noqa: BLE001: any client-side failure is an outcome
        client.outcome, client.error = "failed", f"{type(e).__name__}: {e}"[:200]
    finally:
        client.closed_at = time.monotonic()
        if writer:
            writer.close()


class Sampler(threading.Thread):
    """/proc of each node every 100 ms: the peaks, and one sample a second."""

    def __init__(self, nodes: List[procs.Node]):
        super().__init__(daemon=True)
        self.nodes, self.stop_event = nodes, threading.Event()
        self.peaks: Dict[str, Dict[str, int]] = {n.name: {} for n in nodes}
        self.timeline: List[list] = []
        self.t0 = time.monotonic()

    def run(self) -> None:
        last = -1.0
        while not self.stop_event.is_set():
            now = time.monotonic() - self.t0
            row = [round(now, 1)]
            for n in self.nodes:
                try:
                    s = procs.proc_status(n.pid)
                except (OSError, KeyError):
                    continue
                for k, v in s.items():
                    self.peaks[n.name][k] = max(self.peaks[n.name].get(k, 0), v)
                row.append([s["rss_kib"], s["threads"], s["fds"]])
            if now - last >= 1.0:
                self.timeline.append(row)
                last = now
            time.sleep(0.1)


async def run_burst(entry: procs.Node, args) -> tuple:
    request = completion_request(entry.port, {"model": MODEL, "prompt": "Hi", "max_tokens": args.burst_max_tokens,
                                              "temperature": 0, "stream": True,
                                              "stream_options": {"include_usage": True}})
    clients = [Client() for _ in range(args.burst)]
    for c in clients:
        c.request_id, c.sent_at = None, None
    started, connecting = asyncio.Event(), asyncio.Semaphore(args.connect_burst)
    tasks = [asyncio.create_task(burst_client(entry.port, request, c, started, connecting)) for c in clients]
    t0 = time.monotonic()
    started.set()
    _, pending = await asyncio.wait(tasks, timeout=args.client_timeout)
    for t in pending:
        t.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for c in clients:
        c.sent_at = None if c.sent_at is None else c.sent_at - t0
        c.closed_at = None if c.closed_at is None else c.closed_at - t0
    return clients, time.monotonic() - t0


def burst(entry: procs.Node, home: Optional[procs.Node], args, roots: List[int]) -> dict:
    """The burst through `entry`; `home` None: a single node (the control), else the node that
    serves the forwarded streams."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    nodes = [entry] + ([home] if home else [])
    before = {n.name: procs.proc_status(n.pid) for n in nodes}
    metrics_before = metrics(entry)
    sampler = Sampler(nodes)
    meter = CpuMeter(roots).start()
    sampler.start()
    clients, wall_s = asyncio.run(run_burst(entry, args))
    cpu = meter.stop()
    sampler.stop_event.set()
    sampler.join()
    # Every forwarded stream ended: the entry node's gauge of open forwarded streams goes to 0.
    deadline = time.monotonic() + 15
    while metrics(entry).get("hearth_cluster_forwarded_streams", 0) and time.monotonic() < deadline:
        time.sleep(0.2)
    metrics_after = metrics(entry)
    after = {n.name: procs.proc_status(n.pid) for n in nodes}
    completed = [c for c in clients if c.outcome == "completed"]
    served: List[Optional[List[str]]] = [[entry.name]] * len(completed)
    if home:  # who served what (the entry node keeps enough ended requests: request_retention_count)
        with ThreadPoolExecutor(8) as pool:
            served = list(pool.map(lambda c: served_by(entry, c.request_id) if c.request_id else None, completed))
    served_of = {id(c): s for c, s in zip(completed, served)}
    by_node: Dict[str, int] = {}
    for s in served:
        key = ",".join(s) if s else "unknown"
        by_node[key] = by_node.get(key, 0) + 1
    errors: Dict[str, int] = {}
    for c in clients:
        if c.outcome in ("failed", "hung"):
            errors[str(c.error)] = errors.get(str(c.error), 0) + 1
    rejected = [c for c in clients if c.outcome == "rejected"]
    out = stats.burst_summary([c.outcome for c in clients], [c.reject_s for c in rejected],
                              [c.ttft_s for c in completed if c.ttft_s is not None],
                              [c.total_s for c in completed if c.total_s is not None])
    out.update({
        "streams": args.burst, "max_tokens": args.burst_max_tokens, "client_timeout_s": args.client_timeout,
        "wall_s": round(wall_s, 2),
        "completion_wall_s": round(max(c.closed_at for c in completed), 2) if completed else None,
        "rejected_by_status": {str(s): sum(1 for c in rejected if c.status == s) for s in sorted({c.status for c in rejected})},
        "rejected_without_retry_after": sum(1 for c in rejected if c.retry_after is None),
        "rejection_bodies": sorted({(c.error or "")[:120] for c in rejected})[:3],
        "completed_served_by": by_node,
        "errors": dict(sorted(errors.items(), key=lambda kv: -kv[1])[:5]),
        "proc_before": before, "proc_peak": sampler.peaks, "proc_after": after,
        "proc_timeline": {"columns": ["t_s"] + [f"{n.name}: rss_kib, threads, fds" for n in nodes],
                          "rows": sampler.timeline},
        "entry_metrics_delta": {k: v - metrics_before.get(k, 0) for k, v in metrics_after.items()},
        "entry_forwarded_streams_after": metrics_after.get("hearth_cluster_forwarded_streams"),
        "model_states_after": model_states(entry) if home else None,
        "cpu": cpu,
        "clients": {"columns": ["started_s", "ended_s", "outcome", "status", "reject_s", "ttft_s", "total_s",
                                "served_by"],
                    "rows": [[_r(c.sent_at), _r(c.closed_at), c.outcome, c.status, _r(c.reject_s), _r(c.ttft_s),
                              _r(c.total_s), ",".join(served_of.get(id(c)) or [])] for c in clients]},
    })
    return out


def _r(x: Optional[float]) -> Optional[float]:
    return None if x is None else round(x, 4)


# ---- the run ---------------------------------------------------------------------------------

def log_findings(node: procs.Node) -> dict:
    """Lines in a node's log that would make a figure suspect."""
    with open(node.log_path, "rb") as f:
        lines = f.read().decode(errors="replace").splitlines()
    errors = [l for l in lines if "level=error" in l]
    return {"error_lines": len(errors), "warn_lines": sum("level=warn" in l for l in lines),
            "first_errors": errors[:5], "worker_starts": sum('msg="worker started"' in l for l in lines)}


def git_rev() -> str:
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except OSError:
        return "?"


def _mtime(path: str) -> str:
    try:
        return dt.datetime.fromtimestamp(os.path.getmtime(path), dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except OSError:
        return "?"


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    except OSError:
        return "?"


def compact_json(obj) -> str:
    text = json.dumps(obj, indent=1)
    return re.sub(r"\[[^\[\]{}]*\]", lambda m: re.sub(r"\n\s*", " ", m.group(0)), text) + "\n"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hearthd", default=os.path.join(ROOT, "build", "bin", "hearthd"))
    p.add_argument("--model-path", default=os.environ.get("HEARTH_MODEL_PATH") or os.path.expanduser(
        "~/.cache/hearth/SmolLM2-135M-Instruct.Q4_1.gguf"))
    p.add_argument("--threads", type=int, default=2, help="each node's worker threads")
    p.add_argument("--token-budget", type=int, default=64, help="[scheduler] token_budget (no load-time profile)")
    p.add_argument("--pairs", type=int, default=40, help="forwarded/direct pairs")
    p.add_argument("--max-tokens", type=int, default=32, help="of each pair's requests")
    p.add_argument("--burst", type=int, default=1000, help="streams opened at once through the entry node")
    p.add_argument("--burst-max-tokens", type=int, default=8)
    p.add_argument("--connect-burst", type=int, default=100, help="most burst clients connecting at once")
    p.add_argument("--client-timeout", type=float, default=300, help="seconds before a stream counts as hung")
    p.add_argument("--parts", default="forward,burst,single",
                   help="forward: the cost of a hop; burst: through the entry node; single: the same burst "
                        "against one hearthd in no cluster, after the cluster stopped (the control)")
    p.add_argument("--http-threads", type=int, default=0, help="both nodes' http_threads (0: hearthd's default)")
    p.add_argument("--quick", action="store_true", help="8 pairs of 16 tokens, then the burst")
    p.add_argument("--keep-dir", action="store_true", help="keep the nodes' directories (logs, stores)")
    p.add_argument("--out-dir", default=os.path.join(HERE, "results"))
    args = p.parse_args(argv)
    if args.quick:
        args.pairs, args.max_tokens = 8, 16
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    token = os.environ.get("HEARTH_CLUSTER_TOKEN") or procs.DEFAULT_TOKEN
    # Enough ended requests kept for served_by of every burst stream (a top-level key: before
    # the first table).
    top = f"request_retention_count = {max(256, 2 * args.burst)}\n"
    if args.http_threads:
        top += f"http_threads = {args.http_threads}\n"
    config = (top + "\n" +
              procs.render_config(MODEL, args.model_path, args.token_budget))
    result = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "machine": {"cpu": _cpu(), "cores": os.cpu_count(), "load_avg_at_start": os.getloadavg()},
              "hearthd": {"path": args.hearthd, "git": git_rev(), "built": _mtime(args.hearthd)},
              "args": vars(args), "config": config, "ok": True}
    t_start = time.monotonic()
    with procs.Cluster(args.hearthd, ["node-a", "node-b"], config, args.threads, token, args.keep_dir) as c:
        home_name = wait_for_home(c.nodes)
        home = c.node(home_name)
        entry = next(n for n in c.nodes if n.name != home_name)
        result["home"], result["entry"] = home.name, entry.name
        result["states_after_unload"] = make_entry_cold(entry, home)
        print(f"cluster up in {time.monotonic() - t_start:.1f} s: {MODEL} warm on {home.name} only; "
              f"entry node {entry.name} (logs under {c.root})", flush=True)
        roots = [os.getpid(), c.etcd.pid] + [n.pid for n in c.nodes]
        if "forward" in args.parts:
            f = result["forward"] = forward_cost(entry, home, args, roots)
            result["ok"] &= not f["problems"]
            print_forward(f)
        if "burst" in args.parts:
            b = result["burst"] = burst(entry, home, args, roots)
            result["ok"] &= b["failed"] == 0 and b["hung"] == 0
            print_burst(b)
        result["healthy_after"] = {n.name: procs.http("GET", n.url + "/healthz")[0] == 200 and n.alive()
                                   for n in c.nodes}
        result["ok"] &= all(result["healthy_after"].values())
        result["logs"] = {n.name: log_findings(n) for n in c.nodes}
        if args.keep_dir:
            result["dir"] = c.root
    if "single" in args.parts:
        result["single"] = single_node_burst(args, config)
        result["ok"] &= result["single"]["failed"] == 0 and result["single"]["hung"] == 0
        print("single node (control):", end=" ")
        print_burst(result["single"])
    result["wall_s"] = round(time.monotonic() - t_start, 1)
    out = os.path.join(args.out_dir, "cluster-" + dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S") + ".json")
    with open(out, "w") as f:
        f.write(compact_json(result))
    print(f"healthy after: {result['healthy_after']}; log findings: "
          f"{ {k: (v['error_lines'], v['worker_starts']) for k, v in result['logs'].items()} } (errors, worker starts)")
    print(f"{'ok' if result['ok'] else 'CHECKS FAILED'}; {result['wall_s']} s; results: {out}")
    return 0 if result["ok"] else 1


def single_node_burst(args, config: str) -> dict:
    """The burst against one hearthd with the same configuration, in no cluster: what the same
    machine does without the hop, right after."""
    root = tempfile.mkdtemp(prefix="hearth-bench-single-")
    node = procs.Node(args.hearthd, root, "single", None, config, args.threads, "")
    try:
        node.wait_ready()
        out = burst(node, None, args, [os.getpid(), node.pid])
        out["healthy_after"] = procs.http("GET", node.url + "/healthz")[0] == 200 and node.alive()
        out["log"] = log_findings(node)
        return out
    finally:
        node.stop()
        if not args.keep_dir:
            shutil.rmtree(root, ignore_errors=True)


def print_forward(f: dict) -> None:
    print(f"forwarding cost: {f['pairs']} pairs of {f['max_tokens']} tokens (tokens seen {f['tokens']}); "
          f"CPU: {f['cpu']}")
    for k in ("ttft_ms", "tpot_ms"):
        x = f[k]
        print(f"  {k:8} direct p50/p90 {x['direct']['p50']}/{x['direct']['p90']}  forwarded "
              f"{x['forwarded']['p50']}/{x['forwarded']['p90']}  ratio {x['ratio']['p50']}/{x['ratio']['p90']}  "
              f"paired delta p50/p90 {x['paired_delta']['p50']}/{x['paired_delta']['p90']}")
    for p in f["problems"][:10]:
        print("  PROBLEM:", p)


def print_burst(b: dict) -> None:
    print(f"burst: {b['streams']} streams x {b['max_tokens']} tokens: completed {b['completed']}, rejected "
          f"{b['rejected']} {b['rejected_by_status']}, failed {b['failed']}, hung {b['hung']}; wall {b['wall_s']} s; "
          f"rejection max {b['reject_ms']['max']} ms; completed served by {b['completed_served_by']}; "
          f"errors {b['errors']}")
    for n in b["proc_before"]:
        print(f"  {n}: before {b['proc_before'][n]}  peak {b['proc_peak'][n]}  after {b['proc_after'][n]}")
    print(f"  entry metrics delta {b['entry_metrics_delta']}; model states after {b['model_states_after']}; "
          f"CPU {b['cpu']}")


if __name__ == "__main__":
    sys.exit(main())
