"""Sends the arrivals to a running hearthd at their times (open loop: whether or not earlier
requests have ended), each a streamed /v1/completions, and times its first token. Beside it, a
sampler reads every model's state from the admin API, so that each request records whether its
model was warm when it was sent, and /metrics is scraped when the warm-up ends and after the
last request."""
from __future__ import annotations

import asyncio
import json
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import aiohttp

from schedule import Arrival
from summary import Record


class StateSampler:
    """The latest state of every model (GET /admin/v1/models every `interval_s`) and the list of
    changes, (seconds after the replay's start, model, new state); `on_change(model, state)` is
    called for each change seen, the first sample's states included."""

    def __init__(self, session: aiohttp.ClientSession, admin_url: str, interval_s: float,
                 on_change: Optional[Callable[[str, str], None]] = None):
        self.session, self.url, self.interval_s = session, admin_url + "/admin/v1/models", interval_s
        self.on_change = on_change
        self.state: Dict[str, str] = {}
        self.changes: List[Tuple[float, str, str]] = []

    async def sample(self, t0: float) -> None:
        async with self.session.get(self.url, timeout=aiohttp.ClientTimeout(total=10)) as r:
            data = (await r.json())["data"]
        now = time.perf_counter() - t0
        for m in data:
            if self.state.get(m["name"]) != m["state"]:
                self.changes.append((round(now, 3), m["name"], m["state"]))
                self.state[m["name"]] = m["state"]
                if self.on_change:
                    self.on_change(m["name"], m["state"])

    async def run(self, t0: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.sample(t0)
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, KeyError):
                pass
            try:
                await asyncio.wait_for(stop.wait(), self.interval_s)
            except asyncio.TimeoutError:
                pass


async def _send(session: aiohttp.ClientSession, url: str, a: Arrival, t0: float, timeout_s: float,
                sampler: StateSampler) -> Record:
    delay = t0 + a.at - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)
    r = Record(model=a.model, at=a.at, state_at_send=sampler.state.get(a.model, ""))
    body = {"model": a.model, "prompt": list(a.prompt), "max_tokens": a.max_tokens, "temperature": 0, "stream": True}
    sent = time.perf_counter()
    r.sent = sent - t0
    try:
        async with session.post(url + "/v1/completions", json=body,
                                timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
            if resp.status != 200:
                r.error = f"HTTP {resp.status}: {(await resp.text())[:200]}"
                return r
            done = False
            async for line in resp.content:
                line = line.strip()
                if not line.startswith(b"data:"):
                    continue
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    done = True
                    continue
                msg = json.loads(payload)
                if "error" in msg:
                    r.error = str(msg["error"])[:200]
                    return r
                choices = msg.get("choices") or []
                if r.ttft is None and choices and choices[0].get("text") is not None:
                    r.ttft = time.perf_counter() - sent
            r.e2e = time.perf_counter() - sent
            r.ok = done and r.ttft is not None
            if not r.ok:
                r.error = "stream ended early"
    except asyncio.TimeoutError:
        r.error = "timeout"
    except (aiohttp.ClientError, ValueError) as e:
        r.error = f"{type(e).__name__}: {e}"[:200]
    return r


async def _scrape(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url + "/metrics", timeout=aiohttp.ClientTimeout(total=30)) as r:
        return await r.text()


async def replay(url: str, admin_url: str, arrivals: Sequence[Arrival], *, warmup_s: float, timeout_s: float = 300.0,
                 drain_s: float = 180.0, sample_interval_s: float = 0.25,
                 on_change: Optional[Callable[[str, str], None]] = None) -> dict:
    """Runs the replay; returns {"records", "metrics_at_warmup", "metrics_at_end", "state_changes",
    "wall_s"}. A request still open drain_s after the last arrival is cancelled and fails."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        sampler = StateSampler(session, admin_url, sample_interval_s, on_change)
        await sampler.sample(time.perf_counter())
        t0 = time.perf_counter() + 0.5
        sampler.changes = [(0.0, m, s) for m, s in sorted(sampler.state.items())]
        stop = asyncio.Event()
        sampling = asyncio.create_task(sampler.run(t0, stop))

        async def at_warmup() -> Optional[str]:
            await asyncio.sleep(max(0.0, t0 + warmup_s - time.perf_counter()))
            return await _scrape(session, url)

        warm_scrape = asyncio.create_task(at_warmup())
        tasks = [asyncio.create_task(_send(session, url, a, t0, timeout_s, sampler)) for a in arrivals]
        last = max((a.at for a in arrivals), default=0.0)
        done, pending = await asyncio.wait(tasks, timeout=max(0.1, t0 + last + drain_s - time.perf_counter()))
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        records = []
        for a, t in zip(arrivals, tasks):
            if t in done and t.exception() is None:
                records.append(t.result())
            else:
                records.append(Record(model=a.model, at=a.at, sent=a.at, error="unfinished at the drain deadline"))
        wall = time.perf_counter() - t0
        metrics_end = await _scrape(session, url)
        stop.set()
        await sampling
        return {"records": records, "metrics_at_warmup": await warm_scrape, "metrics_at_end": metrics_end,
                "state_changes": sampler.changes, "wall_s": wall}


async def history(admin_url: str, models: Sequence[str], limit: int) -> Dict[str, dict]:
    """GET /admin/v1/models/{name}/history?limit=N for each model ({} for one that fails)."""
    out: Dict[str, dict] = {}
    async with aiohttp.ClientSession() as session:
        for m in models:
            try:
                async with session.get(f"{admin_url}/admin/v1/models/{m}/history", params={"limit": str(limit)},
                                       timeout=aiohttp.ClientTimeout(total=30)) as r:
                    out[m] = await r.json() if r.status == 200 else {"status": r.status, "body": (await r.text())[:300]}
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as e:
                out[m] = {"error_fetching": str(e)}
    return out
