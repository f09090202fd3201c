"""Load generator: N concurrent streaming clients against hearthd.

Every client opens its own connection at once and sends one streaming /v1/completions request.
It either completes (a finish_reason, then [DONE]), is rejected (429 or 503), fails (anything
else) or hangs (no end within --client-timeout). Reported: the counts, latency percentiles of
rejections, first tokens and whole streams, and hearthd's peak VmRSS, threads and open fds
(sampled from /proc while the clients run).

The client speaks HTTP/1.1 on raw asyncio streams rather than through an HTTP library: with
1000 connections on 2 cores the client's own overhead is what distorts latencies, and this
keeps it small. Latencies run from the moment a request is written on its connected socket;
connecting is reported apart (connect_ms). At most --connect-burst clients connect at once: a
client starts its request as soon as it is connected, since hearthd (cpp-httplib) closes a
connection that sends nothing for 5 s, and a client loop with 1000 connects in flight on a
busy machine can fall that far behind. Streams stay open, so all of them still overlap.

    python bench/load/load.py --clients 1000 --max-tokens 2            # starts its own hearthd
    python bench/load/load.py --url http://127.0.0.1:8080 --pid PID    # an existing one

--hold-worker stops (SIGSTOP) hearthd's worker while the clients connect and resumes it once
every client has its response headers (or after --hold-s): no stream can end early, so
peak_open_streams shows how many streams the HTTP layer holds at once. Latencies of such a run
include the hold.

The exit status is 0 when every client completed or was rejected, 1 otherwise.
"""
import argparse
import asyncio
import json
import math
import os
import resource
import signal
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests"))
from hearthd_process import MODEL_NAME, Hearthd, proc_status  # noqa: E402


def percentile(values, p):
    if not values:
        return None
    ordered = sorted(values)  # nearest rank
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


class Client:
    """One streaming request and what became of it."""

    def __init__(self):
        self.outcome = "hung"  # completed, rejected, failed or hung
        self.status = None
        self.retry_after = None
        self.connect_s = None  # start -> connected
        self.reject_s = None  # request written -> rejection's status line
        self.ttft_s = None  # request written -> first event with text
        self.total_s = None  # request written -> [DONE]
        self.open_at = None  # 200 headers received: the stream is open...
        self.closed_at = None  # ...until here
        self.error = None


async def read_head(reader):
    """Status code and lower-cased headers of a response."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed before a status line")
    status = int(status_line.split()[1])
    headers = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            return status, headers
        key, _, value = line.decode("latin-1").partition(":")
        headers[key.strip().lower()] = value.strip()


async def read_chunks(reader, headers):
    """The body's pieces, de-chunked when it is chunked."""
    if headers.get("transfer-encoding", "").lower() != "chunked":
        while piece := await reader.read(65536):
            yield piece
        return
    while True:
        size = int((await reader.readline()).split(b";")[0], 16)
        if size == 0:
            return
        data = await reader.readexactly(size + 2)
        yield data[:-2]


async def read_stream(reader, headers, client, t0):
    """Reads SSE events to [DONE]; returns the outcome."""
    finished = False
    buffer = b""
    async for piece in read_chunks(reader, headers):
        buffer += piece
        *events, buffer = buffer.split(b"\n\n")
        for event in events:
            data = next((line[6:] for line in event.split(b"\n") if line.startswith(b"data: ")), None)
            if data is None:
                continue  # a keep-alive comment
            if data == b"[DONE]":
                client.total_s = time.monotonic() - t0
                if not finished:
                    client.error = client.error or "[DONE] without a finish_reason"
                return "completed" if finished else "failed"
            chunk = json.loads(data)
            if "error" in chunk:
                client.error = str(chunk["error"])[:200]
            for choice in chunk.get("choices", []):
                if choice.get("text") and client.ttft_s is None:
                    client.ttft_s = time.monotonic() - t0
                finished |= bool(choice.get("finish_reason"))
    client.error = client.error or "stream ended without [DONE]"
    return "failed"


async def run_client(host, port, request, client, started, connecting):
    await started.wait()
    start = time.monotonic()
    writer = None
    try:
        async with connecting:
            reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
            client.connect_s = time.monotonic() - start
            writer.write(request)
            await writer.drain()
        t0 = time.monotonic()
        client.status, headers = await read_head(reader)
        if client.status == 200:
            client.open_at = time.monotonic()
        if client.status in (429, 503):
            client.reject_s = time.monotonic() - t0
            client.retry_after = headers.get("retry-after")
            client.outcome = "rejected"
        elif client.status != 200:
            client.error = f"HTTP {client.status}"
            client.outcome = "failed"
        else:
            client.outcome = await read_stream(reader, headers, client, t0)
    except asyncio.CancelledError:
        client.outcome = "hung"
        raise
    except Exception as e:  # noqa: BLE001: any client-side failure is an outcome
        client.outcome = "failed"
        client.error = f"{type(e).__name__}: {e}"[:200]
    finally:
        client.closed_at = time.monotonic()
        if writer:
            writer.close()


def peak_open_streams(clients):
    """The most streams open at once (200 headers received, not yet ended)."""
    events = []
    for c in clients:
        if c.open_at is not None:
            events += [(c.open_at, 1), (c.closed_at or math.inf, -1)]
    peak = open_now = 0
    for _, delta in sorted(events):
        open_now += delta
        peak = max(peak, open_now)
    return peak


