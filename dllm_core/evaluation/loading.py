"""Load what the adapter needs from a checkpoint: model, tokenizer, special tokens, generator.

The caller resolves the family (:func:`dllm_core.checkpoint.resolve_family`). The generator
preset is ``generator=`` from ``--model_args``, else ``dllm.json``'s, else the family's default;
its default settings come from ``dllm.json`` when that names the same preset, else from the
family when it is the family's default preset. A LoRA adapter is merged into its base model.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from dllm_core.checkpoint import CheckpointInfo, adapter_base, load_for_inference
from dllm_core.evaluation.settings import AdapterSettings
from dllm_core.family import ModelFamily
from dllm_core.errors import DllmError
from dllm_core.registry import get_registry
from dllm_core.model_config import max_positions
from dllm_core.tokens import SpecialTokens

DEFAULT_MAX_LENGTH = 2048


@dataclass(frozen=True)
class GeneratorChoice:
    """The generator preset and where its parameters come from.

    Attributes:
        preset: registered generator name passed to ``generate``.
        accepted: the preset's parameter names.
        defaults: settings from ``dllm.json`` or the family.
        overrides: generator parameters given in ``--model_args``.
    """

    preset: str
    accepted: frozenset[str]
    defaults: dict[str, Any]
    overrides: dict[str, Any]


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A checkpoint ready for evaluation (model in eval mode on its device)."""

    family: ModelFamily
    model: Any
    tokenizer: Any
    special: SpecialTokens
    generator: GeneratorChoice
    max_length: int


def checkpoint_info(folder: Path) -> CheckpointInfo | None:
    """``dllm.json`` of ``folder``, or of its base model when ``folder`` is a LoRA adapter."""
    info = CheckpointInfo.read(folder)
    base = adapter_base(folder)
    return info if info is not None or base is None else CheckpointInfo.read(base)


def choose_generator(family: ModelFamily, info: CheckpointInfo | None, settings: AdapterSettings) -> GeneratorChoice:
    """The preset and its parameters; unknown ``--model_args`` keys raise a :class:`DllmError`."""
    saved = dict(info.generator) if info is not None else {}
    saved_preset = saved.pop("preset", None)
    preset = settings.generator or saved_preset or family.default_generator
    if preset == saved_preset:
        defaults = saved
    else:
        defaults = dict(family.generator_defaults) if preset == family.default_generator else {}
    prepare = getattr(get_registry().generators.get(preset), "prepare", None)
    if prepare is None:
        raise DllmError(f"generator '{preset}' is not a generation preset, so `dllm eval` cannot generate "
                        "with it; pass generator=NAME in model_args (e.g. llada, dream, mdlm).")
    accepted = frozenset(name for name in inspect.signature(prepare).parameters if name != "context")
    unknown = sorted(set(settings.generator_params) - accepted)
    if unknown:
        adapter_keys = [f.name for f in fields(AdapterSettings) if f.name != "generator_params"]
        raise DllmError(
            f"model_args: unknown key(s) {', '.join(unknown)}. Adapter keys: {', '.join(adapter_keys)}; "
            f"generator '{preset}' parameters: {', '.join(sorted(accepted))}."
        )
    return GeneratorChoice(preset, accepted, defaults, dict(settings.generator_params))


def model_max_length(config: Any, tokenizer: Any) -> int:
    """The longest sequence the model takes: its config's position limit, else the tokenizer's."""
    positions = max_positions(config)
    if positions is not None:
        return positions
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if isinstance(limit, int) and 0 < limit < 1_000_000 else DEFAULT_MAX_LENGTH


def load_for_evaluation(settings: AdapterSettings, family: ModelFamily, device: str) -> LoadedCheckpoint:
    """Choose the generator, then load and prepare model and tokenizer of ``family``'s checkpoint."""
    import torch

    folder = settings.pretrained
    generator = choose_generator(family, checkpoint_info(folder), settings)
    dtype = settings.dtype
    if dtype is not None and dtype != "auto":
        dtype = getattr(torch, dtype)
    model, tokenizer, special = load_for_inference(folder, family, dtype=dtype, device=device,
                                                   merge_adapter=True)
    max_length = settings.max_length or model_max_length(model.config, tokenizer)
    return LoadedCheckpoint(family, model, tokenizer, special, generator, max_length)
