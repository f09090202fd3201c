"""The processes of bench/cluster: one etcd and hearthd cluster nodes on loopback, each on free
ports in its own temporary directory, and what /proc says about a process."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from typing import Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
# The nodes of one run trust each other through it; a cluster node refuses to start without one.
DEFAULT_TOKEN = "bench-cluster-token-0123456789"


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: Optional[dict] = None, timeout: float = 30) -> Tuple[int, str]:
    """(status, body); status 0 when nothing answers."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, OSError):
        return 0, ""


def http_json(method: str, url: str, body: Optional[dict] = None, timeout: float = 30) -> Tuple[int, dict]:
    status, text = http(method, url, body, timeout)
    try:
        return status, json.loads(text) if text else {}
    except ValueError:
        return status, {"raw": text}


def proc_status(pid: int) -> Dict[str, int]:
    """VmRSS (KiB), Threads and open fds of `pid`."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.split()
    return {"rss_kib": int(fields["VmRSS"][0]), "threads": int(fields["Threads"][0]),
            "fds": len(os.listdir(f"/proc/{pid}/fd"))}


class Process:
    """A child process with its output in a log file under its directory."""

    def __init__(self, argv: List[str], log_path: str, env: Optional[dict] = None):
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, env=env)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, n: int = 8) -> str:
        with open(self.log_path, "rb") as f:
            return "\n".join(f.read().decode(errors="replace").strip().splitlines()[-n:])

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 60) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class Etcd(Process):
    """A one-member etcd on free loopback ports (as tests/test_process.cc's EtcdProcess)."""

    def __init__(self, dir_: str):
        self.port, peer_port = free_port(), free_port()
        client, peer = f"http://127.0.0.1:{self.port}", f"http://127.0.0.1:{peer_port}"
        super().__init__(["etcd", "--name", "bench", "--data-dir", os.path.join(dir_, "etcd"),
                          "--listen-client-urls", client, "--advertise-client-urls", client,
                          "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                          "--initial-cluster", "bench=" + peer, "--log-level", "warn"],
                         os.path.join(dir_, "etcd.log"))
        self.url = client

    def wait_healthy(self, timeout_s: float = 20) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            status, body = http("GET", self.url + "/health", timeout=2)
            if status == 200 and "true" in body:
                return
            if not self.alive():
                break
            time.sleep(0.05)
        raise RuntimeError("etcd did not start: " + self.log_tail())


class Node(Process):
    """One hearthd cluster node: `config_text` is its hearth.toml."""

    def __init__(self, hearthd: str, root: str, name: str, etcd_url: Optional[str], config_text: str, threads: int,
                 token: str):
        """etcd_url None: a single node, in no cluster."""
        self.name = name
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        self.port, self.admin_port = free_port(), free_port()
        cfg = os.path.join(self.dir, "hearth.toml")
        with open(cfg, "w") as f:
            f.write(config_text)
        env = {k: v for k, v in os.environ.items() if k not in ("HEARTH_API_KEYS", "HEARTH_ADMIN_TOKEN")}
        env["HEARTH_CLUSTER_TOKEN"] = token
        super().__init__([hearthd, "--config", cfg, "--listen", f"127.0.0.1:{self.port}", "--admin-listen",
                          f"127.0.0.1:{self.admin_port}", "--data-dir", os.path.join(self.dir, "data"),
                          "--threads", str(threads)] + (["--etcd", etcd_url, "--node-name", name] if etcd_url else []),
                         os.path.join(self.dir, "hearthd.log"), env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def wait_ready(self, timeout_s: float = 180) -> None:
        deadline = time.monotonic() + timeout_s
        while http("GET", self.url + "/readyz", timeout=2)[0] != 200:
            if not self.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready (exit {self.proc.poll()}):\n{self.log_tail()}")
            time.sleep(0.1)

    def cluster(self) -> dict:
        return http_json("GET", self.admin_url + "/admin/v1/cluster", timeout=5)[1]


def render_config(model: str, path: str, token_budget: int) -> str:
    """A node's hearth.toml: a fixed token budget (no load-time profile), placement by LRU (no
    prewarm reloads what the bench unloaded), one model."""
    return (f"[scheduler]\ntoken_budget = {token_budget}\n\n[placement]\npolicy = \"lru\"\n\n"
            f"[models]\n\"{model}\" = \"{path}\"\n")


class Cluster:
    """etcd and `names` hearthd nodes in one temporary directory; a context manager."""

    def __init__(self, hearthd: str, names: List[str], config_text: str, threads: int, token: str,
                 keep_dir: bool = False):
        self.root = tempfile.mkdtemp(prefix="hearth-bench-cluster-")
        self.keep_dir = keep_dir
        self.etcd = Etcd(self.root)
        self.nodes: List[Node] = []
        try:
            self.etcd.wait_healthy()
            self.nodes = [Node(hearthd, self.root, n, self.etcd.url, config_text, threads, token) for n in names]
            for n in self.nodes:
                n.wait_ready()
        except BaseException:
            self.close()
            raise

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def close(self) -> None:
        for n in self.nodes:
            n.stop()
        self.etcd.stop(signal.SIGKILL, 10)
        if not self.keep_dir:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
