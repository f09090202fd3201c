"""Cancellation that sticks: a non-streamed request whose client hangs up is cancelled and frees
its KV blocks; one an operator cancels answers its waiting client with a status the OpenAI SDK
does not retry."""
import json
import re
import socket
import threading
import time
import uuid

import httpx
import openai
import pytest

LONG = {"max_tokens": 1500, "temperature": 0, "ignore_eos": True}


def metric(hearthd, name):
    """The sum of a metric's samples for the test model (0 when absent)."""
    text = httpx.get(hearthd.base_url + "/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        m = re.match(rf'{name}(\{{[^}}]*\}})? ([0-9.e+-]+)$', line)
        if m and (m.group(1) is None or 'model="smollm2"' in m.group(1)):
            total += float(m.group(2))
    return total


def admin(hearthd, method, path):
    r = httpx.request(method, f"http://127.0.0.1:{hearthd.admin_port}/admin/v1{path}", timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def wait_for(what, timeout_s=30):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def running_ids(hearthd):
    return [r["id"] for r in admin(hearthd, "GET", "/requests?state=running")["data"]]


def idle(hearthd):
    return metric(hearthd, "hearth_num_requests_running") == 0 and metric(hearthd, "hearth_kv_blocks_used") == 0


def test_a_client_that_hangs_up_frees_its_kv_blocks(model, hearthd):
    wait_for(lambda: idle(hearthd))
    body = json.dumps({"model": model, "prompt": f"Story {uuid.uuid4()}:", **LONG}).encode()
    head = (f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", hearthd.port)) as s:
        s.sendall(head + body)
        [request_id] = wait_for(lambda: running_ids(hearthd))
        wait_for(lambda: metric(hearthd, "hearth_kv_blocks_used") > 0)
    # Hung up long before 1500 tokens: the request ends as cancelled and its blocks go back.
    wait_for(lambda: idle(hearthd))
    r = httpx.get(f"{hearthd.base_url}/v1/requests/{request_id}", timeout=10)
    assert r.json()["state"] == "cancelled", r.text
    assert r.json()["completion_tokens"] < LONG["max_tokens"]


def test_an_operator_cancel_is_not_retried_by_the_sdk(model, hearthd):
    wait_for(lambda: idle(hearthd))
    sent = []
    http = httpx.Client(event_hooks={"request": [lambda request: sent.append(request.url.path)]})
    # The SDK's default retry policy (2 retries of 408, 409, 429 and 5xx).
    client = openai.OpenAI(base_url=hearthd.base_url + "/v1", api_key="unused", http_client=http, timeout=120)
    before = metric(hearthd, "hearth_requests_total")
    outcome = {}

    def call():
        try:
            client.completions.create(model=model, prompt=f"Tale {uuid.uuid4()}:", max_tokens=1500,
                                      temperature=0, extra_body={"ignore_eos": True})
        except openai.APIStatusError as e:
            outcome["error"] = e

    t = threading.Thread(target=call)
    t.start()
    [request_id] = wait_for(lambda: running_ids(hearthd))
    assert admin(hearthd, "DELETE", f"/requests/{request_id}")["state"] == "cancelled"
    t.join(60)
    assert not t.is_alive()
    error = outcome["error"]
    assert error.status_code == 499
    assert error.response.headers["x-should-retry"] == "false"
    assert error.body["code"] == "request_cancelled"
    assert "operator" in error.body["message"]
    assert sent == ["/v1/completions"], "sent exactly once"
    time.sleep(1.5)  # the SDK's first retry would have come by now
    assert running_ids(hearthd) == []
    assert metric(hearthd, "hearth_requests_total") == before + 1
