"""Tool calling through the official OpenAI SDK against a real hearthd with SmolLM2 (whose
template takes no tools: Hearth describes them in the system prompt). With tool_choice
"required" or a named function the grammar makes every answer a call whose arguments validate
against the function's schema; the 135M model only picks the values."""
import json
import os
import signal

import jsonschema
import openai
import pytest

WEATHER_PARAMS = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 1, "maxLength": 20},
        "unit": {"enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city", "unit"],
}
TIME_PARAMS = {"type": "object", "properties": {"timezone": {"type": "string", "maxLength": 20}},
               "required": ["timezone"]}
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "The current weather in a city",
                                      "parameters": WEATHER_PARAMS}},
    {"type": "function", "function": {"name": "get_time", "description": "The current time in a timezone",
                                      "parameters": TIME_PARAMS}},
]
SCHEMAS = {"get_weather": WEATHER_PARAMS, "get_time": TIME_PARAMS}
QUESTION = [{"role": "user", "content": "What is the weather in Paris right now?"}]
NAMED = {"type": "function", "function": {"name": "get_weather"}}


def ask(client, model, messages=QUESTION, **kwargs):
    kwargs.setdefault("temperature", 0)
    kwargs.setdefault("max_tokens", 120)
    return client.chat.completions.create(model=model, messages=messages, tools=TOOLS, **kwargs)


def check_calls(message, allowed=SCHEMAS):
    """Every call names an offered function and its arguments validate against its schema."""
    assert message.tool_calls, message
    for call in message.tool_calls:
        assert call.type == "function"
        assert call.id
        assert call.function.name in allowed, call
        jsonschema.validate(json.loads(call.function.arguments), allowed[call.function.name])


def round_trip(client, model, tool_choice, **kwargs):
    first = ask(client, model, tool_choice=tool_choice, **kwargs)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    assert choice.message.content is None
    check_calls(choice.message)
    # The call and its result go back as history: the assistant's tool_calls, then a tool
    # message per call with its tool_call_id.
    history = QUESTION + [choice.message.model_dump(exclude_none=True)]
    for call in choice.message.tool_calls:
        history.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temperature": 18})})
    final = ask(client, model, messages=history, tool_choice="none", max_tokens=40)
    answer = final.choices[0]
    assert answer.message.tool_calls is None
    assert answer.message.content, answer
    assert answer.finish_reason in ("stop", "length")
    return choice.message


def test_required_round_trip(client, model):
    round_trip(client, model, "required")


def test_named_function_round_trip(client, model):
    message = round_trip(client, model, {"type": "function", "function": {"name": "get_time"}},
                         parallel_tool_calls=False)
    assert [c.function.name for c in message.tool_calls] == ["get_time"]


def test_streamed_deltas_reassemble_into_the_non_streamed_calls(client, model):
    whole = ask(client, model, tool_choice="required").choices[0].message
    stream = ask(client, model, tool_choice="required", stream=True)
    calls = {}
    finish = None
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        for d in delta.tool_calls or []:
            if d.index not in calls:
                # The first delta of a call has its id, type and name; arguments follow.
                assert d.id and d.type == "function" and d.function.name, d
                calls[d.index] = {"name": d.function.name, "arguments": d.function.arguments or ""}
            else:
                assert d.id is None and d.function.name is None, d
                calls[d.index]["arguments"] += d.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    streamed = [calls[i] for i in sorted(calls)]
    assert streamed == [{"name": c.function.name, "arguments": c.function.arguments} for c in whole.tool_calls]


def test_parallel_calls_only_when_allowed(client, model):
    question = [{"role": "user", "content": "What is the weather in Paris, in London and in Rome?"}]
    counts = []
    for seed in range(6):
        r = ask(client, model, messages=question, tool_choice="required", temperature=1.0, seed=seed, max_tokens=200)
        check_calls(r.choices[0].message)
        counts.append(len(r.choices[0].message.tool_calls))
    assert max(counts) >= 2, counts  # the grammar lets the model write several
    for seed in range(3):
        r = ask(client, model, messages=question, tool_choice=NAMED, parallel_tool_calls=False, temperature=1.0,
                seed=seed, max_tokens=200)
        check_calls(r.choices[0].message)
        assert len(r.choices[0].message.tool_calls) == 1


def test_auto_and_none_answer_well_formed(client, model):
    for seed in range(3):
        r = ask(client, model, tool_choice="auto", temperature=1.0, seed=seed, max_tokens=60).choices[0]
        # Whatever the model wrote: calls that parse, or plain content, never an error.
        if r.message.tool_calls:
            assert r.finish_reason == "tool_calls"
            for call in r.message.tool_calls:
                assert isinstance(json.loads(call.function.arguments), (dict, str))
        else:
            assert r.message.content is not None
    r = ask(client, model, tool_choice="none", max_tokens=30).choices[0]
    assert r.message.tool_calls is None and r.message.content


@pytest.mark.parametrize("kwargs,param", [
    ({"tools": [{"type": "function", "function": {"description": "no name"}}]}, "tools[0].function.name"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "array"}}}]},
     "tools[0].function.parameters"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"d": {"type": "string", "pattern": "^a"}}}}}], "tool_choice": "required"},
     "tools[0].function.parameters"),
    ({"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "launch_rocket"}}}, "tool_choice"),
    ({"tools": TOOLS, "tool_choice": "always"}, "tool_choice"),
    ({"tool_choice": "required"}, "tool_choice"),
    ({"tools": TOOLS, "messages": QUESTION + [{"role": "tool", "content": "18"}]}, "messages[1].tool_call_id"),
])
def test_bad_tools_are_a_400_naming_the_field(client, model, kwargs, param):
    kwargs.setdefault("messages", QUESTION)
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=model, max_tokens=5, **kwargs)
    assert e.value.body["param"] == param, e.value.body
    assert e.value.body["type"] == "invalid_request_error"


def test_a_forced_call_resumes_its_grammar_after_the_worker_is_killed(client, model, hearthd):
    question = [{"role": "user", "content": "Weather in Paris, London, Rome, Oslo, Madrid and Berlin?"}]
    kwargs = {"messages": question, "tool_choice": "required", "temperature": 1.0, "seed": 5, "max_tokens": 300}
    reference = ask(client, model, **kwargs).choices[0].message
    check_calls(reference)
    fragments = 0
    calls = {}
    killed = False
    for chunk in ask(client, model, stream=True, **kwargs):
        for d in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            calls.setdefault(d.index, {"name": d.function.name, "arguments": ""})
            calls[d.index]["arguments"] += d.function.arguments or ""
            fragments += 1
            if fragments == 6 and not killed:
                os.kill(hearthd.admin_status()["workers"][0]["pid"], signal.SIGKILL)
                killed = True
    assert killed
    assert [calls[i] for i in sorted(calls)] == [
        {"name": c.function.name, "arguments": c.function.arguments} for c in reference.tool_calls]
