"""Monte-Carlo ELBO of a continuation given a context, for masked diffusion models.

For a context ``c`` and a continuation ``y = (y_1 .. y_n)``, a masked diffusion model bounds the
log-likelihood from below (LLaDA, arXiv 2502.09992, eq. 6; MDLM, arXiv 2406.07524)::

    -log p(y | c) <= E_{k ~ U{1..n}} E_{M ~ U(k-subsets of {1..n})} [ (n / k) * sum_{j in M} CE_j ]

    CE_j = -log softmax(f(c, y with positions M replaced by the mask token))_j [y_j]

The context is never masked. :func:`negative_elbo` estimates the right-hand side with
``mc_num`` draws, ``batch_size`` of them per forward. Within a forward of ``b`` rows the mask
counts are stratified: with ``base ~ U{0..n-1}`` drawn once, row ``i`` masks
``k_i = ((base + floor(i * n / b)) mod n) + 1`` tokens, so each row's count is still uniform on
``1..n`` (the estimate stays unbiased) while the batch covers the range evenly (lower variance).
Families with shifted logits (Dream) predict position ``i`` from the output at ``i - 1``. With
``cfg_scale > 0`` every forward also runs each row with its context masked and scores the guided
logits ``un + (cfg_scale + 1) * (cond - un)`` (LLaDA's evaluation).

:func:`negative_elbo` and :func:`is_greedy` score one request; :mod:`.scoring` packs many
requests and their draws into shared forwards with the same draws (:func:`draw_masks`).

:func:`is_greedy` is the greedy check lm-eval asks for, defined for a diffusion model as: one
forward with *every* continuation token masked (context intact); the continuation is greedy iff
at each continuation position the argmax of the logits is the continuation's token.

Block-diffusion models (``block_size`` set; BD3LM, arXiv 2503.09573) are scored with their own
bound: ``[c; y]`` is cut into blocks of ``block_size`` on the grid the model was trained on
(``answer_starts_block``: shifted by ``(-|c|) mod block_size`` so that ``y`` starts a block, as
BD3LM sampling lays it out; otherwise from position 0, LLaDA2's layout), and block k of ``y``
is predicted from the noised block and the clean blocks before it,

    -log p(y | c) <= sum_k E_{m ~ U{1..n_k}} E_{M: m-subset} [ (n_k / m) * sum_{j in M} CE_j ],

with n_k the continuation tokens of block k. One forward reads ``[x_t ; x_0]`` (2L tokens,
positions ``0..L-1`` twice) under the block-causal mask of
:func:`~dllm_core.objectives.block_diffusion.bd3lm_attention_mask`; every block draws its own
stratified count, so a row estimates every block's term at once. The greedy check masks the whole
continuation in ``x_t`` under the same mask (each block given the clean ones before it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from dllm_core.objectives.block_diffusion import bd3lm_attention_mask, block_ids
from dllm_core.objectives.model_io import logits_of, shift_logits


@dataclass(frozen=True)
class ElboConfig:
    """How to run the Monte-Carlo estimate."""

    mask_token_id: int
    mc_num: int = 128  # Monte-Carlo draws per request
    batch_size: int = 32  # draws per forward
    logit_shift: bool = False  # position i is predicted from the output at i - 1 (Dream)
    slice_logits: bool = False  # the model accepts ``logits_to_keep`` (LM head on kept positions)
    block_size: int | None = None  # score with the block-diffusion bound over blocks of this size
    answer_starts_block: bool = True  # the continuation starts a block (the grid is shifted)
    cfg_scale: float = 0.0  # classifier-free guidance: un + (cfg_scale + 1) * (cond - un), 0 = off
    forward_tokens: int = 8192  # packed scoring (:mod:`.scoring`): padded tokens per forward
    pad_token_id: int = 0  # fills the padded tail of shorter rows in a packed forward


def stratified_mask_counts(n: int, rows: int, generator: torch.Generator) -> torch.Tensor:
    """``[rows]`` counts in ``1..n``: ``((base + floor(i * n / rows)) mod n) + 1``, ``base ~ U{0..n-1}``."""
    base = torch.randint(n, (), generator=generator)
    offsets = torch.arange(rows) * n // rows  # [rows]
    return (base + offsets) % n + 1


def random_subsets(counts: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """``[rows, n]`` bool: row ``i`` marks a uniformly random subset of ``counts[i]`` positions.

    The ranks of i.i.d. uniform noise form a uniform random permutation; positions of rank
    below ``k`` are a uniform ``k``-subset.
    """
    noise = torch.rand(len(counts), n, generator=generator)  # [rows, n]
    ranks = noise.argsort(dim=1).argsort(dim=1)  # [rows, n]
    return ranks < counts[:, None]


def continuation_logits(model: Any, tokens: torch.Tensor, start: int, config: ElboConfig) -> torch.Tensor:
    """Logits ``[R, n, V]`` predicting positions ``start..L-1`` of ``tokens [R, L]``.

    With shifted logits the prediction for position ``i`` is the output at ``i - 1`` (position 0
    keeps its own), so one more position is kept on the left.
    """
    keep_from = max(start - 1, 0) if config.logit_shift else start
    rows = len(tokens)
    if config.cfg_scale > 0:  # unconditional rows: the context masked too
        unconditional = tokens.clone()
        unconditional[:, :start] = config.mask_token_id
        tokens = torch.cat([tokens, unconditional])  # [2R, L]
    if config.slice_logits:
        logits = logits_of(model(tokens, logits_to_keep=slice(keep_from, None)))  # [R', L - keep_from, V]
    else:
        logits = logits_of(model(tokens))[:, keep_from:]  # [R', L - keep_from, V]
    if config.cfg_scale > 0:
        logits = guide(logits[:rows], logits[rows:], config.cfg_scale)
    if config.logit_shift:
        logits = shift_logits(logits)
    return logits[:, start - keep_from:]


def guide(conditional: torch.Tensor, unconditional: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance of logits (LLaDA, arXiv 2502.09992 App. B.3): ``un + (scale + 1) * (cond - un)``."""
    conditional, unconditional = conditional.float(), unconditional.float()
    return unconditional + (scale + 1) * (conditional - unconditional)


