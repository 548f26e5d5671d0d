"""The adapter's settings, read from lm-eval's ``--model_args`` (``key=value,...``).

Adapter keys (everything else is a generator parameter, checked against the generator preset
when the model loads):

==================  =======================================================================
``pretrained``      checkpoint or LoRA adapter folder (required)
``generator``       generator preset name; default: ``dllm.json``'s, else the family's
``mc_num``          Monte-Carlo draws per log-likelihood request (default 128, LLaDA's)
``batch_size``      prompts per ``generate`` call and Monte-Carlo rows per forward (default 1)
``max_length``      longest sequence the model sees (default: the model config's)
``dtype``           ``auto``, ``float32``, ``bfloat16`` or ``float16`` (default: the checkpoint's)
``device``          e.g. ``cpu``, ``cuda:0`` (default: accelerate's device for this process)
``seed``            seed of the Monte-Carlo masks and of sampling (default 1234)
==================  =======================================================================

lm-eval also passes ``max_batch_size`` (unused: there is no automatic batch size) and, with
``--trust_remote_code``, ``trust_remote_code`` (ignored: dllm never runs remote code, its own
model classes load the official checkpoints). Pure Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from dllm_core.errors import DllmError

DTYPES = ("auto", "float32", "bfloat16", "float16")
#: the keys the adapter reads itself; every other key is a parameter of the generator
ADAPTER_KEYS = ("pretrained", "generator", "mc_num", "batch_size", "max_length", "dtype", "device", "seed")
IGNORED_KEYS = ("max_batch_size", "trust_remote_code")


@dataclass(frozen=True)
class AdapterSettings:
    """What ``--model_args`` asks of the adapter (see the module doc for each key)."""

    pretrained: Path
    generator: str | None = None
    mc_num: int = 128
    batch_size: int = 1
    max_length: int | None = None
    dtype: str | None = None
    device: str | None = None
    seed: int = 1234
    generator_params: dict[str, Any] = field(default_factory=dict)


def _positive_int(key: str, value: Any) -> int:
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        hint = " (there is no automatic batch size; pass a number)" if text.startswith("auto") else ""
        raise DllmError(f"model_args: {key} must be a positive integer, got {value!r}{hint}.")
    return int(text)


def settings_from_model_args(model_args: Mapping[str, Any]) -> AdapterSettings:
    """Validate ``model_args`` (as lm-eval parsed them) into :class:`AdapterSettings`."""
    args = {key: value for key, value in model_args.items() if value is not None and key not in IGNORED_KEYS}
    pretrained = args.pop("pretrained", None)
    if not pretrained:
        raise DllmError("model_args: pretrained=PATH is required (a dllm checkpoint or LoRA adapter folder).")
    dtype = args.pop("dtype", None)
    if dtype is not None and dtype not in DTYPES:
        raise DllmError(f"model_args: dtype must be one of {', '.join(DTYPES)}, got {dtype!r}.")
    max_length = args.pop("max_length", None)
    seed = args.pop("seed", 1234)
    if not isinstance(seed, int):
        raise DllmError(f"model_args: seed must be an integer, got {seed!r}.")
    generator = args.pop("generator", None)
    device = args.pop("device", None)
    return AdapterSettings(
        pretrained=Path(str(pretrained)),
        generator=None if generator is None else str(generator),
        mc_num=_positive_int("mc_num", args.pop("mc_num", 128)),
        batch_size=_positive_int("batch_size", args.pop("batch_size", 1)),
        max_length=None if max_length is None else _positive_int("max_length", max_length),
        dtype=dtype,
        device=None if device is None else str(device),
        seed=seed,
        generator_params=args,
    )
