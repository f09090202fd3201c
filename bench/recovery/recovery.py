"""Recovery benchmark (issue 6): what a crash of hearthd costs.

For each number of concurrent requests M and each [store] synchronous setting, it starts
hearthd on a fresh data directory, submits M streamed seeded chat requests (logprobs on, so
that every token is one event), SIGKILLs hearthd once every request has streamed
--kill-after tokens, restarts it on the same data directory, and has every client reconnect
at once with GET /v1/requests/{id}/events and the Last-Event-ID it last received. Measured:

- ready_s: restart (exec) -> GET /readyz answers 200 (model load and recovery included);
- first_token_s: restart -> a reconnecting client's first token (committed tokens it had
  not received yet are replayed from the store first), per client: p50 / max;
- first_new_token_s: restart -> its first token past what was committed at the crash (it
  needs the recompute prefill), per client: p50 / max;
- all_done_s: restart -> every resumed stream ended;
- recovered_prefill_tokens: hearth_recovered_prefill_tokens_total after the restart (prompt
  + committed tokens of the resumed requests, computed again), checked against the store;
- commit_*: hearth_store_commit_seconds before the kill: commits, mean, p50/p99 (histogram
  bucket upper bounds), and the share of the generation's wall time spent committing.

Stdlib only. Needs hearthd built: HEARTH_BINARY_DIR=<build dir>.

    HEARTH_BINARY_DIR=build python3 bench/recovery/recovery.py --clients 8 32 --out results.json
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests"))
from hearthd_process import MODEL_NAME, default_model_path, free_port, hearthd_binary, http_get  # noqa: E402

TOPICS = ["the sea", "a cat", "bread", "the moon", "rain", "a violin", "winter", "a lighthouse", "tea"]


class Daemon:
    """hearthd on a given data directory (kept across restarts)."""

    def __init__(self, root, port, admin_port, threads, log_name):
        self.port = port
        argv = [hearthd_binary(), "--config", os.path.join(root, "hearth.toml"),
                "--model", f"{MODEL_NAME}={default_model_path()}",
                "--listen", f"127.0.0.1:{port}", "--admin-listen", f"127.0.0.1:{admin_port}",
                "--data-dir", os.path.join(root, "data"), "--threads", str(threads)]
        env = {k: v for k, v in os.environ.items()
               if k not in ("HEARTH_API_KEYS", "HEARTH_ADMIN_TOKEN", "HEARTH_TEST_CRASH_AT_COMMIT")}
        self.log_path = os.path.join(root, log_name)
        self._log = open(self.log_path, "wb")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def wait_ready(self, timeout_s=300):
        """Seconds from exec to /readyz 200."""
        deadline = self.started + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hearthd exited with {self.proc.returncode}; see {self.log_path}")
            if http_get(f"http://127.0.0.1:{self.port}/readyz", timeout=2)[0] == 200:
                return time.monotonic() - self.started
            time.sleep(0.01)
        raise RuntimeError(f"hearthd not ready after {timeout_s} s; see {self.log_path}")

    def metrics(self):
        status, body = http_get(f"http://127.0.0.1:{self.port}/metrics", timeout=30)
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        return body

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self._log.close()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


class Stream:
    """One client's request: its id, the last event id it got, and the tokens it received."""

    def __init__(self, index):
        self.index = index
        self.id = None
        self.last_event = 0
        self.tokens = 0  # received, all connections together
        self.ended_before_kill = False
        self.first_token_at = None  # after the restart
        self.first_new_token_at = None
        self.done_at = None
        self.error = None


def read_events(resp, stream, on_token):
    """Reads SSE events until [DONE] or the connection breaks; True at [DONE]."""
    event_id = None
    while True:
        line = resp.readline()
        if not line:
            return False
        line = line.rstrip(b"\r\n")
        if line.startswith(b"id: "):
            event_id = int(line[4:])
        elif line.startswith(b"data: "):
            data = line[6:]
            if event_id is not None:
                stream.last_event = event_id
            if data == b"[DONE]":
                return True
            chunk = json.loads(data)
            if "error" in chunk:
                stream.error = str(chunk["error"])[:200]
            for choice in chunk.get("choices", []):
                logprobs = choice.get("logprobs") or {}
                for _ in logprobs.get("content") or []:
                    stream.tokens += 1
                    on_token()
            event_id = None


