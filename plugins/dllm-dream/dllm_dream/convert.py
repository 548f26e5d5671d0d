"""Turn an autoregressive Qwen2/Qwen3/Llama checkpoint into a Dream checkpoint (``dllm convert``).

Dream (arXiv 2508.15487) is initialised from Qwen2.5: the AR weights are kept and training
continues with the masked-diffusion objective, full attention and the one-position logit shift,
so the output at position i - 1 goes on predicting token i exactly as it did autoregressively.
Dream's model has the Qwen2 layout (``model.embed_tokens``,
``model.layers.N.self_attn.{q,k,v,o}_proj``, ``mlp.{gate,up,down}_proj``, two RMSNorms per
layer, ``model.norm``, ``lm_head``), so any causal LM with that layout is a valid start:

1. the AR model, whose ``model_type`` is one of :data:`SOURCE_ARCHITECTURES`, is loaded with its
   tokenizer (safetensors only, never remote code); any other architecture is refused before
   a single weight is read;
2. Dream's special tokens the tokenizer lacks are added: the mask token (required) and a BOS
   (the logit shift needs a first position to predict from); a missing pad token becomes EOS;
3. the vocabulary grows to V' = max(len(tokenizer), V). Every added token's row, and every row
   past V, of both the input embedding and the output head is set to the mean row of the
   original n tokens, ``e_new = (1 / n) sum_{k < n} e_k``: a new token starts out as an
   "average" token, not as noise or zeros;
4. weights are copied under the same names (Qwen3's per-head ``q_norm``/``k_norm`` too); q/k/v
   biases the source has none of (Llama, Qwen3) become zeros, which leaves the projections
   unchanged. Any other name that does not map, such as an output-projection bias, is refused:
   the converted model would compute something else than the AR model;
5. :class:`~dllm_dream.configuration_dream.DreamConfig` takes the AR shape (``head_dim``
   included), the architecture's own settings (``qk_norm`` for Qwen3), V' and the special-token
   ids, and the checkpoint is written atomically together with its ``dllm.json``.

Under a causal attention mask the converted model reproduces the AR logits exactly; the diffusion
training that follows is what teaches it full attention and the mask token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dllm_core.api import CheckpointInfo, DllmError, register_family_classes, save_checkpoint
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


@dataclass
class ConvertConfig:
    """What ``dllm convert --from-ar`` is asked to do."""

    source: Path  # folder of the AR checkpoint (config.json, safetensors weights, tokenizer)
    output: Path  # folder the Dream checkpoint is written to (replaced atomically)


@dataclass
class ConvertResult:
    """What the conversion did."""

    output: Path
    vocab_size: int  # V': rows of the converted embedding and head
    mask_token_id: int
    added_tokens: list[str]  # special tokens added to the tokenizer
    initialised_rows: list[int]  # embedding/head rows set to the mean row
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


def add_dream_tokens(tokenizer: Any) -> list[str]:
    """Add Dream's mask and BOS tokens where the tokenizer has none; a missing pad becomes EOS.

    Returns the tokens added, mask first.
    """
    added: list[str] = []
    for role in ("mask", "bos"):
        if getattr(tokenizer, f"{role}_token_id") is not None:
            continue
        token = DREAM.special_tokens[role]
        tokenizer.add_special_tokens({f"{role}_token": token})
        added.append(token)
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token_id is None:
            raise DllmError("the tokenizer has neither a pad nor an EOS token; set one before converting")
        tokenizer.pad_token = tokenizer.eos_token
    return added


def source_architecture(source: Path) -> dict[str, Any]:
    """The extra DreamConfig values for the ``model_type`` in ``source/config.json``; raises when
    that architecture is not one of :data:`SOURCE_ARCHITECTURES`."""
    config_file = Path(source) / "config.json"
    if not config_file.is_file():
        raise DllmError(f"{source} holds no config.json; pass the folder of a Hugging Face causal LM")
    model_type = json.loads(config_file.read_text()).get("model_type")
    if model_type not in SOURCE_ARCHITECTURES:
        raise DllmError(f"{source} is a {model_type!r} model; --from-ar converts "
                        f"{', '.join(SOURCE_ARCHITECTURES)} checkpoints")
    return SOURCE_ARCHITECTURES[model_type]


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


def mapped_state_dict(source: dict[str, Any], target: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The source tensors under Dream's names, plus zero q/k/v biases the source lacks.

    ``source`` and ``target`` map names to tensors (the target's are used for names and shapes
    only). Raises when a name is missing on either side; shapes are checked by the caller.
    Returns the state dict and the names that were zero-filled.
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
            raise DllmError(f"the source has no {name}; its layout differs from Dream's")
    unexpected = sorted(set(source) - set(target))
    if unexpected:
        raise DllmError(f"Dream's model has no place for {', '.join(unexpected[:4])}"
                        f"{' ...' if len(unexpected) > 4 else ''}; converting would change what the model computes")
    return state, zero_filled


def resized(matrix: Any, rows: int, known: int, fresh: list[int]) -> Any:
    """``matrix`` [V, D] grown (or cut) to [rows, D]; rows ``fresh`` and every row >= V hold the
    mean of rows ``0 .. known - 1``."""
    import torch

    grown = torch.empty((rows, matrix.shape[1]), dtype=matrix.dtype)  # [rows, D]
    kept = min(rows, matrix.shape[0])
    grown[:kept] = matrix[:kept]
    mean = matrix[:known].float().mean(dim=0).to(matrix.dtype)  # [D]
    grown[sorted(set(fresh) | set(range(matrix.shape[0], rows)))] = mean
    return grown


def convert_from_ar(config: ConvertConfig) -> ConvertResult:
    """Convert the AR checkpoint at ``config.source`` into a Dream checkpoint at ``config.output``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from dllm_dream.modeling_dream import DreamModel

    extra = source_architecture(config.source)
    try:
        tokenizer = AutoTokenizer.from_pretrained(config.source, trust_remote_code=False)
        source_model = AutoModelForCausalLM.from_pretrained(config.source, use_safetensors=True,
                                                            trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise DllmError(f"cannot load {config.source} as a causal LM with its tokenizer ({exc})") from None
    known = len(tokenizer)
    added = add_dream_tokens(tokenizer)
    fresh = tokenizer.convert_tokens_to_ids(added)
    source_rows = source_model.config.vocab_size
    vocab_size = max(len(tokenizer), source_rows)
    register_family_classes(DREAM)
    model_config = dream_config(source_model.config, tokenizer, vocab_size, extra)
    with torch.device("meta"):  # shapes only; the weights are assigned below
        model = DreamModel(model_config)
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
            raise DllmError(f"{name}: the source has shape {list(tensor.shape)}, Dream's model "
                            f"{list(target_shapes[name].shape)}")
    model.load_state_dict(state, strict=True, assign=True)
    if model_config.tie_word_embeddings:
        model.tie_weights()
    info = CheckpointInfo(
        family=DREAM.name,
        generator={"preset": DREAM.default_generator, **DREAM.generator_defaults},
        extra={"converted_from": str(config.source), "source_model_type": source_model.config.model_type},
    )
    save_checkpoint(model, tokenizer, config.output, info)
    initialised = sorted(set(fresh) | set(range(source_rows, vocab_size)))
    return ConvertResult(Path(config.output), vocab_size, tokenizer.mask_token_id, added, initialised, zero_filled)
