"""Request bodies of the OpenAI-compatible endpoints (pydantic models, unknown fields refused).

Diffusion settings travel in the ``dllm`` field (the ``extra_body={"dllm": {...}}`` of the
``openai`` client): ``steps``, ``block_length``, ``generator``, ``cache``, ``threshold``, any
other generator parameter by name in ``params``, and ``denoising`` (stream the canvas after each
step as ``event: denoise`` server-sent events).
"""

from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DiffusionSettings(Strict):
    """The ``dllm`` field: diffusion settings by role or by the generator's parameter names."""

    steps: int | None = Field(None, ge=1, description="denoising steps (the generator's steps role)")
    block_length: int | None = Field(None, ge=1, description="semi-autoregressive block length")
    generator: str | None = Field(None, description="a registered generator (default: the checkpoint's)")
    cache: Literal["none", "prefix", "dual"] | None = Field(None, description="KV cache (use_cache)")
    threshold: float | None = Field(None, gt=0, le=1, description="confidence threshold")
    params: dict[str, Any] = Field(default_factory=dict, description="any generator parameter by name")
    denoising: bool = Field(False, description="stream the canvas after every step (stream: true)")


class StreamOptions(Strict):
    include_usage: bool = False


class SamplingRequest(Strict):
    """Fields shared by both endpoints (OpenAI names and meanings)."""

    model: str | None = None
    max_tokens: int | None = Field(None, ge=1, description="answer length (the generator's length role)")
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0)
    top_p: float | None = Field(None, gt=0, le=1)
    stop: Union[str, list[str], None] = None
    n: int = Field(1, ge=1)
    seed: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = None
    dllm: DiffusionSettings = Field(default_factory=DiffusionSettings)

    def stop_strings(self) -> list[str]:
        strings = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return [s for s in strings if s]

    def length(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class CompletionRequest(SamplingRequest):
    """``POST /v1/completions``: one prompt or a list of prompts."""

    prompt: Union[str, list[str]]
    echo: bool = False

    def prompts(self) -> list[str]:
        return [self.prompt] if isinstance(self.prompt, str) else list(self.prompt)


class TextPart(Strict):
    type: Literal["text"]
    text: str


class ChatMessage(Strict):
    role: Literal["system", "user", "assistant", "developer"]
    content: Union[str, list[TextPart]]
    name: str | None = None

    def as_template_message(self) -> dict[str, str]:
        text = self.content if isinstance(self.content, str) else "".join(part.text for part in self.content)
        return {"role": "system" if self.role == "developer" else self.role, "content": text}


class ChatRequest(SamplingRequest):
    """``POST /v1/chat/completions``: a conversation through the checkpoint's chat template."""

    messages: list[ChatMessage] = Field(min_length=1)
