"""A request turned into a generation job: token rows, generator parameters, seed, stop strings.

Settings map onto the generator as ``dllm sample``'s options do: ``max_tokens`` and ``dllm.steps`` /
``dllm.block_length`` by role (the generator's answer-length, steps and block parameters),
``temperature``, ``top_p``, ``dllm.threshold``, ``dllm.cache`` (``use_cache``) and ``dllm.params``
by parameter name. As in ``dllm sample``, asking for a parameter that only the family's fast
generator takes (``cache``, ``threshold``) selects that generator. Each prompt is repeated ``n``
times; the job's rows are ``prompts x n`` in that order, and ``seed`` defaults to 0 like
``dllm sample --seed``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Hashable

from dllm_core.errors import DllmError
from dllm_core.serving.api_errors import ApiError
from dllm_core.serving.determinism import draws_random_numbers
from dllm_core.serving.resumable import step_key
from dllm_core.serving.schemas import SamplingRequest
from dllm_core.session import InferenceSession, checkpoint_info, choose_generator


@dataclass
class Job:
    """One request's work and the channel its results travel back on.

    Attributes:
        session: the loaded checkpoint with the generator the request uses.
        rows: ``P * n`` token rows (each prompt ``n`` times).
        params: the generator's parameters.
        seed: run seed (as ``dllm sample --seed``).
        stops: stop strings; the answer text is cut before the first one.
        denoising: stream the canvas after every step.
        batch_key: jobs with equal keys may share a batch; ``None``: the job runs alone.
        prompt_tokens: tokens of the prompts (usage).
        step_key: the running batch its rows may join between steps; ``None``: the job is
            batched whole (by ``batch_key``).
    """

    session: InferenceSession
    rows: list[list[int]]
    params: Any
    seed: int
    stops: list[str]
    stream: bool
    denoising: bool
    batch_key: str | None
    prompt_tokens: int
    step_key: Hashable | None = None
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.get_running_loop)
    events: asyncio.Queue = field(default_factory=asyncio.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)
    created: float = field(default_factory=time.perf_counter)

    def post(self, event: tuple[str, Any]) -> None:
        """Hand ``event`` to the request's handler (thread-safe)."""
        self.loop.call_soon_threadsafe(self.events.put_nowait, event)


class SessionPool:
    """The server's session and its variants with other generators (same weights, loaded once)."""

    def __init__(self, session: InferenceSession):
        self.session = session
        self._variants: dict[str, InferenceSession] = {session.generator.name: session}
        self._info = checkpoint_info(session.checkpoint) if session.checkpoint is not None else None

    def for_request(self, name: str | None, wanted: set[str]) -> InferenceSession:
        """The session with generator ``name`` (else the checkpoint's, or the family's fast one
        when only it takes every ``wanted`` parameter)."""
        base = self.session
        try:
            generator = (choose_generator(base.family, self._info, name, wanted) if name or wanted
                         else base.generator)
        except DllmError as exc:
            raise ApiError(400, str(exc), param="dllm.generator") from None
        if generator.name not in self._variants:
            self._variants[generator.name] = base.with_generator(generator.name)
        return self._variants[generator.name]


def sampling_values(request: SamplingRequest) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(roles, values)`` the request sets: by generic role and by parameter name."""
    settings = request.dllm
    roles = {role: value for role, value in (("length", request.length()), ("steps", settings.steps),
                                             ("block", settings.block_length)) if value is not None}
    values: dict[str, Any] = dict(settings.params)
    named = {"temperature": request.temperature, "top_p": request.top_p, "threshold": settings.threshold}
    values.update({key: value for key, value in named.items() if value is not None})
    if settings.cache is not None:
        values["use_cache"] = None if settings.cache == "none" else settings.cache
    return roles, values


def build_job(pool: SessionPool, request: SamplingRequest, texts: list[str], *, max_batch: int) -> Job:
    """The job for ``texts`` (already rendered prompts); bad settings are a 400 naming the field."""
    roles, values = sampling_values(request)
    session = pool.for_request(request.dllm.generator, set(values))
    if request.top_p == 1.0 and "top_p" not in session.generator.parameter_names():
        values.pop("top_p")  # the neutral value of a generator without nucleus sampling
    try:
        given = {session.generator.role_parameter(role) for role in roles} | set(values)
        # dllm sample's rules on answer length and steps, so both give the same answers
        params = session.generator.fit_answer(session.params(roles, values), given)
    except DllmError as exc:
        message = str(exc).replace("--gen-length", "max_tokens").replace("--steps", "dllm.steps")
        raise ApiError(400, message, param="dllm") from None
    prompts = [session.encode(text) for text in texts]
    rows = [list(prompt) for prompt in prompts for _ in range(request.n)]
    if len(rows) > max_batch:
        raise ApiError(400, f"{len(texts)} prompt(s) x n={request.n} is {len(rows)} answers, more than this "
                            f"server's --max-batch of {max_batch}; lower n or send fewer prompts", param="n")
    try:
        session.fit(rows, params)
    except DllmError as exc:
        raise ApiError(400, str(exc).replace("--gen-length", "max_tokens"),
                       param="messages" if hasattr(request, "messages") else "prompt",
                       code="context_length_exceeded") from None
    random = draws_random_numbers(session.generator.name, params)
    return Job(session=session, rows=rows, params=params, seed=0 if request.seed is None else request.seed,
               stops=request.stop_strings(), stream=request.stream, denoising=request.dllm.denoising,
               batch_key=None if random else f"{session.generator.name}:{params!r}",
               prompt_tokens=sum(len(p) for p in prompts),
               step_key=None if random else step_key(session, params, rows[0]))
