"""The Messages API through the official anthropic SDK: round trips, streaming, stop reasons,
errors and the API key. The SDK (2.x) has no temperature argument: clients send Anthropic's
sampling fields through extra_body, as these tests do."""
import threading
import time

import anthropic
import httpx
import pytest

GREEDY = {"temperature": 0}
SYSTEM = "You are a geography tutor. Answer in one short sentence."
TURNS = [
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "The capital of France is Paris."},
    {"role": "user", "content": [{"type": "text", "text": "And the capital of Italy?"}]},
]


def test_round_trip_with_system_and_turns(client, model):
    msg = client.messages.create(model=model, max_tokens=24, system=SYSTEM, messages=TURNS, extra_body=GREEDY)
    assert msg.type == "message"
    assert msg.role == "assistant"
    assert msg.id.startswith("msg_")
    assert msg.model == model
    assert len(msg.content) == 1 and msg.content[0].type == "text"
    assert msg.content[0].text.strip()
    assert msg.stop_reason in ("end_turn", "max_tokens")
    assert msg.stop_sequence is None
    assert msg.usage.input_tokens > 20  # the system prompt and all three turns
    assert 0 < msg.usage.output_tokens <= 24
    assert "Rome" in msg.content[0].text  # the turns reached the model, in order
    # The system prompt reached the model too: a longer one is a longer prompt.
    longer = client.messages.create(model=model, max_tokens=1, system=SYSTEM + " Always be polite.",
                                    messages=TURNS, extra_body=GREEDY)
    assert longer.usage.input_tokens > msg.usage.input_tokens


def test_stream_deltas_equal_the_round_trip(client, model):
    kwargs = dict(model=model, max_tokens=32, system=SYSTEM, messages=TURNS, extra_body=GREEDY)
    whole = client.messages.create(**kwargs)
    types = []
    deltas = []
    with client.messages.stream(**kwargs) as stream:
        for event in stream:
            types.append(event.type)
            if event.type == "content_block_delta":
                assert event.delta.type == "text_delta"
                deltas.append(event.delta.text)
        final = stream.get_final_message()
    assert "".join(deltas) == whole.content[0].text
    assert final.content[0].text == whole.content[0].text
    assert final.stop_reason == whole.stop_reason
    assert final.usage.output_tokens == whole.usage.output_tokens
    assert final.usage.input_tokens == whole.usage.input_tokens
    assert types[0] == "message_start"
    assert types[1] == "content_block_start"
    assert types[-1] == "message_stop"
    assert "message_delta" in types and "content_block_stop" in types


def test_raw_stream_events_are_named_by_their_type(hearthd, model, api_key):
    body = {"model": model, "max_tokens": 4, "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
    headers = {"x-api-key": api_key, "anthropic-version": "2023-06-01"}
    with httpx.stream("POST", hearthd.base_url + "/v1/messages", json=body, headers=headers, timeout=60) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        text = r.read().decode()
    events = [block for block in text.split("\n\n") if block.strip() and not block.startswith(":")]
    names = []
    for block in events:
        lines = block.split("\n")
        assert lines[0].startswith("id: "), block  # as every Hearth stream: Last-Event-ID resumes it
        lines = lines[1:]
        assert lines[0].startswith("event: "), block
        assert lines[1].startswith("data: "), block
        name = lines[0][len("event: "):]
        assert f'"type":"{name}"' in lines[1]
        names.append(name)
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert "[DONE]" not in text
    # GET /v1/requests/{id}/events replays the same bytes.
    replay = httpx.get(f"{hearthd.base_url}/v1/requests/{r.headers['x-request-id']}/events", timeout=60,
                       headers={"x-api-key": api_key})
    assert replay.status_code == 200
    assert replay.text == text


def test_stop_sequence(client, model):
    # Greedy SmolLM2 counts "1, 2, 3, ..." here; the answer stops before "3".
    count = [{"role": "user", "content": "Count from 1 to 10, separated by commas."}]
    msg = client.messages.create(model=model, max_tokens=40, extra_body=GREEDY, stop_sequences=["3", "zebra"],
                                 messages=count)
    assert msg.stop_reason == "stop_sequence", msg
    assert msg.stop_sequence == "3"
    assert "3" not in msg.content[0].text
    with client.messages.stream(model=model, max_tokens=40, extra_body=GREEDY, stop_sequences=["3", "zebra"],
                                messages=count) as s:
        streamed = "".join(s.text_stream)
        final = s.get_final_message()
    assert final.stop_reason == "stop_sequence"
    assert final.stop_sequence == "3"
    assert streamed == msg.content[0].text


def test_max_tokens(client, model):
    msg = client.messages.create(model=model, max_tokens=3, extra_body=GREEDY,
                                 messages=[{"role": "user", "content": "Write a long story about a dragon."}])
    assert msg.stop_reason == "max_tokens"
    assert msg.stop_sequence is None
    assert msg.usage.output_tokens == 3


def test_prefill_is_continued(client, model):
    prefill = "1, 2, 3,"
    msg = client.messages.create(model=model, max_tokens=6, extra_body=GREEDY,
                                 messages=[{"role": "user", "content": "Count from 1 to 10, separated by commas."},
                                           {"role": "assistant", "content": prefill}])
    text = msg.content[0].text
    assert not text.startswith(prefill)  # the prefill is not repeated
    assert "4" in text


@pytest.mark.parametrize("kwargs, needle", [
    ({"messages": [{"role": "assistant", "content": "hi"}]}, "role"),
    ({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}, "alternate"),
    ({"extra_body": {"temperature": 1.5}}, "temperature"),
    ({"tools": [{"name": "f", "input_schema": {"type": "object"}}]}, "tools"),
    ({"messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA=="}}]}]}, "image"),
    ({"max_tokens": 0}, "max_tokens"),
])
def test_bad_request(client, model, kwargs, needle):
    args = {"model": model, "max_tokens": 4, "messages": [{"role": "user", "content": "hi"}]}
    args.update(kwargs)
    with pytest.raises(anthropic.BadRequestError) as err:
        client.messages.create(**args)
    assert err.value.status_code == 400
    assert err.value.body["type"] == "error"
    assert err.value.body["error"]["type"] == "invalid_request_error"
    assert needle in err.value.body["error"]["message"]


