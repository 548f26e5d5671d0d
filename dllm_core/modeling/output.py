"""The masked-LM side of a model: its output type, ``logits_to_keep`` and the loss."""

from __future__ import annotations

import dataclasses
from typing import Optional, Union

import torch
import torch.nn.functional as F
from transformers.cache_utils import Cache
from transformers.modeling_outputs import BaseModelOutputWithPast
from transformers.utils import ModelOutput

#: what ``logits_to_keep`` may be: None/0 = all positions, k > 0 = the last k query positions,
#: a 1D LongTensor of query indices, or a python ``slice``.
LogitsToKeep = Union[None, int, slice, torch.Tensor]

#: the name transformers gives the cache field of model outputs: ``cache`` from 5.x on (where
#: ``output.past_key_values`` still reads it), ``past_key_values`` before.
CACHE_FIELD = (
    "cache"
    if "cache" in {f.name for f in dataclasses.fields(BaseModelOutputWithPast)}
    else "past_key_values"
)

DiffusionLMOutput = dataclasses.make_dataclass(
    "DiffusionLMOutput",
    [
        ("loss", Optional[torch.FloatTensor], None),
        ("logits", Optional[torch.FloatTensor], None),
        (CACHE_FIELD, Optional[Cache], None),
    ],
    bases=(ModelOutput,),
    namespace={"__module__": __name__},
)
DiffusionLMOutput.__doc__ = """What a family model's ``forward`` returns.

Attributes:
    loss: masked-LM cross entropy when ``labels`` were given (see :func:`masked_lm_loss`).
    logits: [B, n_kept, V] for the kept query positions (all of them by default).
    cache / past_key_values: the cache that was used, if any (the field is ``CACHE_FIELD``;
        ``output.past_key_values`` reads it under every transformers version, with a
        deprecation notice on 5.x).
"""


def keep_positions(x: torch.Tensor, logits_to_keep: LogitsToKeep) -> torch.Tensor:
    """Select query positions (dim 1) of ``x`` [B, q, ...] per ``logits_to_keep``."""
    if logits_to_keep is None:
        return x
    if isinstance(logits_to_keep, int):
        return x if logits_to_keep == 0 else x[:, -logits_to_keep:]
    if isinstance(logits_to_keep, slice):
        return x[:, logits_to_keep]
    return x[:, logits_to_keep.to(x.device)]


def masked_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross entropy of ``logits`` [B, n, V] against ``labels`` [B, n] over labels != -100.

    Computed in float32, position by position with no shift: for Dream (position i - 1
    predicts token i) the objective applies the family's shift itself.
    """
    return F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=-100)
