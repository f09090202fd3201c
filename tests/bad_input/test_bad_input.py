"""The bad-input suite against a real hearthd: every malformed request gets a 4xx in OpenAI's
error body, over and over, while the daemon stays healthy and its memory stays flat.

HEARTH_BAD_INPUT_ROUNDS (default 20) sets how many times the suite is sent. VmRSS may not grow
more than RSS_GROWTH_LIMIT_KIB from the end of the first WARMUP_ROUNDS to the end.

hearthd runs with 16 HTTP threads and MALLOC_ARENA_MAX=2 here, so that a leak shows: with
glibc's default of 8 malloc arenas per core and one thread per connection, each arena keeps its
own high-water mark and RSS climbs for dozens of rounds as requests land on fresh arenas and
fresh thread stacks (measured: 28 to 53 MB over 12 rounds with 16 threads, flat within 1 MB
with 2 arenas). That memory is reused, not leaked; docs/testing.md has the figures.
"""
import http.client
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from cases import CHAT, cases  # noqa: E402
from hearthd_process import Hearthd, serve  # noqa: E402

ROUNDS = int(os.environ.get("HEARTH_BAD_INPUT_ROUNDS", "20"))
WARMUP_ROUNDS = 3
RSS_GROWTH_LIMIT_KIB = 4 * 1024
MAX_ERROR_BODY = 4096


@pytest.fixture(scope="module")
def hearthd():
    yield from serve(Hearthd(extra_args=["--http-threads", "16"], extra_env={"MALLOC_ARENA_MAX": "2"}))