async def hold_worker(worker_pid, clients, hold_s):
    """Keeps the worker stopped until every client has an answer's headers, or hold_s passed."""
    deadline = time.monotonic() + hold_s
    try:
        while time.monotonic() < deadline and any(c.status is None and c.closed_at is None for c in clients):
            await asyncio.sleep(0.05)
    finally:
        os.kill(worker_pid, signal.SIGCONT)


async def sample_process(pid, peaks, stop):
    while not stop.is_set():
        try:
            s = proc_status(pid)
        except (OSError, KeyError):
            return
        for key, value in s.items():
            peaks[key] = max(peaks.get(key, 0), value)
        await asyncio.sleep(0.1)


def http_request(host, port, args):
    body = json.dumps({
        "model": MODEL_NAME,
        "prompt": args.prompt,
        "max_tokens": args.max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }).encode()
    head = (f"POST /v1/completions HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode() + body


async def run_load(url, pid, args):
    parsed = urllib.parse.urlparse(url)
    host, port = parsed.hostname, parsed.port or 80
    request = http_request(host, port, args)
    clients = [Client() for _ in range(args.clients)]
    started = asyncio.Event()
    connecting = asyncio.Semaphore(args.connect_burst)
    before = proc_status(pid) if pid else {}
    peaks = dict(before)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(run_client(host, port, request, c, started, connecting)) for c in clients]
    sampler = asyncio.create_task(sample_process(pid, peaks, stop)) if pid else None
    holder = None
    if args.worker_pid:
        os.kill(args.worker_pid, signal.SIGSTOP)
        holder = asyncio.create_task(hold_worker(args.worker_pid, clients, args.hold_s))
    t0 = time.monotonic()
    started.set()
    _, pending = await asyncio.wait(tasks, timeout=args.client_timeout)
    for t in pending:
        t.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    wall_s = time.monotonic() - t0
    if holder:
        await holder
    stop.set()
    if sampler:
        await sampler
    return clients, wall_s, before, peaks


def summarize(clients, wall_s, before, peaks, args):
    def ms(values):
        def at(p):
            v = percentile(values, p)
            return None if v is None else round(v * 1000, 1)
        return {"p50": at(50), "p99": at(99), "max": at(100)}

    by = {}
    for c in clients:
        by.setdefault(c.outcome, []).append(c)
    rejected = by.get("rejected", [])
    completed = by.get("completed", [])
    errors = {}
    for c in by.get("failed", []) + by.get("hung", []):
        errors[c.error] = errors.get(c.error, 0) + 1
    return {
        "clients": args.clients,
        "max_tokens": args.max_tokens,
        "wall_s": round(wall_s, 2),
        "completed": len(completed),
        "rejected": len(rejected),
        "rejected_by_status": {str(s): sum(1 for c in rejected if c.status == s) for s in (429, 503)},
        "rejected_without_retry_after": sum(1 for c in rejected if c.retry_after is None),
        "failed": len(by.get("failed", [])),
        "hung": len(by.get("hung", [])),
        "peak_open_streams": peak_open_streams(clients),
        "held_worker": bool(args.worker_pid),
        "errors": dict(sorted(errors.items(), key=lambda kv: -kv[1])[:5]),
        "reject_ms": ms([c.reject_s for c in rejected]),
        "ttft_ms": ms([c.ttft_s for c in completed if c.ttft_s is not None]),
        "stream_ms": ms([c.total_s for c in completed]),
        "connect_ms": ms([c.connect_s for c in clients if c.connect_s is not None]),  # with the wait for a slot
        "hearthd_before": before,
        "hearthd_peak": peaks,
    }


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=1000)
    p.add_argument("--max-tokens", type=int, default=2)
    p.add_argument("--prompt", default="Hi")
    p.add_argument("--connect-burst", type=int, default=100, help="most clients connecting at once")
    p.add_argument("--client-timeout", type=float, default=600, help="seconds before a client counts as hung")
    p.add_argument("--url", help="an already running hearthd (default: start one from $HEARTH_BINARY_DIR)")
    p.add_argument("--pid", type=int, help="that hearthd's pid, for its RSS and threads")
    p.add_argument("--hold-worker", action="store_true", help="stop the worker until every client is answered")
    p.add_argument("--worker-pid", type=int, help="the worker to hold (found by itself for its own hearthd)")
    p.add_argument("--hold-s", type=float, default=60, help="longest hold")
    p.add_argument("--hearthd-arg", action="append", default=[], help="extra hearthd flag (repeatable)")
    p.add_argument("--threads", type=int, default=2, help="the worker's CPU threads")
    p.add_argument("--out", help="also write the summary JSON here")
    return p.parse_args(argv)


def run(args):
    """Runs the load and returns the summary."""
    raise_fd_limit()
    if args.url:
        clients, wall_s, before, peaks = asyncio.run(run_load(args.url, args.pid, args))
        return summarize(clients, wall_s, before, peaks, args)
    with Hearthd(extra_args=args.hearthd_arg, threads=args.threads) as d:
        if args.hold_worker:
            args.worker_pid = d.admin_status()["workers"][0]["pid"]
        clients, wall_s, before, peaks = asyncio.run(run_load(d.base_url, d.pid, args))
        summary = summarize(clients, wall_s, before, peaks, args)
        summary["healthy_after"] = d.healthy()
        summary["hearthd_after"] = d.proc_status()
        return summary


def main():
    args = parse_args()
    summary = run(args)
    text = json.dumps(summary, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    ok = summary["failed"] == 0 and summary["hung"] == 0 and summary.get("healthy_after", True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
