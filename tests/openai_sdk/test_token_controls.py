"""logit_bias, min_tokens, ignore_eos and stop_token_ids through the official OpenAI SDK (the
vLLM extensions via extra_body), and fields Hearth does not implement refused by name."""
import httpx
import openai
import pytest

PROMPT = "The capital of France is"


def tokenize(hearthd, model, text):
    r = httpx.post(hearthd.base_url + "/tokenize",
                   json={"model": model, "prompt": text, "add_special_tokens": False}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["tokens"]


def greedy(client, model, **kwargs):
    kwargs.setdefault("prompt", PROMPT)
    kwargs.setdefault("max_tokens", 1)
    return client.completions.create(model=model, temperature=0, **kwargs)


def test_logit_bias_minus_100_removes_the_greedy_token(client, model, hearthd):
    first = greedy(client, model).choices[0].text
    assert first == " Paris", first  # what the test is about: the model's own choice
    [paris] = tokenize(hearthd, model, " Paris")
    banned = greedy(client, model, logit_bias={str(paris): -100}, max_tokens=8).choices[0].text
    assert not banned.startswith(" Paris"), banned
    # The same through chat, and +100 forces a token the model would not pick.
    chat = client.chat.completions.create(
        model=model, temperature=0, max_tokens=3, logit_bias={str(paris): 100},
        messages=[{"role": "user", "content": "Name a color."}])
    assert chat.choices[0].message.content == " Paris" * 3


def test_logit_bias_token_outside_the_vocabulary_is_a_400_naming_it(client, model):
    with pytest.raises(openai.BadRequestError) as e:
        greedy(client, model, logit_bias={"999999999": -100})
    assert e.value.body["param"] == "logit_bias"
    assert "vocabulary" in e.value.body["message"]


def end_of_answer(client, model):
    """A chat answer that ends by itself: its length in tokens."""
    r = client.chat.completions.create(model=model, temperature=0, max_tokens=64,
                                       messages=[{"role": "user", "content": "Say just: yes"}])
    assert r.choices[0].finish_reason == "stop", r
    return r.usage.completion_tokens


def test_min_tokens_holds_off_the_end(client, model):
    natural = end_of_answer(client, model)
    r = client.chat.completions.create(model=model, temperature=0, max_tokens=64,
                                       messages=[{"role": "user", "content": "Say just: yes"}],
                                       extra_body={"min_tokens": natural + 6})
    assert r.usage.completion_tokens >= natural + 6, r


def test_ignore_eos_runs_to_max_tokens(client, model):
    natural = end_of_answer(client, model)
    r = client.chat.completions.create(model=model, temperature=0, max_tokens=natural + 10,
                                       messages=[{"role": "user", "content": "Say just: yes"}],
                                       extra_body={"ignore_eos": True})
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == natural + 10


def test_stop_token_ids_end_with_stop(client, model, hearthd):
    full = greedy(client, model, max_tokens=12).choices[0].text
    ids = tokenize(hearthd, model, full)
    stop_id = ids[3]
    r = greedy(client, model, max_tokens=12, extra_body={"stop_token_ids": [stop_id]})
    assert r.choices[0].finish_reason == "stop"
    assert full.startswith(r.choices[0].text)
    assert len(r.choices[0].text) < len(full)
    assert stop_id not in tokenize(hearthd, model, r.choices[0].text)


def test_more_than_four_stop_strings_work(client, model):
    full = greedy(client, model, max_tokens=24).choices[0].text
    stop = full[len(full) // 2:len(full) // 2 + 2]
    stops = [f"@@never{i}@@" for i in range(40)] + [stop]
    r = greedy(client, model, max_tokens=24, stop=stops)
    assert r.choices[0].text == full[:full.index(stop)]
    assert r.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("extra,param", [
    ({"suffix": "and so on"}, "suffix"),
    ({"echo": True}, "echo"),
    ({"best_of": 2}, "best_of"),
    ({"guided_json": {"type": "object"}}, "guided_json"),
    ({"guided_grammar": "root ::= \"a\""}, "guided_grammar"),
    ({"not_a_field": 1}, "not_a_field"),
    ({"min_tokens": 5, "max_tokens": 4}, "min_tokens"),
])
def test_what_is_not_implemented_is_refused_by_name(client, model, extra, param):
    with pytest.raises(openai.BadRequestError) as e:
        client.completions.create(model=model, prompt=PROMPT, max_tokens=4, extra_body=extra)
    assert e.value.body["param"] == param, e.value.body