def send(port, method, path, body, chunked=False):
    """(status, headers, body) of one request on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        headers = {"Content-Type": "application/json"}
        if chunked:
            pieces = (body[i:i + (1 << 16)] for i in range(0, len(body), 1 << 16))
            conn.request(method, path, body=pieces, headers=headers, encode_chunked=True)
        else:
            conn.request(method, path, body=body if method == "POST" else None, headers=headers)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def check_answer(name, status, headers, body):
    """Problems with one answer, as strings (none when it is a proper OpenAI 4xx)."""
    problems = []
    if not 400 <= status < 500:
        problems.append(f"status {status}")
    if len(body) > MAX_ERROR_BODY:
        problems.append(f"error body of {len(body)} bytes")
    try:
        error = json.loads(body)["error"]
        if not (isinstance(error.get("message"), str) and error["message"]):
            problems.append("no message")
        if not isinstance(error.get("type"), str):
            problems.append("no type")
        for key in ("param", "code"):
            if key not in error or not isinstance(error[key], (str, type(None))):
                problems.append(f"bad {key}")
    except (ValueError, KeyError, TypeError, AttributeError):
        problems.append(f"not an OpenAI error body: {body[:200]!r}")
    if "x-request-id" not in headers:
        problems.append("no X-Request-Id")
    return [f"{name}: {p}" for p in problems]


def test_suite_has_at_least_40_kinds():
    names = [case[0] for case in cases(2048)]
    assert len(set(names)) == len(names) >= 40


def test_malformed_requests_repeatedly(hearthd):
    suite = cases(hearthd.context_length())
    rss_after_warmup = None
    for round_ in range(ROUNDS):
        problems = []
        for name, method, path, body in suite:
            problems += check_answer(name, *send(hearthd.port, method, path, body))
        assert not problems, f"round {round_}:\n" + "\n".join(problems)
        assert hearthd.healthy(), f"hearthd unhealthy after round {round_}:\n{hearthd.log()}"
        stats = hearthd.proc_status()
        print(f"round {round_}: VmRSS {stats['rss_kib']} KiB, {stats['threads']} threads, {stats['fds']} fds")
        if round_ == WARMUP_ROUNDS - 1:
            rss_after_warmup = stats["rss_kib"]
    if rss_after_warmup is not None:
        growth = hearthd.proc_status()["rss_kib"] - rss_after_warmup
        assert growth <= RSS_GROWTH_LIMIT_KIB, f"VmRSS grew by {growth} KiB after the warm-up"


def send_chunked_start(port, path, first_chunk):
    """Starts a chunked upload (headers and one 64 KiB chunk, no end) and returns hearthd's answer
    (status, headers, body), read without sending the rest: a server that waited for the whole
    body would never answer, and the read times out."""
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\n\r\n").encode()
        sock.sendall(head + f"{len(first_chunk):x}\r\n".encode() + first_chunk + b"\r\n")
        r = http.client.HTTPResponse(sock)
        r.begin()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()


# cpp-httplib 0.11 applies the payload limit only to bodies with a Content-Length and would read a
# chunked body whole (a 50 MB one was read and tokenized), so hearthd refuses chunked bodies with
# 411 before reading them, on every route.
def test_chunked_body_is_refused_unread(hearthd):
    for path in (CHAT, "/v1/completions", "/admin/v1/drain"):
        status, headers, body = send_chunked_start(hearthd.port, path, b"x" * (1 << 16))
        assert status == 411, (path, status, body)
        assert not check_answer("chunked body", status, headers, body)
        assert json.loads(body)["error"]["code"] == "length_required"
    assert hearthd.healthy()


def raw_exchange(port, data, responses=1):
    """Sends `data` as is on one connection and reads `responses` answers from it, through one
    buffered reader (pipelined answers arrive back to back): [(status, headers, body)]."""
    import socket
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(data)
        f = sock.makefile("rb")
        for _ in range(responses):
            status_line = f.readline()
            if not status_line:
                raise ConnectionError(f"closed after {len(out)} answers")
            status = int(status_line.split()[1])
            headers = {}
            while (line := f.readline()) not in (b"\r\n", b"\n", b""):
                key, _, value = line.decode("latin-1").partition(":")
                headers[key.strip().lower()] = value.strip()
            body = f.read(int(headers.get("content-length", "0")))
            out.append((status, headers, body))
    return out


# Findings of the adversarial run, at the listener of a real hearthd (the listener's own tests
# are in daemon/http/).
def test_listener_refuses_what_the_adversarial_run_sent(hearthd):
    port = hearthd.port
    # Pipelined requests after the first on a connection were dropped.
    answers = raw_exchange(port, b"GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n"
                                 b"GET /v1/models HTTP/1.1\r\nHost: h\r\n\r\n"
                                 b"GET /readyz HTTP/1.1\r\nHost: h\r\n\r\n", responses=3)
    assert [a[0] for a in answers] == [200, 200, 200], answers
    assert b'"object":"list"' in answers[1][2], answers[1]
    # No cap on the number of headers: now 431 after 100.
    flood = b"GET /healthz HTTP/1.1\r\nHost: h\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(200)) + b"\r\n"
    status, _, _ = raw_exchange(port, flood)[0]
    assert status == 431
    # A header line without a colon was accepted.
    status, _, _ = raw_exchange(port, b"GET /healthz HTTP/1.1\r\nHost: h\r\nno colon here\r\n\r\n")[0]
    assert status == 400
    # "Transfer-Encoding: Chunked" (not lowercase) slipped past the chunked refusal.
    for spelling in (b"Chunked", b"CHUNKED", b"gzip, chunked"):
        head = (b"POST /admin/v1/drain HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: " + spelling +
                b"\r\n\r\n10000\r\n" + b"x" * 65536 + b"\r\n")
        status, _, body = raw_exchange(port, head)[0]
        assert status == 411, (spelling, status, body)
    # A Range header turned a small /metrics request into a huge multipart answer.
    status, headers, body = raw_exchange(
        port, b"GET /metrics HTTP/1.1\r\nHost: h\r\nRange: bytes=0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0\r\n\r\n")[0]
    assert status == 200 and "content-range" not in headers, (status, headers)
    assert b"hearth_" in body and len(body) < 1_000_000
    assert hearthd.healthy()


def test_still_generates_afterwards(hearthd):
    # Greedy, so the answer cannot end early on a sampled end-of-text token.
    body = json.dumps({"model": "smollm2", "prompt": "The capital of France is", "max_tokens": 3,
                       "temperature": 0}).encode()
    status, _, answer = send(hearthd.port, "POST", "/v1/completions", body)
    assert status == 200, answer
    assert json.loads(answer)["usage"]["completion_tokens"] == 3
