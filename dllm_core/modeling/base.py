"""What every family's ``PreTrainedModel`` shares: the ``forward`` contract, embedding access and
registration with transformers' auto classes.

A family model lists :class:`DiffusionLMMixin` before ``PreTrainedModel`` and supplies only what
is its own: its module tree under ``model``, weight names and, where the LM head sits outside
``model``, :meth:`~DiffusionLMMixin._project_logits`. The usual case, an ``lm_head`` beside
``model`` that the config may tie to the token embedding, is :class:`DiffusionLMHeadMixin`::

    class MyModel(DiffusionLMHeadMixin, PreTrainedModel):
        config_class = MyConfig
        _input_embeddings_path = "model.embed_tokens"

        def __init__(self, config):
            super().__init__(config)
            self.model = MyBackbone(config)
            self._init_lm_head()
            self.post_init()
"""

from __future__ import annotations

from typing import Any, ClassVar, Optional

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM
from transformers.cache_utils import Cache

from dllm_core.modeling.attention import default_position_ids, resolve_cache
from dllm_core.modeling.output import CACHE_FIELD, DiffusionLMOutput, LogitsToKeep, masked_lm_loss


class DiffusionLMMixin:
    """The dllm generation contract of a family's ``forward``, and its embedding accessors.

    ``forward`` resolves the cache (``past_key_values`` or ``cache``; ``use_cache=True`` without
    one starts a ``DynamicCache``), defaults ``position_ids`` to
    ``past_key_values.get_seq_length() + arange(q)``, runs the family's module tree
    ``self.model(input_ids, position_ids, attention_mask, cache, logits_to_keep)`` (which returns
    the kept positions only), turns its output into logits (:meth:`_project_logits`), adds the
    masked-LM loss when ``labels`` are given and returns a ``DiffusionLMOutput`` (what
    :meth:`_extend_output` makes of it; a tuple with ``return_dict=False``).

    Embeddings are reached by dotted module paths: ``_input_embeddings_path`` (the token
    embedding) and ``_lm_head_path`` (the untied LM head); when the config flag named by
    ``_tie_flag`` is set, the output embedding is the input one.
    """

    base_model_prefix = "model"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _supports_sdpa = True

    #: dotted path of the token embedding (an ``nn.Embedding``)
    _input_embeddings_path: ClassVar[str] = ""
    #: dotted path of the LM head used when the embeddings are not tied
    _lm_head_path: ClassVar[str] = ""
    #: the config attribute that ties the LM head to the token embedding
    _tie_flag: ClassVar[str] = "tie_word_embeddings"

    def _project_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """[B, n_kept, ...] -> [B, n_kept, V]: what ``self.model`` returns for the kept positions,
        as logits. The identity by default, for a ``model`` that applies its own LM head."""
        return hidden

    def _output_embeddings_path(self) -> str:
        tied = getattr(self.config, self._tie_flag)
        return self._input_embeddings_path if tied else self._lm_head_path

    def _replace_module(self, path: str, value: nn.Module) -> None:
        parent, _, name = path.rpartition(".")
        setattr(self.get_submodule(parent) if parent else self, name, value)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.get_submodule(self._input_embeddings_path)

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self._replace_module(self._input_embeddings_path, value)

    def get_output_embeddings(self) -> nn.Module:
        return self.get_submodule(self._output_embeddings_path())

    def set_output_embeddings(self, value: nn.Module) -> None:
        self._replace_module(self._output_embeddings_path(), value)

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: Optional[torch.Tensor] = None,
        position_ids: Optional[torch.LongTensor] = None,
        past_key_values: Optional[Cache] = None,
        use_cache: bool = False,
        logits_to_keep: LogitsToKeep = None,
        labels: Optional[torch.LongTensor] = None,
        return_dict: bool = True,
        cache: Optional[Cache] = None,
        **kwargs: Any,
    ) -> DiffusionLMOutput | tuple:
        cache = resolve_cache(past_key_values, cache, use_cache)
        if position_ids is None:
            position_ids = default_position_ids(input_ids, cache)
        hidden = self.model(input_ids, position_ids, attention_mask, cache, logits_to_keep)
        logits = self._project_logits(hidden)  # [B, n_kept, V]
        loss = masked_lm_loss(logits, labels) if labels is not None else None  # labels [B, n_kept]
        out = DiffusionLMOutput(loss=loss, logits=logits, **{CACHE_FIELD: cache})
        out = self._extend_output(out, input_ids, attention_mask)
        return out if return_dict else out.to_tuple()

    def _extend_output(
        self,
        out: DiffusionLMOutput,
        input_ids: torch.LongTensor,  # [B, q]
        attention_mask: Optional[torch.Tensor],
    ) -> DiffusionLMOutput:
        """The output of ``forward`` (before any ``return_dict=False`` tuple), from the plain one;
        ``out`` itself by default. A family that returns more (an MoE model's router outputs and
        auxiliary loss) returns a subclass of ``DiffusionLMOutput`` here."""
        return out


class DiffusionLMHeadMixin(DiffusionLMMixin):
    """:class:`DiffusionLMMixin` for a model whose LM head ``lm_head`` [V, D] (no bias) sits beside
    ``model``, unless the config ties the output embedding to the input one:

        logits = lm_head(h)   or, tied,   logits = h E^T   (E the token embedding [V, D])

    The family's ``__init__`` calls :meth:`_init_lm_head` after building ``model``.
    """

    _lm_head_path: ClassVar[str] = "lm_head"

    def _init_lm_head(self) -> None:
        """``lm_head`` (``config.hidden_size`` -> ``config.vocab_size``) unless the embeddings are tied."""
        if not getattr(self.config, self._tie_flag):
            self.lm_head = nn.Linear(self.config.hidden_size, self.config.vocab_size, bias=False)

    def _project_logits(self, hidden: torch.Tensor) -> torch.Tensor:  # [B, n_kept, D] -> [B, n_kept, V]
        if getattr(self.config, self._tie_flag):
            return F.linear(hidden, self.get_input_embeddings().weight)
        return self.lm_head(hidden)


def register_auto_classes(config_class: type, model_class: type) -> None:
    """Register a family with AutoConfig, AutoModel and AutoModelForMaskedLM (idempotent)."""
    AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
    AutoModel.register(config_class, model_class, exist_ok=True)
    AutoModelForMaskedLM.register(config_class, model_class, exist_ok=True)
