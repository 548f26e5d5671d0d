"""Block diffusion (BD3LM, arXiv 2503.09573): the ``block-diffusion`` objective.

The sequence is cut into blocks of ``block_size``. Each block k of row b gets its own time
t_{b,k} = eps + (1 - eps) U, and its maskable positions are masked with probability
1 - alpha(t_{b,k}). The model reads the noised and the clean sequence side by side,

    input_ids    = [x_t ; x_0]                      [B, 2L]
    position_ids = [0 .. L-1 ; 0 .. L-1]             [B, 2L]

under the attention mask of :func:`block_attention_mask`, so that block k of x_t is denoised
from itself and the clean blocks before it: p(x^k | x_t^k, x^{<k}) (BD3LM eq. 6). Only the x_t
half is scored: CE of x_0 at masked positions weighted by w(t_{b,k}), normalised as in
:mod:`dllm_core.objectives.elbo`. Summed over blocks, the weighted CE bounds -log p(x_0).

The block grid. Position i of row b lies in block ``(i + s_b) // block_size``. With
``answer_starts_block`` (the default) the shift ``s_b = (-a_b) mod block_size``, a_b the row's
first scored position (the answer of an SFT row), puts the answer at the start of a block: the
layout BD3LM sampling uses, which left-pads the prompt to whole blocks and starts the answer on a
fresh block (``bd3lm`` generator). Rows without a prompt have a_b = 0 and no shift. With
``answer_starts_block=False`` blocks run from position 0 (s_b = 0), LLaDA2's layout, whose
sampler writes the answer right after the prompt inside the prompt's last block.

The model is called as ``model(input_ids=[B, 2L], attention_mask=[B, 1, 2L, 2L],
position_ids=[B, 2L])`` with an additive float mask (0 = attend, dtype minimum = blocked;
padding keys blocked too), which transformers models accept as a custom 4D mask.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from dllm_core.objectives.base import Batch, LossOutput, Objective
from dllm_core.objectives.elbo import (
    DiffusionLossConfig,
    cut_to_random_length,
    elbo_loss_output,
    masked_token_nll,
    sample_mask,
    sample_times,
)
from dllm_core.objectives.model_io import (
    logits_of,
    model_float_dtype,
    resolve_mask_token_id,
    with_router_loss,
)

if TYPE_CHECKING:
    from dllm_core.family import ModelFamily


def block_ids(length: int, block_size: int, shift: int | torch.Tensor = 0,
              device: torch.device | None = None) -> torch.Tensor:
    """The block of each position: ``(i + shift) // block_size``, ``[L]`` (``shift`` an int) or
    ``[B, L]`` (``shift`` a ``[B]`` tensor of per-row shifts)."""
    if length < 1 or block_size < 1:
        raise ValueError(f"length and block_size must be >= 1, got {length} and {block_size}")
    index = torch.arange(length, device=device)  # [L]
    if isinstance(shift, torch.Tensor):
        return (index[None, :] + shift[:, None].to(index.device)) // block_size  # [B, L]
    return (index + shift) // block_size  # [L]


def block_attention_mask(block: torch.Tensor) -> torch.Tensor:
    """Which of the 2L positions of ``[x_t ; x_0]`` may attend to which, given the block of
    each of the L positions (``block [..., L]``, non-decreasing): bool ``[..., 2L, 2L]``.

    For query q and key k (blocks taken modulo L), True means q may attend to k:

    * x_t -> x_t: block-diagonal, block(q) == block(k);
    * x_t -> x_0: strictly earlier clean blocks, block(k) < block(q);
    * x_0 -> x_0: block-causal, block(k) <= block(q);
    * x_0 -> x_t: never.
    """
    length = block.shape[-1]
    both = torch.cat([block, block], dim=-1)  # [..., 2L]
    clean = torch.arange(2 * length, device=block.device) >= length  # [2L]
    q_clean, k_clean = clean[:, None], clean[None, :]  # [2L, 1], [1, 2L]
    q_block, k_block = both[..., :, None], both[..., None, :]  # [..., 2L, 1], [..., 1, 2L]
    noisy_to_noisy = ~q_clean & ~k_clean & (q_block == k_block)
    noisy_to_clean = ~q_clean & k_clean & (k_block < q_block)
    clean_to_clean = q_clean & k_clean & (k_block <= q_block)
    return noisy_to_noisy | noisy_to_clean | clean_to_clean  # [..., 2L, 2L]


def bd3lm_attention_mask(length: int, block_size: int, device: torch.device | None = None,
                         shift: int = 0) -> torch.Tensor:
    """:func:`block_attention_mask` for blocks ``(i + shift) // block_size``: bool ``[2L, 2L]``."""
    return block_attention_mask(block_ids(length, block_size, shift, device))


def answer_block_shift(labels: torch.Tensor, block_size: int) -> torch.Tensor:
    """``[B]`` shifts ``(-a_b) mod block_size`` that start each row's answer on a block, a_b the
    first position of ``labels [B, L]`` that is scored (not -100; 0 for a row with none)."""
    scored = labels != -100  # [B, L]
    first = scored.int().argmax(dim=1)  # the first True; 0 for a row with none
    return (-first) % block_size  # [B]


@dataclass
class BlockDiffusionConfig(DiffusionLossConfig):
    """``DiffusionLossConfig`` (schedule, eps, weighting, normalization) plus the block size."""

    block_size: int = 4  # tokens per block; BD3LM's interpolation knob (L = masked diffusion)
    answer_starts_block: bool = True  # shift each row's grid so its answer starts a block (module doc)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {self.block_size}")
        if not isinstance(self.answer_starts_block, bool):
            raise ValueError(f"answer_starts_block must be true or false, got {self.answer_starts_block!r}")


