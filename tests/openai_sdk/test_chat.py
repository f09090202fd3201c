"""Chat completions through the official OpenAI SDK: shape, usage, seeds, stop strings, logprobs."""
import pytest

QUESTION = [{"role": "user", "content": "Name three colors of the rainbow."}]


def chat(client, model, **kwargs):
    kwargs.setdefault("messages", QUESTION)
    kwargs.setdefault("max_tokens", 24)
    return client.chat.completions.create(model=model, **kwargs)


def test_chat_completion_shape_and_usage(client, model):
    r = chat(client, model, temperature=0)
    assert r.object == "chat.completion"
    assert r.id.startswith("chatcmpl-")
    assert r.model == model
    assert r._request_id, "X-Request-Id missing"
    assert len(r.choices) == 1
    choice = r.choices[0]
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str) and choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    assert r.usage.prompt_tokens > len("Name three colors of the rainbow.".split())
    assert 1 <= r.usage.completion_tokens <= 24
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_max_tokens_ends_with_length(client, model):
    messages = [{"role": "user", "content": "Write a long story about a dragon."}]
    r = chat(client, model, messages=messages, temperature=0, max_tokens=5)
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 5


def test_max_completion_tokens_is_honoured(client, model):
    messages = [{"role": "user", "content": "Write a long story about a dragon."}]
    r = client.chat.completions.create(model=model, messages=messages, temperature=0, max_completion_tokens=4)
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 4


def test_longer_conversation_counts_more_prompt_tokens(client, model):
    short = chat(client, model, temperature=0, max_tokens=1)
    longer = chat(client, model, temperature=0, max_tokens=1, messages=[
        {"role": "system", "content": "You are a terse assistant."},
        {"role": "user", "content": "Hi."},
        {"role": "assistant", "content": "Hello."},
        *QUESTION,
    ])
    assert longer.usage.prompt_tokens > short.usage.prompt_tokens


def test_greedy_is_deterministic(client, model):
    a = chat(client, model, temperature=0)
    b = chat(client, model, temperature=0)
    assert a.choices[0].message.content == b.choices[0].message.content


def test_same_seed_gives_same_text(client, model):
    texts = [chat(client, model, temperature=1.0, seed=1234).choices[0].message.content for _ in range(2)]
    assert texts[0] == texts[1]


def test_seed_changes_the_sample(client, model):
    # Guards the test above: if the seed were ignored and sampling greedy, every text would match.
    texts = {chat(client, model, temperature=1.0, seed=s).choices[0].message.content for s in (1, 2, 3, 4)}
    assert len(texts) > 1


def test_stop_string_cuts_the_text(client, model):
    full = chat(client, model, temperature=0, max_tokens=32).choices[0].message.content
    assert len(full) > 12, full
    stop = full[len(full) // 2:len(full) // 2 + 3]
    r = chat(client, model, temperature=0, max_tokens=32, stop=[stop])
    assert r.choices[0].message.content == full[:full.index(stop)]
    assert r.choices[0].finish_reason == "stop"


def test_logprobs(client, model):
    r = chat(client, model, temperature=0, max_tokens=8, logprobs=True, top_logprobs=3)
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens
    for entry in content:
        assert entry.logprob <= 0
        assert len(entry.top_logprobs) == 3
        top = [t.logprob for t in entry.top_logprobs]
        assert top == sorted(top, reverse=True)
        # Greedy decoding picks the most likely token.
        assert entry.top_logprobs[0].token == entry.token
        assert entry.top_logprobs[0].logprob == pytest.approx(entry.logprob, abs=1e-4)
    text = b"".join(bytes(e.bytes) for e in content).decode()
    assert text == r.choices[0].message.content


def test_no_logprobs_unless_asked(client, model):
    r = chat(client, model, temperature=0, max_tokens=2)
    assert r.choices[0].logprobs is None


def test_models(client, model):
    assert model in [m.id for m in client.models.list().data]
    m = client.models.retrieve(model)
    assert m.id == model and m.object == "model"
