"""The malformed requests: each is (name, method, path, body bytes). Every one must get a 4xx
with OpenAI's error body, never a 5xx, a crash or a hang."""
import json

CHAT = "/v1/chat/completions"
COMPLETIONS = "/v1/completions"
MODEL = "smollm2"
USER = [{"role": "user", "content": "hello"}]


def chat(**fields):
    return json.dumps({"model": MODEL, "messages": USER, **fields}).encode()


def completion(**fields):
    return json.dumps({"model": MODEL, "prompt": "hello", **fields}).encode()


def raw(text):
    return text.encode() if isinstance(text, str) else text


def cases(context_length):
    """The suite; `context_length` sizes the prompts that must not fit."""
    too_long = "hello " * (context_length + 64)
    big = 10 << 20  # 10 MiB, over the 8 MiB limit
    c = [
        # Not a JSON object.
        ("empty body", CHAT, b""),
        ("null", CHAT, b"null"),
        ("array", CHAT, b"[]"),
        ("number", CHAT, b"42"),
        ("string", CHAT, b'"hello"'),
        ("boolean", COMPLETIONS, b"true"),
        ("not json", CHAT, b"hello there"),
        ("truncated", CHAT, b'{"model": "smollm2", "messages": [{"role"'),
        ("trailing garbage", CHAT, chat() + b" }{"),
        ("NaN literal", CHAT, raw('{"model":"smollm2","messages":[{"role":"user","content":"x"}],"temperature":NaN}')),
        ("number overflow", CHAT, raw('{"model":"smollm2","messages":[{"role":"user","content":"x"}],"temperature":1e400}')),
        ("deep nesting", CHAT, b"[" * 200000 + b"]" * 200000),
        ("deep nesting in messages", CHAT, b'{"model":"smollm2","messages":' + b"[" * 200000 + b"]" * 200000 + b"}"),
        # Not UTF-8.
        ("invalid utf-8 in content", CHAT, b'{"model":"smollm2","messages":[{"role":"user","content":"\xff\xfe"}]}'),
        ("overlong utf-8", COMPLETIONS, b'{"model":"smollm2","prompt":"\xc0\xaf"}'),
        ("truncated utf-8", COMPLETIONS, b'{"model":"smollm2","prompt":"caf\xc3"}'),
        ("invalid utf-8 in a key", CHAT, b'{"model":"smollm2","\xff":1,"messages":[{"role":"user","content":"x"}]}'),
        ("lone surrogate escape", CHAT, raw('{"model":"smollm2","messages":[{"role":"user","content":"\\ud800"}]}')),
        ("lone low surrogate escape", CHAT, raw('{"model":"smollm2","messages":[{"role":"user","content":"\\udc00"}]}')),
        ("lone low surrogate in the model", CHAT, raw('{"model":"\\udc00","messages":[{"role":"user","content":"x"}]}')),
        # The model.
        ("no model", CHAT, json.dumps({"messages": USER}).encode()),
        ("model is a number", CHAT, chat(model=7)),
        ("unknown model", CHAT, chat(model="gpt-17")),
        ("empty model name", COMPLETIONS, completion(model="")),
        # Messages.
        ("no messages", CHAT, json.dumps({"model": MODEL}).encode()),
        ("messages is a string", CHAT, chat(messages="hello")),
        ("empty messages", CHAT, chat(messages=[])),
        ("message is a string", CHAT, chat(messages=["hello"])),
        ("message without role", CHAT, chat(messages=[{"content": "hi"}])),
        ("unknown role", CHAT, chat(messages=[{"role": "wizard", "content": "hi"}])),
        ("role is a number", CHAT, chat(messages=[{"role": 1, "content": "hi"}])),
        ("content is a number", CHAT, chat(messages=[{"role": "user", "content": 5}])),
        ("image content part", CHAT, chat(messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "http://x/y.png"}}]}])),
        ("tool message without tool_call_id", CHAT, chat(messages=USER + [{"role": "tool", "content": "x"}])),
        ("tool_calls not an array", CHAT, chat(messages=USER + [{"role": "assistant", "tool_calls": {"id": "1"}}])),
        ("tool call without a function", CHAT, chat(messages=USER + [
            {"role": "assistant", "tool_calls": [{"id": "1", "type": "function"}]}])),
        ("prompt over the context (chat)", CHAT, chat(messages=[{"role": "user", "content": too_long}])),
        # Prompt.
        ("no prompt", COMPLETIONS, json.dumps({"model": MODEL}).encode()),
        ("prompt is a number", COMPLETIONS, completion(prompt=3)),
        ("token id outside the vocabulary", COMPLETIONS, completion(prompt=[1, 2, 10**8])),
        ("negative token id", COMPLETIONS, completion(prompt=[1, -2])),
        ("empty token prompt", COMPLETIONS, completion(prompt=[])),
        ("prompt over the context (completions)", COMPLETIONS, completion(prompt=too_long)),
        ("token prompt over the context", COMPLETIONS, completion(prompt=[42] * (context_length + 1))),
        # max_tokens.
        ("negative max_tokens", CHAT, chat(max_tokens=-1)),
        ("zero max_tokens", CHAT, chat(max_tokens=0)),
        ("huge max_tokens", CHAT, chat(max_tokens=10**12)),
        ("max_tokens past int32", COMPLETIONS, completion(max_tokens=2**31)),
        ("max_tokens over the context", CHAT, chat(max_tokens=context_length)),
        ("max_tokens is a string", CHAT, chat(max_tokens="ten")),
        ("max_tokens is fractional", COMPLETIONS, completion(max_tokens=1.5)),
        ("negative max_completion_tokens", CHAT, chat(max_completion_tokens=-5)),
        # Sampling.
        ("temperature is a string", CHAT, chat(temperature="hot")),
        ("temperature too high", CHAT, chat(temperature=3)),
        ("negative temperature", COMPLETIONS, completion(temperature=-1)),
        ("top_p above 1", CHAT, chat(top_p=2)),
        ("top_k below -1", CHAT, chat(top_k=-5)),
        ("min_p above 1", CHAT, chat(min_p=1.5)),
        ("presence_penalty out of range", CHAT, chat(presence_penalty=-3)),
        ("frequency_penalty out of range", COMPLETIONS, completion(frequency_penalty=9)),
        ("seed is a string", CHAT, chat(seed="abc")),
        ("seed past 64 bits", CHAT, chat(seed=2**70)),
        ("n is 0", CHAT, chat(n=0)),
        ("n above 128", COMPLETIONS, completion(n=129)),
        # Stop strings.
        ("65 stop strings", CHAT, chat(stop=[f"s{i}" for i in range(65)])),
        ("a 257-byte stop string", COMPLETIONS, completion(stop=["x" * 257])),
        ("empty stop string", CHAT, chat(stop=[""])),
        ("stop is a number", COMPLETIONS, completion(stop=5)),
        # Streaming and logprobs.
        ("stream is a string", CHAT, chat(stream="yes")),
        ("stream_options without stream", CHAT, chat(stream_options={"include_usage": True})),
        ("top_logprobs without logprobs", CHAT, chat(top_logprobs=2)),
        ("top_logprobs too many", CHAT, chat(logprobs=True, top_logprobs=50)),
        ("completion logprobs too many", COMPLETIONS, completion(logprobs=10)),
        # Token-level controls.
        ("logit_bias token outside the vocabulary", CHAT, chat(logit_bias={"99999999": -100})),
        ("logit_bias key not a token id", COMPLETIONS, completion(logit_bias={"Paris": -100})),
        ("logit_bias value out of range", CHAT, chat(logit_bias={"7042": -101})),
        ("logit_bias with 301 entries", COMPLETIONS, completion(logit_bias={str(i): 1 for i in range(301)})),
        ("stop_token_ids outside the vocabulary", COMPLETIONS, completion(stop_token_ids=[2**31 - 1])),
        ("stop_token_ids negative", CHAT, chat(stop_token_ids=[-1])),
        ("min_tokens above max_tokens", CHAT, chat(min_tokens=9, max_tokens=8)),
        ("ignore_eos is a string", COMPLETIONS, completion(ignore_eos="yes")),
        # Unsupported features refused rather than ignored.
        ("unknown field", CHAT, chat(frobnicate=True)),
        ("suffix", COMPLETIONS, completion(suffix="tail")),
        ("best_of 2", COMPLETIONS, completion(best_of=2)),
        ("guided_json", CHAT, chat(guided_json={"type": "object"})),
        ("echo", COMPLETIONS, completion(echo=True)),
        ("deprecated functions", CHAT, chat(functions=[{"name": "f"}])),
        # Tools.
        ("tool without a name", CHAT, chat(tools=[{"type": "function", "function": {"description": "f"}}])),
        ("tool parameters not an object", CHAT, chat(tools=[{"type": "function", "function": {
            "name": "f", "parameters": {"type": "string"}}}])),
        ("tool_choice naming no tool", CHAT, chat(tools=[{"type": "function", "function": {"name": "f"}}],
                                                   tool_choice={"type": "function", "function": {"name": "g"}})),
        ("required schema the compiler refuses", CHAT, chat(tool_choice="required", tools=[
            {"type": "function", "function": {"name": "f", "parameters": {
                "type": "object", "properties": {"d": {"type": "string", "pattern": "a"}}}}}])),
        ("tool_choice required without tools", CHAT, chat(tool_choice="required")),
        ("json_schema with an unsupported keyword", CHAT, chat(response_format={
            "type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "string", "pattern": "a"}}})),
        ("grammar that does not parse", COMPLETIONS, completion(grammar="root ::= (")),
        # Size.
        ("10 MB body", CHAT, b"x" * big),
        ("10 MB prompt", COMPLETIONS, completion(prompt="a" * big)),
    ]
    return [(name, "POST", path, body) for name, path, body in c] + [
        ("unknown path", "POST", "/v1/nope", chat()),
        ("GET on a POST route", "GET", CHAT, b""),
        ("unknown model by id", "GET", "/v1/models/gpt-17", b""),
    ]
