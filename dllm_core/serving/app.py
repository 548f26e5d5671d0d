"""The FastAPI application: OpenAI-compatible routes, auth, body limit, metrics and the web page.

Routes: ``GET /health`` (always public), ``GET /v1/models``, ``POST /v1/completions``,
``POST /v1/chat/completions``, ``GET /v1/dllm/info`` (the settings the web page offers),
``GET /metrics`` (Prometheus text) and the page itself at ``/`` (static files, no build step).
With an API key every route but ``/health`` and the page's static files needs
``Authorization: Bearer KEY``; the page asks for the key and sends it with its API calls.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from dllm_core.errors import DllmError
from dllm_core.registry import get_registry
from dllm_core.serving.api_errors import ApiError
from dllm_core.serving.batcher import Batcher
from dllm_core.serving.jobs import Job, SessionPool, build_job
from dllm_core.serving.metrics import ServerMetrics
from dllm_core.serving.responses import Answer, ResponseShape, answer_of, sse
from dllm_core.serving.schemas import ChatRequest, CompletionRequest, SamplingRequest
from dllm_core.serving.streaming import TextStream
from dllm_core.session import InferenceSession

STATIC = Path(__file__).parent / "static"
PUBLIC_PATHS = ("/health", "/")
POLL_SECONDS = 0.25  # how often a waiting non-streaming request checks that its client is still there


@dataclass(frozen=True)
class ServerConfig:
    """Limits and identity of one server.

    Attributes:
        model_id: the name clients pass as ``model`` (default: the checkpoint folder's name).
        api_key: required bearer token (``None``: open).
        max_batch: most rows (answers) per generation batch.
        max_queue: most rows waiting; beyond it requests get 429.
        max_body: largest request body in bytes; beyond it 413.
        batch_wait: seconds an idle worker waits for more requests before it starts a batch.
    """

    model_id: str
    api_key: str | None = None
    max_batch: int = 16
    max_queue: int = 256
    max_body: int = 1 << 20
    batch_wait: float = 0.01


class ClientGone(Exception):
    """The client disconnected while its request waited."""


def create_app(session: InferenceSession, config: ServerConfig) -> FastAPI:
    """The server for ``session`` (see the module doc)."""
    metrics = ServerMetrics()
    pool = SessionPool(session)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        batcher = Batcher(metrics, max_batch=config.max_batch, max_queue=config.max_queue,
                          batch_wait=config.batch_wait)
        batcher.start()
        app.state.batcher = batcher
        yield
        await batcher.drain()

    app = FastAPI(title="dllm serve", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(Guard, api_key=config.api_key, metrics=metrics)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = f"{request.method} {request.url.path}: {exc.detail}; see GET /v1/models and the docs for the routes"
        return JSONResponse(ApiError(exc.status_code, message).body(), status_code=exc.status_code)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/")
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(metrics.text(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [model_card(config.model_id)]}

    @app.get("/v1/models/{model}")
    async def model(model: str) -> dict[str, Any]:
        check_model(model, config.model_id)
        return model_card(config.model_id)

    @app.get("/v1/dllm/info")
    async def info() -> dict[str, Any]:
        return server_info(session, config)

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        body = await read_request(request, CompletionRequest, config)
        job = build_job(pool, body, body.prompts(), max_batch=config.max_batch)
        return await respond(request, job, body, ResponseShape(chat=False, model=config.model_id), metrics)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        body = await read_request(request, ChatRequest, config)
        try:
            text = session.render_chat([message.as_template_message() for message in body.messages])
        except DllmError as exc:
            raise ApiError(400, str(exc), param="messages") from None
        job = build_job(pool, body, [text], max_batch=config.max_batch)
        return await respond(request, job, body, ResponseShape(chat=True, model=config.model_id), metrics)

    return app


# -- request reading -----------------------------------------------------------------------------
async def read_request(request: Request, schema: type[SamplingRequest], config: ServerConfig) -> Any:
    """The body as ``schema``: 413 beyond ``max_body``, 400 for malformed JSON or fields, 404 for
    an unknown model."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > config.max_body:
        raise ApiError(413, f"request body of {declared} bytes exceeds the limit of {config.max_body}; "
                            "send a shorter prompt or raise --max-body", code="body_too_large")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > config.max_body:
            raise ApiError(413, f"request body exceeds the limit of {config.max_body} bytes; send a shorter "
                                "prompt or raise --max-body", code="body_too_large")
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"malformed JSON body: {exc}; send one JSON object", code="invalid_json") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"the body must be a JSON object, not {type(data).__name__}", code="invalid_json")
    try:
        parsed = schema.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None
    if parsed.model is not None:
        check_model(parsed.model, config.model_id)
    return parsed


def validation_error(exc: ValidationError) -> ApiError:
    """The first problem pydantic found, as one 400 naming the field."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    if first["type"] == "extra_forbidden":
        return ApiError(400, f"unknown field '{where}'; remove it (diffusion settings go in the 'dllm' object: "
                             "steps, block_length, generator, cache, threshold, params, denoising)", param=where)
    return ApiError(400, f"invalid value for '{where}': {first['msg']}", param=where)


def check_model(name: str, served: str) -> None:
    if name != served:
        raise ApiError(404, f"model '{name}' is not served here; use '{served}' (GET /v1/models)",
                       param="model", code="model_not_found")


def model_card(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "dllm"}


def server_info(session: InferenceSession, config: ServerConfig) -> dict[str, Any]:
    """What the web page offers: the checkpoint's generator, its role defaults, the generators."""
    params = session.params()
    roles = {role: getattr(params, name) for role in ("length", "steps", "block")
             if (name := session.generator.roles.name(role)) is not None}
    return {"model": config.model_id, "family": session.family.name, "generator": session.generator.name,
            "defaults": roles, "generators": sorted(entry.name for entry in get_registry().generators),
            "max_batch": config.max_batch, "mask_token_id": session.special.mask_token_id}


