"""One hearthd for the whole session, and an OpenAI client pointed at it."""
import os
import sys

import openai
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from hearthd_process import MODEL_NAME, Hearthd, serve  # noqa: E402


@pytest.fixture(scope="session")
def hearthd():
    yield from serve(Hearthd())


@pytest.fixture(scope="session")
def client(hearthd):
    # No retries: a 429 or 5xx must surface as it is, not be hidden by the SDK's retry loop.
    return openai.OpenAI(base_url=hearthd.base_url + "/v1", api_key="unused", max_retries=0, timeout=120)


@pytest.fixture(scope="session")
def model():
    return MODEL_NAME
