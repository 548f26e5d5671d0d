"""LoRA (peft) and 4-bit loading (bitsandbytes NF4) for ``dllm train``.

Both are optional dependencies: asking for them without the package is a :class:`DllmError`
naming the extra to install, before anything is loaded (:func:`check_adapter_extras`).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from dllm_core.errors import DllmError

#: module -> the dllm-core extra that installs it
EXTRAS = {"peft": "lora", "bitsandbytes": "quant"}


@dataclass
class LoraOptions:
    """A LoRA adapter to train instead of the full weights (``dllm train``'s defaults are those of
    the ``lora_*`` fields of :class:`~dllm_core.training.run_config.TrainRunConfig`)."""

    rank: int  # r: the rank of each update B @ A
    alpha: float  # the update is scaled by alpha / rank
    dropout: float  # dropout on the adapter's input
    target_modules: list[str]  # module names, or ["all-linear"]
    modules_to_save: list[str]  # modules trained in full and saved with the adapter


def require(module: str, feature: str) -> None:
    """Raise a :class:`DllmError` naming the extra when ``module`` is not installed."""
    if importlib.util.find_spec(module) is None:
        raise DllmError(f"{feature} needs {module}, which is not installed: "
                        f"pip install 'dllm-core[{EXTRAS[module]}]'")


def check_adapter_extras(lora: LoraOptions | None, load_in_4bit: bool) -> None:
    """Fail early, with the extra to install, when LoRA or 4-bit is asked for and missing."""
    if lora is not None:
        require("peft", "--lora")
    if load_in_4bit:
        require("bitsandbytes", "--load-in-4bit")
        require("peft", "--load-in-4bit (4-bit weights train through a LoRA adapter)")


def four_bit_config(bf16: bool) -> Any:
    """NF4 weights with double quantisation; matmuls in bf16 with ``bf16`` else float32."""
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16 if bf16 else torch.float32,
    )


def add_lora(model: Any, options: LoraOptions, *, quantized: bool, gradient_checkpointing: bool) -> Any:
    """Wrap ``model`` in a trainable LoRA adapter (a 4-bit model is prepared for k-bit training)."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if quantized:
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    targets: str | list[str] = options.target_modules
    if targets == ["all-linear"]:
        targets = "all-linear"
    config = LoraConfig(
        r=options.rank, lora_alpha=options.alpha, lora_dropout=options.dropout,
        target_modules=targets, modules_to_save=options.modules_to_save or None,
    )
    try:
        return get_peft_model(model, config)
    except ValueError as exc:  # e.g. target modules that the model does not have
        raise DllmError(f"--lora: {exc}") from None
