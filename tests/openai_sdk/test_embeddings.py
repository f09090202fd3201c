"""POST /v1/embeddings through the official SDK: shapes, unit norm, the same vector alone and in a
batch (with other embeddings and beside a generation), base64 equal to the floats, the pooling
choice, 400s for bad input, and the requests counted in /metrics. (That similar sentences land
closer than unrelated ones is not asserted: SmolLM2-135M is a chat model, not an embedder.)"""
import base64
import math
import os
import re
import signal
import struct
import threading
import time

import httpx
import openai
import pytest

WIDTH = 576  # SmolLM2-135M's hidden size
INPUTS = [
    "The capital of France is Paris.",
    "Hearth batches embedding requests with generation.",
    "a",
    # Long enough to be cut into chunks beside a generation (whose decodes keep the step to the
    # token budget).
    " ".join(f"Sentence {i} talks about item {i * 7 % 13}." for i in range(40)),
]


def post(hearthd, body):
    return httpx.post(hearthd.base_url + "/v1/embeddings", json=body, timeout=120)


def norm(v):
    return math.sqrt(sum(x * x for x in v))


def embed(client, model, inputs, **kw):
    return client.embeddings.create(model=model, input=inputs, encoding_format="float", **kw)


def metric(hearthd, name, labels):
    text = httpx.get(hearthd.base_url + "/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        m = re.match(rf"{name}(\{{[^}}]*\}})? ([0-9.e+-]+)$", line)
        if m and all(f'{k}="{v}"' in (m.group(1) or "") for k, v in labels.items()):
            total += float(m.group(2))
    return total


@pytest.fixture(scope="module")
def alone(client, model):
    """Each input's vector, embedded on its own."""
    return [embed(client, model, text).data[0].embedding for text in INPUTS]


def test_a_batch_has_the_shape_unit_norm_and_the_vectors_of_each_input_alone(client, model, hearthd, alone):
    r = embed(client, model, INPUTS)
    assert r.object == "list" and r.model == model
    assert [d.index for d in r.data] == list(range(len(INPUTS)))
    for d, want in zip(r.data, alone):
        assert d.object == "embedding"
        assert len(d.embedding) == WIDTH
        assert abs(norm(d.embedding) - 1.0) < 1e-5
        assert d.embedding == want  # bit for bit: batch-invariant
    counts = [httpx.post(hearthd.base_url + "/tokenize", json={"model": model, "prompt": t}).json()["count"]
              for t in INPUTS]
    assert r.usage.prompt_tokens == r.usage.total_tokens == sum(counts)
    assert counts[3] > 300


def test_the_same_vector_beside_a_generation(client, model, alone):
    done = threading.Event()

    def generate():
        client.completions.create(model=model, prompt="Count to fifty:", max_tokens=120, temperature=0,
                                  extra_body={"ignore_eos": True})
        done.set()

    t = threading.Thread(target=generate)
    t.start()
    try:
        vectors = [embed(client, model, INPUTS[i]).data[0].embedding for i in (3, 0)]
    finally:
        t.join(timeout=300)
    assert done.is_set()
    assert vectors == [alone[3], alone[0]]


def test_base64_decodes_to_the_floats(client, model, hearthd, alone):
    r = post(hearthd, {"model": model, "input": INPUTS[:2], "encoding_format": "base64"})
    assert r.status_code == 200, r.text
    for d, want in zip(r.json()["data"], alone):
        raw = base64.b64decode(d["embedding"])
        assert len(raw) == 4 * WIDTH
        assert list(struct.unpack(f"<{WIDTH}f", raw)) == want
    # The SDK asks for base64 by default and decodes it itself.
    sdk = client.embeddings.create(model=model, input=INPUTS[0])
    assert sdk.data[0].embedding == alone[0]


def test_token_ids_and_text_give_one_vector(client, model, hearthd, alone):
    ids = httpx.post(hearthd.base_url + "/tokenize", json={"model": model, "prompt": INPUTS[0]}).json()["tokens"]
    assert embed(client, model, ids).data[0].embedding == alone[0]
    both = embed(client, model, [ids, ids[:3]])
    assert both.data[0].embedding == alone[0]
    assert len(both.data[1].embedding) == WIDTH


def test_pooling_and_dimensions(client, model, alone):
    last = embed(client, model, INPUTS[0], extra_body={"pooling": "last"}).data[0].embedding
    assert abs(norm(last) - 1.0) < 1e-5
    assert last != alone[0]
    assert embed(client, model, INPUTS[0], extra_body={"pooling": "mean"}).data[0].embedding == alone[0]
    assert embed(client, model, INPUTS[0], dimensions=WIDTH).data[0].embedding == alone[0]


@pytest.mark.parametrize("body,param", [
    ({"input": ""}, "input"),
    ({"input": []}, "input"),
    ({"input": ["ok", ""]}, "input"),
    ({"input": [[]]}, "input"),
    ({"input": [-1]}, "input"),
    ({"input": [10 ** 6]}, "input"),  # outside the vocabulary
    ({"input": ["x"] * 2049}, "input"),
    ({"input": "x", "dimensions": 8}, "dimensions"),
    ({"input": "x", "encoding_format": "int8"}, "encoding_format"),
    ({"input": "x", "pooling": "cls"}, "pooling"),
    ({"input": "x", "temperature": 0.5}, "temperature"),
])
def test_bad_input_is_a_400_naming_the_field(client, model, body, param):
    extra = {k: v for k, v in body.items() if k != "input"}
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model=model, input=body["input"], extra_body=extra)
    assert e.value.status_code == 400
    assert e.value.body["param"] == param, e.value.body


def test_longer_than_the_context_and_unknown_model(client, model, hearthd):
    too_long = [5] * (hearthd.context_length() + 1)
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model=model, input=too_long)
    assert e.value.body["code"] == "context_length_exceeded", e.value.body
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="no-such-model", input="x")


def test_a_worker_killed_mid_embedding_runs_it_again(client, model, hearthd):
    """Nothing is journaled for an embedding: when its worker dies, the engine runs it again on
    the new worker and the client gets the same vector, late, not an error."""
    text = " ".join(f"Line {i} of a long document about topic {i % 17}." for i in range(40))
    want = embed(client, model, text).data[0].embedding
    result = {}

    def run():
        try:
            result["r"] = embed(client, model, text)
        except Exception as e:  # noqa: BLE001 - reported below
            result["e"] = e

    t = threading.Thread(target=run)
    t.start()
    deadline = time.monotonic() + 60
    while hearthd.admin_status()["engine"]["running"] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    pid = hearthd.admin_status()["workers"][0]["pid"]
    os.kill(pid, signal.SIGKILL)
    t.join(timeout=300)
    assert "e" not in result, result.get("e")
    assert result["r"].data[0].embedding == want
    assert hearthd.admin_status()["workers"][0]["pid"] != pid
    # It was in flight when the worker died: the engine recomputed it on the new one.
    assert re.search(r"worker replaced; recomputing[^\n]*requests=[1-9]", hearthd.log()), hearthd.log()[-3000:]


def test_metrics_count_the_requests(client, model, hearthd):
    labels = {"model": model, "status": "ok"}
    before = metric(hearthd, "hearth_requests_total", labels)
    tokens_before = metric(hearthd, "hearth_prompt_tokens_total", {"model": model})
    r = embed(client, model, INPUTS[:3])
    assert metric(hearthd, "hearth_requests_total", labels) == before + 3
    assert metric(hearthd, "hearth_prompt_tokens_total", {"model": model}) == tokens_before + r.usage.prompt_tokens
