"""``EditFlowModel``: Edit Flows rates and token distributions over any registered backbone.

Edit Flows (arXiv 2506.09018, section 3.1) parameterises a continuous-time Markov chain over
sequences of any length by, for each position i of x_t,

    lambda_ins^i, lambda_del^i, lambda_sub^i >= 0          (rates)
    Q_ins^i(a) , Q_sub^i(a)                                  (token distributions over the vocab)

where an insertion puts a token *after* position i, a deletion removes x_t^i and a substitution
replaces it. The rate of the edit "insert a after i" is lambda_ins^i Q_ins^i(a), and so on.

The model outputs *relative* rates r = softplus(linear(h)) and lambda = w(t) r with the
schedule's w(t) = kappa'(t) / (1 - kappa(t)), applied by the objective and the sampler (the
model does not know kappa). The optimal lambda grows like w(t) as t -> 1 while the optimal r is
the chance that the edit remains (:mod:`dllm_editflow.objective`): a number in [0, 1] that
for many tasks does not depend on t at all, which a small network learns far faster.

The backbone is any dllm family's masked LM, built from its own config through the registry
(``config.backbone_family``), never imported directly. From it we use:

* h ``[B, L, D]``: the hidden states entering its output embedding (LM head), captured with a
  forward pre-hook on ``get_output_embeddings()``;
* its logits ``[B, L, V]`` as the substitution logits (a pretrained masked LM already answers
  "which token belongs here"; read one position later for a backbone with shifted logits);
* its input embedding, to which the time embedding e(t) ``[B, 1, D]`` is added (a forward hook),
  so the whole backbone is conditioned on t. The last layer of e(t) starts at zero: a pretrained
  backbone starts unchanged.

Our own heads read h: ``rate_head`` (D -> 3, softplus) and ``insert_head`` (D -> V).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any, Iterator, Optional

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoConfig, PretrainedConfig, PreTrainedModel
from transformers.utils import ModelOutput

from dllm_core.api import get_registry, load_reference, register_family_classes, shift_logits
from dllm_editflow.configuration import EditFlowConfig

#: index of each rate in the last dimension of ``EditFlowOutput.rates``
INSERT, DELETE, SUBSTITUTE = 0, 1, 2


@dataclass
class EditFlowOutput(ModelOutput):
    """What ``EditFlowModel.forward`` returns.

    Attributes:
        rates: ``[B, L, 3]`` non-negative relative rates r_ins, r_del, r_sub per position
            (lambda = w(t) r).
        insert_logits: ``[B, L, V]`` logits of Q_ins (the token inserted after each position).
        substitute_logits: ``[B, L, V]`` logits of Q_sub (the token replacing each position).
    """

    rates: Optional[torch.FloatTensor] = None
    insert_logits: Optional[torch.FloatTensor] = None
    substitute_logits: Optional[torch.FloatTensor] = None


def backbone_config(family_name: str, values: dict[str, Any]) -> PretrainedConfig:
    """The backbone's config object, rebuilt from its ``to_dict()`` by its family."""
    family = get_registry().families.get(family_name)
    register_family_classes(family)
    if family.config_class is not None:
        return load_reference(family.config_class).from_dict(values)
    values = dict(values)
    return AutoConfig.for_model(values.pop("model_type", family.model_types[0]), **values)


def build_backbone(family_name: str, config: PretrainedConfig) -> PreTrainedModel:
    """A freshly initialised backbone of ``family_name`` with ``config``."""
    family = get_registry().families.get(family_name)
    model_class = load_reference(family.model_class or "transformers:AutoModelForMaskedLM")
    if hasattr(model_class, "from_config"):
        return model_class.from_config(config)
    return model_class(config)


class TimeEmbedding(nn.Module):
    """e(t) = W_2 silu(W_1 phi(t)), phi(t) = [cos(1000 t f_k), sin(1000 t f_k)],
    f_k = 10000^(-k / F) for k < F (``frequencies``); ``t [B]`` -> ``[B, dim]``."""

    def __init__(self, frequencies: int, dim: int) -> None:
        super().__init__()
        self.frequencies = frequencies
        self.inner = nn.Linear(2 * frequencies, dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        k = torch.arange(self.frequencies, device=t.device, dtype=torch.float32)
        angles = 1000.0 * t.float()[:, None] * torch.exp(-math.log(10000.0) * k / self.frequencies)  # [B, F]
        phi = torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1).to(self.inner.weight.dtype)
        return self.out(F.silu(self.inner(phi)))  # [B, dim]