def test_unknown_model_is_not_found(client):
    with pytest.raises(anthropic.NotFoundError) as err:
        client.messages.create(model="no-such-model", max_tokens=4, messages=[{"role": "user", "content": "hi"}])
    assert err.value.body["error"]["type"] == "not_found_error"


def test_api_key_through_x_api_key(hearthd, model, make_client, api_key):
    with pytest.raises(anthropic.AuthenticationError) as err:
        make_client(api_key="wrong-key").messages.create(
            model=model, max_tokens=4, messages=[{"role": "user", "content": "hi"}])
    assert err.value.body["error"]["type"] == "authentication_error"
    # The right key in x-api-key, and no Authorization header at all.
    r = httpx.post(hearthd.base_url + "/v1/messages", timeout=60,
                   headers={"x-api-key": api_key, "anthropic-version": "2023-06-01"},
                   json={"model": model, "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 200, r.text
    assert r.headers["request-id"] == r.json()["id"]


def test_message_is_a_request_like_any_other(client, hearthd, model, api_key):
    """Journalled and visible in /v1/requests as a chat request is."""
    raw = client.messages.with_raw_response.create(model=model, max_tokens=3, extra_body=GREEDY,
                                                   messages=[{"role": "user", "content": "hi"}])
    request_id = raw.headers["x-request-id"]
    msg = raw.parse()
    r = httpx.get(f"{hearthd.base_url}/v1/requests/{request_id}", timeout=10,
                  headers={"Authorization": f"Bearer {api_key}"})
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["endpoint"] == "messages"
    assert info["state"] == "finished"
    assert info["model"] == model
    assert msg.content[0].text in r.text
    # The message id names the request too.
    by_msg_id = httpx.get(f"{hearthd.base_url}/v1/requests/{msg.id}", timeout=10,
                          headers={"Authorization": f"Bearer {api_key}"})
    assert by_msg_id.status_code == 200, by_msg_id.text
    assert by_msg_id.json()["id"] == info["id"]


def test_cancelled_message_is_not_retried(hearthd, model, make_client, api_key):
    """DELETE /v1/requests/{id} on a waiting non-streamed message: the SDK gets the 499 and, though
    it may retry, does not run the request again."""
    client = make_client()
    retrying = client.with_options(max_retries=2)
    result = {}

    def ask():
        try:
            retrying.messages.create(model=model, max_tokens=400, extra_body={"temperature": 0},
                                     messages=[{"role": "user", "content": "Write a long story about a dragon."}])
        except anthropic.APIStatusError as e:
            result["error"] = e

    thread = threading.Thread(target=ask)
    thread.start()
    admin = f"http://127.0.0.1:{hearthd.admin_port}/admin/v1/requests?state=running"
    running = []
    deadline = time.monotonic() + 30
    while not running and time.monotonic() < deadline:
        running = [r for r in httpx.get(admin, timeout=10).json()["data"] if r["endpoint"] == "messages"]
        time.sleep(0.05)
    assert running, "the message never ran"
    r = httpx.delete(f"{hearthd.base_url}/v1/requests/{running[0]['id']}", timeout=10,
                     headers={"x-api-key": api_key})
    assert r.status_code == 200, r.text
    thread.join(timeout=60)
    assert "error" in result
    assert result["error"].status_code == 499
    assert result["error"].response.headers["x-should-retry"] == "false"
    assert result["error"].body["type"] == "error"
    time.sleep(0.5)
    again = [r for r in httpx.get(admin.replace("running", "queued"), timeout=10).json()["data"]]
    again += [r for r in httpx.get(admin, timeout=10).json()["data"]]
    assert not [r for r in again if r["endpoint"] == "messages"], again
