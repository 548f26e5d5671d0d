"""What a preset is: a generator whose ``prepare(context, params)`` turns reference-style parameters
into a canvas and a loop configuration of the one generation engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import torch

from dllm_core.errors import DllmError
from dllm_core.generation.canvas import Canvas
from dllm_core.generation.capabilities import ModelCapabilities
from dllm_core.generation.config import GenerationConfig
from dllm_core.generation.contract import CliOption, Generation, Generator, ParameterRoles, StepCallback


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
        eot_token_id: end-of-turn id (``generate``'s argument, else the model config's, if any).
    """

    model: Any
    input_ids: Any
    attention_mask: torch.Tensor | None
    capabilities: ModelCapabilities
    eos_token_id: int | None
    eot_token_id: int | None = None

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


#: ``--show-denoising``: every masked-diffusion preset can replay its canvas step by step
SHOW_DENOISING = CliOption("--show-denoising", "replay the canvas step by step")


@dataclass(frozen=True)
class Preset(Generator):
    """A masked-diffusion generator: ``prepare(context, params)`` turns the reference's
    parameters into a canvas and a loop configuration that :func:`~dllm_core.generation.engine.
    denoise` runs.

    Attributes:
        name: registry name (``llada``, ...).
        description: one line for ``dllm list generators``.
        params_class: the dataclass of parameters, named and defaulted as in the reference.
        prepare: ``prepare(context, params) -> Prepared``; raises ``ValueError`` for settings
            the reference would reject.
        roles: which parameters are the answer length, block length, steps and mask id.
        ragged_rows: the preset places each answer after its own prompt (no left padding).
    """

    name: str
    description: str
    params_class: type
    prepare: Callable[[PresetContext, Any], Prepared]
    roles: ParameterRoles = ParameterRoles()
    ragged_rows: bool = False
    cli_options: tuple[CliOption, ...] = (SHOW_DENOISING,)
    steps_unmask_answer = True  # a class attribute, not a field

    def params_from_keywords(self, values: dict[str, Any]) -> Any:
        """``params_class(**values)`` for :func:`~dllm_core.generation.generate`'s keywords; an
        unknown name is a ``TypeError`` naming the closest parameter."""
        problem = self.unknown_parameter(values)
        if problem is not None:
            raise TypeError(problem)
        return self.params_class(**values)

    def complete(self, session: Any, prompts: Sequence[Sequence[int]], params: Any, *, seed: int = 0,
                 callback: StepCallback | None = None, options: Mapping[str, Any] | None = None) -> Generation:
        """Run the preset on ``prompts`` (left-padded by the session unless ``ragged_rows``).

        Every row stops early once all rows produced EOS (the session cuts answers at the first
        stop token, so the answers do not change); ``--show-denoising`` records each step.
        """
        from dllm_core.generation.api import generate
        from dllm_core.generation.denoising_view import StepRecorder

        recorder = StepRecorder() if (options or {}).get("show_denoising") else None
        if self.ragged_rows:
            inputs: Any = [torch.tensor(list(row), dtype=torch.long, device=session.device) for row in prompts]
            attention_mask, starts = None, [len(row) for row in prompts]
        else:
            inputs, attention_mask = session.pad_left(prompts)
            starts = [inputs.shape[1]] * len(prompts)
        eos = session.special.eos_token_id
        try:
            output = generate(session.model, inputs, preset=self, params=params, attention_mask=attention_mask,
                              family=session.family, generator=torch.Generator(device=session.device).manual_seed(seed),
                              callback=chain_callbacks(callback, recorder), stop_at_eos=eos is not None, eos_token_id=eos,
                              eot_token_id=session.special.eot_token_id)
        except ValueError as exc:
            raise DllmError(f"generator '{self.name}' rejected its settings: {exc}") from None
        rows = [sequence[start:] for sequence, start in zip(output.sequences.tolist(), starts)]
        traces = None if recorder is None else [(recorder, start) for start in starts]
        return Generation(rows, output.nfe, traces, answer_starts=starts)

    def show_row(self, session: Any, generation: Generation, row: int, options: Mapping[str, Any]) -> None:
        """Replay the recorded canvas of ``row`` (``--show-denoising``)."""
        from dllm_core.generation.denoising_view import replay

        if generation.traces is not None:
            recorder, start = generation.traces[row]
            replay(recorder, session.tokenizer, session.special.mask_token_id, row=row, start=start)


def chain_callbacks(*callbacks: StepCallback | None) -> StepCallback | None:
    """One callback calling each of ``callbacks`` that is not ``None`` (``None`` if none is)."""
    chosen = [callback for callback in callbacks if callback is not None]
    if not chosen:
        return None
    if len(chosen) == 1:
        return chosen[0]

    def call_all(info: Any) -> None:
        for callback in chosen:
            callback(info)

    return call_all


def check_positive(**values: int) -> None:
    """Raise a one-line ``ValueError`` for the first of ``values`` that is below 1."""
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")


def check_choice(parameter: str, value: Any, allowed: tuple[Any, ...]) -> None:
    """Raise a one-line ``ValueError`` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{parameter} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
