"""Dream 7B (HKUNLP / Dream-org): a Qwen2-architecture transformer with full bidirectional
attention, trained as a masked diffusion model initialised from an autoregressive LM. Weight
names match the official Dream-org checkpoints, so they load with
``DreamModel.from_pretrained(path)`` and no remote code.

Per layer (pre-norm; q/k/v projections with bias, grouped-query attention):

    h = x + o_proj(Attn(RoPE(q_proj(n1)), RoPE(k_proj(n1)), v_proj(n1))),  n1 = input_layernorm(x)
    y = h + down_proj(act(gate_proj(n2)) * up_proj(n2)),          n2 = post_attention_layernorm(h)

and logits = lm_head(norm(x_L)). Logits are returned unshifted: Dream reads the prediction for
token i at position i - 1 (position 0 keeps its own); generators and objectives apply that
shift, not the model.

Models converted from Qwen3 (``dllm convert --from-ar``) set ``config.qk_norm``: every head of
q_proj(n1) and k_proj(n1) is RMS-normalised before RoPE (``q_norm``/``k_norm``, one weight [Dh]
shared by all heads), and their head size Dh = ``config.head_dim`` may differ from D / H.
"""

from __future__ import annotations

from torch import nn
from transformers import PreTrainedModel

from dllm_core.api import (
    DecoderBackbone,
    DiffusionLMHeadMixin,
    PreNormDecoderLayer,
    RMSNorm,
    RotaryAttentionMixin,
    SwiGLU,
    init_weights_normal,
    register_auto_classes,
    require_full_attention,
    require_plain_rope,
)
from dllm_dream.configuration_dream import DreamConfig


class DreamAttention(RotaryAttentionMixin, nn.Module):
    """Multi-head attention with q/k/v biases, grouped key/value heads and optional q/k norms
    (``forward`` is the core's :class:`~dllm_core.api.RotaryAttentionMixin`)."""

    def __init__(self, config: DreamConfig, layer_idx: int):
        super().__init__()
        d, head_dim = config.hidden_size, config.head_dim
        self.config = config
        self.layer_idx = layer_idx
        self.q_proj = nn.Linear(d, config.num_attention_heads * head_dim, bias=True)
        self.k_proj = nn.Linear(d, config.num_key_value_heads * head_dim, bias=True)
        self.v_proj = nn.Linear(d, config.num_key_value_heads * head_dim, bias=True)
        self.o_proj = nn.Linear(config.num_attention_heads * head_dim, d, bias=False)
        if config.qk_norm:
            self.q_norm = RMSNorm(head_dim, config.rms_norm_eps)
            self.k_norm = RMSNorm(head_dim, config.rms_norm_eps)


class DreamDecoderLayer(PreNormDecoderLayer):
    """One pre-norm decoder layer (without the causal mask); SwiGLU ``mlp``."""

    def __init__(self, config: DreamConfig, layer_idx: int):
        super().__init__()
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.self_attn = DreamAttention(config, layer_idx)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.mlp = SwiGLU(config.hidden_size, config.intermediate_size, config.hidden_act)


class DreamBaseModel(DecoderBackbone):
    """Token embedding ``embed_tokens``, decoder layers and final norm (the official ``model.*``
    layout); rotary tables of ``head_dim`` and ``rope_theta``."""

    def __init__(self, config: DreamConfig):
        super().__init__(config, lambda i: DreamDecoderLayer(config, i))


class DreamModel(DiffusionLMHeadMixin, PreTrainedModel):
    """Dream diffusion LM with the dllm generation contract.

    ``forward(input_ids [B, q], attention_mask, position_ids, past_key_values, use_cache,
    logits_to_keep, labels)``:

    * ``attention_mask``: 2D [B, Lk] (1 = attend; hides padded keys from every query) or 4D
      [B, 1, q, Lk] (bool True = attend, e.g. Dream's sampler mask ``m_k AND m_q``; or an
      additive float bias); Lk counts cached keys;
    * ``position_ids`` [B, q]: default ``past_key_values.get_seq_length() + arange(q)``; with left
      padding Dream's sampler passes ``cumsum(mask) - 1``;
    * ``past_key_values`` (or ``cache``, transformers 5's name): a transformers ``Cache``; each
      layer calls ``update`` with its rotated keys/values and attends over what it returns.
      ``use_cache=True`` without one starts a ``DynamicCache``;
    * ``logits_to_keep``: None/0 = all, k = last k, LongTensor/slice of query indices; only
      those positions go through ``lm_head``;
    * ``labels`` [B, n_kept]: cross entropy over labels != -100, position by position (no shift).

    Other keyword arguments (e.g. the Trainer's ``num_items_in_batch``) are ignored.
    """

    config_class = DreamConfig
    _no_split_modules = ["DreamDecoderLayer"]
    _input_embeddings_path = "model.embed_tokens"

    def __init__(self, config: DreamConfig):
        super().__init__(config)
        require_plain_rope(config, "Dream")  # Qwen2 options no Dream checkpoint uses
        require_full_attention(config, "Dream")
        self.model = DreamBaseModel(config)
        self._init_lm_head()
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        """N(0, initializer_range) for linear and embedding weights (pad row zero), zero biases."""
        init_weights_normal(module, self.config.initializer_range)


def register_with_transformers() -> None:
    """Register ``Dream`` with AutoConfig, AutoModel and AutoModelForMaskedLM (idempotent)."""
    register_auto_classes(DreamConfig, DreamModel)
