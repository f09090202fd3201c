"""One hearthd for the whole session, with an API key configured, and an Anthropic client
pointed at it (the SDK sends the key as x-api-key)."""
import os
import sys

import anthropic
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from hearthd_process import MODEL_NAME, Hearthd, serve  # noqa: E402

API_KEY = "sk-hearth-anthropic-test"


@pytest.fixture(scope="session")
def hearthd():
    yield from serve(Hearthd(extra_env={"HEARTH_API_KEYS": API_KEY}))


@pytest.fixture(scope="session")
def make_client(hearthd):
    def make(api_key=API_KEY):
        # No retries: a 429 or 5xx must surface as it is, not be hidden by the SDK's retry loop.
        return anthropic.Anthropic(base_url=hearthd.base_url, api_key=api_key, max_retries=0, timeout=120)
    return make


@pytest.fixture(scope="session")
def client(make_client):
    return make_client()


@pytest.fixture(scope="session")
def api_key():
    return API_KEY


@pytest.fixture(scope="session")
def model():
    return MODEL_NAME
