"""Merging a LoRA adapter into its base model: a full checkpoint that needs no peft to load."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from dllm_core.checkpoint import (
    CheckpointInfo,
    adapter_base,
    load_model,
    load_tokenizer,
    resolve_family,
    save_checkpoint,
)
from dllm_core.errors import DllmError


def merge_lora(adapter: Path, output: Path) -> Path:
    """Write ``adapter`` merged into its base weights to ``output`` (safetensors, tokenizer, ``dllm.json``).

    ``dllm.json`` is the adapter's (else its base model's, else the family's defaults), with
    ``extra["merged_from"]`` naming the adapter; ``base_model`` moves to the merged model.
    """
    adapter, output = Path(adapter), Path(output)
    if not adapter.is_dir():
        raise DllmError(f"adapter folder {adapter} does not exist")
    base = adapter_base(adapter)
    if base is None:
        raise DllmError(f"{adapter} is not a LoRA adapter (it has no adapter_config.json); "
                        "it is a full checkpoint already and needs no merging")
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise DllmError(f"--output {output} exists and is not empty; pass a new or empty folder")
    family = resolve_family(adapter)
    model = load_model(adapter, family).merge_and_unload()
    tokenizer = load_tokenizer(adapter, family)
    info = CheckpointInfo.read(adapter) or CheckpointInfo.read(base) or CheckpointInfo(family=family.name)
    info = replace(info, extra={**info.extra, "merged_from": str(adapter.resolve()), "base_model": str(base)})
    return save_checkpoint(model, tokenizer, output, info)