def submit(port, stream, max_tokens):
    body = json.dumps({
        "model": MODEL_NAME,
        "messages": [{"role": "user", "content": f"Write a long story about {TOPICS[stream.index % 9]} "
                                                 f"(number {stream.index})."}],
        "max_tokens": max_tokens, "temperature": 0.8, "seed": 4000 + stream.index,
        "logprobs": True, "stream": True,
    })
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        if resp.status != 200:
            stream.error = f"HTTP {resp.status}"
            return
        stream.id = resp.getheader("X-Request-Id")
        stream.ended_before_kill = read_events(resp, stream, lambda: None)
    except (OSError, http.client.HTTPException):
        pass  # the kill


def reconnect(port, stream, restart_at, committed):
    """GET /v1/requests/{id}/events from Last-Event-ID, retried until the listener is open."""
    def on_token():
        now = time.monotonic() - restart_at
        if stream.first_token_at is None:
            stream.first_token_at = now
        if stream.first_new_token_at is None and stream.tokens > committed:
            stream.first_new_token_at = now

    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            conn.request("GET", f"/v1/requests/{stream.id}/events", headers={"Last-Event-ID": str(stream.last_event)})
            resp = conn.getresponse()
            if resp.status != 200:
                stream.error = f"HTTP {resp.status}: {resp.read()[:200]!r}"
                return
            if read_events(resp, stream, on_token):
                stream.done_at = time.monotonic() - restart_at
                if stream.first_token_at is None:
                    stream.first_token_at = stream.done_at
                return
        except (ConnectionRefusedError, ConnectionResetError):
            time.sleep(0.005)
        except (OSError, http.client.HTTPException) as e:
            stream.error = f"{type(e).__name__}: {e}"[:200]
            return


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def histogram(text, name):
    """(count, sum, [(upper bound, cumulative count)]) of an unlabelled histogram."""
    buckets = []
    for line in text.splitlines():
        if line.startswith(name + "_bucket{le=\""):
            le = line[len(name) + 12:].split("\"")[0]
            buckets.append((float("inf") if le == "+Inf" else float(le), float(line.split()[1])))
    return metric(text, name + "_count") or 0, metric(text, name + "_sum") or 0, buckets


def bucket_quantile(buckets, count, q):
    """The upper bound of the bucket that holds quantile q (None without observations)."""
    for le, cumulative in buckets:
        if count and cumulative >= q * count:
            return le
    return None


def quantile(values, q):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    return values[min(len(values) - 1, int(q * len(values)))]


