"""The OpenAI-compatible routes through a TestClient: answers equal the session's (what
``dllm sample`` prints), streaming, usage, and every error status."""

from __future__ import annotations

import json

import pytest

SETTINGS = {"max_tokens": 8, "dllm": {"steps": 8, "block_length": 8}}
SUDOKU = "1200\n3400\n0000\n4321"


def chat(client, text, **extra):
    return client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": text}],
                                                     **SETTINGS, **extra})


def sse_events(response):
    """``[(event name, data)]`` of a server-sent event stream."""
    events, name = [], "message"
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[len("event: "):]
        elif line.startswith("data: "):
            data = line[len("data: "):]
            events.append((name, data if data == "[DONE]" else json.loads(data)))
            name = "message"
    return events


def test_health_and_models(client):
    assert client.get("/health").json() == {"status": "ok"}
    assert [m["id"] for m in client.get("/v1/models").json()["data"]] == ["tiny"]
    assert client.get("/v1/models/tiny").json()["id"] == "tiny"


def test_chat_answer_equals_the_session_answer_with_usage(client, session, expected):
    body = chat(client, SUDOKU).json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == expected([SUDOKU])[0]
    prompt_tokens = len(session.encode(session.render_chat([{"role": "user", "content": SUDOKU}])))
    assert body["usage"]["prompt_tokens"] == prompt_tokens
    assert body["usage"]["total_tokens"] == prompt_tokens + body["usage"]["completion_tokens"]
    assert body["dllm"]["nfe"] == 8


def test_sampled_answers_follow_the_seed_as_dllm_sample_does(client, session, expected):
    answers = {seed: chat(client, SUDOKU, temperature=1.0, seed=seed).json()["choices"][0]["message"]["content"]
               for seed in (1, 2)}
    for seed, answer in answers.items():
        assert answer == expected([SUDOKU], seed=seed, temperature=1.0)[0]


def test_completions_with_several_prompts_and_n(client, session, expected):
    prompts = ["1234\n34", "21"]
    body = client.post("/v1/completions", json={"prompt": prompts, "n": 2, **SETTINGS}).json()
    texts = [choice["text"] for choice in body["choices"]]
    want = expected(prompts, chat=False)
    assert texts == [want[0], want[0], want[1], want[1]]  # greedy: the n copies agree
    params = session.params(roles={"length": 8, "steps": 8, "block": 8}, values={"temperature": 1.0})
    rows = [session.encode("21")] * 3
    sampled = client.post("/v1/completions", json={"prompt": "21", "n": 3, "temperature": 1.0, "seed": 5,
                                                   **SETTINGS}).json()
    assert [c["text"] for c in sampled["choices"]] == [c.text for c in session.generate(rows, params, seed=5)]


def test_stop_strings_cut_the_answer(client, session, expected):
    full = expected([SUDOKU])[0]
    stop = full[3:5]
    body = chat(client, SUDOKU, stop=[stop]).json()["choices"][0]
    assert body["message"]["content"] == full[: full.index(stop)]
    assert body["finish_reason"] == "stop"


def test_streaming_sends_the_answer_in_order_and_denoising_frames(client, session, expected):
    payload = {"messages": [{"role": "user", "content": SUDOKU}], "stream": True,
               "stream_options": {"include_usage": True}, "max_tokens": 16,
               "dllm": {"steps": 16, "block_length": 8, "denoising": True}}
    with client.stream("POST", "/v1/chat/completions", json=payload) as response:
        assert response.status_code == 200
        events = sse_events(response)
    assert events[-1] == ("message", "[DONE]")
    frames = [data for name, data in events if name == "denoise"]
    assert len(frames) == 16 and [f["nfe"] for f in frames] == list(range(1, 17))
    masks = [sum(token is None for token in f["tokens"]) for f in frames]
    assert masks == sorted(masks, reverse=True) and masks[-1] == 0 and masks[0] == 15
    chunks = [data for name, data in events[:-1] if name == "message"]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == expected([SUDOKU], length=16, steps=16, block=8)[0]
    deltas = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]
    assert len(deltas) >= 2  # the first block's text arrives before the answer is complete
    assert chunks[-1]["usage"]["completion_tokens"] == 16 and chunks[-1]["dllm"]["nfe"] == 16


