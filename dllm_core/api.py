"""The public API for plugins: everything a plugin may import from dllm-core, in one place.

A plugin (ours or a third party's) imports from this module only::

    from dllm_core.api import ModelFamily, hookimpl, Generator, InferenceSession

A test (``tests/core/test_public_api.py``) fails when a file under ``plugins/`` imports any
other ``dllm_core`` module. Names are grouped by concern:

* plugin hooks and the registry: ``hookimpl``, ``get_registry``, ``load_reference``;
* errors: ``DllmError``, ``UnknownNameError``, ``PluginError``, ``did_you_mean``,
  ``unknown_name_error``;
* model families and checkpoints: ``ModelFamily``, ``CheckpointInfo``, ``register_family_classes``,
  ``save_checkpoint`` (a model, its tokenizer and ``dllm.json``, written atomically),
  ``max_positions``, ``preset_config`` (a family's size preset as a config sized to a tokenizer);
* converting an AR checkpoint (``ModelFamily.ar_converter``): ``ConvertRequest``,
  ``ConvertResult`` and the shared steps ``load_ar_source``, ``add_special_tokens``,
  ``default_pad_to_eos``, ``grown_state_dict``, ``assign_weights``, ``write_converted``;
* model building blocks (torch): ``DiffusionLMMixin`` / ``DiffusionLMHeadMixin``, the pre-norm
  decoder's parts (``DecoderBackbone``, ``PreNormDecoderLayer``, ``RotaryAttentionMixin``),
  ``RMSNorm``, ``SwiGLU``, ``init_weights_normal``, config checks, rotary and attention helpers;
* training: ``Objective``, ``Batch``, ``LossOutput``, ``model_config``, ``shift_logits``,
  ``NoiseSchedule``, ``EditSchedule``, ``schedule_from_config``;
* generation: ``Generator`` (the contract every sampler implements), ``ParameterRoles``,
  ``CliOption``, ``Generation``, ``InferenceSession``, ``Completion``;
* data: ``Task``, ``Example`` and the built-in tasks.

Importing this module is cheap (no torch, no transformers): the light names above are imported
at once, every other name on first access (PEP 562 ``__getattr__``).
"""

from __future__ import annotations

import importlib
from typing import Any

from dllm_core.checkpoint import CheckpointInfo, register_family_classes, save_checkpoint
from dllm_core.errors import DllmError, PluginError, UnknownNameError, did_you_mean, unknown_name_error
from dllm_core.family import ModelFamily
from dllm_core.hookspecs import hookimpl
from dllm_core.registry import get_registry, load_reference

#: name -> module it is imported from on first access (torch / transformers behind most)
_LAZY: dict[str, str] = {
    # model configs
    "max_positions": "dllm_core.model_config",
    "preset_config": "dllm_core.model_config",
    # converting an autoregressive checkpoint (a family's ar_converter)
    "ConvertRequest": "dllm_core.conversion",
    "ConvertResult": "dllm_core.conversion",
    "add_special_tokens": "dllm_core.conversion",
    "assign_weights": "dllm_core.conversion",
    "default_pad_to_eos": "dllm_core.conversion",
    "grown_state_dict": "dllm_core.conversion",
    "load_ar_source": "dllm_core.conversion",
    "write_converted": "dllm_core.conversion",
    # model building blocks
    "DecoderBackbone": "dllm_core.modeling",
    "DiffusionLMHeadMixin": "dllm_core.modeling",
    "DiffusionLMMixin": "dllm_core.modeling",
    "DiffusionLMOutput": "dllm_core.modeling",
    "LogitsToKeep": "dllm_core.modeling",
    "PreNormDecoderLayer": "dllm_core.modeling",
    "RMSNorm": "dllm_core.modeling",
    "RotaryAttentionMixin": "dllm_core.modeling",
    "SwiGLU": "dllm_core.modeling",
    "attention_mask_for_sdpa": "dllm_core.modeling",
    "init_weights_normal": "dllm_core.modeling",
    "keep_positions": "dllm_core.modeling",
    "norm_heads": "dllm_core.modeling",
    "register_auto_classes": "dllm_core.modeling",
    "require_full_attention": "dllm_core.modeling",
    "require_plain_rope": "dllm_core.modeling",
    "rotary_cos_sin": "dllm_core.modeling",
    "rotary_self_attention": "dllm_core.modeling",
    # training
    "Batch": "dllm_core.objectives.base",
    "LossOutput": "dllm_core.objectives.base",
    "Objective": "dllm_core.objectives.base",
    "model_config": "dllm_core.objectives.model_io",
    "shift_logits": "dllm_core.objectives.model_io",
    "NoiseSchedule": "dllm_core.schedules",
    "EditSchedule": "dllm_core.schedules",
    "schedule_from_config": "dllm_core.schedules",
    "AbsorbingKernel": "dllm_core.schedules.kernels",
    "NoiseKernel": "dllm_core.schedules.kernels",
    "UniformKernel": "dllm_core.schedules.kernels",
    # generation and inference
    "CliOption": "dllm_core.generation.contract",
    "Generation": "dllm_core.generation.contract",
    "Generator": "dllm_core.generation.contract",
    "ParameterRoles": "dllm_core.generation.contract",
    "params_field": "dllm_core.generation.contract",
    "Completion": "dllm_core.session",
    "InferenceSession": "dllm_core.session",
    # running the whole paths (a plugin's own commands, e.g. a demo)
    "TrainRunConfig": "dllm_core.training.run_config",
    "run_training": "dllm_core.training.run",
    "evaluate_checkpoint": "dllm_core.evaluation.runner",
    # data
    "Example": "dllm_core.data.tasks.base",
    "Task": "dllm_core.data.tasks.base",
    "AdditionTask": "dllm_core.data.tasks.addition",
    "CountdownTask": "dllm_core.data.tasks.countdown",
    "Sudoku4Task": "dllm_core.data.tasks.sudoku",
}

__all__ = [
    "CheckpointInfo",
    "DllmError",
    "ModelFamily",
    "PluginError",
    "UnknownNameError",
    "did_you_mean",
    "get_registry",
    "hookimpl",
    "load_reference",
    "register_family_classes",
    "save_checkpoint",
    "unknown_name_error",
    *sorted(_LAZY),
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"dllm_core.api has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