def block_shift(start: int, config: ElboConfig) -> int:
    """The grid shift that starts a continuation at ``start`` on a block (0 unless
    ``answer_starts_block``)."""
    return (-start) % config.block_size if config.block_size and config.answer_starts_block else 0


def block_continuation_logits(model: Any, noisy: torch.Tensor, clean: torch.Tensor, start: int,
                              block_size: int, shift: int = 0) -> torch.Tensor:
    """Logits ``[R, n, V]`` of positions ``start..L-1`` of the noised rows ``noisy [R, L]``, each
    block (position i in block ``(i + shift) // block_size``) reading itself and the clean blocks of
    ``clean [L]`` before it (module doc)."""
    rows, length = noisy.shape
    tokens = torch.cat([noisy, clean.expand(rows, -1)], dim=1)  # [R, 2L]
    allowed = bd3lm_attention_mask(length, block_size, noisy.device, shift)  # [2L, 2L]
    positions = torch.arange(length, device=noisy.device).repeat(2).expand(rows, -1)  # [R, 2L]
    mask = allowed[None, None].expand(rows, 1, -1, -1)  # [R, 1, 2L, 2L]
    logits = logits_of(model(tokens, attention_mask=mask, position_ids=positions))
    return logits[:, start:length]


def block_mask_draw(start: int, length: int, block_size: int, rows: int, generator: torch.Generator,
                    shift: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(masked [R, n], weight [R, n])`` for the continuation ``start..length-1``: in every block
    (position i in block ``(i + shift) // block_size``), a stratified count m
    (:func:`stratified_mask_counts`) of its n_k continuation positions is masked at random, each
    weighing n_k / m."""
    n = length - start
    masked = torch.zeros(rows, n, dtype=torch.bool)
    weight = torch.zeros(rows, n)
    block = block_ids(length, block_size, shift)[start:]  # [n]
    for index in block.unique().tolist():
        [columns] = torch.nonzero(block == index, as_tuple=True)
        lo, hi = int(columns[0]), int(columns[-1]) + 1
        counts = stratified_mask_counts(hi - lo, rows, generator)  # [R]
        masked[:, lo:hi] = random_subsets(counts, hi - lo, generator)
        weight[:, lo:hi] = ((hi - lo) / counts.float())[:, None]
    return masked, weight


def draw_masks(start: int, length: int, config: ElboConfig,
               generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """All ``mc_num`` draws of one request: ``(masked [mc_num, n], weight [mc_num, n])`` for the
    continuation ``start..length-1``, drawn in groups of ``batch_size`` rows, each group
    stratified on its own (:func:`stratified_mask_counts`; per block with ``block_size``), so the
    draws depend only on ``generator`` and the config, never on how rows are packed into forwards."""
    n = length - start
    masks, weights = [], []
    for first in range(0, config.mc_num, config.batch_size):
        rows = min(config.batch_size, config.mc_num - first)
        if config.block_size is None:
            counts = stratified_mask_counts(n, rows, generator)  # [R]
            masks.append(random_subsets(counts, n, generator))  # [R, n]
            weights.append((n / counts.float())[:, None].expand(rows, n))  # [R, n]
        else:
            masked, weight = block_mask_draw(start, length, config.block_size, rows, generator,
                                             block_shift(start, config))
            masks.append(masked)
            weights.append(weight)
    return torch.cat(masks), torch.cat(weights)


@torch.no_grad()
def negative_elbo(model: Any, context: torch.Tensor, continuation: torch.Tensor, config: ElboConfig,
                  generator: torch.Generator) -> float:
    """The Monte-Carlo estimate of ``-ELBO >= -log p(continuation | context)`` (module doc).

    Args:
        model: masked diffusion model, ``model(tokens [R, L]) -> logits [R, L, V]``.
        context: ``[Lc]`` token ids, never masked.
        continuation: ``[n]`` token ids, ``n >= 1``, on the model's device.
        config: draws, rows per forward, mask id, logit shift.
        generator: CPU random source of the mask counts and positions.
    """
    n, start = len(continuation), len(context)
    sequence = torch.cat([context, continuation])  # [L]
    shift = block_shift(start, config)
    all_masked, all_weight = draw_masks(start, len(sequence), config, generator)  # [mc_num, n] each
    total = 0.0
    for first in range(0, config.mc_num, config.batch_size):
        rows = min(config.batch_size, config.mc_num - first)
        masked = all_masked[first:first + rows].to(sequence.device)  # [R, n]
        weight = all_weight[first:first + rows].to(sequence.device)  # [R, n]
        tokens = sequence.repeat(rows, 1)  # [R, L]
        tokens[:, start:] = tokens[:, start:].masked_fill(masked, config.mask_token_id)
        if config.block_size is None:
            logits = continuation_logits(model, tokens, start, config).float()  # [R, n, V]
        else:
            logits = block_continuation_logits(model, tokens, sequence, start, config.block_size, shift).float()
        targets = continuation.expand(rows, n)  # [R, n]
        ce = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")  # [R, n]
        total += (ce * masked * weight).sum().item()
    return total / config.mc_num


@torch.no_grad()
def is_greedy(model: Any, context: torch.Tensor, continuation: torch.Tensor, config: ElboConfig) -> bool:
    """Whether every continuation token is the argmax when all of them are masked (module doc)."""
    start = len(context)
    masked = torch.full_like(continuation, config.mask_token_id)  # [n]
    tokens = torch.cat([context, masked])[None]  # [1, L]
    if config.block_size is None:
        logits = continuation_logits(model, tokens, start, config)[0]  # [n, V]
    else:
        clean = torch.cat([context, continuation])  # [L]
        logits = block_continuation_logits(model, tokens, clean, start, config.block_size,
                                           block_shift(start, config))[0]
    return bool((logits.argmax(dim=-1) == continuation).all())
