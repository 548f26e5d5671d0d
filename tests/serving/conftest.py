"""Fixtures of the server tests: a tiny trained LLaDA checkpoint, its session, the app in a
TestClient and the app behind a real uvicorn server on 127.0.0.1 (a free port)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed: pip install 'dllm-core[serve]'")
pytest.importorskip("dllm_llada", reason="the server tests use a tiny LLaDA checkpoint (plugin dllm-llada)")

API_KEY = "test-secret-key-9f3a"


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory) -> Path:
    from dllm_core.training.run import run_training
    from dllm_core.training.run_config import TrainRunConfig

    output = tmp_path_factory.mktemp("serve") / "tiny"
    run_training(TrainRunConfig(data="sudoku4[train:64,test:8]", output_dir=output, family="llada", preset="tiny",
                                max_steps=2, batch_size=8, logging_steps=2, disable_progress_bar=True))
    return output


@pytest.fixture(scope="session")
def session(checkpoint):
    from dllm_core.session import InferenceSession

    return InferenceSession.load(checkpoint)


def _make_app(session, **limits):
    from dllm_core.serving.app import ServerConfig, create_app

    return create_app(session, ServerConfig(model_id="tiny", **{"max_batch": 16, **limits}))


@pytest.fixture(scope="session")
def make_app(session):
    """``make_app(**limits)``: a fresh app over the session (ServerConfig fields as keywords)."""
    return lambda **limits: _make_app(session, **limits)


@pytest.fixture
def client(make_app):
    from fastapi.testclient import TestClient

    with TestClient(make_app()) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def live(session):
    from dllm_core.serving.background import BackgroundServer

    with BackgroundServer(_make_app(session, api_key=API_KEY, max_batch=16, max_queue=512)) as server:
        server.api_key = API_KEY
        yield server


@pytest.fixture(scope="session")
def expected(session):
    """``expected(prompts, chat=True, seed=0, length=8, steps=8, block=8, **values)``: what
    ``dllm sample`` (the session) answers, each prompt in a call of its own."""

    def answers(prompts, *, chat=True, seed=0, length=8, steps=8, block=8, **values):
        params = session.params(roles={"length": length, "steps": steps, "block": block}, values=values)
        return [session.complete([prompt], params, chat=chat, seed=seed)[0].text for prompt in prompts]

    return answers
