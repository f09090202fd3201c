"""Malformed /v1/messages bodies over raw HTTP: each gets a 4xx in Anthropic's error body, never
a 5xx, a crash or a hang, and the server still answers afterwards."""
import json

import httpx
import pytest

MODEL = "smollm2"
USER = [{"role": "user", "content": "hello"}]


def body(**fields):
    return json.dumps({"model": MODEL, "max_tokens": 4, "messages": USER, **fields}).encode()


CASES = [
    ("empty body", b""),
    ("not json", b"hello"),
    ("array", b"[]"),
    ("truncated", b'{"model":"smollm2","messages":[{"role"'),
    ("deep nesting", b'{"model":"smollm2","max_tokens":4,"messages":' + b"[" * 100000 + b"]" * 100000 + b"}"),
    ("invalid utf-8", b'{"model":"smollm2","max_tokens":4,"messages":[{"role":"user","content":"\xff"}]}'),
    ("lone surrogate", b'{"model":"smollm2","max_tokens":4,"messages":[{"role":"user","content":"\\ud800"}]}'),
    ("no max_tokens", json.dumps({"model": MODEL, "messages": USER}).encode()),
    ("max_tokens huge", body(max_tokens=2**31)),
    ("max_tokens past the context", body(max_tokens=2**31 - 1)),
    ("messages null", body(messages=None)),
    ("message is a list", body(messages=[["user", "hi"]])),
    ("role tool", body(messages=[{"role": "tool", "content": "x"}])),
    ("content null", body(messages=[{"role": "user", "content": None}])),
    ("block without type", body(messages=[{"role": "user", "content": [{"text": "x"}]}])),
    ("block is a string", body(messages=[{"role": "user", "content": ["x"]}])),
    ("tool_result block", body(messages=[{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]}])),
    ("document block", body(messages=[{"role": "user", "content": [{"type": "document"}]}])),
    ("system number", body(system=3)),
    ("stop_sequences of 65", body(stop_sequences=[f"s{i}" for i in range(65)])),
    ("temperature 2", body(temperature=2)),
    ("top_k float", body(top_k=1.5)),
    ("thinking", body(thinking={"type": "enabled", "budget_tokens": 1024})),
    ("tool_choice", body(tool_choice={"type": "auto"})),
    ("unknown field", body(frobnicate=1)),
    ("unknown model", body(model="claude-9")),
    ("prompt past the context", body(messages=[{"role": "user", "content": "hello " * 20000}])),
]


@pytest.mark.parametrize("name, data", CASES, ids=[c[0] for c in CASES])
def test_malformed_body_gets_an_anthropic_4xx(hearthd, api_key, name, data):
    r = httpx.post(hearthd.base_url + "/v1/messages", content=data, timeout=60,
                   headers={"x-api-key": api_key, "content-type": "application/json"})
    assert 400 <= r.status_code < 500, (name, r.status_code, r.text[:300])
    err = r.json()
    assert err["type"] == "error"
    assert err["error"]["type"] in ("invalid_request_error", "not_found_error", "request_too_large")
    assert isinstance(err["error"]["message"], str) and err["error"]["message"]
    assert len(r.content) < 4096


def test_still_answers_afterwards(client, model):
    msg = client.messages.create(model=model, max_tokens=2, messages=USER)
    assert msg.usage.output_tokens >= 1
