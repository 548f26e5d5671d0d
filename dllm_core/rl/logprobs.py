"""Per-token log-probabilities of sampled completions: d1's one-step estimate, coupled masks, trajectory.

A diffusion LM has no exact per-token likelihood; three estimators are offered (``estimator``).

``"d1"`` (d1's diffu-GRPO, arXiv 2504.12216, sec. 3.2) estimates log pi(o_k | q) for every
completion token o_k in ONE forward pass: the completion is fully masked and each prompt token is
masked independently with probability ``p_mask_prompt`` (a fresh mask per inner iteration acts as
regularisation), then

    log pi(o_k | q) ~= log softmax(f(q', mask^T))[P + k, o_k]                 [N, T]

where q' is the randomly masked prompt (P tokens, left-padded; padding is never masked) and T the
completion length. Every token is scored from the all-masked answer: the sampler's first step.

``"coupled"`` (the complementary masks of DiffuCoder's coupled-GRPO, arXiv 2506.20639) scores
each token with part of the answer visible, as the sampler's later steps see it: per completion
a ratio t ~ U(0.2, 0.8) and a mask m_k = [u_k < t] (u_k ~ U(0, 1)); one forward of batch 2N
runs the answer masked by m and the answer masked by its complement 1 - m, and each token is
read from the half in which it is masked,

    log pi(o_k | q) ~= m_k log softmax(f(q', o masked by m))[P + k, o_k]
                       + (1 - m_k) log softmax(f(q', o masked by 1 - m))[P + k, o_k].

``"trajectory"`` (TraceRL's trajectory-aware estimate, arXiv 2509.06949) scores each token under
the canvas the sampler committed it from. The rollout records the step c_k that committed o_k
(:class:`~dllm_core.generation.commit_order.CommitOrder`); with the shrinkage s
(``trajectory_shrinkage``) the steps fall into chunks g_k = c_k // s, and chunk g's canvas shows
the tokens committed in earlier chunks and masks the rest,

    x^g = o with o_j masked wherever g_j >= g,       g = 0 .. K - 1,
    log pi(o_k | q) ~= log softmax(f(q', x^{g_k}))[P + k, o_k],

in one forward of batch K N. With s = 1 and one token per step this is the sampler's own
log-probability of each token given its state (the policy gradient of the trajectory, for the
token choices); s larger than the run's steps is d1's estimate.

The prompt mask q' is the same in every half or chunk. The forward is the one the training
objective uses for the family:

* masked diffusion: ``model(x_t)``; with the family's ``logit_shift`` (Dream) position i is
  read from the output at i - 1 (:func:`~dllm_core.objectives.model_io.shift_logits`);
* block diffusion (BD3LM, A2D): ``[x_t ; x_0]`` under the block attention mask of
  :mod:`dllm_core.objectives.block_diffusion`, the completion starting a block (the objective's
  grid), so each completion block is predicted from itself (masked as above) and the clean blocks
  before it; only the x_t half is read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, get_args

import torch

from dllm_core.errors import DllmError
from dllm_core.objectives.block_diffusion import BlockDiffusionObjective
from dllm_core.objectives.masked_diffusion import MaskedDiffusionObjective
from dllm_core.objectives.model_io import logits_of, shift_logits
from dllm_core.training.run_config import LogpEstimator

if TYPE_CHECKING:
    from dllm_core.family import ModelFamily
    from dllm_core.objectives.base import Objective


def check_objective(objective: Objective, family: ModelFamily | None) -> None:
    """diffu-GRPO needs the masked-diffusion or block-diffusion forward; refuse the others."""
    if not isinstance(objective, (MaskedDiffusionObjective, BlockDiffusionObjective)):
        raise DllmError(f"--mode grpo estimates log-probabilities with the masked-diffusion or block-diffusion "
                        f"forward; objective '{objective.name}' has neither. Use a checkpoint trained with one "
                        "of those objectives")
    if isinstance(objective, BlockDiffusionObjective) and family is not None and family.logit_shift:
        raise DllmError(f"block diffusion does not support family '{family.name}', whose logits are shifted")


def perturb(prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, completion_ids: torch.Tensor, *, mask_id: int,
            p_mask_prompt: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """``[N, P + T]``: each real prompt token masked with probability ``p_mask_prompt``, the
    completion all masks. ``prompt_ids``/``prompt_mask`` ``[N, P]``, ``completion_ids`` ``[N, T]``."""
    draws = torch.rand(prompt_ids.shape, generator=generator, device=prompt_ids.device)  # [N, P]
    masked_prompt = torch.where((draws < p_mask_prompt) & prompt_mask.bool(), mask_id, prompt_ids)  # [N, P]
    return torch.cat([masked_prompt, torch.full_like(completion_ids, mask_id)], dim=1)  # [N, P + T]


#: the range of the coupled estimator's mask ratio t
COUPLED_RATIO = (0.2, 0.8)

#: the estimators :func:`completion_logprobs` offers (``--logp-estimator``'s choices)
ESTIMATORS: tuple[str, ...] = get_args(LogpEstimator)


def coupled_masks(completion_ids: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """``[N, T]`` bool: the coupled estimator's mask m (True = masked in the first half), each
    completion with its own ratio t ~ U(:data:`COUPLED_RATIO`)."""
    low, high = COUPLED_RATIO
    n, t = completion_ids.shape
    ratio = low + (high - low) * torch.rand((n, 1), generator=generator, device=completion_ids.device)  # [N, 1]
    return torch.rand((n, t), generator=generator, device=completion_ids.device) < ratio  # [N, T]


def denoiser_logits(model: torch.nn.Module, noisy: torch.Tensor, clean: torch.Tensor, attention_mask: torch.Tensor,
                    scored: torch.Tensor, family: ModelFamily | None, objective: Objective) -> torch.Tensor:
    """The objective's prediction of ``clean`` from ``noisy`` (both ``[B, L]``): logits ``[B, L, V]``.

    ``scored [B, L]`` (bool) marks the answer positions (block diffusion starts them on a block)."""
    if isinstance(objective, BlockDiffusionObjective):
        labels = torch.where(scored, clean, torch.full_like(clean, -100))
        logits, _ = objective.denoise(model, noisy, clean, objective.blocks(labels), attention_mask)
        return logits  # [B, L, V]
    logits = logits_of(model(input_ids=noisy, attention_mask=attention_mask))  # [B, L, V]
    shift = objective.uses_logit_shift(family) if isinstance(objective, MaskedDiffusionObjective) else False
    return shift_logits(logits) if shift else logits


def trajectory_chunks(commit_steps: torch.Tensor, shrinkage: int) -> torch.Tensor:
    """``[N, T]``: the chunk ``c_k // shrinkage`` of each token's commit step; a token no step
    committed (-1) falls in the last chunk (it is never scored: it follows a stop token)."""
    if shrinkage < 1:
        raise DllmError(f"--trajectory-shrinkage must be at least 1, got {shrinkage}")
    chunks = commit_steps.clamp(min=0) // shrinkage  # [N, T]
    return torch.where(commit_steps < 0, chunks.max(), chunks)


def scoring_copies(estimator: str, commit_steps: torch.Tensor | None, shrinkage: int) -> int:
    """K, the copies of each row an estimator's scoring forward runs: d1 1, coupled 2 (m and
    1 - m), trajectory one per chunk of sampler steps."""
    if estimator == "trajectory" and commit_steps is not None:
        return int(trajectory_chunks(commit_steps, shrinkage).max()) + 1
    return 2 if estimator == "coupled" else 1


def scoring_canvases(estimator: str, completion_ids: torch.Tensor, generator: torch.Generator | None,
                     commit_steps: torch.Tensor | None, shrinkage: int) -> tuple[list[torch.Tensor], torch.Tensor]:
    """The answer masks of an estimator's copies of each row, K x ``[N, T]`` bool (True = masked),
    and ``[N, T]`` the copy each token is read from: d1 one all-masked copy; coupled m and 1 - m,
    a token read where it is masked; trajectory one copy per chunk of sampler steps."""
    if estimator == "coupled":
        first = coupled_masks(completion_ids, generator)  # [N, T]
        return [first, ~first], (~first).long()
    if estimator == "trajectory":
        if commit_steps is None:
            raise DllmError("the trajectory estimator needs each token's commit step (the rollout records them)")
        chunk = trajectory_chunks(commit_steps, shrinkage)  # [N, T]
        return [chunk >= g for g in range(int(chunk.max()) + 1)], chunk  # scoring_copies of these steps
    return [torch.ones_like(completion_ids, dtype=torch.bool)], torch.zeros_like(completion_ids)


def completion_logprobs(model: torch.nn.Module, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor,
                        completion_ids: torch.Tensor, *, mask_id: int, p_mask_prompt: float,
                        family: ModelFamily | None, objective: Objective,
                        generator: torch.Generator | None = None, estimator: str = "d1",
                        commit_steps: torch.Tensor | None = None, shrinkage: int = 1) -> torch.Tensor:
    """log pi(o_k | q) of every completion token, ``[N, T]``, in one forward (module doc).

    ``commit_steps [N, T]`` (the trajectory estimator's): the sampler step that committed each
    token, -1 for none; ``shrinkage``: sampler steps per scored chunk."""
    if estimator not in ESTIMATORS:
        raise DllmError(f"unknown log-probability estimator '{estimator}'; use one of {', '.join(ESTIMATORS)}")
    noisy = perturb(prompt_ids, prompt_mask, completion_ids, mask_id=mask_id, p_mask_prompt=p_mask_prompt,
                    generator=generator)  # [N, P + T], the answer all masks
    hidden, source = scoring_canvases(estimator, completion_ids, generator, commit_steps, shrinkage)
    prompt_length, copies = prompt_ids.shape[1], len(hidden)
    noisy = torch.cat([torch.cat([noisy[:, :prompt_length], completion_ids.masked_fill(masked, mask_id)], dim=1)
                       for masked in hidden])  # [K N, P + T]
    clean = torch.cat([prompt_ids, completion_ids], dim=1).repeat(copies, 1)  # [K N, P + T]
    attention_mask = torch.cat([prompt_mask, torch.ones_like(completion_ids)], dim=1).repeat(copies, 1)
    scored = torch.zeros_like(clean, dtype=torch.bool)
    scored[:, prompt_length:] = True
    logits = denoiser_logits(model, noisy, clean, attention_mask, scored, family, objective)  # [K N, P + T, V]
    logps = selected_logprobs(logits[:, prompt_length:].float(), clean[:, prompt_length:])  # [K N, T]
    return logps.view(copies, *completion_ids.shape).gather(0, source.unsqueeze(0)).squeeze(0)  # [N, T]


def selected_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """``log softmax(logits)[..., token]``: ``[N, T, V]`` and ``[N, T]`` -> ``[N, T]``."""
    return logits.log_softmax(dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)


def completion_mask(completion_ids: torch.Tensor, stop_ids: Any) -> torch.Tensor:
    """``[N, T]`` bool: the tokens of each completion up to and including its first stop token
    (all of them when it has none); what follows a stop token is not scored (d1, trl)."""
    stops = torch.zeros_like(completion_ids, dtype=torch.bool)
    for stop in stop_ids:
        stops |= completion_ids == stop
    before = torch.cumsum(stops.int(), dim=1) - stops.int()  # stop tokens strictly before k
    return before == 0
