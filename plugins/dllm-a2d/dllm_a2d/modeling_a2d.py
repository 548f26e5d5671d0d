"""A2D ("autoregressive to diffusion", ZHZisZZ/dllm): Qwen3, Qwen2 and Llama with bidirectional
attention, for masked and block diffusion.

The weights are the AR model's, held by transformers' own attention, MLP and norm modules under
their own names (``model.embed_tokens``, ``model.layers.N.self_attn.{q,k,v,o}_proj`` with
Qwen2's q/k/v biases and Qwen3's per-head ``q_norm``/``k_norm``, ``mlp.{gate,up,down}_proj``,
``input_layernorm``, ``post_attention_layernorm``, ``model.norm``, ``lm_head``, absent when tied
to the embedding).
Only the attention changes: it has no causal part. Per layer (pre-norm):

    h = x + o_proj(Attn(RoPE(q), RoPE(k), v)),   q, k, v = {q,k,v}_proj(n1),  n1 = input_layernorm(x)
    y = h + down_proj(act(gate_proj(n2)) * up_proj(n2)),                    n2 = post_attention_layernorm(h)
    Attn(Q, K, V) = softmax(Q K^T / sqrt(Dh) + M) V

(Qwen3 RMS-normalises every head of q and k before RoPE), with M from the attention mask alone:
0 where attending is allowed, -inf elsewhere. Logits = lm_head(norm(x_L)), unshifted: position i
predicts token i. The rotary tables come from the architecture's transformers rotary embedding,
so scaled RoPE (e.g. Llama 3's) is the AR model's. As in the reference, layers a config marks for
sliding-window attention attend to every key like the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers.models.llama.modeling_llama import LlamaAttention, LlamaMLP, LlamaRMSNorm, LlamaRotaryEmbedding
from transformers.models.qwen2.modeling_qwen2 import Qwen2Attention, Qwen2MLP, Qwen2RMSNorm, Qwen2RotaryEmbedding
from transformers.models.qwen3.modeling_qwen3 import Qwen3Attention, Qwen3MLP, Qwen3RMSNorm, Qwen3RotaryEmbedding

from dllm_core.api import (
    DecoderBackbone,
    DiffusionLMHeadMixin,
    PreNormDecoderLayer,
    RotaryAttentionMixin,
    register_auto_classes,
)
from dllm_a2d.configuration_a2d import A2DLlamaConfig, A2DQwen2Config, A2DQwen3Config

# Each attention is a transformers ``*Attention`` module (which supplies ``{q,k,v,o}_proj`` and
# Qwen3's ``q_norm``/``k_norm``) whose ``forward`` is the core's RotaryAttentionMixin: no causal
# mask, ``cache.update(k, v, layer_idx)`` after RoPE, GQA, SDPA.


class A2DQwen3Attention(RotaryAttentionMixin, Qwen3Attention):
    """transformers' Qwen3 attention (q/k norms), bidirectional."""


class A2DQwen2Attention(RotaryAttentionMixin, Qwen2Attention):
    """transformers' Qwen2 attention (q/k/v biases), bidirectional."""


class A2DLlamaAttention(RotaryAttentionMixin, LlamaAttention):
    """transformers' Llama attention, bidirectional."""


@dataclass(frozen=True)
class Architecture:
    """The transformers modules an A2D model of one AR architecture is built from."""

    attention: type[nn.Module]  # called as attention(config, layer_idx)
    mlp: type[nn.Module]  # mlp(config)
    norm: type[nn.Module]  # norm(hidden_size, eps=...)
    rotary: type[nn.Module]  # rotary(config=config); forward(x, position_ids) -> (cos, sin)


QWEN3 = Architecture(A2DQwen3Attention, Qwen3MLP, Qwen3RMSNorm, Qwen3RotaryEmbedding)
QWEN2 = Architecture(A2DQwen2Attention, Qwen2MLP, Qwen2RMSNorm, Qwen2RotaryEmbedding)
LLAMA = Architecture(A2DLlamaAttention, LlamaMLP, LlamaRMSNorm, LlamaRotaryEmbedding)