# -- answering -----------------------------------------------------------------------------------
async def respond(request: Request, job: Job, body: SamplingRequest, shape: ResponseShape,
                  metrics: ServerMetrics) -> Response:
    """Queue ``job`` and answer: one JSON body, or server-sent events with ``stream``."""
    request.app.state.batcher.submit(job)
    events = EventReader(job, request)
    try:
        first = await events.next()
    except ClientGone:
        return Response(status_code=499)
    if first[0] == "error":
        raise first[1]
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(stream_answer(job, events, first, shape, include_usage, metrics),
                                 media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
    event = first
    try:
        while event[0] != "done":
            if event[0] == "error":
                raise event[1]
            event = await events.next()
    except ClientGone:
        return Response(status_code=499)
    answers = [answer_of(completion, job.stops) for completion in event[1]]
    seconds = time.perf_counter() - job.created
    metrics.observe_answer("chat" if shape.chat else "completions", seconds, sum(a.tokens for a in answers))
    return JSONResponse(shape.whole(answers, job.prompt_tokens, seconds))


class EventReader:
    """A job's events, in order; notices a client that disconnects while it waits."""

    def __init__(self, job: Job, request: Request):
        self.job = job
        self.request = request
        self._getter: asyncio.Future | None = None

    async def next(self) -> tuple[str, Any]:
        while True:
            if self._getter is None:
                self._getter = asyncio.ensure_future(self.job.events.get())
            done, _ = await asyncio.wait({self._getter}, timeout=POLL_SECONDS)
            if done:
                event, self._getter = self._getter.result(), None
                return event
            if await self.request.is_disconnected():
                self.job.cancelled.set()
                self._getter.cancel()
                raise ClientGone

    async def stream_next(self) -> tuple[str, Any]:
        """The next event while a streaming response runs (Starlette notices disconnects there)."""
        return await self.job.events.get()


async def stream_answer(job: Job, events: EventReader, first: tuple[str, Any], shape: ResponseShape,
                        include_usage: bool, metrics: ServerMetrics) -> AsyncIterator[str]:
    """The server-sent events of a streaming answer; ends with ``data: [DONE]``."""
    session = job.session
    texts = [TextStream(job.stops) for _ in job.rows]
    event = first
    try:
        if shape.chat:
            for index in range(len(job.rows)):
                yield sse(shape.chunk(index, None, first=True))
        while True:
            kind, value = event
            if kind == "text":
                index, ids = value
                delta = texts[index].delta(session.decode(session.cut_at_stop(ids)))
                if delta:
                    yield sse(shape.chunk(index, delta))
            elif kind == "canvas":
                index, ids, nfe = value
                yield sse(denoise_frame(session, index, ids, nfe), event="denoise")
            elif kind == "error":
                yield sse(value.body())
                return
            elif kind == "done":
                answers: list[Answer] = [answer_of(completion, job.stops) for completion in value]
                for index, answer in enumerate(answers):
                    delta = texts[index].delta(answer.text, final=True)
                    if delta:
                        yield sse(shape.chunk(index, delta))
                    yield sse(shape.chunk(index, None, finish_reason=answer.finish_reason))
                seconds = time.perf_counter() - job.created
                metrics.observe_answer("chat" if shape.chat else "completions", seconds,
                                       sum(a.tokens for a in answers))
                if include_usage:
                    yield sse(shape.usage_chunk(answers, job.prompt_tokens, seconds))
                yield sse("[DONE]")
                return
            event = await events.stream_next()
    finally:
        job.cancelled.set()  # a client that went away mid-stream frees its rows


def denoise_frame(session: InferenceSession, index: int, ids: list[int | None], nfe: int | None) -> dict[str, Any]:
    """One ``event: denoise`` payload: the answer canvas as text pieces, ``null`` for a mask and
    ``""`` for a special token (EOS, end of turn)."""
    known = [token for token in ids if token is not None]
    pieces = iter(session.tokenizer.batch_decode([[token] for token in known], skip_special_tokens=True))
    return {"object": "dllm.denoise", "index": index, "nfe": nfe,
            "tokens": [None if token is None else next(pieces) for token in ids]}


# -- auth and request counting -------------------------------------------------------------------
class Guard:
    """ASGI middleware: bearer-key check (constant-time) and the request counter by status."""

    def __init__(self, app: Any, api_key: str | None, metrics: ServerMetrics):
        self.app = app
        self.expected = f"Bearer {api_key}".encode() if api_key else None
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        status = [500]

        async def counting_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        if self.expected is not None and not is_public(path) and not self._authorized(scope):
            error = ApiError(401, "missing or wrong API key; send the header 'Authorization: Bearer KEY' "
                                  "with the key the server was started with (--api-key)", code="invalid_api_key")
            response = JSONResponse(error.body(), status_code=401, headers={"WWW-Authenticate": "Bearer"})
            await response(scope, receive, counting_send)
        else:
            await self.app(scope, receive, counting_send)
        self.metrics.requests.labels(path if path in KNOWN_PATHS else "other", str(status[0])).inc()

    def _authorized(self, scope: dict[str, Any]) -> bool:
        given = dict(scope["headers"]).get(b"authorization", b"")
        return hmac.compare_digest(given, self.expected)


KNOWN_PATHS = {"/health", "/", "/metrics", "/v1/models", "/v1/completions", "/v1/chat/completions", "/v1/dllm/info"}


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith("/static/")
