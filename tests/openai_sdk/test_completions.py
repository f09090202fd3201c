"""Text completions (/v1/completions) through the official OpenAI SDK."""
import pytest

PROMPT = "The capital of France is"


def complete(client, model, **kwargs):
    kwargs.setdefault("prompt", PROMPT)
    kwargs.setdefault("max_tokens", 16)
    return client.completions.create(model=model, **kwargs)


def test_completion_shape_and_usage(client, model):
    r = complete(client, model, temperature=0)
    assert r.object == "text_completion"
    assert r.id.startswith("cmpl-")
    assert r.model == model
    assert len(r.choices) == 1
    assert isinstance(r.choices[0].text, str) and r.choices[0].text.strip()
    assert r.choices[0].finish_reason in ("stop", "length")
    assert r.usage.prompt_tokens >= 5
    assert 1 <= r.usage.completion_tokens <= 16
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_token_prompt_counts_exactly(client, model):
    ids = [504, 3575, 282, 4649, 314]
    r = complete(client, model, prompt=ids, temperature=0, max_tokens=3)
    assert r.usage.prompt_tokens == len(ids)
    assert r.usage.completion_tokens == 3
    assert r.choices[0].finish_reason == "length"


def test_same_seed_gives_same_text(client, model):
    texts = [complete(client, model, temperature=0.8, seed=99).choices[0].text for _ in range(2)]
    assert texts[0] == texts[1]
    others = {complete(client, model, temperature=0.8, seed=s).choices[0].text for s in (5, 6, 7, 8)}
    assert len(others | {texts[0]}) > 1, "the seed makes no difference"


def test_stop_strings(client, model):
    full = complete(client, model, temperature=0, max_tokens=32).choices[0].text
    assert len(full) > 12, full
    stop = full[len(full) // 2:len(full) // 2 + 2]
    r = complete(client, model, temperature=0, max_tokens=32, stop=["@@never@@", stop])
    assert r.choices[0].text == full[:full.index(stop)]
    assert r.choices[0].finish_reason == "stop"


def test_logprobs(client, model):
    r = complete(client, model, temperature=0, max_tokens=6, logprobs=2)
    lp = r.choices[0].logprobs
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset) == 6
    assert "".join(lp.tokens) == r.choices[0].text
    assert lp.text_offset == sorted(lp.text_offset)
    for token, logprob, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs):
        assert logprob <= 0
        assert len(top) == 2
        best = max(top, key=top.get)
        assert best == token
        assert top[best] == pytest.approx(logprob, abs=1e-4)
