#!/usr/bin/env python3
"""Holds many connections against an HTTP server and measures /healthz meanwhile.

Modes (--mode):
  idle        connect and send nothing
  slowloris   send a request head one header line every --interval seconds, never finishing it
  stream      GET --path and keep reading the (chunked) answer
  headers     send one request head of --headers header lines (a header flood), as fast as accepted
  chunked     POST with Transfer-Encoding: chunked and --body-mb MiB of body

While the connections are held it sends --probes sequential GET /healthz requests (a new
connection each) and prints p50/p99/max latency, and the RSS and thread count of --pid before,
while holding and after. Plain Python 3 asyncio; no third-party packages.

  python3 bench/http/hold_connections.py --url http://127.0.0.1:8088 --mode stream \
      --path /stream --connections 10000 --pid $(pgrep -f hearth-http-demo)
"""
import argparse
import asyncio
import json
import resource
import statistics
import time
import urllib.parse


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def proc_stats(pid):
    if not pid:
        return {}
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    out["rss_mib"] = round(int(line.split()[1]) / 1024, 1)
                elif line.startswith("VmHWM:"):
                    out["peak_rss_mib"] = round(int(line.split()[1]) / 1024, 1)
                elif line.startswith("Threads:"):
                    out["threads"] = int(line.split()[1])
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
            out["cpu_s"] = round((int(fields[11]) + int(fields[12])) / resource_hz(), 2)
    except OSError as e:
        out["error"] = str(e)
    return out


def resource_hz():
    import os
    return os.sysconf(os.sysconf_names["SC_CLK_TCK"])


class Stats:
    def __init__(self):
        self.opened = 0
        self.failed = 0
        self.closed_by_server = 0
        self.bytes_read = 0
        self.bytes_sent = 0
        self.first_response = ""


