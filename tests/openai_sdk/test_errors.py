"""Errors reach the SDK as its own exception types, with OpenAI's type, param and code."""
import openai
import pytest

HELLO = [{"role": "user", "content": "hello"}]


def assert_bad_request(excinfo, param, code=None):
    e = excinfo.value
    assert type(e) is openai.BadRequestError
    assert e.status_code == 400
    assert e.type == "invalid_request_error"
    assert e.param == param
    assert e.code == code
    assert e.message
    assert e.request_id, "X-Request-Id missing"


@pytest.mark.parametrize("field, value, param", [
    ("temperature", 5, "temperature"),
    ("temperature", -0.5, "temperature"),
    ("top_p", 0, "top_p"),
    ("max_tokens", 0, "max_tokens"),
    ("max_tokens", -3, "max_tokens"),
    ("n", 0, "n"),
    ("n", 129, "n"),
    ("presence_penalty", 3, "presence_penalty"),
    ("top_logprobs", 30, "top_logprobs"),
])
def test_chat_field_out_of_range(client, model, field, value, param):
    with pytest.raises(openai.BadRequestError) as excinfo:
        client.chat.completions.create(model=model, messages=HELLO, **{"max_tokens": 4, field: value})
    assert_bad_request(excinfo, param)


def test_empty_messages(client, model):
    with pytest.raises(openai.BadRequestError) as excinfo:
        client.chat.completions.create(model=model, messages=[])
    assert_bad_request(excinfo, "messages")


def test_unknown_role(client, model):
    with pytest.raises(openai.BadRequestError) as excinfo:
        client.chat.completions.create(model=model, messages=[{"role": "wizard", "content": "hi"}])
    assert_bad_request(excinfo, "messages[0].role")


def test_wrong_type(client, model):
    with pytest.raises(openai.BadRequestError) as excinfo:
        client.chat.completions.create(model=model, messages=HELLO, extra_body={"max_tokens": "ten"})
    assert_bad_request(excinfo, "max_tokens")


def test_token_id_outside_the_vocabulary(client, model):
    with pytest.raises(openai.BadRequestError) as excinfo:
        client.completions.create(model=model, prompt=[1, 10**7], max_tokens=2)
    assert_bad_request(excinfo, "prompt")


def test_unknown_model_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as excinfo:
        client.chat.completions.create(model="no-such-model", messages=HELLO)
    e = excinfo.value
    assert e.status_code == 404
    assert e.param == "model"
    assert e.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="no-such-model", prompt="x")
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_prompt_over_the_context(client, model, hearthd):
    words = hearthd.context_length() + 100
    with pytest.raises(openai.BadRequestError) as excinfo:
        client.completions.create(model=model, prompt="hello " * words, max_tokens=4)
    assert excinfo.value.code == "context_length_exceeded"
    with pytest.raises(openai.BadRequestError) as excinfo:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi " * words}])
    assert excinfo.value.code == "context_length_exceeded"


def test_max_tokens_over_the_context(client, model, hearthd):
    with pytest.raises(openai.BadRequestError) as excinfo:
        client.chat.completions.create(model=model, messages=HELLO, max_tokens=hearthd.context_length())
    assert_bad_request(excinfo, "max_tokens", "context_length_exceeded")


def test_body_too_large(client, model):
    with pytest.raises(openai.APIStatusError) as excinfo:
        client.completions.create(model=model, prompt="x" * (10 << 20), max_tokens=1)
    e = excinfo.value
    assert e.status_code == 413
    assert e.code == "payload_too_large"


def test_streaming_request_errors_before_the_stream(client, model):
    with pytest.raises(openai.BadRequestError) as excinfo:
        client.chat.completions.create(model=model, messages=HELLO, temperature=9, stream=True)
    assert_bad_request(excinfo, "temperature")


def test_daemon_still_serves(client, model):
    r = client.chat.completions.create(model=model, messages=HELLO, max_tokens=2)
    assert r.usage.completion_tokens == 2