class A2DDecoderLayer(PreNormDecoderLayer):
    """One pre-norm decoder layer (the AR layer without its causal mask)."""

    def __init__(self, config: PretrainedConfig, layer_idx: int, architecture: Architecture):
        super().__init__()
        self.self_attn = architecture.attention(config, layer_idx)
        self.mlp = architecture.mlp(config)
        self.input_layernorm = architecture.norm(config.hidden_size, eps=config.rms_norm_eps)
        self.post_attention_layernorm = architecture.norm(config.hidden_size, eps=config.rms_norm_eps)


class A2DBackbone(DecoderBackbone):
    """Token embedding, decoder layers, final norm (the official ``model.*`` layout) and the
    rotary embedding (no weights)."""

    def __init__(self, config: PretrainedConfig, architecture: Architecture):
        super().__init__(config, lambda i: A2DDecoderLayer(config, i, architecture), architecture.norm)
        self.rotary_emb = architecture.rotary(config=config)

    def rotary_tables(self, x: torch.Tensor, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.rotary_emb(x, position_ids)  # [B or 1, q, Dh] each, in x's dtype


class A2DLMHeadModel(DiffusionLMHeadMixin, PreTrainedModel):
    """An A2D model with the dllm generation contract; one subclass per AR architecture.

    ``forward(input_ids [B, q], attention_mask, position_ids, past_key_values, use_cache,
    logits_to_keep, labels)``:

    * ``attention_mask``: ``None`` (every token attends to every token), 2D [B, Lk] (1 = attend;
      hides padded keys from every query), 4D [B, 1, q, Lk] bool (True = attend, e.g. BD3LM's
      block-causal mask) or additive float; Lk counts cached keys;
    * ``position_ids`` [B, q]: default ``past_key_values.get_seq_length() + arange(q)``;
    * ``past_key_values`` (or ``cache``): each layer calls ``update(k, v, layer_idx)`` with its
      rotated keys/values and attends over what it returns (dllm's ``DiffusionCache``,
      transformers' ``DynamicCache``); ``use_cache=True`` without one starts a ``DynamicCache``;
    * ``logits_to_keep``: None/0 = all, k = last k, LongTensor/slice of query indices;
    * ``labels`` [B, n_kept]: cross entropy over labels != -100, position by position.
    """

    #: the transformers modules of the AR architecture
    architecture: ClassVar[Architecture]
    _no_split_modules = ["A2DDecoderLayer"]
    _input_embeddings_path = "model.embed_tokens"

    def __init__(self, config: PretrainedConfig):
        super().__init__(config)
        self.model = A2DBackbone(config, self.architecture)
        self._init_lm_head()
        self.post_init()


class A2DQwen3LMHeadModel(A2DLMHeadModel):
    config_class = A2DQwen3Config
    architecture = QWEN3


class A2DQwen2LMHeadModel(A2DLMHeadModel):
    config_class = A2DQwen2Config
    architecture = QWEN2


class A2DLlamaLMHeadModel(A2DLMHeadModel):
    config_class = A2DLlamaConfig
    architecture = LLAMA


#: every A2D model class, by the AR ``model_type`` it is made from
MODELS_BY_SOURCE: dict[str, type[A2DLMHeadModel]] = {
    "qwen3": A2DQwen3LMHeadModel,
    "qwen2": A2DQwen2LMHeadModel,
    "llama": A2DLlamaLMHeadModel,
}


def register_with_transformers() -> None:
    """Register ``a2d-qwen3``/``a2d-qwen2``/``a2d-llama`` with AutoConfig, AutoModel and
    AutoModelForMaskedLM (idempotent)."""
    for model_class in MODELS_BY_SOURCE.values():
        register_auto_classes(model_class.config_class, model_class)
