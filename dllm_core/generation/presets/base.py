"""What a preset is: a named function from reference-style parameters to a canvas and a config."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

import torch

from dllm_core.generation.canvas import Canvas
from dllm_core.generation.capabilities import ModelCapabilities
from dllm_core.generation.config import GenerationConfig
from dllm_core.errors import did_you_mean


@dataclass(frozen=True)
class PresetContext:
    """What a preset may read besides its own parameters.

    Attributes:
        model: the model (its ``config`` supplies default token ids, its device the inputs').
        input_ids: the prompts as given to ``generate`` (a ``[B, Lp]`` tensor, or for presets
            that accept them, a list of variable-length rows).
        attention_mask: ``[B, Lp]`` 1 = token, 0 = padding, or ``None``.
        capabilities: what the model supports (family defaults plus overrides).
        eos_token_id: end-of-sequence id (``generate``'s argument, else the model config's).
    """

    model: Any
    input_ids: Any
    attention_mask: torch.Tensor | None
    capabilities: ModelCapabilities
    eos_token_id: int | None

    @property
    def device(self) -> torch.device:
        return getattr(self.model, "device", torch.device("cpu"))

    def token_id(self, given: int | None, attribute: str, parameter: str) -> int:
        """``given``, else ``model.config.<attribute>``; a clear error when neither exists."""
        if given is not None:
            return int(given)
        value = getattr(getattr(self.model, "config", None), attribute, None)
        if value is None:
            raise ValueError(f"pass {parameter}=...: the model config has no {attribute}")
        return int(value)

    def prompt_batch(self) -> torch.Tensor:
        """``input_ids`` as a ``[B, Lp]`` long tensor."""
        ids = self.input_ids
        if not isinstance(ids, torch.Tensor):
            ids = torch.as_tensor(ids, device=self.device)
        if ids.dim() != 2:
            raise ValueError(f"input_ids must be [batch, length], got shape {tuple(ids.shape)}")
        return ids.long()


@dataclass(frozen=True)
class Prepared:
    """A preset's output: the canvas to fill, the loop settings and the capabilities to use."""

    canvas: Canvas
    config: GenerationConfig
    capabilities: ModelCapabilities


@dataclass(frozen=True)
class Preset:
    """A named generator: ``prepare(context, **params)`` with the reference's parameter names."""

    name: str
    description: str
    prepare: Callable[..., Prepared]

    def parameters(self) -> list[str]:
        """The keyword parameters ``prepare`` takes, in order."""
        signature = inspect.signature(self.prepare).parameters.values()
        return [p.name for p in signature if p.kind is inspect.Parameter.KEYWORD_ONLY]

    def check(self, params: dict[str, Any]) -> None:
        """Raise a one-line ``TypeError`` (with a suggestion) for a parameter it does not take."""
        accepted = self.parameters()
        for name in params:
            if name not in accepted:
                raise TypeError(f"preset '{self.name}' has no parameter '{name}'."
                                f"{did_you_mean(name, accepted)} It takes: {', '.join(accepted)}.")


def check_positive(**values: int) -> None:
    """Raise a one-line ``ValueError`` for the first of ``values`` that is below 1."""
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")


def check_choice(parameter: str, value: Any, allowed: tuple[Any, ...]) -> None:
    """Raise a one-line ``ValueError`` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{parameter} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
