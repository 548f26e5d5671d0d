"""Block-diffusion generators: presets of :func:`~dllm_core.generation.block.denoise_blocks`.

A :class:`BlockGenerator` is a :class:`~dllm_core.generation.contract.Generator` whose
``prepare(context, params)`` turns a reference's parameters into a block canvas and a
:class:`~dllm_core.generation.block.BlockConfig` (the ``bd3lm`` and ``llada2`` presets in
:mod:`dllm_core.generation.presets`). It lays out prompts of different lengths itself
(``ragged_rows``). :func:`generate_blocks` runs one on tensors, without a session.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Sequence

import torch

from dllm_core.errors import DllmError
from dllm_core.family import ModelFamily
from dllm_core.generation.block import BlockConfig, BlockOutput, StepCallback, denoise_blocks
from dllm_core.generation.block_canvas import BlockCanvas, as_rows
from dllm_core.generation.capabilities import ModelCapabilities, family_of, model_capabilities
from dllm_core.generation.contract import CliOption, Generation, Generator, ParameterRoles
from dllm_core.generation.presets.base import SHOW_DENOISING, chain_callbacks
from dllm_core.registry import get_registry
from dllm_core.special_tokens import SpecialTokens


@dataclass(frozen=True)
class BlockContext:
    """What a block preset may read besides its parameters.

    Attributes:
        model: the model (its ``config`` supplies token ids not given otherwise).
        prompts: ``B`` prompts, 1D long tensors of any lengths.
        capabilities: what the model supports (logit shift, cache, ``logits_to_keep``).
        special: the checkpoint's special token ids, or ``None`` (then the model config's).
    """

    model: Any
    prompts: list[torch.Tensor]
    capabilities: ModelCapabilities
    special: SpecialTokens | None = None

    def token_id(self, given: int | None, role: str) -> int | None:
        """``given``, else the ``<role>_token_id`` of ``special``, else of the model config."""
        if given is not None:
            return int(given)
        attribute = f"{role}_token_id"
        for source in (self.special, getattr(self.model, "config", None)):
            value = getattr(source, attribute, None)
            if isinstance(value, (list, tuple)):
                value = value[0] if value else None
            if value is not None:
                return int(value)
        return None

    def required_id(self, given: int | None, role: str, parameter: str) -> int:
        """:meth:`token_id`, or a ``ValueError`` naming ``parameter`` when there is none."""
        value = self.token_id(given, role)
        if value is None:
            raise ValueError(f"pass {parameter}=...: neither the tokenizer nor the model config has a {role} token")
        return value


@dataclass(frozen=True)
class BlockPrepared:
    """A block preset's output: the canvas and the loop settings."""

    canvas: BlockCanvas
    config: BlockConfig


@dataclass(frozen=True)
class BlockGenerator(Generator):
    """A block-diffusion generator (see the module doc).

    Attributes:
        name: registry name (``bd3lm``, ``llada2``).
        description: one line for ``dllm list generators``.
        params_class: the dataclass of parameters, named and defaulted as in the reference.
        prepare: ``prepare(context, params) -> BlockPrepared``; raises ``ValueError`` for
            settings the reference rejects or this implementation lacks.
        roles: which parameters are the answer length, block length, steps and mask id.
    """

    name: str
    description: str
    params_class: type
    prepare: Callable[[BlockContext, Any], BlockPrepared]
    roles: ParameterRoles = ParameterRoles()
    ragged_rows: bool = True
    cli_options: tuple[CliOption, ...] = (SHOW_DENOISING,)
    steps_unmask_answer = True  # a class attribute, not a field

    def complete(self, session: Any, prompts: Sequence[Sequence[int]], params: Any, *, seed: int = 0,
                 callback: StepCallback | None = None, options: Mapping[str, Any] | None = None) -> Generation:
        """Generate block by block; rows hold each answer up to and including its first EOS."""
        from dllm_core.generation.denoising_view import StepRecorder

        recorder = StepRecorder() if (options or {}).get("show_denoising") else None
        try:
            output = generate_blocks(session.model, prompts, preset=self, params=params, special=session.special,
                                     family=session.family,
                                     generator=torch.Generator(device=session.device).manual_seed(seed),
                                     callback=chain_callbacks(callback, recorder))
        except ValueError as exc:
            raise DllmError(f"generator '{self.name}' rejected its settings: {exc}") from None
        starts = output.region_start.tolist()
        traces = None if recorder is None else [(recorder, start) for start in starts]
        return Generation(output.answers(), output.nfe, traces, answer_starts=starts)

    def show_row(self, session: Any, generation: Generation, row: int, options: Mapping[str, Any]) -> None:
        """Replay the recorded canvas of ``row`` (``--show-denoising``)."""
        from dllm_core.generation.denoising_view import replay

        if generation.traces is not None:
            recorder, start = generation.traces[row]
            replay(recorder, session.tokenizer, session.special.mask_token_id, row=row, start=start)


