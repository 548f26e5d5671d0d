"""The pre-norm decoder most families are: attention module, decoder layer and module tree.

Per layer, with RMSNorms before attention and feed-forward:

    h = x + o_proj(Attn(q, k, v)),   q, k, v = projections of n1 = input_layernorm(x)
    y = h + mlp(n2),                 n2 = post_attention_layernorm(h)

and for the whole tree ``model``: x_0 = embedding(input_ids), the layers, then
``norm(x_L)`` at the kept positions (what :class:`~dllm_core.modeling.base.DiffusionLMMixin`
turns into logits). A family supplies its own modules, under its own weight names, and builds them
in its own order (the order in which weights are drawn when training from scratch):

* :class:`RotaryAttentionMixin`: ``forward`` of an attention module with ``q_proj``/``k_proj``/
  ``v_proj``/``o_proj`` and optional per-head ``q_norm``/``k_norm``; hooks for fused
  projections, other names and a different rotary layout;
* :class:`PreNormDecoderLayer`: ``forward`` of a layer; a feed-forward that returns more (an MoE
  block's router logits) overrides :meth:`~PreNormDecoderLayer.feed_forward`;
* :class:`DecoderBackbone`: the module tree (token embedding, ``layers``, ``norm``) and its
  ``forward``; hooks for the rotary tables and for running the layers;
* :func:`require_plain_rope`, :func:`require_full_attention`: refuse config options these
  modules do not implement.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Optional

import torch
from torch import nn
from transformers.cache_utils import Cache
from transformers.modeling_layers import GradientCheckpointingLayer

from dllm_core.modeling.attention import attention_mask_for_sdpa, rotary_self_attention
from dllm_core.modeling.layers import RMSNorm, norm_heads
from dllm_core.modeling.output import LogitsToKeep, keep_positions
from dllm_core.modeling.rotary import rotary_cos_sin


def require_plain_rope(config: Any, model_name: str) -> None:
    """Refuse a config whose ``rope_scaling`` names a RoPE variant: only plain RoPE is implemented."""
    rope_scaling = getattr(config, "rope_scaling", None) or {}
    if rope_scaling.get("rope_type", rope_scaling.get("type", "default")) != "default":
        raise NotImplementedError(f"{model_name} with rope_scaling={rope_scaling} is not supported")


def require_full_attention(config: Any, model_name: str) -> None:
    """Refuse ``config.use_sliding_window``: every query attends to every key it is allowed to."""
    if config.use_sliding_window:
        raise NotImplementedError(f"{model_name} with use_sliding_window=True is not supported")


class RotaryAttentionMixin:
    """``forward(x, cos, sin, mask, cache)`` of a bidirectional attention module (an ``nn.Module``
    listed after this mixin), through :func:`~dllm_core.modeling.attention.rotary_self_attention`:

        q, k, v = project(x);   out = attend(q, k, v);   return project_out(out)

    By default ``project`` is ``q_proj``/``k_proj``/``v_proj`` with every head of q and k
    RMS-normalised by ``q_norm``/``k_norm`` where the module has them (Qwen3), ``attend`` is RoPE
    with the tables cast to the activations' dtype, grouped-query attention over ``cache.update``
    and dropout while training, and ``project_out`` is ``o_proj``. The module has ``config``
    (``num_attention_heads``, ``num_key_value_heads``, ``attention_dropout``) and ``layer_idx``.
    """

    config: Any
    layer_idx: int
    training: bool

    def project(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """[B, q, D] -> q [B, q, H*Dh], k and v [B, q, H_kv*Dh]."""
        q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        if hasattr(self, "q_norm"):
            q, k = norm_heads(self.q_norm, q), norm_heads(self.k_norm, k)
        return q, k, v

    def attend(
        self,
        q: torch.Tensor,  # [B, q, H*Dh]
        k: torch.Tensor,  # [B, q, H_kv*Dh]
        v: torch.Tensor,  # [B, q, H_kv*Dh]
        cos: torch.Tensor,  # [B or 1, q, Dh]
        sin: torch.Tensor,
        mask: Optional[torch.Tensor],
        cache: Optional[Cache],
    ) -> torch.Tensor:  # [B, q, H*Dh]
        config = self.config
        return rotary_self_attention(
            q, k, v, cos, sin,
            n_heads=config.num_attention_heads,
            n_kv_heads=config.num_key_value_heads,
            mask=mask,
            cache=cache,
            layer_idx=self.layer_idx,
            rope_full_precision=False,  # cos/sin in the activations' dtype, as transformers rotates
            dropout_p=config.attention_dropout if self.training else 0.0,
        )

    def project_out(self, out: torch.Tensor) -> torch.Tensor:  # [B, q, H*Dh] -> [B, q, D]
        return self.o_proj(out)

    def forward(
        self,
        x: torch.Tensor,  # [B, q, D]
        cos: torch.Tensor,  # [B or 1, q, Dh]
        sin: torch.Tensor,  # [B or 1, q, Dh]
        mask: Optional[torch.Tensor],  # from attention_mask_for_sdpa; None = attend everywhere
        cache: Optional[Cache],
    ) -> torch.Tensor:  # [B, q, D]
        q, k, v = self.project(x)
        return self.project_out(self.attend(q, k, v, cos, sin, mask, cache))


class PreNormDecoderLayer(GradientCheckpointingLayer):
    """``forward`` of one pre-norm layer:

        h = x + attention(input_layernorm(x), cos, sin, mask, cache)
        return feed_forward(h, post_attention_layernorm(h))      (h + mlp(n2) by default)

    The subclass builds ``input_layernorm``, the attention module (the attribute named by
    ``attention_name``), ``post_attention_layernorm`` and ``mlp``.
    """

    #: the attribute that holds the attention module
    attention_name: ClassVar[str] = "self_attn"

    def feed_forward(self, x: torch.Tensor, n: torch.Tensor) -> Any:
        """The layer's output from the residual stream ``x`` [B, q, D] and its normalised copy
        ``n``: ``x + mlp(n)`` [B, q, D]. An MoE layer returns its router logits too."""
        return x + self.mlp(n)

    def forward(
        self,
        x: torch.Tensor,  # [B, q, D]
        cos: torch.Tensor,  # [B or 1, q, Dh]
        sin: torch.Tensor,  # [B or 1, q, Dh]
        mask: Optional[torch.Tensor],
        cache: Optional[Cache] = None,
    ) -> Any:  # what feed_forward returns: [B, q, D] by default
        attention = getattr(self, self.attention_name)
        x = x + attention(self.input_layernorm(x), cos, sin, mask, cache)
        return self.feed_forward(x, self.post_attention_layernorm(x))


class DecoderBackbone(nn.Module):
    """A family's module tree ``model``: the token embedding (the attribute named by
    ``embedding_name``), ``layers`` and the final ``norm``, built in that order.

    ``forward(input_ids, position_ids, attention_mask, cache, logits_to_keep)`` returns the final
    hidden states of the kept positions [B, n_kept, D]. The rotary tables are
    :func:`~dllm_core.modeling.rotary.rotary_cos_sin` of ``config.head_dim`` and
    ``config.rope_theta`` unless :meth:`rotary_tables` is overridden; :meth:`run_layers` calls
    every layer as ``layer(x, cos, sin, mask, cache=cache)``.
    """

    #: the attribute that holds the token embedding
    embedding_name: ClassVar[str] = "embed_tokens"

    def __init__(
        self,
        config: Any,
        make_layer: Callable[[int], nn.Module],
        norm_class: Callable[..., nn.Module] = RMSNorm,
    ):
        """``make_layer(i)`` builds layer i of ``config.num_hidden_layers``; ``norm_class(hidden_size,
        eps=rms_norm_eps)`` the final norm."""
        super().__init__()
        self.config = config
        # padding_idx as in the reference models: the pad row starts at zero and gets no gradient
        embedding = nn.Embedding(config.vocab_size, config.hidden_size, config.pad_token_id)
        self.add_module(self.embedding_name, embedding)
        self.layers = nn.ModuleList(make_layer(i) for i in range(config.num_hidden_layers))
        self.norm = norm_class(config.hidden_size, eps=config.rms_norm_eps)

    def rotary_tables(
        self, x: torch.Tensor, position_ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """cos/sin [B or 1, q, Dh] for the embedded tokens ``x`` [B, q, D] at ``position_ids``."""
        return rotary_cos_sin(position_ids, self.config.head_dim, self.config.rope_theta)

    def run_layers(
        self,
        x: torch.Tensor,  # [B, q, D]
        cos: torch.Tensor,
        sin: torch.Tensor,
        mask: Optional[torch.Tensor],
        cache: Optional[Cache],
    ) -> torch.Tensor:  # [B, q, D]
        for layer in self.layers:
            x = layer(x, cos, sin, mask, cache=cache)
        return x

    def forward(
        self,
        input_ids: torch.Tensor,  # [B, q]
        position_ids: torch.Tensor,  # [B, q] or [1, q]
        attention_mask: Optional[torch.Tensor],
        cache: Optional[Cache],
        logits_to_keep: LogitsToKeep = None,
    ) -> torch.Tensor:  # [B, n_kept, D]
        x = getattr(self, self.embedding_name)(input_ids)  # [B, q, D]
        cos, sin = self.rotary_tables(x, position_ids)
        mask = attention_mask_for_sdpa(attention_mask, x.dtype)
        x = self.run_layers(x, cos, sin, mask, cache)
        return keep_positions(self.norm(x), logits_to_keep)
