"""What a client learns besides the completion: the context length in /v1/models, cached prompt
tokens in usage, and POST /tokenize and /detokenize (vLLM's shapes)."""
import uuid

import httpx
import pytest


def post(hearthd, path, body):
    return httpx.post(hearthd.base_url + path, json=body, timeout=60)


def test_models_give_the_context_length(client, model, hearthd):
    context = hearthd.context_length()
    assert context > 0
    listed = {m.id: m for m in client.models.list().data}
    assert listed[model].model_extra["max_model_len"] == context
    assert client.models.retrieve(model).model_extra["max_model_len"] == context


def test_cached_tokens_count_the_prefix_cache_hit(client, model):
    # A prompt no other test sends, long enough to fill several KV blocks.
    prompt = f"Note {uuid.uuid4()}: " + " ".join(f"item {i} is {i * 7 % 13}." for i in range(60))
    first = client.completions.create(model=model, prompt=prompt, max_tokens=2, temperature=0)
    second = client.completions.create(model=model, prompt=prompt, max_tokens=2, temperature=0)
    assert first.usage.prompt_tokens == second.usage.prompt_tokens > 200
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    cached = second.usage.prompt_tokens_details.cached_tokens
    assert 0 < cached <= second.usage.prompt_tokens, second.usage
    # Streamed usage carries it too.
    stream = client.completions.create(model=model, prompt=prompt, max_tokens=2, temperature=0, stream=True,
                                       stream_options={"include_usage": True})
    usage = [c.usage for c in stream if c.usage][-1]
    assert usage.prompt_tokens_details.cached_tokens == cached


def test_tokenize_counts_what_generation_runs(client, model, hearthd):
    prompt = "The capital of France is"
    r = post(hearthd, "/tokenize", {"model": model, "prompt": prompt})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == len(body["tokens"])
    assert body["max_model_len"] == hearthd.context_length()
    done = client.completions.create(model=model, prompt=prompt, max_tokens=1)
    assert done.usage.prompt_tokens == body["count"]

    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}]
    r = post(hearthd, "/tokenize", {"model": model, "messages": messages})
    assert r.status_code == 200, r.text
    chat = client.chat.completions.create(model=model, messages=messages, max_tokens=1)
    assert chat.usage.prompt_tokens == r.json()["count"]


def test_detokenize_gives_the_text_back(model, hearthd):
    text = "Hearth serves café au lait, 42 times."
    tokens = post(hearthd, "/tokenize", {"model": model, "prompt": text, "add_special_tokens": False}).json()["tokens"]
    r = post(hearthd, "/detokenize", {"model": model, "tokens": tokens})
    assert r.status_code == 200, r.text
    assert r.json() == {"prompt": text}


@pytest.mark.parametrize("path,body,param", [
    ("/detokenize", {"tokens": [1, 10 ** 9]}, "tokens"),
    ("/detokenize", {"tokens": [-1]}, "tokens"),
    ("/detokenize", {"tokens": "1 2"}, "tokens"),
    ("/detokenize", {"tokens": [1] * 70000}, "tokens"),
    ("/tokenize", {"prompt": "hello " * 70000}, "prompt"),
    ("/tokenize", {}, "prompt"),
    ("/tokenize", {"prompt": ["a"]}, "prompt"),
    ("/tokenize", {"prompt": "a", "messages": [{"role": "user", "content": "b"}]}, "prompt"),
    ("/tokenize", {"messages": [{"role": "robot", "content": "b"}]}, "messages[0].role"),
    ("/tokenize", {"prompt": "a", "bogus": 1}, "bogus"),
])
def test_bad_input_is_a_400_naming_the_field(model, hearthd, path, body, param):
    r = post(hearthd, path, {"model": model, **body})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param


def test_unknown_model_is_a_404(hearthd):
    r = post(hearthd, "/tokenize", {"model": "gpt-17", "prompt": "x"})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "model_not_found"
