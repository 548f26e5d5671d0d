"""Training objectives: a batch and a model in, a ``LossOutput`` out.

* ``masked-diffusion`` -- :class:`MaskedDiffusionObjective` (MDLM/LLaDA ELBO, Dream's shift);
* ``block-diffusion`` -- :class:`BlockDiffusionObjective` (BD3LM).

Importing this package imports torch.
"""

from dllm_core.objectives.base import LossOutput, Objective
from dllm_core.objectives.block_diffusion import (
    BlockDiffusionConfig,
    BlockDiffusionObjective,
    bd3lm_attention_mask,
    block_attention_mask,
)
from dllm_core.objectives.elbo import DiffusionLossConfig
from dllm_core.objectives.masked_diffusion import MaskedDiffusionConfig, MaskedDiffusionObjective

__all__ = [
    "BlockDiffusionConfig",
    "BlockDiffusionObjective",
    "DiffusionLossConfig",
    "LossOutput",
    "MaskedDiffusionConfig",
    "MaskedDiffusionObjective",
    "Objective",
    "bd3lm_attention_mask",
    "block_attention_mask",
]