def test_diffusion_settings_pick_the_fast_generator(client, session):
    body = chat(client, SUDOKU, dllm={"steps": 8, "block_length": 8, "cache": "dual", "threshold": 0.5}).json()
    fast = session.with_generator("fastdllm")
    params = fast.params(roles={"length": 8, "steps": 8, "block": 8}, values={"use_cache": "dual", "threshold": 0.5})
    assert body["choices"][0]["message"]["content"] == fast.complete([SUDOKU], params, chat=True)[0].text


@pytest.mark.parametrize("body, status, words", [
    (b"{not json", 400, "malformed JSON"),
    (b"[1, 2]", 400, "JSON object"),
    (json.dumps({"prompt": "1", "best_of": 2}).encode(), 400, "unknown field 'best_of'"),
    (json.dumps({"prompt": "1", "dllm": {"generator": "nope"}}).encode(), 400, "unknown generator 'nope'"),
    (json.dumps({"prompt": "1", "dllm": {"cache": "triple"}}).encode(), 400, "dllm.cache"),
    (json.dumps({"prompt": "1", "dllm": {"params": {"alg": "x"}}}).encode(), 400, "no parameter 'alg'"),
    (json.dumps({"prompt": "1", "max_tokens": 8, "dllm": {"steps": 3}}).encode(), 400, "multiple"),
    (json.dumps({"prompt": "1", "max_tokens": 8, "dllm": {"steps": 16}}).encode(), 400, "pass dllm.steps 8 or fewer"),
    (json.dumps({"prompt": "1", "max_tokens": 0}).encode(), 400, "max_tokens"),
    (json.dumps({"prompt": "1" * 2000}).encode(), 400, "exceeds the model's context"),
    (json.dumps({"prompt": "1", "model": "gpt-4"}).encode(), 404, "model 'gpt-4' is not served"),
    (json.dumps({"prompt": "1", "n": 17}).encode(), 400, "--max-batch"),
])
def test_bad_requests_get_an_openai_error_and_the_server_goes_on(client, body, status, words):
    response = client.post("/v1/completions", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    error = response.json()["error"]
    assert words in error["message"] and error["type"]
    assert chat(client, "12").status_code == 200


def test_body_too_large_is_413(make_app):
    from fastapi.testclient import TestClient

    with TestClient(make_app(max_body=200)) as small:
        response = small.post("/v1/completions", json={"prompt": "1" * 300})
        assert response.status_code == 413 and "--max-body" in response.json()["error"]["message"]


def test_full_queue_is_429_with_retry_after(make_app):
    from fastapi.testclient import TestClient

    with TestClient(make_app(max_queue=2)) as small:
        response = small.post("/v1/completions", json={"prompt": "1", "n": 3, **SETTINGS})
        assert response.status_code == 429 and response.headers["Retry-After"] == "1"
        assert response.json()["error"]["code"] == "queue_full"


def test_api_key_guards_every_route_but_health(caplog, make_app):
    from fastapi.testclient import TestClient

    key = "k-7f1e"
    with TestClient(make_app(api_key=key)) as guarded:
        assert guarded.get("/health").status_code == 200
        for path in ("/v1/models", "/metrics", "/v1/dllm/info"):
            assert guarded.get(path).status_code == 401
            assert guarded.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
        denied = guarded.post("/v1/completions", json={"prompt": "1"})
        assert denied.status_code == 401 and denied.json()["error"]["type"] == "authentication_error"
        ok = guarded.post("/v1/completions", json={"prompt": "1", **SETTINGS},
                          headers={"Authorization": f"Bearer {key}"})
        assert ok.status_code == 200
    assert key not in caplog.text


def test_metrics_report_latency_tokens_batches_and_queue(client):
    chat(client, SUDOKU)
    text = client.get("/metrics").text
    for name in ("dllm_request_latency_seconds_count", "dllm_request_tokens_per_second_count",
                 "dllm_generated_tokens_total", "dllm_batch_rows_count", "dllm_batch_occupancy",
                 "dllm_queue_rows"):
        assert name in text
    assert 'dllm_requests_total{path="/v1/chat/completions",status="200"} 1.0' in text


def test_unknown_route_is_an_openai_style_404(client):
    response = client.get("/v1/engines")
    assert response.status_code == 404 and "error" in response.json()
