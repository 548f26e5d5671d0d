"""``dllm serve``: an OpenAI-compatible HTTP server over one :class:`~dllm_core.session.InferenceSession`.

Layout (one job per module):

* :mod:`.api_errors` -- OpenAI-style error objects and their HTTP statuses;
* :mod:`.schemas` -- the request bodies (pydantic) of ``/v1/completions`` and ``/v1/chat/completions``;
* :mod:`.jobs` -- a request turned into a generation job (token rows, generator parameters, seed);
* :mod:`.determinism` -- whether a job's answer can depend on the rows it is batched with;
* :mod:`.batcher` -- the dynamic batcher: one worker thread, compatible queued jobs run as one batch;
* :mod:`.streaming` -- per-row text deltas and denoising frames from the engine's step callback;
* :mod:`.responses` -- OpenAI response bodies, stream chunks, usage and server-sent events;
* :mod:`.metrics` -- Prometheus metrics;
* :mod:`.app` -- the FastAPI application factory (routes, auth, body limit, the web page in ``static/``);
* :mod:`.background` -- the app under uvicorn in a thread on a free local port.

Import :func:`dllm_core.serving.app.create_app`; this package's ``__init__`` stays import-light.
"""
