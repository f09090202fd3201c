"""Structured output through the official OpenAI SDK: response_format json_schema and
json_object, Hearth's grammar field, and the 400s for schemas and grammars it cannot run. The
135M test model is weak; the grammar is what makes every answer valid."""
import json
import os
import signal
from concurrent.futures import ThreadPoolExecutor

import jsonschema
import openai
import pytest

# Nested objects, arrays, enums and numbers; strings and arrays bounded so that every answer
# ends well within max_tokens.
PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 12},
        "age": {"type": "integer"},
        "role": {"enum": ["admin", "editor", "viewer"]},
        "tags": {"type": "array", "items": {"enum": ["red", "green", "blue"]}, "minItems": 1, "maxItems": 3},
        "address": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "maxLength": 12},
                "zip": {"type": "integer"},
                "geo": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
            },
            "required": ["city", "zip", "geo"],
            "additionalProperties": False,
        },
        "active": {"type": "boolean"},
        "manager": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/ref"}]},
    },
    "required": ["name", "age", "role", "tags", "address", "active", "manager"],
    "additionalProperties": False,
    "$defs": {"ref": {"type": "object", "properties": {"id": {"type": "integer"}}, "required": ["id"]}},
}
FORMAT = {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}}
MESSAGES = [{"role": "user", "content": "Describe a person as JSON."}]


def person(client, model, seed, **kwargs):
    return client.chat.completions.create(model=model, messages=MESSAGES, response_format=FORMAT, seed=seed,
                                          temperature=1.0, max_tokens=400, **kwargs)


def test_json_schema_answers_validate_for_20_seeded_requests(client, model):
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda seed: person(client, model, seed), range(20)))
    texts = set()
    for seed, r in enumerate(answers):
        choice = r.choices[0]
        assert choice.finish_reason == "stop", (seed, choice)
        doc = json.loads(choice.message.content)
        jsonschema.validate(doc, PERSON)
        texts.add(choice.message.content)
    assert len(texts) > 10, "seeded samples, not one forced text"


YES_NO = {"type": "object", "properties": {"answer": {"enum": ["yes", "no"]}, "sure": {"type": "number"}},
          "required": ["answer", "sure"]}
YES_NO_FORMAT = {"type": "json_schema", "json_schema": {"name": "a", "schema": YES_NO}}


def test_a_seeded_constrained_answer_is_the_same_alone_and_in_a_batch(client, model):
    def ask(seed):
        return client.chat.completions.create(model=model, messages=MESSAGES, response_format=YES_NO_FORMAT,
                                              seed=seed, max_tokens=60).choices[0].message.content
    alone = ask(7)
    with ThreadPoolExecutor(max_workers=5) as pool:
        batch = list(pool.map(ask, [7, 1, 2, 3, 7]))
    assert batch[0] == alone and batch[-1] == alone
    jsonschema.validate(json.loads(alone), YES_NO)


def test_json_schema_on_completions_and_streamed(client, model):
    schema, fmt = YES_NO, YES_NO_FORMAT
    r = client.completions.create(model=model, prompt="Is the sky blue?", max_tokens=40, temperature=0,
                                  extra_body={"response_format": fmt})
    jsonschema.validate(json.loads(r.choices[0].text), schema)
    stream = client.chat.completions.create(model=model, messages=MESSAGES, response_format=fmt, max_tokens=40,
                                            temperature=0, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    jsonschema.validate(json.loads(text), schema)


def test_json_object_is_parseable_json(client, model):
    for seed in range(3):
        r = client.chat.completions.create(
            model=model, temperature=0.7, seed=seed, max_tokens=200, response_format={"type": "json_object"},
            messages=[{"role": "user", "content": "Give the name and age of a person called Bob, aged 30, as JSON."}])
        assert r.choices[0].finish_reason == "stop", r
        assert isinstance(json.loads(r.choices[0].message.content), dict)


def test_grammar_field_constrains_the_text(client, model):
    r = client.completions.create(model=model, prompt="Answer yes or no: is fire cold?", max_tokens=10,
                                  temperature=1.0, seed=3, extra_body={"grammar": 'root ::= " "? ("yes" | "no")'})
    assert r.choices[0].text.strip() in ("yes", "no"), r.choices[0].text
    assert r.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("body,param,words", [
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {
        "type": "object", "properties": {"d": {"type": "string", "pattern": "^a"}}}}}},
     "response_format", "keyword 'pattern' is not supported"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "strng"}}}},
     "response_format", "unknown type 'strng'"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {
        "$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/a"}}}}}},
     "response_format", "left-recursive"),
    ({"response_format": {"type": "yaml"}}, "response_format", "'yaml' is not supported"),
    ({"grammar": "root ::= (\"a\""}, "grammar", "expected ')'"),
])
def test_bad_schema_or_grammar_is_a_400(client, model, body, param, words):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=5, extra_body=body)
    assert e.value.body["param"] == param
    assert words in e.value.body["message"], e.value.body["message"]


def test_a_constrained_stream_resumes_its_grammar_after_the_worker_is_killed(client, model, hearthd):
    reference = person(client, model, 11).choices[0].message.content
    stream = person(client, model, 11, stream=True)
    parts = []
    killed = False
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
        if len(parts) == 12 and not killed:
            os.kill(hearthd.admin_status()["workers"][0]["pid"], signal.SIGKILL)
            killed = True
    assert killed
    assert "".join(parts) == reference
    jsonschema.validate(json.loads(reference), PERSON)
