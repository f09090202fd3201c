"""hearthd's API listener as the operating system sees it: the port is its own, the accept
backlog takes a burst of connections, and the open-file limit allows http_threads connections."""
import os
import resource
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from hearthd_process import Hearthd  # noqa: E402


@pytest.fixture(scope="module")
def hearthd():
    # Started with a low soft limit on open files (inherited), which hearthd must raise.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 256), hard))
    try:
        d = Hearthd(threads=1)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    with d:
        yield d


def listen_backlog(port):
    """The accept backlog of the socket listening on 127.0.0.1:port (ss's Send-Q)."""
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    return int(lines[0].split()[2])


def test_a_second_daemon_cannot_take_the_port(hearthd):
    # Without this, SO_REUSEPORT (cpp-httplib's default) let both listen and split the traffic.
    intruder = Hearthd(threads=1, port=hearthd.port)
    try:
        code = intruder.proc.wait(timeout=60)
        log = intruder.log()
    finally:
        intruder.stop()
        intruder.cleanup()
    assert code != 0, log
    assert "cannot listen" in log, log
    listen_backlog(hearthd.port)  # still exactly one listener
    assert hearthd.healthy()


def test_backlog_takes_a_burst(hearthd):
    assert listen_backlog(hearthd.port) >= 128


def test_open_file_limit_is_raised(hearthd):
    with open(f"/proc/{hearthd.pid}/limits") as f:
        line = next(l for l in f if l.startswith("Max open files"))
    soft, hard = line.split()[3:5]
    assert soft == hard, line
    assert hard == "unlimited" or int(hard) > 256, line
