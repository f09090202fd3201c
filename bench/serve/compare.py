#!/usr/bin/env python3
"""Side by side: Hearth with chunked prefill, Hearth without it (whole prompts
first) and llama.cpp's llama-server, on the same GGUF with the same threads.

For each system: start the server, search for its capacity (the highest
Poisson request rate whose P99 TTFT and P99 TPOT meet the SLO: double from
--start-rate until a rate fails, then bisect), stop it. Writes
results/compare-<time>.json (every point's summary, each capacity, the
machine's load) and results/compare-<time>.png (latency against rate), and
copies both to results/latest.{json,png}.

  scripts/setup-bench; scripts/build-llama-server; cmake --build build --target hearthd hearth-worker
  ~/.cache/hearth/benchvenv/bin/python bench/serve/compare.py --hearthd build/bin/hearthd
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import loadgen  # noqa: E402
import plot  # noqa: E402
import stats  # noqa: E402
import workload  # noqa: E402


def _get(url: str, timeout: float = 2.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except Exception:
        return 0


class Server:
    def __init__(self, name: str, argv: List[str], base: str, ready_path: str, log_path: str):
        self.name, self.argv, self.base, self.ready_path, self.log_path = name, argv, base, ready_path, log_path
        self.proc = None

    def start(self, timeout_s: float = 300.0) -> None:
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
                                     env={**os.environ, **getattr(self, "env", {})})
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
            if _get(self.base + self.ready_path) == 200:
                return
            time.sleep(0.5)
        raise RuntimeError(f"{self.name} not ready after {timeout_s} s; see {self.log_path}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()


def make_servers(a, tmp: str) -> Dict[str, Server]:
    servers = {}
    host = "127.0.0.1"
    common = ["--model", f"{a.model_name}={a.gguf}", "--threads", str(a.threads), "--log-level", "info",
              "--max-queued-requests", "0", "--max-queued-tokens", "0"]
    if a.token_budget:
        common += ["--token-budget", str(a.token_budget)]
    for i, (name, extra) in enumerate([("hearth-chunked", []), ("hearth-no-chunking", ["--no-chunked-prefill"])]):
        port = a.base_port + 2 * i
        argv = [a.hearthd, "--listen", f"{host}:{port}", "--admin-listen", f"{host}:{port + 1}",
                "--data-dir", os.path.join(tmp, name), "--config", ""] + common + extra
        servers[name] = Server(name, argv, f"http://{host}:{port}", "/v1/models", os.path.join(tmp, name + ".log"))
    port = a.base_port + 4
    argv = [a.llama_server, "-m", a.gguf, "--host", host, "--port", str(port), "-t", str(a.threads),
            "-tb", str(a.threads), "-np", str(a.slots), "-c", str(a.slots * a.ctx_per_slot), "-cb",
            "--alias", a.model_name, "--no-webui"] + a.llama_extra.split()
    servers["llama-server"] = Server("llama-server", argv, f"http://{host}:{port}", "/health",
                                     os.path.join(tmp, "llama-server.log"))
    servers["llama-server"].env = dict(kv.split("=", 1) for kv in a.llama_env.split())
    return servers


def run_point(server: Server, a, rate: float, prompt_spec: str = "", duration_s: float = 0) -> dict:
    # A fresh seed per point: the same prompts again would hit the servers' prefix/prompt caches
    # (both have one) and flatter every point after the first.
    seed = a.seed * 1000003 + int(round(rate * 1e4)) + (7919 if prompt_spec else 0)
    items = workload.build(rate=rate, duration_s=duration_s or a.duration, prompt_spec=prompt_spec or a.prompt,
                           output_spec=a.output, seed=seed)
    records, duration = asyncio.run(loadgen.run(server.base, a.model_name, items, seed=seed * 100000,
                                                drain_s=a.drain, temperature=a.temperature))
    s = stats.summarize(records, duration, stats.Slo(a.slo_ttft, a.slo_tpot), offered_rate=rate)
    # TPOT of the short requests alone: the ones that share steps with the long prompts.
    short = [r.tpot for r in records if r.ok and r.tpot is not None and r.prompt_tokens < a.long_threshold]
    s["tpot_short_prompts_s"] = {"p50": stats.percentile(short, 50), "p99": stats.percentile(short, 99)}
    s["load_avg_1m"] = os.getloadavg()[0]
    return s


def warm_up(server: Server, a) -> None:
    """Two sequential requests before anything is measured, so that no server's first point pays
    for page faults of the weights and first-use allocations (Hearth's load-time profile already
    warms its worker; llama-server would otherwise pay it inside the first point)."""
    items = workload.build(rate=1.0, duration_s=2.0, prompt_spec="fixed:64", output_spec="fixed:8", seed=987654)[:2]
    for i, it in enumerate(items):
        it.at = 0.0
        asyncio.run(loadgen.run(server.base, a.model_name, [it], seed=4242 + i, drain_s=120.0))


def search(server: Server, a) -> List[dict]:
    points: List[dict] = []
    while len(points) < a.max_points:
        rate = stats.next_rate(points, a.start_rate, resolution=a.resolution)
        if rate is None:
            break
        rate = round(rate, 3)
        if any(abs(p["offered_rate"] - rate) < 1e-9 for p in points):
            break
        t0 = time.time()
        s = run_point(server, a, rate)
        points.append(s)
        print(f"[{server.name}] rate {rate:.3f}: meets={s['meets_slo']} done={s['completed']}/{s['requests']} "
              f"ttft p99={s['ttft_s']['p99']} tpot p99={s['tpot_s']['p99']} out tok/s={s['output_throughput_tok_s']:.1f} "
              f"mean out={s['mean_output_tokens']} load={s['load_avg_1m']:.1f} ({time.time() - t0:.0f} s)", flush=True)
        time.sleep(a.pause)
    return points


def write(results: dict, a) -> str:
    caps = {n: s["capacity_req_s"] for n, s in results["systems"].items()}
    if caps.get("llama-server") and caps.get("hearth-chunked"):
        results["hearth_over_llama_server"] = caps["hearth-chunked"] / caps["llama-server"]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    js = os.path.join(a.out_dir, f"compare-{stamp}.json")
    png = os.path.join(a.out_dir, f"compare-{stamp}.png")
    with open(js, "w") as f:
        json.dump(results, f, indent=2, default=str)
    cfg = results["config"]
    plot.plot_sweeps({n: s["points"] for n, s in results["systems"].items()}, png,
                     slo={"ttft_p99_s": cfg["slo_ttft"], "tpot_p99_s": cfg["slo_tpot"]},
                     title=f"SmolLM2-135M Q4_1, {cfg['threads']} threads, prompts {cfg['prompt']}, output {cfg['output']}")
    shutil.copy(js, os.path.join(a.out_dir, "latest.json"))
    shutil.copy(png, os.path.join(a.out_dir, "latest.png"))
    print(json.dumps({"capacity_req_s": caps, "ratio": results.get("hearth_over_llama_server"), "json": js}, indent=2))
    return js


def combine(a) -> int:
    merged = None
    for path in a.combine:
        with open(path) as f:
            r = json.load(f)
        if merged is None:
            merged = r
            merged["parts"] = [path]
        else:
            for name, sys_r in r["systems"].items():
                old = merged["systems"].setdefault(name, sys_r)
                if old is sys_r:
                    continue
                # A later part fills what an earlier one left empty (a search, or a long-prompt run).
                if sys_r["points"]:  # searches at other rates add up (same settings assumed)
                    old["points"] = sorted(old["points"] + sys_r["points"], key=lambda p: p["offered_rate"])
                    old["capacity_req_s"] = stats.capacity(old["points"])
                if sys_r.get("long_prompt_point"):
                    old["long_prompt_point"] = sys_r["long_prompt_point"]
            merged["parts"].append(path)
            merged["machine"].setdefault("other_parts", []).append(r["machine"])
    write(merged, a)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hearthd", default="build/bin/hearthd")
    ap.add_argument("--llama-server", default=os.path.expanduser("~/.cache/hearth/llama-server-0.3.36/bin/llama-server"))
    ap.add_argument("--gguf", default=os.path.expanduser("~/.cache/hearth/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--model-name", default="smollm2")
    ap.add_argument("--systems", default="hearth-chunked,hearth-no-chunking,llama-server")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--token-budget", type=int, default=0, help="Hearth's; 0: its load-time profile")
    ap.add_argument("--slots", type=int, default=32, help="llama-server's parallel slots (-np)")
    ap.add_argument("--ctx-per-slot", type=int, default=2048)
    ap.add_argument("--llama-extra", default="", help="more llama-server flags, e.g. '--poll 0'")
    ap.add_argument("--llama-env", default="", help="environment for llama-server, e.g. 'OMP_WAIT_POLICY=PASSIVE'")
    ap.add_argument("--base-port", type=int, default=18480)
    ap.add_argument("--prompt", default="uniform:32:128", help="workload.py length spec of the capacity search")
    ap.add_argument("--output", default="fixed:32")
    ap.add_argument("--long-threshold", type=int, default=1000, help="prompts this long count as long")
    ap.add_argument("--duration", type=float, default=40.0, help="seconds of arrivals per rate")
    ap.add_argument("--drain", type=float, default=30.0)
    ap.add_argument("--pause", type=float, default=3.0)
    ap.add_argument("--start-rate", type=float, default=0.25)
    ap.add_argument("--max-points", type=int, default=5)
    ap.add_argument("--resolution", type=float, default=0.2)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--slo-ttft", type=float, default=2.0)
    ap.add_argument("--slo-tpot", type=float, default=0.2)
    ap.add_argument("--long-prompt", default="mix:32:128:1024:0.25",
                    help="after the search: one run with this prompt mix, for TPOT under long prompts ('' to skip)")
    ap.add_argument("--long-rate", type=float, default=0.2)
    ap.add_argument("--long-duration", type=float, default=40.0)
    ap.add_argument("--out-dir", default=os.path.join(HERE, "results"))
    ap.add_argument("--combine", nargs="+", help="merge the systems of these compare-*.json files and re-plot")
    a = ap.parse_args()
    if a.combine:
        return combine(a)
    needed = [a.gguf] + ([a.llama_server] if "llama-server" in a.systems else []) + (
        [a.hearthd] if "hearth" in a.systems else [])
    for path in needed:
        if not os.path.exists(path):
            print(f"missing: {path}", file=sys.stderr)
            return 2
    # SIGTERM unwinds like Ctrl-C, so the `finally` below stops the server under test.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    os.makedirs(a.out_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="hearth-compare-")
    servers = make_servers(a, tmp)
    results = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
                           "load_avg_at_start": os.getloadavg()},
               "config": vars(a), "systems": {}}
    started = time.time()
    for name in a.systems.split(","):
        server = servers[name]
        print(f"[{name}] starting: {' '.join(server.argv)}", flush=True)
        long_point = None
        try:
            server.start()
            warm_up(server, a)
            points = search(server, a)
            if a.long_prompt and a.long_rate > 0:
                long_point = run_point(server, a, a.long_rate, a.long_prompt, a.long_duration)
                print(f"[{name}] long-prompt mix {a.long_prompt} at {a.long_rate}: short-prompt TPOT p99="
                      f"{long_point['tpot_short_prompts_s']['p99']} all TPOT p99={long_point['tpot_s']['p99']} "
                      f"done={long_point['completed']}/{long_point['requests']}", flush=True)
        finally:
            server.stop()
        budget_line = ""
        with open(server.log_path) as f:
            for line in f:
                if "token budget profile" in line:
                    budget_line = line.strip()
        results["systems"][name] = {"argv": server.argv, "env": getattr(server, "env", {}), "points": points, "capacity_req_s": stats.capacity(points),
                                    "long_prompt_point": long_point, "profile_log": budget_line}
        print(f"[{name}] capacity: {stats.capacity(points)} req/s", flush=True)
    results["elapsed_s"] = time.time() - started
    results["machine"]["load_avg_at_end"] = os.getloadavg()
    write(results, a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
