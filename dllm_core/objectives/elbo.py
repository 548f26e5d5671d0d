"""The masked-diffusion ELBO pieces shared by the masked and block diffusion objectives.

For a clean sequence x_0 with maskable positions M (``labels != -100``), time t and noised x_t
(each position in M masked with probability 1 - alpha(t)), the continuous-time negative ELBO
is (MDLM, arXiv 2406.07524, eq. 10; LLaDA, arXiv 2502.09992, eq. 3)

    -log p(x_0) <= E_t E_{x_t} [ w(t) * sum_{i in M, x_t^i = [MASK]} -log p_theta(x_0^i | x_t) ],

    w(t) = -alpha'(t) / (1 - alpha(t))           (= 1/t for the linear schedule).

``weighting="uniform"`` replaces w(t) by 1 (no longer a bound); ``weighting="cart"`` (the
masked-diffusion objective only) by Dream's per-token CART weight w_i
(:mod:`dllm_core.objectives.cart`), also not a bound. The sum over masked positions
of ``w * CE`` is then normalised (``normalization``), with n_b the maskable count of row b:

* ``"token"``: divide by sum_b n_b, the maskable tokens of the batch (LLaDA);
* ``"sequence"``: divide row b by n_b, then average over the rows with n_b > 0;
* ``"batch"``: divide by the batch size B -- a per-sequence NLL bound (MDLM-style sums).

Rows without maskable tokens contribute nothing; an empty batch gives loss 0.

Time draws (``time_sampling``) over the batch dimension of size B, mapped by t = eps + (1 - eps) s
into [eps, 1] (eps > 0 keeps w(t) finite):

* ``"iid"``: s_i = U_i, independent (LLaDA);
* ``"low-discrepancy"``: s_i = (U + i / B) mod 1 with one U for the batch (the sampler of VDM,
  Kingma et al. 2021, that MDLM, arXiv 2406.07524, describes): one draw in each interval
  [k / B, (k + 1) / B), so the batch mean of s has variance 1 / (12 B^2) instead of 1 / (12 B);
* ``"stratified"``: s_i = (pi(i) + U_i) / B, one independent draw in each interval (what MDLM's
  code runs under ``antithetic_sampling``, there with pi the identity; here pi is a random
  permutation of the rows), variance 1 / (12 B^3).

Each s_i on its own is still U[0, 1), so the loss of any fixed batch stays an unbiased estimate;
only its variance drops.

Random length (``random_length_ratio``, LLaDA's pre-training recipe, arXiv 2502.09992: "1% of the
pre-training data" set to a length drawn uniformly from [1, L]): with that probability a batch
``[B, L]`` is cut to one length n ~ U{1, ..., L} for all its rows, as LLaDA's guidelines and
dllm's ``RandomTruncateWrapper`` do; the cut is logical, as in dllm: positions >= n get label
-100 and attention 0, the tensors keep their shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal, get_args

import torch
import torch.nn.functional as F

from dllm_core.objectives.base import Batch, LossOutput
from dllm_core.schedules import LinearSchedule, NoiseSchedule

Weighting = Literal["schedule", "uniform", "cart"]
Normalization = Literal["token", "sequence", "batch"]
TimeSampling = Literal["iid", "low-discrepancy", "stratified"]


@dataclass
class DiffusionLossConfig:
    """Settings shared by the masked-diffusion-style objectives."""

    #: the ``weighting`` values this objective implements (``"cart"`` needs per-token weights)
    weightings: ClassVar[tuple[str, ...]] = ("schedule", "uniform")

    schedule: NoiseSchedule = field(default_factory=LinearSchedule)  # alpha(t)
    eps: float = 1e-3  # t = eps + (1 - eps) U keeps w(t) finite (LLaDA, MDLM); 0 < eps < 1
    weighting: Weighting = "schedule"  # "schedule": -alpha'/(1 - alpha); "uniform": 1; "cart": w_i
    normalization: Normalization = "token"  # "token" | "sequence" | "batch" (module docstring)
    time_sampling: TimeSampling = "iid"  # "iid" | "low-discrepancy" | "stratified" (module docstring)
    random_length_ratio: float = 0.0  # chance a batch is cut to a random length (LLaDA PT: 0.01)

    def __post_init__(self) -> None:
        if not isinstance(self.schedule, NoiseSchedule):
            raise TypeError(f"schedule must be a NoiseSchedule, got {type(self.schedule).__name__}")
        if not 0 < self.eps < 1:
            raise ValueError(f"eps must lie in (0, 1): t = eps + (1 - eps) U must stay above 0, where the "
                             f"weight w(t) is infinite; got eps={self.eps} (the usual value is 1e-3)")
        if self.time_sampling not in get_args(TimeSampling):
            raise ValueError(f"time_sampling must be one of {get_args(TimeSampling)}, got {self.time_sampling!r}")
        if not 0 <= self.random_length_ratio <= 1:
            raise ValueError(f"random_length_ratio is a probability in [0, 1] (arXiv 2502.09992 pre-trains with 0.01), "
                             f"got {self.random_length_ratio}")
        if self.weighting not in self.weightings:
            raise ValueError(f"weighting must be one of {self.weightings}, got {self.weighting!r}")
        if self.normalization not in get_args(Normalization):
            raise ValueError(
                f"normalization must be one of {get_args(Normalization)}, got {self.normalization!r}"
            )


def sample_times(
    shape: tuple[int, ...],
    eps: float,
    device: torch.device,
    generator: torch.Generator | None,
    sampling: TimeSampling = "iid",
) -> torch.Tensor:
    """t = eps + (1 - eps) s, float32 of ``shape`` ``[B, ...]``, with s in [0, 1) drawn over the
    batch dimension as ``sampling`` says (module docstring); each trailing index (the blocks of
    block diffusion) gets its own draws."""
    batch = shape[0]
    offsets = torch.arange(batch, device=device).view(batch, *([1] * (len(shape) - 1))) / batch  # [B, 1, ...]
    if sampling == "low-discrepancy":
        u = torch.rand((1, *shape[1:]), device=device, generator=generator)  # [1, ...]: one U per column
        s = torch.remainder(u + offsets, 1.0)
    elif sampling == "stratified":
        strata = torch.randperm(batch, device=device, generator=generator)  # [B], pi
        s = offsets[strata] + torch.rand(shape, device=device, generator=generator) / batch
    else:
        s = torch.rand(shape, device=device, generator=generator)
    return eps + (1 - eps) * s


def cut_to_random_length(batch: Batch, ratio: float, generator: torch.Generator | None) -> Batch:
    """With probability ``ratio``, ``batch`` cut to one length n ~ U{1, ..., L} (module docstring):
    ``labels [B, L]`` -100 and ``attention_mask [B, L]`` 0 (made if absent) at positions >= n.

    Draws nothing when ``ratio`` is 0, so the other draws do not move.
    """
    if ratio == 0:
        return batch
    labels = batch["labels"]  # [B, L]
    device = labels.device
    if torch.rand((), device=device, generator=generator).item() >= ratio:
        return batch
    length = int(torch.randint(1, labels.shape[1] + 1, (), device=device, generator=generator).item())
    cut = torch.arange(labels.shape[1], device=device) >= length  # [L]
    attention = batch.get("attention_mask")
    if attention is None:
        attention = torch.ones_like(labels)
    return {**batch, "labels": labels.masked_fill(cut, -100), "attention_mask": attention.masked_fill(cut, 0)}


def sample_mask(
    mask_probability: torch.Tensor, maskable: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    """Mask each maskable position independently with its probability.

    ``mask_probability [B, L]`` (float), ``maskable [B, L]`` (bool) -> bool ``[B, L]``.
    One uniform draw per position, maskable or not, so the draws of maskable positions do not
    depend on where the prompt and padding are.
    """
    u = torch.rand(maskable.shape, device=maskable.device, generator=generator)
    return (u < mask_probability) & maskable


def masked_token_nll(
    logits: torch.Tensor, targets: torch.Tensor, masked: torch.Tensor
) -> torch.Tensor:
    """-log p(targets) at masked positions, 0 elsewhere, in float32.

    ``logits [B, L, V]``, ``targets [B, L]``, ``masked [B, L]`` (bool) -> ``[B, L]``.
    Only the masked rows of the logits go through the softmax.
    """
    nll = F.cross_entropy(logits[masked].float(), targets[masked], reduction="none")  # [N]
    zeros = torch.zeros(masked.shape, dtype=nll.dtype, device=logits.device)
    return zeros.masked_scatter(masked, nll)


def normalize(
    token_loss: torch.Tensor, maskable: torch.Tensor, normalization: Normalization
) -> torch.Tensor:
    """Reduce ``token_loss [B, L]`` to a scalar as described in the module docstring."""
    counts = maskable.sum(dim=1)  # [B]
    if normalization == "token":
        return token_loss.sum() / counts.sum().clamp(min=1)
    if normalization == "sequence":
        per_row = token_loss.sum(dim=1) / counts.clamp(min=1)  # [B]
        return per_row.sum() / (counts > 0).sum().clamp(min=1)
    return token_loss.sum() / token_loss.shape[0]


def elbo_loss_output(
    token_nll: torch.Tensor,
    schedule_weight: torch.Tensor,
    maskable: torch.Tensor,
    config: DiffusionLossConfig,
    token_weight: torch.Tensor | None = None,
) -> LossOutput:
    """Weight, normalise and report.

    Args:
        token_nll: ``[B, L]`` -log p(x_0^i | x_t) at masked positions, 0 elsewhere.
        schedule_weight: ``[B, L]`` (or broadcastable) w(t) of each position's time.
        maskable: ``[B, L]`` bool, ``labels != -100``.
        config: weighting and normalisation.
        token_weight: ``[B, L]`` per-token loss weights, required by ``weighting="cart"``
            (and only used by it).

    Metrics: ``nll_bound`` -- the schedule-weighted, token-normalised loss, an unbiased
    estimate of the per-token negative ELBO (equal to ``loss`` for the default config);
    ``ppl_bound = exp(nll_bound)``; ``num_tokens`` -- the maskable tokens it averages over.
    """
    bound_terms = token_nll * schedule_weight  # [B, L]
    if config.weighting == "schedule":
        weighted = bound_terms
    elif config.weighting == "uniform":
        weighted = token_nll
    elif token_weight is None:
        raise ValueError(f"weighting={config.weighting!r} needs per-token weights (token_weight)")
    else:
        weighted = token_nll * token_weight
    loss = normalize(weighted, maskable, config.normalization)
    with torch.no_grad():
        num_tokens = maskable.sum()
        nll_bound = bound_terms.sum() / num_tokens.clamp(min=1)
    return LossOutput(
        loss=loss,
        metrics={"nll_bound": nll_bound, "ppl_bound": nll_bound.exp(), "num_tokens": num_tokens},
    )
