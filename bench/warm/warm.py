"""Prewarm by forecast: replays real request traces (Azure LLM inference 2023, conversation and
code) against a real hearthd serving six models under a memory budget that holds about a third
of them warm and a staged budget that holds another third, once with placement policy "lru" and
once with "forecast", and reports time to first token, cold starts, prewarm hits and waste and
the forecaster's error for both (docs/benchmarks.md, "Prewarm by forecast").

  cmake --build build -j2 --target hearthd hearth-worker hearth-export hearth-make-model
  $(scripts/setup-bench)/bin/python bench/warm/warm.py            # both policies, 1 + 8 min each: ~19 min

  # a quick look, LRU only: 2 minutes of replay after a 1-minute warm-up
  $(scripts/setup-bench)/bin/python bench/warm/warm.py --policies lru --minutes 2 --out-dir /tmp/warm

The run: make the model files once (--model-dir); map the traces onto the models (schedule.py:
model i gets a share proportional to (i+1)^-alpha and replays its own segment of a trace, time
compressed so the whole trace hour spans the replay, thinned to --rate requests per second,
prompts capped at --max-prompt tokens and outputs at --max-output); measure each model's pool
bytes, load time and TTFT warm and cold on a hearthd without budgets (the calibration); then for
each policy start a fresh hearthd (fresh data directory) with the budgets, replay the same
arrivals, and read /metrics at the end of the warm-up and after the last request. Only requests
sent after the warm-up count. A model's file is dropped from the page cache when the model leaves
memory, so that a cold start reads the disk (--keep-page-cache: not). Results: --out-dir/warm-DATE-TIME.json and beside it a plot of TTFT
over time (.png, or .svg without matplotlib).
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
# After this folder, so that our module names win over theirs.
sys.path += [os.path.join(ROOT, "bench", "serve"), os.path.join(ROOT, "bench", "swap"), os.path.join(ROOT, "tests")]

import hearthd_config as config  # noqa: E402
import models as model_files  # noqa: E402
import ttft_plot as plot  # noqa: E402
import prometheus  # noqa: E402
import replay  # noqa: E402
import schedule  # noqa: E402
import summary  # noqa: E402
from hearthd_process import free_port, http_get  # noqa: E402
from ttft import admin, drop_from_page_cache, first_token_seconds  # noqa: E402  (bench/swap/ttft.py)
from workload import parse_trace_rows  # noqa: E402  (bench/serve/workload.py)

TRACES = ["/work/shared/traces/azure_llm_2023_conv.csv", "/work/shared/traces/azure_llm_2023_code.csv"]


class Daemon:
    """One hearthd on free ports with its own data directory and configuration file."""

    def __init__(self, hearthd: str, config_text: str, threads: int, tag: str):
        self.dir = tempfile.mkdtemp(prefix=f"hearth-warm-{tag}-")
        self.port, self.admin_port = free_port(), free_port()
        cfg = os.path.join(self.dir, "hearth.toml")
        with open(cfg, "w") as f:
            f.write(config_text)
        self.log_path = os.path.join(self.dir, "hearthd.log")
        self._log = open(self.log_path, "wb")
        env = {k: v for k, v in os.environ.items() if k not in ("HEARTH_API_KEYS", "HEARTH_ADMIN_TOKEN")}
        self.proc = subprocess.Popen([hearthd, "--config", cfg, "--listen", f"127.0.0.1:{self.port}",
                                      "--admin-listen", f"127.0.0.1:{self.admin_port}", "--data-dir",
                                      os.path.join(self.dir, "data"), "--threads", str(threads)],
                                     stdout=self._log, stderr=subprocess.STDOUT, env=env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def wait_ready(self, timeout_s: float = 300) -> Optional[str]:
        """None when /readyz answers 200; else why not (the log's last lines)."""
        deadline = time.monotonic() + timeout_s
        while http_get(self.url + "/readyz")[0] != 200:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                return f"hearthd exited with {self.proc.poll()}: " + self.log_tail()
            time.sleep(0.1)
        return None

    def log_tail(self, n: int = 5) -> str:
        with open(self.log_path, "rb") as f:
            return " | ".join(f.read().decode(errors="replace").strip().splitlines()[-n:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def calibrate(args, paths: Dict[str, str]) -> Dict[str, dict]:
    """Each model's pool bytes (weights and KV cache, as the worker reports them) and its load
    time, TTFT warm and TTFT cold (from a file in the page cache), on a hearthd with no budget."""
    d = Daemon(args.hearthd, config.render(paths, None, policy=None, window_s=args.window_seconds,
                                           period_s=args.period_seconds, prewarm_interval_ms=None),
               args.threads, "calibrate")
    try:
        err = d.wait_ready()
        if err:
            raise RuntimeError(err)
        out = {}
        for name, path in paths.items():
            admin(d.admin_port, "POST", f"/admin/v1/models/{name}/load")
            first_token_seconds(d.port, name)  # the first request after a load pays one-time costs
            warm = sorted(first_token_seconds(d.port, name) for _ in range(3))[1]
            admin(d.admin_port, "POST", f"/admin/v1/models/{name}/unload")
            if not args.keep_page_cache:
                drop_from_page_cache(path)
            cold = first_token_seconds(d.port, name)
            m = next(x for x in admin(d.admin_port, "GET", "/admin/v1/models")["data"] if x["name"] == name)
            out[name] = {"path": path, "file_bytes": os.path.getsize(path), "pool_bytes": m["bytes"],
                         "load_seconds": m["last_load_seconds"], "ttft_warm_s": warm, "ttft_cold_s": cold}
            print(f"  {name:11} file {out[name]['file_bytes'] >> 20:5} MiB  pool {m['bytes'] >> 20:5} MiB  "
                  f"load {m['last_load_seconds']:.2f} s  TTFT warm {warm * 1000:.0f} ms  cold {cold * 1000:.0f} ms",
                  flush=True)
        return out
    finally:
        d.stop()


def run_policy(args, policy: str, paths: Dict[str, str], budgets: config.Budgets,
               arrivals: List[schedule.Arrival]) -> dict:
    text = config.render(paths, budgets, policy=policy, window_s=args.window_seconds, period_s=args.period_seconds,
                         prewarm_interval_ms=args.prewarm_interval_ms)
    d = Daemon(args.hearthd, text, args.threads, policy)
    try:
        err = d.wait_ready()
        if err:
            return {"policy": policy, "config": text, "skipped": err}
        warmup_s = args.warmup_minutes * 60
        print(f"[{policy}] replaying {len(arrivals)} requests over {args.minutes + args.warmup_minutes:g} min "
              f"(hearthd log: {d.log_path})", flush=True)
        r = asyncio.run(replay.replay(d.url, d.admin_url, arrivals, warmup_s=warmup_s,
                                      on_change=None if args.keep_page_cache else file_dropper(paths)))
        windows = int((args.minutes + args.warmup_minutes) * 60 // args.window_seconds) + 10
        histories = asyncio.run(replay.history(d.admin_url, list(paths), windows))
        before, after = prometheus.parse(r["metrics_at_warmup"]), prometheus.parse(r["metrics_at_end"])
        s = summary.summarize_policy(r["records"], warmup_s, prometheus.delta(before, after), list(paths), histories)
        fam = prometheus.families(r["metrics_at_end"])
        s["metrics_present"] = {n: n in fam for n in ("hearth_model_cold_starts_total", "hearth_prewarm_hits_total",
                                                     "hearth_prewarm_waste_total", "hearth_prewarm_actions_total")}
        events = log_events(d.log_path)
        if events["worker_lost"]:
            print(f"[{policy}] WARNING: hearthd lost its worker during the run ({events}); see {d.log_path}", flush=True)
        return {"policy": policy, "config": text, "summary": s, "wall_s": r["wall_s"], "histories": histories,
                "hearthd_log": d.log_path, "log_events": events,
                "state_changes": r["state_changes"],
                "records": [[x.model, round(x.at, 3), round(x.sent, 3), x.ttft and round(x.ttft, 4), x.ok,
                             x.state_at_send, x.error] for x in r["records"]]}
    finally:
        d.stop()


def log_events(path: str) -> dict:
    """What in hearthd's log says a run is not a fair measurement: the worker started more than
    once, or hearthd lost it ("peer closed the worker socket", "Broken pipe"); and its errors."""
    with open(path, "rb") as f:
        text = f.read().decode(errors="replace")
    lost = text.count("peer closed the worker socket")
    return {"worker_starts": text.count('msg="worker started"'), "worker_lost": lost,
            "broken_pipe_lines": text.count("Broken pipe"), "error_lines": text.count("level=error")}


def file_dropper(paths: Dict[str, str]):
    """A model that is neither warm nor staged has only its file: drop the file from the page
    cache, so that its next load reads the disk, as on a server whose page cache does not hold
    every model (else the page cache is a free, unbudgeted staging tier)."""
    def on_change(model: str, state: str) -> None:
        if state == "registered" and model in paths:
            drop_from_page_cache(paths[model])
    return on_change


def records_of(run: dict) -> List[summary.Record]:
    return [summary.Record(model=m, at=at, sent=sent, ttft=ttft, ok=ok, state_at_send=st, error=err)
            for m, at, sent, ttft, ok, st, err in run["records"]]


def fmt_ms(x: Optional[float]) -> str:
    if x is None:
        return "-"
    return "inf" if x == float("inf") else f"{x * 1000:.0f}"


def print_report(result: dict) -> None:
    runs = {p: r for p, r in result["runs"].items() if "summary" in r}
    for p, r in result["runs"].items():
        if "skipped" in r:
            print(f"[{p}] skipped: {r['skipped']}")
    if not runs:
        return
    print(f"\n{'model':11} " + " ".join(f"{p + ' p50/p90/p99 ms':>26} {'cold':>5} {'swapin':>6}" for p in runs))
    names = list(result["models"]) + ["(all)"]
    for m in names:
        cells = []
        for r in runs.values():
            s = r["summary"]
            row = s["ttft_s"] if m == "(all)" else s["per_model"][m]["ttft_s"]
            c = s["counters"] if m == "(all)" else s["per_model"][m]
            cells.append(f"{fmt_ms(row['p50']):>8}/{fmt_ms(row['p90']):>8}/{fmt_ms(row['p99']):>8} "
                         f"{c['cold_starts']:>5} {c['swap_ins']:>6}")
        print(f"{m:11} " + " ".join(cells))
    for p, r in runs.items():
        s = r["summary"]
        c = s["counters"]
        print(f"[{p}] {s['requests']} requests, {s['failed']} failed; sent while their model was not warm: "
              f"{s['sent_while_not_warm']}; loads {c['loads']}, evictions {c['evictions']}; prewarm hits "
              f"{c['prewarm_hits']}, waste {c['prewarm_waste']}, actions {c['prewarm_actions_by_kind']}; "
              f"forecast error: {s['forecast_error'].get('note') or {k: v for k, v in s['forecast_error'].items() if k.startswith('mean_')}}; "
              f"hearthd log: {r.get('log_events')}")
    if result.get("comparison"):
        print("comparison:", json.dumps(result["comparison"]))


def compact_json(obj) -> str:
    """Indented JSON, with every list of plain values (a request's record, a state change) on one
    line: the file stays readable and a tenth of the size."""
    text = json.dumps(obj, indent=1)
    return re.sub(r"\[[^\[\]{}]*\]", lambda m: re.sub(r"\n\s*", " ", m.group(0)), text) + "\n"


def git_rev() -> str:
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except OSError:
        return "?"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hearthd", default=os.path.join(ROOT, "build", "bin", "hearthd"))
    p.add_argument("--bin-dir", default=os.path.join(ROOT, "build", "bin"), help="hearth-export, hearth-make-model")
    p.add_argument("--model-dir", default="/tmp/warm_models", help="where the generated model files are kept")
    p.add_argument("--trace", action="append", help="Azure trace CSV (repeatable; model i replays trace i %% n); "
                                                     "default: conv and code")
    p.add_argument("--policies", default="lru,forecast")
    p.add_argument("--minutes", type=float, default=8.0, help="measured replay per policy")
    p.add_argument("--warmup-minutes", type=float, default=1.0, help="replayed first, excluded from the figures")
    p.add_argument("--rate", type=float, default=0.75, help="requests per second over all models")
    p.add_argument("--alpha", type=float, default=1.0, help="popularity: model i gets a share ~ (i+1)^-alpha")
    p.add_argument("--compression", type=float, default=0.0,
                   help="trace seconds per replayed second (0: the whole trace spans the replay)")
    p.add_argument("--max-prompt", type=int, default=32, help="prompt tokens: the trace's, capped")
    p.add_argument("--max-output", type=int, default=8, help="max_tokens: the trace's, capped")
    p.add_argument("--warm-fraction", type=float, default=1 / 3, help="memory budget / all models' pool bytes")
    p.add_argument("--staged-fraction", type=float, default=1 / 3, help="staged budget / all models' file bytes")
    p.add_argument("--window-seconds", type=int, default=0,
                   help="[placement] window_seconds; 0: WarmServe's 300 s divided by the time compression")
    p.add_argument("--period-seconds", type=int, default=600, help="[placement] period_seconds")
    p.add_argument("--prewarm-interval-ms", type=int, default=1000, help="[placement] prewarm_interval_ms")
    p.add_argument("--keep-page-cache", action="store_true",
                   help="leave model files in the page cache (default: drop a file when its model leaves "
                        "memory, so that a cold start reads the disk)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out-dir", default=os.path.join(HERE, "results"))
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    paths = model_files.ensure(args.bin_dir, args.model_dir)
    traces = {}
    for path in args.trace or TRACES:
        with open(path, newline="") as f:
            traces[os.path.basename(path)] = parse_trace_rows(f)
    duration_s = (args.minutes + args.warmup_minutes) * 60
    opts = schedule.MappingOptions(duration_s=duration_s, total_rate=args.rate, alpha=args.alpha,
                                   compression=args.compression, max_prompt_tokens=args.max_prompt,
                                   max_output_tokens=args.max_output, seed=args.seed)
    arrivals = schedule.map_traces(traces, list(paths), opts)
    if args.window_seconds <= 0:  # the forecaster's window in replayed time, as 300 s of the trace's
        compression = args.compression or sum(schedule.trace_span(r) for r in traces.values()) / len(traces) / duration_s
        args.window_seconds = max(5, round(300 / compression))
    print("calibration (no budget):", flush=True)
    cal = calibrate(args, paths)
    budgets = config.budgets([cal[m]["pool_bytes"] for m in paths], [cal[m]["file_bytes"] for m in paths],
                             args.warm_fraction, args.staged_fraction)
    print(f"budgets: memory {budgets.memory_bytes >> 20} MiB of {sum(c['pool_bytes'] for c in cal.values()) >> 20}, "
          f"staged {budgets.staged_bytes >> 20} MiB of {sum(c['file_bytes'] for c in cal.values()) >> 20}", flush=True)
    result = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {"cpu": _cpu(), "cores": os.cpu_count(), "load_avg_at_start": os.getloadavg()},
        "hearthd": {"path": args.hearthd, "git": git_rev(), "built": _mtime(args.hearthd),
                    "worker_built": _mtime(os.path.join(os.path.dirname(args.hearthd), "hearth-worker"))},
        "args": vars(args),
        "mapping": {"traces": {n: len(rows) for n, rows in traces.items()},
                    "shares": dict(zip(paths, schedule.popularity(len(paths), args.alpha))),
                    "compression": {n: args.compression or schedule.trace_span(rows) / duration_s
                                    for n, rows in traces.items()},
                    "requests": {m: sum(1 for a in arrivals if a.model == m) for m in paths},
                    "measured_requests": sum(1 for a in arrivals if a.at >= args.warmup_minutes * 60),
                    "per_minute": schedule.rates_over_time(arrivals, 60.0)},
        "models": cal,
        "budgets": {"memory_bytes": budgets.memory_bytes, "staged_bytes": budgets.staged_bytes},
        "runs": {},
    }
    for policy in [p for p in args.policies.split(",") if p]:
        result["runs"][policy] = run_policy(args, policy, paths, budgets, arrivals)
    done = {p: r for p, r in result["runs"].items() if "summary" in r}
    if "lru" in done and "forecast" in done:
        result["comparison"] = {"base": "lru", "other": "forecast",
                                **summary.compare(done["lru"]["summary"], done["forecast"]["summary"])}
    stem = os.path.join(args.out_dir, "warm-" + dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S"))
    out = stem + ".json"
    with open(out, "w") as f:
        f.write(compact_json(result))
    if done:
        written = plot.plot({p: records_of(r) for p, r in done.items()}, list(paths), args.warmup_minutes * 60, stem,
                            title=f"{len(paths)} models, {args.rate:g} req/s, alpha {args.alpha:g}, {result['date']}")
        print(f"plot: {written}")
    print_report(result)
    print(f"results: {out}")
    return 0 if done else 1


def _mtime(path: str) -> str:
    """When a binary was built: the tree's HEAD says what it was built from only if nobody
    rebuilt it since."""
    try:
        return dt.datetime.fromtimestamp(os.path.getmtime(path), dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except OSError:
        return "?"


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())
