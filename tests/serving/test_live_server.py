"""A real uvicorn server on 127.0.0.1: the official ``openai`` client unchanged, 64 concurrent
clients, and a client that disconnects mid-stream."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

openai = pytest.importorskip("openai", reason="the openai client is a test dependency (extra serve-test)")

SUDOKU = "1200\n3400\n0000\n4321"
DLLM = {"dllm": {"steps": 8, "block_length": 8}}


@pytest.fixture(scope="module")
def api(live):
    return openai.OpenAI(base_url=f"{live.url}/v1", api_key=live.api_key, max_retries=0, timeout=120)


def test_openai_client_lists_models_and_chats(api, expected):
    assert [model.id for model in api.models.list()] == ["tiny"]
    reply = api.chat.completions.create(model="tiny", messages=[{"role": "user", "content": SUDOKU}],
                                        max_tokens=8, seed=4, extra_body=DLLM)
    assert reply.choices[0].message.content == expected([SUDOKU], seed=4)[0]
    assert reply.usage.completion_tokens + reply.usage.prompt_tokens == reply.usage.total_tokens


def test_openai_client_streams_and_completes(api, expected):
    stream = api.chat.completions.create(model="tiny", messages=[{"role": "user", "content": SUDOKU}],
                                         max_tokens=8, temperature=0.8, seed=9, stream=True, extra_body=DLLM)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == expected([SUDOKU], seed=9, temperature=0.8)[0]
    completion = api.completions.create(model="tiny", prompt="1234\n", max_tokens=8, extra_body=DLLM)
    assert completion.choices[0].text == expected(["1234\n"], chat=False)[0]


def test_openai_client_sees_auth_and_request_errors(live, api):
    wrong = openai.OpenAI(base_url=f"{live.url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()
    with pytest.raises(openai.NotFoundError, match="not served"):
        api.completions.create(model="gpt-4", prompt="1")
    with pytest.raises(openai.BadRequestError, match="no parameter 'alg'"):
        api.completions.create(model="tiny", prompt="1", extra_body={"dllm": {"params": {"alg": "entropy"}}})


def test_64_concurrent_clients_get_the_answers_they_get_alone(live, expected):
    prompts = [f"{i % 4 + 1}{i % 3}\n{i % 5}" for i in range(64)]
    want = dict(zip(sorted(set(prompts)), expected(sorted(set(prompts)))))
    headers = {"Authorization": f"Bearer {live.api_key}"}

    def ask(prompt):
        body = {"messages": [{"role": "user", "content": prompt}], "max_tokens": 8, **DLLM}
        return httpx.post(f"{live.url}/v1/chat/completions", json=body, headers=headers, timeout=300)

    with ThreadPoolExecutor(max_workers=64) as pool:
        responses = list(pool.map(ask, prompts))
    assert [r.status_code for r in responses] == [200] * 64
    assert [r.json()["choices"][0]["message"]["content"] for r in responses] == [want[p] for p in prompts]
    metrics = httpx.get(f"{live.url}/metrics", headers=headers).text
    batches = next(float(line.split()[-1]) for line in metrics.splitlines()
                   if line.startswith("dllm_batch_rows_count"))
    rows = next(float(line.split()[-1]) for line in metrics.splitlines() if line.startswith("dllm_batch_rows_sum"))
    assert rows / batches > 1  # requests that arrived together shared batches


def test_a_client_that_leaves_mid_stream_does_not_stop_the_server(live, expected):
    headers = {"Authorization": f"Bearer {live.api_key}"}
    body = {"messages": [{"role": "user", "content": SUDOKU}], "max_tokens": 64, "stream": True,
            "dllm": {"steps": 64, "block_length": 8, "denoising": True}}
    with httpx.stream("POST", f"{live.url}/v1/chat/completions", json=body, headers=headers, timeout=60) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: ") and json.loads(line[6:]).get("object") == "dllm.denoise":
                break  # leave after the first denoising frame
    after = httpx.post(f"{live.url}/v1/chat/completions", headers=headers, timeout=120,
                       json={"messages": [{"role": "user", "content": "12"}], "max_tokens": 8, **DLLM})
    assert after.json()["choices"][0]["message"]["content"] == expected(["12"])[0]
