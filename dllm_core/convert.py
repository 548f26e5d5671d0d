"""Adapt an autoregressive checkpoint into a diffusion model (``dllm convert --from-ar``).

Dream (arXiv 2508.15487) starts from Qwen2.5: the weights are kept and the model is trained
with the masked-diffusion objective, full attention and the one-position logit shift, so
position i - 1 keeps predicting token i as it did autoregressively. This module builds that
starting point for any family whose model has the Qwen2 layout (``model.embed_tokens``,
``model.layers.N.self_attn.{q,k,v,o}_proj``, ``mlp.{gate,up,down}_proj``, the two RMSNorms,
``model.norm``, ``lm_head``), e.g. Dream:

1. the AR model -- a ``model_type`` of :data:`SOURCE_ARCHITECTURES` (``Qwen2ForCausalLM``,
   ``Qwen3ForCausalLM``, ``LlamaForCausalLM``) -- and its tokenizer are loaded (safetensors, no
   remote code); other architectures are refused before anything is loaded;
2. the family's special tokens missing from the tokenizer are added: the mask token (required)
   and a BOS (the shift needs a first source position); a missing pad token becomes EOS;
3. the vocabulary becomes V' = max(len(tokenizer), V). The embedding rows of the added tokens,
   and any rows beyond V, are set to the mean of the rows of the original tokenizer's tokens,
   ``e_new = (1 / n) sum_{k < n} e_k`` (n = the original tokenizer size), for the input
   embedding and the output head alike -- a new token starts as an "average" token rather than
   an untrained (or zero) row;
4. the weights are copied name for name, Qwen3's per-head ``q_norm``/``k_norm`` included; q/k/v
   biases the source lacks (Llama, Qwen3) are zeros, so the projections compute the same
   function. Anything else that does not map (e.g. an output-projection bias) is refused,
   because the converted model would no longer compute what the AR model computed;
5. the family's config gets the AR shape (``head_dim`` included), the architecture's extra
   settings (``qk_norm`` for Qwen3), V' and the special-token ids, and the checkpoint is written
   atomically with its ``dllm.json`` (:func:`dllm_core.checkpoint.save_checkpoint`).

Run with a causal attention mask, the converted model computes exactly the AR logits; the
diffusion training that follows is what teaches it to use full attention and the mask token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dllm_core.checkpoint import CheckpointInfo, register_family_classes, save_checkpoint
from dllm_core.family import ModelFamily
from dllm_core.errors import DllmError
from dllm_core.registry import get_registry, load_reference

#: config attributes copied from the AR config to the family's (the Qwen2/Qwen3/Llama names),
#: where the source has them (a Qwen2 config has no head_dim: the family's default, D / H, holds)
SHAPE_KEYS = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
              "num_key_value_heads", "head_dim", "hidden_act", "max_position_embeddings",
              "rms_norm_eps", "tie_word_embeddings", "initializer_range", "attention_dropout")
#: parameters a source may lack; they are created as zeros (Llama and Qwen3 have no q/k/v biases)
ZERO_FILLED_SUFFIXES = ("self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias")
#: source ``model_type`` -> config values the family's model needs beyond the shared shape
SOURCE_ARCHITECTURES: dict[str, dict[str, Any]] = {
    "qwen2": {},
    "llama": {},
    "qwen3": {"qk_norm": True},  # per-head RMSNorm on q and k before RoPE
}


@dataclass
class ConvertConfig:
    """What ``dllm convert --from-ar`` is asked to do."""

    source: Path  # folder of the autoregressive checkpoint (config.json, safetensors, tokenizer)
    family: str  # registry name of the target diffusion family, e.g. "dream"
    output: Path  # folder to write the converted checkpoint to (replaced atomically)


@dataclass
class ConvertResult:
    """What the conversion did."""

    output: Path
    vocab_size: int  # V', rows of the converted embedding and head
    mask_token_id: int
    added_tokens: list[str]  # special tokens added to the tokenizer
    initialised_rows: list[int]  # embedding rows set to the mean embedding
    zero_filled: list[str]  # parameters the source lacked, created as zeros


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


def add_family_tokens(tokenizer: Any, family: ModelFamily) -> list[str]:
    """Add the family's mask and BOS tokens when the tokenizer has none; pad defaults to EOS."""
    added: list[str] = []
    for role in ("mask", "bos"):
        if getattr(tokenizer, f"{role}_token_id") is not None:
            continue
        token = family.special_tokens.get(role)
        if token is None:
            raise DllmError(f"the tokenizer has no {role} token and family {family.name} names none to add")
        tokenizer.add_special_tokens({f"{role}_token": token})
        added.append(token)
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token_id is None:
            raise DllmError("the tokenizer has neither a pad nor an EOS token; set one before converting")
        tokenizer.pad_token = tokenizer.eos_token
    return added


