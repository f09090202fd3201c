"""Runs a real hearthd for Python tests and benchmarks: free ports, a temporary data dir, the
default model, /healthz polling, and what /proc says about the process (RSS, threads, fds).

Environment: HEARTH_BINARY_DIR (the build dir; hearthd is in its bin/), HEARTH_MODEL_PATH
(else $HEARTH_CACHE or ~/.cache/hearth + the SmolLM2 file name).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

MODEL_NAME = "smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_model_path():
    if os.environ.get("HEARTH_MODEL_PATH"):
        return os.environ["HEARTH_MODEL_PATH"]
    cache = os.environ.get("HEARTH_CACHE") or os.path.expanduser("~/.cache/hearth")
    return os.path.join(cache, MODEL_FILE)


def hearthd_binary():
    build = os.environ.get("HEARTH_BINARY_DIR")
    if not build:
        raise RuntimeError("set HEARTH_BINARY_DIR to the build directory (hearthd is in its bin/)")
    return os.path.join(build, "bin", "hearthd")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    """(status, body) of a GET; status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, OSError):
        return 0, ""


def proc_status(pid):
    """VmRSS (KiB), Threads and the number of open fds of `pid`, from /proc."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.split()
    return {
        "rss_kib": int(fields["VmRSS"][0]),
        "threads": int(fields["Threads"][0]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
    }


class Hearthd:
    """One hearthd process serving the default model as MODEL_NAME."""

    def __init__(self, extra_args=(), threads=2, model_path=None, extra_env=None, port=None):
        self.model_path = model_path or default_model_path()
        if not os.path.isfile(self.model_path):
            raise RuntimeError(f"no model at {self.model_path}; run scripts/fetch-default-model")
        self.dir = tempfile.mkdtemp(prefix="hearthd-py-")
        self.port = port or free_port()
        self.admin_port = free_port()
        self.log_path = os.path.join(self.dir, "hearthd.log")
        argv = [hearthd_binary(), "--config", "",
                "--model", f"{MODEL_NAME}={self.model_path}",
                "--listen", f"127.0.0.1:{self.port}",
                "--admin-listen", f"127.0.0.1:{self.admin_port}",
                "--data-dir", os.path.join(self.dir, "data"),
                "--threads", str(threads), *extra_args]
        # Keys from the caller's environment would lock the tests out.
        env = {k: v for k, v in os.environ.items() if k not in ("HEARTH_API_KEYS", "HEARTH_ADMIN_TOKEN")}
        env.update(extra_env or {})
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, env=env)

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self):
        return self.proc.pid

    def wait_healthy(self, timeout_s=60):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hearthd exited with {self.proc.returncode}:\n{self.log()}")
            if self.healthy():
                return
            time.sleep(0.1)
        raise RuntimeError(f"hearthd not healthy after {timeout_s} s:\n{self.log()}")

    def healthy(self):
        return self.proc.poll() is None and http_get(self.base_url + "/healthz")[0] == 200

    def admin_status(self):
        status, body = http_get(f"http://127.0.0.1:{self.admin_port}/admin/v1/status")
        return json.loads(body) if status == 200 else None

    def context_length(self):
        return self.admin_status()["models"][0]["context_length"]

    def proc_status(self):
        return proc_status(self.pid)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")[-20000:]

    def stop(self, timeout_s=30):
        """SIGTERM, then the exit code (SIGKILL and None when it does not exit in time)."""
        code = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        else:
            code = self.proc.returncode
        self._log.close()
        return code

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        self.wait_healthy()
        return self

    def __exit__(self, *exc):
        self.stop()
        self.cleanup()


def serve(d):
    """A pytest fixture's body: yields `d` once it is healthy, then stops it and checks that it
    exited 0 (`yield from serve(Hearthd(...))`)."""
    try:
        d.wait_healthy()
        yield d
    finally:
        code = d.stop()
        log = d.log()
        d.cleanup()
    assert code == 0, f"hearthd exited with {code}:\n{log}"