class BlockDiffusionObjective(Objective):
    """The BD3LM block diffusion ELBO; see the module docstring.

    Families with shifted logits (Dream) are refused: a block's first position would be read
    from the previous block's output, which that block may not see.
    """

    name: ClassVar[str] = "block-diffusion"
    config_class: ClassVar[type[BlockDiffusionConfig]] = BlockDiffusionConfig
    generator: ClassVar[str | None] = "bd3lm"
    checkpoint_options: ClassVar[tuple[str, ...]] = ("block_size", "answer_starts_block")

    def __init__(self, config: BlockDiffusionConfig | None = None) -> None:
        self.config = config if config is not None else BlockDiffusionConfig()

    def blocks(self, labels: torch.Tensor) -> torch.Tensor:
        """The block of every position of ``labels [B, L]`` on the row's grid: ``[B, L]``."""
        batch_size, length = labels.shape
        if self.config.answer_starts_block:
            shift = answer_block_shift(labels, self.config.block_size)  # [B]
        else:
            shift = torch.zeros(batch_size, dtype=torch.long, device=labels.device)
        return block_ids(length, self.config.block_size, shift, labels.device)  # [B, L]

    def num_blocks(self, labels: torch.Tensor) -> int:
        """Blocks K of the batch's grids: times are drawn as ``[B, K]``."""
        return int(self.blocks(labels).max()) + 1

    def loss(
        self,
        model: torch.nn.Module,
        batch: Batch,
        family: ModelFamily | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> LossOutput:
        """Cut the batch to a random length (``random_length_ratio``), draw one time per block
        (``time_sampling`` over the batch, per block index) and the mask, then score (see
        :meth:`loss_at`)."""
        batch = cut_to_random_length(batch, self.config.random_length_ratio, generator)
        labels = batch["labels"]  # [B, L]
        block = self.blocks(labels)  # [B, L]
        shape = (labels.shape[0], int(block.max()) + 1)
        t = sample_times(shape, self.config.eps, labels.device, generator, self.config.time_sampling)  # [B, K]
        mask_probability = 1 - self.config.schedule.alpha(t.gather(1, block))  # [B, L]
        masked = sample_mask(mask_probability, labels != -100, generator)  # [B, L]
        return self._score(model, batch, family, t, masked, block)

    def loss_at(
        self,
        model: torch.nn.Module,
        batch: Batch,
        family: ModelFamily | None = None,
        *,
        t: torch.Tensor,
        masked: torch.Tensor,
    ) -> LossOutput:
        """The loss for given block times ``t [B, K]`` (K = :meth:`num_blocks`) and mask
        ``masked [B, L]``, no randomness."""
        batch_size, length = masked.shape
        if bool((masked & (batch["labels"] == -100)).any()):
            raise ValueError("masked covers positions whose label is -100 (prompt or padding)")
        block = self.blocks(batch["labels"])
        if t.shape != (batch_size, int(block.max()) + 1):
            expected = [batch_size, int(block.max()) + 1]
            raise ValueError(f"t must have shape [B, K] = {expected}, got {list(t.shape)}")
        return self._score(model, batch, family, t, masked, block)

    @staticmethod
    def denoise(model: torch.nn.Module, noisy: torch.Tensor, x0: torch.Tensor, block: torch.Tensor,
                padding: torch.Tensor | None = None) -> tuple[torch.Tensor, Any]:
        """One forward over ``[x_t ; x_0]`` ``[B, 2L]`` (positions ``0..L-1`` twice) under the block
        attention mask of ``block [B, L]``, keys at ``padding [B, L] == 0`` hidden: logits
        ``[B, L, V]`` of the x_t half, and the model's output (for router losses)."""
        batch_size, length = x0.shape
        allowed = block_attention_mask(block)  # [B, 2L, 2L]
        if padding is not None:
            allowed = allowed & padding.bool().repeat(1, 2)[:, None, :]  # [B, 2L, 2L]
        dtype = model_float_dtype(model)
        additive = torch.zeros(allowed.shape, dtype=dtype, device=x0.device)
        additive = additive.masked_fill(~allowed, torch.finfo(dtype).min)[:, None]  # [B, 1, 2L, 2L]
        positions = torch.arange(length, device=x0.device).repeat(2)  # [2L]
        output = model(input_ids=torch.cat([noisy, x0], dim=1), attention_mask=additive,
                       position_ids=positions.expand(batch_size, -1))
        return logits_of(output)[:, :length], output

    def _score(
        self,
        model: torch.nn.Module,
        batch: Batch,
        family: ModelFamily | None,
        t: torch.Tensor,
        masked: torch.Tensor,
        block: torch.Tensor,
    ) -> LossOutput:
        if family is not None and family.logit_shift:
            raise ValueError(
                f"block diffusion does not support family '{family.name}', whose logits are shifted; "
                "use the masked-diffusion objective"
            )
        x0 = batch["input_ids"]  # [B, L]
        maskable = batch["labels"] != -100  # [B, L]
        noisy = torch.where(masked, resolve_mask_token_id(model, batch), x0)  # [B, L]
        logits, output = self.denoise(model, noisy, x0, block, batch.get("attention_mask"))
        token_nll = masked_token_nll(logits, x0, masked)  # [B, L]
        schedule_weight = self.config.schedule.weight(t.gather(1, block))  # [B, L]
        return with_router_loss(elbo_loss_output(token_nll, schedule_weight, maskable, self.config),
                                model, output)