def source_architecture(source: Path) -> dict[str, Any]:
    """The extra config values for the ``model_type`` in ``source/config.json``; raises when that
    architecture is not one of :data:`SOURCE_ARCHITECTURES`."""
    config_file = Path(source) / "config.json"
    if not config_file.is_file():
        raise DllmError(f"{source} holds no config.json; pass the folder of a Hugging Face causal LM")
    model_type = json.loads(config_file.read_text()).get("model_type")
    if model_type not in SOURCE_ARCHITECTURES:
        raise DllmError(f"{source} is a {model_type!r} model; --from-ar converts "
                        f"{', '.join(SOURCE_ARCHITECTURES)} checkpoints")
    return SOURCE_ARCHITECTURES[model_type]


def target_config(family: ModelFamily, source_config: Any, tokenizer: Any, vocab_size: int,
                  extra: dict[str, Any]) -> Any:
    """The family's config with the AR model's shape, ``extra`` (the architecture's own settings),
    ``vocab_size`` and the tokenizer's ids."""
    if family.config_class is None:
        raise DllmError(f"family {family.name} declares no config class to convert into")
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
    return load_reference(family.config_class)(**values)


def mapped_state_dict(source: dict[str, Any], target: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The source tensors under the target's names, plus zero q/k/v biases the source lacks.

    ``source``/``target``: name -> tensor (the target's only for names and shapes). Raises
    when a name is missing on either side or a shape differs (except vocabulary rows, which
    :func:`resized` handles).
    """
    import torch

    state: dict[str, Any] = {}
    zero_filled: list[str] = []
    for name, reference in target.items():
        if name in source:
            state[name] = source[name]
        elif name.endswith(ZERO_FILLED_SUFFIXES):
            state[name] = torch.zeros(reference.shape, dtype=source["model.norm.weight"].dtype)
            zero_filled.append(name)
        else:
            raise DllmError(f"the source has no {name}; the family's layout differs from the AR model's")
    unexpected = sorted(set(source) - set(target))
    if unexpected:
        raise DllmError(f"the family's model has no place for {', '.join(unexpected[:4])}"
                        f"{' ...' if len(unexpected) > 4 else ''}; converting would change what the model computes")
    return state, zero_filled


def resized(matrix: Any, rows: int, known: int, fresh: list[int]) -> Any:
    """``matrix [V, D]`` grown to ``[rows, D]`` with rows ``fresh`` (and all rows >= V) set to the
    mean of rows ``0 .. known - 1``."""
    import torch

    grown = torch.empty((rows, matrix.shape[1]), dtype=matrix.dtype)
    kept = min(rows, matrix.shape[0])
    grown[:kept] = matrix[:kept]
    mean = matrix[:known].float().mean(dim=0).to(matrix.dtype)  # [D]
    grown[sorted(set(fresh) | set(range(matrix.shape[0], rows)))] = mean
    return grown


def convert_from_ar(config: ConvertConfig) -> ConvertResult:
    """Convert ``config.source`` into a ``config.family`` checkpoint at ``config.output``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    family = get_registry().families.get(config.family)
    extra = source_architecture(config.source)
    try:
        tokenizer = AutoTokenizer.from_pretrained(config.source, trust_remote_code=False)
        source_model = AutoModelForCausalLM.from_pretrained(config.source, use_safetensors=True,
                                                            trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise DllmError(f"cannot load {config.source} as a causal LM with its tokenizer ({exc})") from None
    known = len(tokenizer)
    added = add_family_tokens(tokenizer, family)
    fresh = tokenizer.convert_tokens_to_ids(added)
    vocab_size = max(len(tokenizer), source_model.config.vocab_size)
    register_family_classes(family)
    model_config = target_config(family, source_model.config, tokenizer, vocab_size, extra)
    model_class = load_reference(family.model_class or "transformers:AutoModelForMaskedLM")
    with torch.device("meta"):
        model = model_class(model_config)
    source_state = dict(source_model.state_dict())
    for name, module in (("model.embed_tokens.weight", source_model.get_input_embeddings()),
                         ("lm_head.weight", source_model.get_output_embeddings())):
        source_state[name] = resized(module.weight.detach(), vocab_size, known, fresh)
    if model_config.tie_word_embeddings:
        source_state.pop("lm_head.weight")
    target_shapes = model.state_dict()
    state, zero_filled = mapped_state_dict(source_state, target_shapes)
    for name, tensor in state.items():
        if tuple(tensor.shape) != tuple(target_shapes[name].shape):
            raise DllmError(f"{name}: the source has shape {list(tensor.shape)}, the family's model "
                            f"{list(target_shapes[name].shape)}")
    model.load_state_dict(state, strict=True, assign=True)
    if model_config.tie_word_embeddings:
        model.tie_weights()
    info = CheckpointInfo(
        family=family.name,
        generator={"preset": family.default_generator, **family.generator_defaults},
        extra={"converted_from": str(config.source), "source_model_type": source_model.config.model_type},
    )
    save_checkpoint(model, tokenizer, config.output, info)
    return ConvertResult(Path(config.output), vocab_size, tokenizer.mask_token_id, added, sorted(
        set(fresh) | set(range(source_model.config.vocab_size, vocab_size))), zero_filled)
