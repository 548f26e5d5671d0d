"""The adapter's settings, read from lm-eval's ``--model_args`` (``key=value,...``).

Adapter keys (everything else is a generator parameter, checked against the generator preset
when the model loads):

==================  =======================================================================
``pretrained``      checkpoint or LoRA adapter folder (required)
``generator``       generator preset name; default: ``dllm.json``'s, else the family's
``mc_num``          Monte-Carlo draws per log-likelihood request (default 128, LLaDA's)
``mc_batch_size``   draws stratified together (LLaDA's ``batch_size``; default 32, LLaDA's)
``forward_tokens``  padded tokens per packed likelihood forward (default 8192)
``cfg_scale``       classifier-free guidance of the likelihood (and of the generator when it takes
                    ``cfg_scale``; default 0, off, LLaDA's ``cfg``)
``greedy_check``    ``iterative`` (LLaDA's, default), ``one_forward`` (faster) or ``off``
``batch_size``      prompts per ``generate`` call (default 16)
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
ADAPTER_KEYS = ("pretrained", "generator", "mc_num", "mc_batch_size", "forward_tokens", "cfg_scale", "greedy_check",
                "batch_size", "max_length", "dtype", "device", "seed")
GREEDY_CHECKS = ("iterative", "one_forward", "off")
DEFAULT_BATCH_SIZE = 16
IGNORED_KEYS = ("max_batch_size", "trust_remote_code")


@dataclass(frozen=True)
class AdapterSettings:
    """What ``--model_args`` asks of the adapter (see the module doc for each key)."""

    pretrained: Path
    generator: str | None = None
    mc_num: int = 128
    mc_batch_size: int = 32
    forward_tokens: int = 8192
    cfg_scale: float | None = None
    greedy_check: str = "iterative"
    batch_size: int = DEFAULT_BATCH_SIZE
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
    greedy_check = str(args.pop("greedy_check", "iterative"))
    if greedy_check not in GREEDY_CHECKS:
        raise DllmError(f"model_args: greedy_check must be one of {', '.join(GREEDY_CHECKS)}, got {greedy_check!r}.")
    cfg_scale = args.pop("cfg_scale", None)
    try:
        cfg_scale = None if cfg_scale is None else float(cfg_scale)
    except ValueError:
        raise DllmError(f"model_args: cfg_scale must be a number >= 0, got {cfg_scale!r}.") from None
    if cfg_scale is not None and cfg_scale < 0:
        raise DllmError(f"model_args: cfg_scale must be a number >= 0, got {cfg_scale!r}.")
    return AdapterSettings(
        pretrained=Path(str(pretrained)),
        generator=None if generator is None else str(generator),
        mc_num=_positive_int("mc_num", args.pop("mc_num", 128)),
        mc_batch_size=_positive_int("mc_batch_size", args.pop("mc_batch_size", 32)),
        forward_tokens=_positive_int("forward_tokens", args.pop("forward_tokens", 8192)),
        cfg_scale=cfg_scale,
        greedy_check=greedy_check,
        batch_size=_positive_int("batch_size", args.pop("batch_size", DEFAULT_BATCH_SIZE)),
        max_length=None if max_length is None else _positive_int("max_length", max_length),
        dtype=dtype,
        device=None if device is None else str(device),
        seed=seed,
        generator_params=args,
    )
