"""OpenAI response bodies: whole answers, stream chunks and usage, for both endpoints."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from dllm_core.serving.streaming import cut_at_stop_strings
from dllm_core.session import Completion


@dataclass
class Answer:
    """One choice: its text (cut at stop strings), tokens (the answer's tokens before its stop
    token; a stop string does not shorten the count) and why it ended."""

    text: str
    tokens: int
    finish_reason: str
    nfe: int


def answer_of(completion: Completion, stops: list[str]) -> Answer:
    """The choice for ``completion``: ``stop`` when a stop string or stop token ended it, else ``length``."""
    text, hit = cut_at_stop_strings(completion.text, stops)
    generated = completion.generation.rows[completion.row] if completion.generation is not None else []
    ended = hit or len(completion.token_ids) < len(generated)
    return Answer(text, len(completion.token_ids), "stop" if ended else "length", completion.nfe)


@dataclass
class ResponseShape:
    """What differs between ``/v1/completions`` and ``/v1/chat/completions``."""

    chat: bool
    model: str
    id: str = ""
    created: int = 0

    def __post_init__(self) -> None:
        self.id = f"{'chatcmpl' if self.chat else 'cmpl'}-{uuid.uuid4().hex}"
        self.created = int(time.time())

    def whole(self, answers: list[Answer], prompt_tokens: int, seconds: float) -> dict[str, Any]:
        choices = [self._choice(index, answer.text, answer.finish_reason, whole=True)
                   for index, answer in enumerate(answers)]
        body = self._envelope("chat.completion" if self.chat else "text_completion", choices)
        body["usage"] = usage(answers, prompt_tokens)
        body["dllm"] = stats(answers, seconds)
        return body

    def chunk(self, index: int, text: str | None, finish_reason: str | None = None,
              first: bool = False) -> dict[str, Any]:
        choice = self._choice(index, text, finish_reason, whole=False, first=first)
        return self._envelope("chat.completion.chunk" if self.chat else "text_completion", [choice])

    def usage_chunk(self, answers: list[Answer], prompt_tokens: int, seconds: float) -> dict[str, Any]:
        body = self._envelope("chat.completion.chunk" if self.chat else "text_completion", [])
        body["usage"] = usage(answers, prompt_tokens)
        body["dllm"] = stats(answers, seconds)
        return body

    def _choice(self, index: int, text: str | None, finish_reason: str | None, *, whole: bool,
                first: bool = False) -> dict[str, Any]:
        if not self.chat:
            return {"index": index, "text": text or "", "finish_reason": finish_reason, "logprobs": None}
        if whole:
            return {"index": index, "message": {"role": "assistant", "content": text}, "finish_reason": finish_reason,
                    "logprobs": None}
        delta: dict[str, Any] = {"role": "assistant"} if first else {}
        if text:
            delta["content"] = text
        return {"index": index, "delta": delta, "finish_reason": finish_reason, "logprobs": None}

    def _envelope(self, kind: str, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model, "choices": choices}


def usage(answers: list[Answer], prompt_tokens: int) -> dict[str, int]:
    completion_tokens = sum(answer.tokens for answer in answers)
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def stats(answers: list[Answer], seconds: float) -> dict[str, Any]:
    """dllm's own numbers: forward calls (per batch) and answer tokens per second."""
    tokens = sum(answer.tokens for answer in answers)
    return {"nfe": max((answer.nfe for answer in answers), default=0), "seconds": round(seconds, 4),
            "tokens_per_second": round(tokens / seconds, 2) if seconds > 0 else None}


def sse(data: dict[str, Any] | str, event: str | None = None) -> str:
    """One server-sent event (``data:`` JSON, optionally named)."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return (f"event: {event}\n" if event else "") + f"data: {payload}\n\n"
