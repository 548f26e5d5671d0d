"""Transformer building blocks shared by the model families' own implementations.

LLaDA, Dream, A2D and the MoE families are all pre-norm transformers with RMSNorm, rotary
position embeddings, bidirectional (non-causal) scaled-dot-product attention and a SwiGLU
feed-forward; they differ in weight names and a few numeric details. What they share lives here,
once:

* :mod:`~dllm_core.modeling.layers`: ``RMSNorm`` (and ``norm_heads``, per head), ``SwiGLU`` and
  ``init_weights_normal`` (initialisation for training from scratch);
* :mod:`~dllm_core.modeling.rotary`: rotary tables for explicit position ids and their application;
* :mod:`~dllm_core.modeling.attention`: padding masks, multi-head (grouped-query) attention
  through a transformers ``Cache`` (``cache.update`` per layer, so generation engines can
  record, extend or overwrite keys/values; ``keep`` runs the queries of the kept rows only, for
  a model's last layer) and the cache/position defaults of ``forward``;
* :mod:`~dllm_core.modeling.decoder`: the pre-norm decoder's attention module
  (``RotaryAttentionMixin``), layer (``PreNormDecoderLayer``) and module tree
  (``DecoderBackbone``), and the config checks ``require_plain_rope`` / ``require_full_attention``;
* :mod:`~dllm_core.modeling.output`: the output dataclass, ``logits_to_keep`` position selection
  and the masked-LM loss;
* :mod:`~dllm_core.modeling.head_layout`: ``column_major_lm_head``, the LM head's weight laid
  out for the CPU's skinny decoding products (same values; the logits bitwise equal on one
  thread);
* :mod:`~dllm_core.modeling.base`: ``DiffusionLMMixin`` (the ``forward`` contract and embedding
  accessors of a family's ``PreTrainedModel``), ``DiffusionLMHeadMixin`` (with an ``lm_head``
  that may be tied to the embedding) and ``register_auto_classes``.

Importing this package imports torch and transformers; ``dllm_core`` itself does not import it.
"""

from dllm_core.modeling.attention import (
    attention_mask_for_sdpa,
    default_position_ids,
    resolve_cache,
    rotary_self_attention,
)
from dllm_core.modeling.base import DiffusionLMHeadMixin, DiffusionLMMixin, register_auto_classes
from dllm_core.modeling.decoder import (
    DecoderBackbone,
    PreNormDecoderLayer,
    RotaryAttentionMixin,
    require_full_attention,
    require_plain_rope,
)
from dllm_core.modeling.head_layout import column_major_lm_head
from dllm_core.modeling.layers import RMSNorm, SwiGLU, init_weights_normal, norm_heads
from dllm_core.modeling.output import (
    CACHE_FIELD,
    DiffusionLMOutput,
    LogitsToKeep,
    keep_positions,
    masked_lm_loss,
)
from dllm_core.modeling.rotary import apply_rotary, rotary_cos_sin

__all__ = [
    "CACHE_FIELD",
    "DecoderBackbone",
    "DiffusionLMHeadMixin",
    "DiffusionLMMixin",
    "DiffusionLMOutput",
    "LogitsToKeep",
    "PreNormDecoderLayer",
    "RMSNorm",
    "RotaryAttentionMixin",
    "SwiGLU",
    "apply_rotary",
    "attention_mask_for_sdpa",
    "column_major_lm_head",
    "default_position_ids",
    "init_weights_normal",
    "keep_positions",
    "masked_lm_loss",
    "norm_heads",
    "register_auto_classes",
    "require_full_attention",
    "require_plain_rope",
    "resolve_cache",
    "rotary_cos_sin",
    "rotary_self_attention",
]