async def hold_one(args, host, port, stats, stop):
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        stats.failed += 1
        return
    stats.opened += 1
    try:
        if args.mode == "idle":
            await stop.wait()
        elif args.mode == "slowloris":
            writer.write(f"GET / HTTP/1.1\r\nHost: {host}\r\n".encode())
            i = 0
            while not stop.is_set():
                await writer.drain()
                try:
                    await asyncio.wait_for(stop.wait(), args.interval)
                except asyncio.TimeoutError:
                    pass
                if reader.at_eof():
                    break
                writer.write(f"X-Slow-{i}: v\r\n".encode())
                i += 1
        elif args.mode == "stream":
            writer.write(f"GET {args.path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            await writer.drain()
            while not stop.is_set():
                data = await reader.read(65536)
                if not data:
                    break
                stats.bytes_read += len(data)
        elif args.mode in ("headers", "chunked"):
            await flood(args, host, reader, writer, stats, stop)
        if reader.at_eof() and not stop.is_set():
            stats.closed_by_server += 1
    except (OSError, asyncio.IncompleteReadError):
        if not stop.is_set():
            stats.closed_by_server += 1
    finally:
        writer.close()


async def flood(args, host, reader, writer, stats, stop):
    if args.mode == "headers":
        writer.write(f"GET / HTTP/1.1\r\nHost: {host}\r\n".encode())
        block = b"".join(b"X-Flood-%d: v\r\n" % i for i in range(10000))
        total = args.headers
        sent_lines = 0
    else:
        writer.write(f"POST /v1/completions HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        piece = b"x" * 65536
        block = b"%x\r\n%s\r\n" % (len(piece), piece)
        total = args.body_mb * 16  # 64 KiB chunks
        sent_lines = 0
    reply = asyncio.ensure_future(reader.read(65536))
    while sent_lines < total and not stop.is_set() and not reply.done():
        writer.write(block)
        stats.bytes_sent += len(block)
        sent_lines += 10000 if args.mode == "headers" else 1
        try:
            await asyncio.wait_for(writer.drain(), 5)
        except (asyncio.TimeoutError, OSError):
            break
    try:
        data = await asyncio.wait_for(reply, 10)
    except (asyncio.TimeoutError, OSError):
        data = b""
    if data:
        stats.first_response = stats.first_response or data.split(b"\r\n", 1)[0].decode(errors="replace")


async def probe(host, port, count):
    latencies = []
    errors = 0
    for _ in range(count):
        start = time.perf_counter()
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 30)
            writer.write(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            data = await asyncio.wait_for(reader.read(4096), 30)
            writer.close()
            if not data.startswith(b"HTTP/1.1 200"):
                errors += 1
                continue
            latencies.append((time.perf_counter() - start) * 1000)
        except (OSError, asyncio.TimeoutError):
            errors += 1
        await asyncio.sleep(0.005)
    if not latencies:
        return {"errors": errors}
    latencies.sort()
    pick = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2)
    return {"probes": len(latencies), "errors": errors, "p50_ms": pick(0.50), "p99_ms": pick(0.99),
            "max_ms": round(latencies[-1], 2), "mean_ms": round(statistics.mean(latencies), 2)}


async def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default="http://127.0.0.1:8088")
    p.add_argument("--mode", choices=["idle", "slowloris", "stream", "headers", "chunked"], default="idle")
    p.add_argument("--path", default="/stream")
    p.add_argument("--connections", type=int, default=1000)
    p.add_argument("--interval", type=float, default=2.0, help="slowloris: seconds between header lines")
    p.add_argument("--headers", type=int, default=2_000_000, help="headers mode: header lines to send")
    p.add_argument("--body-mb", type=int, default=1024, help="chunked mode: MiB of body to send")
    p.add_argument("--probes", type=int, default=200)
    p.add_argument("--settle", type=float, default=3.0, help="seconds to wait after opening before probing")
    p.add_argument("--measure", type=float, default=10.0, help="seconds over which to sample server CPU while holding")
    p.add_argument("--pid", type=int, default=0, help="server process whose RSS and threads to report")
    p.add_argument("--connect-batch", type=int, default=500)
    args = p.parse_args()

    nofile = raise_nofile()
    url = urllib.parse.urlparse(args.url)
    host, port = url.hostname, url.port or 80
    report = {"mode": args.mode, "connections": args.connections, "nofile": nofile, "server_before": proc_stats(args.pid)}
    stats, stop = Stats(), asyncio.Event()
    tasks = []
    t0 = time.perf_counter()
    for i in range(0, args.connections, args.connect_batch):
        batch = [asyncio.ensure_future(hold_one(args, host, port, stats, stop))
                 for _ in range(min(args.connect_batch, args.connections - i))]
        tasks += batch
        while stats.opened + stats.failed < i + len(batch):
            await asyncio.sleep(0.01)
    report["open_s"] = round(time.perf_counter() - t0, 2)
    await asyncio.sleep(args.settle)
    report["server_holding"] = proc_stats(args.pid)
    if args.pid and args.measure > 0:
        # Server CPU while only holding (no probes): percent of one core.
        before = report["server_holding"].get("cpu_s", 0)
        await asyncio.sleep(args.measure)
        report["server_holding"] = proc_stats(args.pid)
        report["server_cpu_percent_while_holding"] = round(
            100 * (report["server_holding"].get("cpu_s", 0) - before) / args.measure, 1)
    report["healthz"] = await probe(host, port, args.probes)
    report["server_after_probes"] = proc_stats(args.pid)
    report.update(opened=stats.opened, failed=stats.failed, closed_by_server=stats.closed_by_server,
                  client_bytes_read=stats.bytes_read, client_bytes_sent=stats.bytes_sent)
    if stats.first_response:
        report["flood_response"] = stats.first_response
    stop.set()
    await asyncio.wait(tasks, timeout=10)
    await asyncio.sleep(1)
    report["server_released"] = proc_stats(args.pid)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