def run_once(args, clients, sync):
    root = tempfile.mkdtemp(prefix="hearth-recovery-", dir=args.work_dir)
    with open(os.path.join(root, "hearth.toml"), "w") as f:
        f.write(f'log_level = "info"\n[store]\nsynchronous = "{sync}"\n')
        if args.token_budget:
            f.write(f"[scheduler]\ntoken_budget = {args.token_budget}\n")
    port, admin_port = free_port(), free_port()
    try:
        daemon = Daemon(root, port, admin_port, args.threads, "first.log")
        daemon.wait_ready()
        streams = [Stream(i) for i in range(clients)]
        threads = [threading.Thread(target=submit, args=(port, s, args.max_tokens)) for s in streams]
        gen_start = time.monotonic()
        for t in threads:
            t.start()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not all(s.tokens >= args.kill_after or s.ended_before_kill
                                                      for s in streams):
            time.sleep(0.01)
        before = daemon.metrics()
        gen_wall = time.monotonic() - gen_start
        daemon.kill()
        for t in threads:
            t.join()
        lost = [s.index for s in streams if s.id is None]
        if lost:
            raise RuntimeError(f"requests {lost} were never acknowledged")
        received_at_kill = sum(s.tokens for s in streams)
        streams = [s for s in streams if not s.ended_before_kill]

        db = sqlite3.connect(os.path.join(root, "data", "hearth.db"))
        committed = dict(db.execute("SELECT request_id, COUNT(*) FROM tokens GROUP BY request_id").fetchall())
        prompts = dict(db.execute("SELECT id, LENGTH(prompt) / 4 FROM requests WHERE status IN ('queued', 'running')"))
        db.close()
        store_prefill = sum(prompts[i] + committed.get(i, 0) for i in prompts)

        restart_at = time.monotonic()
        daemon = Daemon(root, port, admin_port, args.threads, "restart.log")
        rthreads = [threading.Thread(target=reconnect, args=(port, s, restart_at, committed.get(int(s.id), 0)))
                    for s in streams]
        for t in rthreads:
            t.start()
        ready_s = daemon.wait_ready()
        for t in rthreads:
            t.join()
        after = daemon.metrics()
        daemon.stop()

        count, total, buckets = histogram(before, "hearth_store_commit_seconds")
        errors = [f"{s.index}: {s.error}" for s in streams if s.error or s.done_at is None]
        return {
            "clients": clients, "synchronous": sync, "max_tokens": args.max_tokens,
            "resumed_streams": len(streams),
            "received_tokens_at_kill": received_at_kill,
            "committed_tokens_at_kill": sum(committed.values()),
            "ready_s": round(ready_s, 3),
            "first_token_s_p50": quantile([s.first_token_at for s in streams], 0.5),
            "first_token_s_max": quantile([s.first_token_at for s in streams], 1.0),
            "first_new_token_s_p50": quantile([s.first_new_token_at for s in streams], 0.5),
            "first_new_token_s_max": quantile([s.first_new_token_at for s in streams], 1.0),
            "all_done_s": quantile([s.done_at for s in streams], 1.0),
            "recovered_requests": metric(after, "hearth_recovered_requests_total"),
            "recovered_prefill_tokens": metric(after, "hearth_recovered_prefill_tokens_total"),
            "store_prefill_tokens": store_prefill,
            "commits": count,
            "commit_mean_ms": round(1000 * total / count, 3) if count else None,
            "commit_p50_ms_le": (bucket_quantile(buckets, count, 0.5) or 0) * 1000,
            "commit_p99_ms_le": (bucket_quantile(buckets, count, 0.99) or 0) * 1000,
            "commit_share_of_wall": round(total / gen_wall, 4) if gen_wall else None,
            "generation_wall_s": round(gen_wall, 3),
            "errors": errors,
        }
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def fmt(v, digits=3):
    if v is None:
        return "—"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, nargs="+", default=[8, 32])
    p.add_argument("--synchronous", nargs="+", default=["full", "normal"])
    p.add_argument("--max-tokens", type=int, default=128)
    p.add_argument("--kill-after", type=int, default=16, help="tokens every stream has received at the kill")
    p.add_argument("--threads", type=int, default=2, help="worker threads")
    p.add_argument("--token-budget", type=int, default=256, help="fixed budget (0: hearthd profiles at load)")
    p.add_argument("--work-dir", default=None, help="where data directories go (a real disk: fsync matters)")
    p.add_argument("--keep", action="store_true", help="keep the data directories and logs")
    p.add_argument("--out", help="write the results as JSON here")
    args = p.parse_args()

    loadavg_at_start = open("/proc/loadavg").read().strip()
    results = []
    for clients in args.clients:
        for sync in args.synchronous:
            r = run_once(args, clients, sync)
            results.append(r)
            print(json.dumps(r), flush=True)
    print()
    print("| M | synchronous | ready | first token p50 / max | first new token p50 / max | all done "
          "| re-prefilled tokens | commits | commit mean | p50 / p99 (≤) | commit share |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['clients']} | {r['synchronous']} | {fmt(r['ready_s'], 2)} s "
              f"| {fmt(r['first_token_s_p50'], 2)} / {fmt(r['first_token_s_max'], 2)} s "
              f"| {fmt(r['first_new_token_s_p50'], 2)} / {fmt(r['first_new_token_s_max'], 2)} s "
              f"| {fmt(r['all_done_s'], 1)} s | {fmt(r['recovered_prefill_tokens'], 0)} "
              f"| {fmt(r['commits'], 0)} | {fmt(r['commit_mean_ms'], 2)} ms "
              f"| {fmt(r['commit_p50_ms_le'], 2)} / {fmt(r['commit_p99_ms_le'], 2)} ms "
              f"| {fmt(100 * r['commit_share_of_wall'], 1)} % |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"results": results, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                       "loadavg_at_start": loadavg_at_start, "loadavg_at_end": open("/proc/loadavg").read().strip()},
                      f, indent=2)
    return 1 if any(r["errors"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
