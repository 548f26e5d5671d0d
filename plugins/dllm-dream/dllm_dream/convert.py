"""Turn an autoregressive Qwen2/Qwen3/Llama checkpoint into a Dream checkpoint (``dllm convert``).

Dream (arXiv 2508.15487) is initialised from Qwen2.5: the AR weights are kept and training
continues with the masked-diffusion objective, full attention and the one-position logit shift,
so the output at position i - 1 goes on predicting token i exactly as it did autoregressively.
Dream's model has the Qwen2 layout (``model.embed_tokens``,
``model.layers.N.self_attn.{q,k,v,o}_proj``, ``mlp.{gate,up,down}_proj``, two RMSNorms per
layer, ``model.norm``, ``lm_head``), so any causal LM with that layout is a valid start:

1. the AR model, whose ``model_type`` is one of :data:`SOURCE_ARCHITECTURES`, is loaded with its
   tokenizer (safetensors only, never remote code); any other architecture is refused before
   a single weight is read, and so is a non-empty output folder unless ``overwrite``;
2. Dream's special tokens the tokenizer lacks are added: the mask token (required) and a BOS
   (the logit shift needs a first position to predict from); a missing pad token becomes EOS;
3. the vocabulary grows to V' = max(len(tokenizer), V). Every added token's row, and every row
   past V, of both the input embedding and the output head is set to the mean row of the
   original n tokens, ``e_new = (1 / n) sum_{k < n} e_k``;
4. weights are copied under the same names (Qwen3's per-head ``q_norm``/``k_norm`` too); q/k/v
   biases the source has none of (Llama, Qwen3) become zeros, which leaves the projections
   unchanged. Any other name that does not map, such as an output-projection bias, is refused:
   the converted model would compute something else than the AR model;
5. :class:`~dllm_dream.configuration_dream.DreamConfig` takes the AR shape (``head_dim``
   included), the architecture's own settings (``qk_norm`` for Qwen3), V' and the special-token
   ids, and the checkpoint is written atomically together with its ``dllm.json``.

Steps 1-3, the weight hand-over of step 4 and the writing are the core's shared conversion steps
(``dllm_core.api.load_ar_source`` ... ``write_converted``); what is Dream's own is the token set,
the zero biases and the config.

Under a causal attention mask the converted model reproduces the AR logits exactly; the diffusion
training that follows is what teaches it full attention and the mask token.
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
from dllm_dream.family import DREAM

#: config attributes carried from the AR config (Qwen2/Qwen3/Llama names) where the source has
#: them; a Qwen2 config has no head_dim, so DreamConfig's default hidden_size // heads applies
SHAPE_KEYS = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
              "num_key_value_heads", "head_dim", "hidden_act", "max_position_embeddings",
              "rms_norm_eps", "tie_word_embeddings", "initializer_range", "attention_dropout")
#: parameters a source may lack, created as zeros (Llama and Qwen3 have no q/k/v biases)
ZERO_FILLED_SUFFIXES = ("self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias")
#: source ``model_type`` -> DreamConfig values that architecture needs beyond the shared shape
SOURCE_ARCHITECTURES: dict[str, dict[str, Any]] = {
    "qwen2": {},
    "llama": {},
    "qwen3": {"qk_norm": True},  # per-head RMSNorm on q and k before RoPE
}


def rope_theta_of(config: Any) -> float:
    """The plain-RoPE base of a transformers 4.x or 5.x config; scaled RoPE is refused."""
    parameters = getattr(config, "rope_parameters", None) or {}
    scaling = getattr(config, "rope_scaling", None) or {}
    rope_type = parameters.get("rope_type") or scaling.get("rope_type") or scaling.get("type") or "default"
    if rope_type != "default":
        raise DllmError(f"the source uses {rope_type!r} RoPE scaling; only plain RoPE converts")
    theta = parameters.get("rope_theta", getattr(config, "rope_theta", None))
    if theta is None:
        raise DllmError("the source config names no rope_theta")
    return float(theta)


def dream_config(source_config: Any, tokenizer: Any, vocab_size: int, extra: dict[str, Any]) -> Any:
    """A DreamConfig with the AR model's shape, ``extra`` (the architecture's own settings),
    ``vocab_size`` rows and the tokenizer's special-token ids."""
    from dllm_dream.configuration_dream import DreamConfig

    if getattr(source_config, "use_sliding_window", False):
        raise DllmError("the source uses sliding-window attention; only full attention converts")
    values = {key: getattr(source_config, key) for key in SHAPE_KEYS if hasattr(source_config, key)}
    values.update(
        extra,
        vocab_size=vocab_size,
        rope_theta=rope_theta_of(source_config),
        max_window_layers=source_config.num_hidden_layers,
        mask_token_id=tokenizer.mask_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return DreamConfig(**values)


def add_zero_biases(state: dict[str, Any], target: dict[str, Any]) -> list[str]:
    """Add to ``state`` a zero tensor for every q/k/v bias of ``target`` (name -> tensor, used
    for shapes only) that the source lacks; returns their names."""
    import torch

    dtype = state["model.norm.weight"].dtype
    zero_filled = [name for name in target if name not in state and name.endswith(ZERO_FILLED_SUFFIXES)]
    for name in zero_filled:
        state[name] = torch.zeros(target[name].shape, dtype=dtype)
    return zero_filled


def convert_from_ar(request: ConvertRequest) -> ConvertResult:
    """Convert the AR checkpoint at ``request.source`` into a Dream checkpoint at ``request.output``
    (the dream family's ``ar_converter``)."""
    if request.block_size is not None:
        raise DllmError("--block-size is for block-diffusion targets; Dream trains with masked diffusion: "
                        "drop --block-size, or pass --objective block-diffusion for a block-diffusion family")
    source = load_ar_source(request, SOURCE_ARCHITECTURES, DREAM.name)  # bad input fails before torch loads
    import torch

    from dllm_dream.modeling_dream import DreamModel

    tokenizer = source.tokenizer
    added = add_special_tokens(tokenizer, {role: DREAM.special_tokens[role] for role in ("mask", "bos")})
    default_pad_to_eos(tokenizer)
    state, growth = grown_state_dict(source, added)
    register_family_classes(DREAM)
    model_config = dream_config(source.model.config, tokenizer, growth.rows, SOURCE_ARCHITECTURES[source.model_type])
    with torch.device("meta"):  # shapes only; the weights are assigned below
        model = DreamModel(model_config)
    zero_filled = add_zero_biases(state, model.state_dict())
    assign_weights(model, state, "Dream's model")
    objective = {"name": DREAM.default_objective}
    info = CheckpointInfo(
        family=DREAM.name,
        objective=objective,
        generator={"preset": DREAM.default_generator, **DREAM.generator_defaults},
        extra={"converted_from": str(request.source), "source_model_type": source.model_type},
    )
    write_converted(model, tokenizer, request, info)
    return ConvertResult(Path(request.output), DREAM.name, model_config.model_type, growth.rows,
                         tokenizer.mask_token_id, added, growth.initialised, objective, zero_filled)