class _Tap:
    """Per-forward hook state: the time bias to add and the hidden states captured."""

    def __init__(self, time_bias: torch.Tensor) -> None:
        self.time_bias = time_bias  # [B, 1, D]
        self.hidden: torch.Tensor | None = None

    def add_time(self, module: nn.Module, args: Any, output: torch.Tensor) -> torch.Tensor:
        return output + self.time_bias.to(output.dtype)

    def capture(self, module: nn.Module, args: Any) -> None:
        self.hidden = args[0]


class EditFlowModel(PreTrainedModel):
    """``forward(input_ids [B, L], attention_mask [B, L] = None, t [B] = None) -> EditFlowOutput``.

    ``t`` is the flow time in [0, 1] of each row (0 when omitted). Padding follows the
    backbone's convention (right padding with ``attention_mask`` 0 works for every family).
    """

    config_class = EditFlowConfig
    base_model_prefix = "editflow"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _supports_sdpa = True

    def __init__(self, config: EditFlowConfig) -> None:
        super().__init__(config)
        inner = backbone_config(config.backbone_family, config.backbone)
        self.backbone = build_backbone(config.backbone_family, inner)
        self._logit_shift = get_registry().families.get(config.backbone_family).logit_shift
        embedding = self.backbone.get_input_embeddings()
        dim, vocab = embedding.embedding_dim, embedding.num_embeddings
        self.time_embedding = TimeEmbedding(config.time_frequencies, dim)
        self.rate_head = nn.Linear(dim, 3)
        self.insert_head = nn.Linear(dim, vocab)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        """Heads N(0, 0.02) with zero bias; the last time layer zero (the backbone starts unchanged)."""
        if module is self.time_embedding.out:
            nn.init.zeros_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            nn.init.zeros_(module.bias)

    def get_input_embeddings(self) -> nn.Module:
        return self.backbone.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.backbone.set_input_embeddings(value)

    @contextlib.contextmanager
    def _tapped(self, time_bias: torch.Tensor) -> Iterator[_Tap]:
        """Hooks for one backbone call: add e(t) to the token embeddings, capture the LM head input."""
        tap = _Tap(time_bias)
        head = self.backbone.get_output_embeddings()
        handles = [self.backbone.get_input_embeddings().register_forward_hook(tap.add_time),
                   head.register_forward_pre_hook(tap.capture)]
        try:
            yield tap
        finally:
            for handle in handles:
                handle.remove()

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: Optional[torch.Tensor] = None,
        t: Optional[torch.Tensor] = None,
        **kwargs: Any,
    ) -> EditFlowOutput:
        if t is None:
            t = torch.zeros(input_ids.shape[0], device=input_ids.device)
        time_bias = self.time_embedding(t.to(input_ids.device))[:, None, :]  # [B, 1, D]
        with self._tapped(time_bias) as tap:
            output = self.backbone(input_ids=input_ids, attention_mask=attention_mask)
        hidden = tap.hidden  # [B, L, D]
        if hidden is None or not hidden.is_floating_point() or hidden.shape[:2] != input_ids.shape:
            raise RuntimeError(
                f"the {self.config.backbone_family} backbone does not call its output embedding "
                "module on its hidden states (e.g. an LM head tied through a functional call), so "
                "Edit Flows cannot read them; use an untied LM head"
            )
        substitute_logits = output.logits if hasattr(output, "logits") else output[0]  # [B, L, V]
        if self._logit_shift:  # the backbone predicts token i at i - 1 (Dream): read it there
            substitute_logits = shift_logits(substitute_logits)
        return EditFlowOutput(
            rates=F.softplus(self.rate_head(hidden).float()),  # [B, L, 3]
            insert_logits=self.insert_head(hidden),  # [B, L, V]
            substitute_logits=substitute_logits,
        )


def register_with_transformers() -> None:
    """Register ``editflow`` with AutoConfig (so checkpoint folders are recognised; idempotent)."""
    AutoConfig.register(EditFlowConfig.model_type, EditFlowConfig, exist_ok=True)
