"""Server-sent event streams through the official OpenAI SDK: the chunks add up to the
non-streaming answer, usage arrives last when asked for, and an abandoned stream is cancelled."""
import time

MESSAGES = [{"role": "user", "content": "Tell me about the sea in one sentence."}]
PROMPT = "Once upon a time"


def counts(usage):
    """The token counts; prompt_tokens_details.cached_tokens may differ (the second of two equal
    requests finds the first's prefix in the cache)."""
    return (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)


def test_chat_stream_matches_non_streaming(client, model):
    args = dict(model=model, messages=MESSAGES, temperature=0, max_tokens=20)
    whole = client.chat.completions.create(**args)
    chunks = list(client.chat.completions.create(**args, stream=True, stream_options={"include_usage": True}))

    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    with_choices = [c for c in chunks if c.choices]
    text = "".join(c.choices[0].delta.content or "" for c in with_choices)
    assert text == whole.choices[0].message.content

    finishes = [c.choices[0].finish_reason for c in with_choices if c.choices[0].finish_reason]
    assert finishes == [whole.choices[0].finish_reason]

    # include_usage: one last chunk with no choices and the same counts as the whole answer.
    assert chunks[-1].choices == []
    assert counts(chunks[-1].usage) == counts(whole.usage)
    assert all(c.usage is None for c in chunks[:-1])


def test_completion_stream_matches_non_streaming(client, model):
    args = dict(model=model, prompt=PROMPT, temperature=0, max_tokens=20)
    whole = client.completions.create(**args)
    chunks = list(client.completions.create(**args, stream=True, stream_options={"include_usage": True}))

    with_choices = [c for c in chunks if c.choices]
    assert "".join(c.choices[0].text for c in with_choices) == whole.choices[0].text
    finishes = [c.choices[0].finish_reason for c in with_choices if c.choices[0].finish_reason]
    assert finishes == [whole.choices[0].finish_reason]
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens == 20
    assert chunks[-1].usage.prompt_tokens == whole.usage.prompt_tokens


def test_stream_without_include_usage_has_no_usage(client, model):
    chunks = list(client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=4, stream=True))
    assert chunks and all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "length"


def test_stream_with_stop_and_seed(client, model):
    def run(**extra):
        stream = client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=24, stream=True, **extra)
        return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    assert run(temperature=1.0, seed=7) == run(temperature=1.0, seed=7)
    full = run(temperature=0)
    assert len(full) > 10, full
    stop = full[len(full) // 2:len(full) // 2 + 3]
    assert run(temperature=0, stop=stop) == full[:full.index(stop)]


def test_closed_stream_is_cancelled(client, model, hearthd):
    stream = client.completions.create(model=model, prompt=PROMPT, max_tokens=2000, stream=True)
    for i, _ in enumerate(stream):
        if i == 2:
            break
    stream.close()
    # The request stops and its KV blocks come back (checked with a generous deadline; 2000
    # tokens would take far longer than it).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        engine = hearthd.admin_status()["engine"]
        if engine["running"] == 0 and engine["kv_blocks_free"] == engine["kv_blocks_total"]:
            break
        time.sleep(0.2)
    assert engine["running"] == 0, engine
    assert engine["kv_blocks_free"] == engine["kv_blocks_total"], engine


def test_several_choices_stream_like_the_whole_answer(client, model):
    args = dict(model=model, messages=MESSAGES, temperature=1.0, seed=11, max_tokens=12, n=2)
    whole = client.chat.completions.create(**args)
    assert [c.index for c in whole.choices] == [0, 1]
    chunks = list(client.chat.completions.create(**args, stream=True, stream_options={"include_usage": True}))
    texts, finishes = {0: "", 1: ""}, {}
    for chunk in chunks:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
            if choice.finish_reason:
                finishes[choice.index] = choice.finish_reason
    assert [texts[0], texts[1]] == [c.message.content for c in whole.choices]
    assert finishes == {c.index: c.finish_reason for c in whole.choices}
    assert chunks[-1].choices == []
    assert counts(chunks[-1].usage) == counts(whole.usage)
