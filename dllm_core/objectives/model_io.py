"""How objectives talk to models: config lookup through wrappers, logits, mask id, shifts."""

from __future__ import annotations

from typing import Any

import torch

from dllm_core.objectives.base import Batch, LossOutput


def unwrap_model(model: torch.nn.Module) -> torch.nn.Module:
    """Strip data-parallel wrappers (DDP, DataParallel, DeepSpeed, FSDP1 keep it in ``.module``).

    peft models need no unwrapping: they forward attribute access (``config``, ``dtype``) to the
    model they wrap.
    """
    while isinstance(getattr(model, "module", None), torch.nn.Module):
        model = model.module
    return model


def model_config(model: torch.nn.Module) -> Any:
    """The model's (Hugging Face) config, or ``None`` when it has none."""
    return getattr(unwrap_model(model), "config", None)


def model_float_dtype(model: torch.nn.Module) -> torch.dtype:
    """The floating dtype the model computes in (for additive attention masks)."""
    inner = unwrap_model(model)
    dtype = getattr(inner, "dtype", None)
    if isinstance(dtype, torch.dtype) and dtype.is_floating_point:
        return dtype
    for parameter in inner.parameters():
        if parameter.is_floating_point():
            return parameter.dtype
    return torch.float32


def resolve_mask_token_id(model: torch.nn.Module, batch: Batch) -> int:
    """``batch["mask_token_id"]`` if present, else ``model.config.mask_token_id``.

    A tensor in the batch (collators stack it per row) must hold one value throughout.
    """
    value = batch.get("mask_token_id")
    if value is None:
        value = getattr(model_config(model), "mask_token_id", None)
    if value is None:
        raise ValueError(
            "no mask token id: the batch has no 'mask_token_id' and model.config.mask_token_id "
            "is missing or None; set one of them (the family's tokenizer adapter knows it)"
        )
    if isinstance(value, torch.Tensor):
        flat = value.flatten()
        if flat.numel() == 0 or not bool((flat == flat[0]).all()):
            raise ValueError(f"batch['mask_token_id'] must hold a single id, got {value.tolist()}")
        value = flat[0].item()
    return int(value)


def logits_of(output: Any) -> torch.Tensor:
    """The logits ``[B, L, V]`` of a model output (``.logits``, a tuple's first item, or a tensor)."""
    if isinstance(output, torch.Tensor):
        return output
    logits = getattr(output, "logits", None)
    if logits is not None:
        return logits
    if isinstance(output, (tuple, list)):
        return output[0]
    raise TypeError(f"cannot find logits in a model output of type {type(output).__name__}")


def shift_logits(logits: torch.Tensor) -> torch.Tensor:
    """Dream's convention: position i is predicted by the output at i - 1; position 0 keeps its own.

    ``[B, L, V] -> [B, L, V]``: out[:, 0] = logits[:, 0], out[:, i] = logits[:, i - 1] for i >= 1.
    """
    return torch.cat([logits[:, :1], logits[:, :-1]], dim=1)


def with_router_loss(result: LossOutput, model: torch.nn.Module, output: Any) -> LossOutput:
    """Add a mixture-of-experts model's load-balancing loss while training.

    A model that returns ``aux_loss`` (its routers' load-balancing loss, when its config sets
    ``output_router_logits``) gets ``loss += router_aux_loss_coef * aux_loss``, the weighting
    transformers' MoE models use; ``router_aux_loss`` is reported. Anything else is unchanged.
    """
    aux = getattr(output, "aux_loss", None)
    coefficient = getattr(model_config(model), "router_aux_loss_coef", 0.0) or 0.0
    if aux is None or not model.training or coefficient == 0:
        return result
    metrics = {**result.metrics, "router_aux_loss": aux.detach()}
    return LossOutput(result.loss + coefficient * aux.to(result.loss.dtype), metrics)
