"""Turn an autoregressive Qwen3/Qwen2/Llama checkpoint into an A2D checkpoint (the a2d family's
``ar_converter``: ``dllm convert --from-ar SRC --output DIR --objective block-diffusion``).

As ZHZisZZ/dllm's ``a2d/convert.py``: the AR config becomes the matching A2D config (every field
kept, ``model_type`` ``qwen3`` -> ``a2d-qwen3``, ``qwen2`` -> ``a2d-qwen2``, ``llama`` ->
``a2d-llama``) and the weights are copied under their own names; the A2D model is the same
network with the causal mask removed. The tokenizer gets what ZHZisZZ/dllm's ``get_tokenizer``
gives A2D models: a ``<|mask|>`` mask token, pad = EOS and BOS = pad where missing. Beyond the
reference (which leaves the mask token's embedding row as it finds it), the mask token's row and
every row added past the source's V are the mean of the n known tokens' rows (the core's shared
steps, ``dllm_core.api.grown_state_dict``), for the input embedding and an untied head alike.

Under a causal attention mask the converted model reproduces the AR logits exactly; block
diffusion training is what teaches it bidirectional attention and the mask token. ``dllm.json``
records the block-diffusion objective and the ``bd3lm`` generator with the block size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dllm_core.api import (
    CheckpointInfo,
    ConvertRequest,
    ConvertResult,
    DllmError,
    add_special_tokens,
    assign_weights,
    default_pad_to_eos,
    grown_state_dict,
    load_ar_source,
    register_family_classes,
    write_converted,
)
from dllm_a2d.family import A2D

#: the AR ``model_type``s that convert (each has an A2D model class of the same architecture)
SOURCE_ARCHITECTURES = ("qwen3", "qwen2", "llama")
#: source config fields that name the source checkpoint rather than the network
DROPPED_FIELDS = ("model_type", "architectures", "auto_map", "_name_or_path", "transformers_version")


def block_size_of(request: ConvertRequest) -> int:
    """``request.block_size``, else the family's generator default; at least 1."""
    block_size = A2D.generator_defaults["block_size"] if request.block_size is None else request.block_size
    if block_size < 1:
        raise DllmError(f"--block-size must be at least 1, got {block_size}")
    return block_size


def a2d_config(model_class: Any, source_config: Any, vocab_size: int, tokenizer: Any) -> Any:
    """The A2D config of ``model_class``: every field of ``source_config`` except those naming the
    source, ``vocab_size`` rows, and the tokenizer's pad and BOS ids (the tokens it was given)."""
    if getattr(source_config, "use_sliding_window", False):
        raise DllmError("the source uses sliding-window attention; A2D attends to every token, so its "
                        "logits would differ from the AR model's: convert a full-attention model")
    values = {key: value for key, value in source_config.to_dict().items() if key not in DROPPED_FIELDS}
    values["vocab_size"] = vocab_size
    values.update(pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id)
    return model_class.config_class(**values)


def convert_from_ar(request: ConvertRequest) -> ConvertResult:
    """Convert the AR checkpoint at ``request.source`` into an A2D checkpoint at ``request.output``."""
    block_size = block_size_of(request)
    source = load_ar_source(request, SOURCE_ARCHITECTURES, A2D.name)  # bad input fails before torch loads
    import torch

    from dllm_a2d.modeling_a2d import MODELS_BY_SOURCE

    tokenizer = source.tokenizer
    added = add_special_tokens(tokenizer, {"mask": A2D.special_tokens["mask"]})
    default_pad_to_eos(tokenizer)
    if tokenizer.bos_token_id is None:
        tokenizer.bos_token = tokenizer.pad_token
    state, growth = grown_state_dict(source, added)
    register_family_classes(A2D)
    model_class = MODELS_BY_SOURCE[source.model_type]
    config = a2d_config(model_class, source.model.config, growth.rows, tokenizer)
    with torch.device("meta"):  # shapes only; the weights are assigned below
        model = model_class(config)
    assign_weights(model, state, model_class.__name__)
    objective = {"name": A2D.default_objective, "block_size": block_size}
    info = CheckpointInfo(
        family=A2D.name,
        objective=objective,
        generator={"preset": A2D.default_generator, **A2D.generator_defaults, "block_size": block_size},
        extra={"converted_from": str(request.source), "source_model_type": source.model_type},
    )
    write_converted(model, tokenizer, request, info)
    return ConvertResult(Path(request.output), A2D.name, config.model_type, growth.rows,
                         tokenizer.mask_token_id, added, growth.initialised, objective)