def generate_blocks(
    model: Any,
    prompts: Sequence[Sequence[int]] | torch.Tensor,
    *,
    preset: str | BlockGenerator,
    params: Any = None,
    special: SpecialTokens | None = None,
    family: ModelFamily | str | None = None,
    generator: torch.Generator | None = None,
    callback: StepCallback | None = None,
    use_cache: bool = True,
    supports_kv_cache: bool | None = None,
    supports_logits_to_keep: bool | None = None,
    **keywords: Any,
) -> BlockOutput:
    """Generate with a block-diffusion preset on token prompts.

    Args:
        model: a model following the generation contract with 4D attention masks
            (``model(input_ids, attention_mask=[B, 1, q, Lk] bool, position_ids=,
            past_key_values=, use_cache=, logits_to_keep=).logits``).
        prompts: ``B`` prompts of any lengths (lists of ids, 1D tensors, or the rows of a
            ``[B, L]`` tensor), without padding.
        preset: ``"bd3lm"``, ``"llada2"``, a plugin's block preset or a :class:`BlockGenerator`.
        params: an instance of the preset's ``params_class``; when ``None`` it is built from
            ``**keywords`` (the reference's parameter names).
        special: token ids the reference reads from its tokenizer (BD3LM's mask, pad, EOS);
            default: the model config's.
        family: the model family (object or name); default: the one claiming the model type.
        generator: random source; ``None`` uses torch's global generator (as the references).
        callback: called with a :class:`~dllm_core.generation.output.StepInfo` after every step.
        use_cache: the exact cache (when the family supports it); ``False`` recomputes the prefix
            every call, with the same tokens and NFE.
        supports_kv_cache, supports_logits_to_keep: override the family's capabilities.

    Returns:
        :class:`~dllm_core.generation.block.BlockOutput`.
    """
    chosen = preset if isinstance(preset, BlockGenerator) else get_registry().generators.get(preset)
    if not isinstance(chosen, BlockGenerator):
        raise DllmError(f"generator '{preset}' is not a block-diffusion preset; use generate() for the "
                        "masked-diffusion presets or its complete() through an InferenceSession")
    if params is None:
        problem = chosen.unknown_parameter(keywords)
        if problem is not None:
            raise TypeError(problem)
        params = chosen.params_class(**keywords)
    elif keywords:
        raise TypeError(f"pass the parameters either as params= or as keywords, not both: {sorted(keywords)}")
    capabilities = model_capabilities(family_of(model, family), supports_kv_cache=supports_kv_cache,
                                      supports_logits_to_keep=supports_logits_to_keep)
    device = getattr(model, "device", torch.device("cpu"))
    context = BlockContext(model, as_rows(prompts, device), capabilities, special)
    prepared = chosen.prepare(context, params)
    config = prepared.config if use_cache else replace(prepared.config, use_cache=False)
    return denoise_blocks(model, prepared.canvas, config, capabilities, generator=generator, callback=callback)
