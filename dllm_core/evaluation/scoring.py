"""Packed likelihood scoring: many requests and their Monte-Carlo draws in shared forwards.

:func:`score_requests` computes, for each request, exactly the estimate of
:func:`~dllm_core.evaluation.loglikelihood.negative_elbo` (the same draws from the request's
own random source, :func:`~dllm_core.evaluation.loglikelihood.draw_masks`), but packs the
``mc_num`` noised rows of *several* requests into each forward: rows are right-padded to the
longest row of their forward (``[R, W]`` with an attention mask hiding the padding, so a real
token sees exactly what it sees unpadded) and a forward holds as many rows as fit
``forward_tokens`` padded tokens (doubled with classifier-free guidance). Requests are taken
longest first, so rows of similar lengths share a forward. Only the logits at the masked
positions are read (``[M, V]``); each row's ``sum_{j in M} (n / k) CE_j`` is accumulated in
float64 per row, and a request's estimate is the mean over its rows.

:func:`greedy_checks` answers lm-eval's "is the continuation the greedy decode?":

* ``iterative`` (LLaDA's ``suffix_greedy_prediction``): the continuation starts fully masked;
  each step runs a forward and commits the single masked position whose argmax token has the
  highest probability (ties: the leftmost); after ``n`` steps the decode must equal the
  continuation. Requests still decoding share each step's forwards.
* ``one_forward`` (faster, not LLaDA's): one forward with every continuation token masked; greedy
  iff the argmax is the continuation's token at every position.
* ``off``: always ``False`` (LLaDA's ``is_check_greedy=False``).

Block-diffusion checkpoints (``block_size`` set) keep the per-request path of
:mod:`~dllm_core.evaluation.loglikelihood` (block-causal forwards cannot share rows) with the
one-forward block greedy check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from dllm_core.evaluation.loglikelihood import ElboConfig, draw_masks, guide, is_greedy, negative_elbo
from dllm_core.evaluation.settings import GREEDY_CHECKS
from dllm_core.objectives.model_io import logits_of


@dataclass
class ScoreRequest:
    """One continuation to score.

    Attributes:
        context: ``[Lc]`` token ids, never masked.
        continuation: ``[n]`` token ids, ``n >= 1``.
        generator: CPU random source of this request's mask draws.
    """

    context: torch.Tensor
    continuation: torch.Tensor
    generator: torch.Generator | None = None

    @property
    def start(self) -> int:
        return len(self.context)

    @property
    def sequence(self) -> torch.Tensor:
        return torch.cat([self.context, self.continuation])  # [L]


@dataclass
class Scored:
    """Results of a packed call: one value per request and the forward calls it took."""

    values: list[Any]
    forwards: int


def pack(widths: Sequence[int], budget: int, factor: int = 1) -> list[list[int]]:
    """Consecutive runs of ``widths`` (rows, longest first) such that ``rows * max width * factor``
    stays within ``budget``; a row wider than the budget goes alone."""
    packs: list[list[int]] = []
    current: list[int] = []
    width = 0
    for index, row_width in enumerate(widths):
        wider = max(width, row_width)
        if current and (len(current) + 1) * wider * factor > budget:
            packs.append(current)
            current, wider = [], row_width
        current.append(index)
        width = wider
    if current:
        packs.append(current)
    return packs


def logits_at(model: Any, rows: Sequence[torch.Tensor], starts: Sequence[int], row_of: torch.Tensor,
              position: torch.Tensor, config: ElboConfig) -> torch.Tensor:
    """Float logits ``[M, V]`` predicting ``position[m]`` of row ``row_of[m]`` in one forward of
    ``rows`` (1-D token tensors, right-padded into ``[R, W]``).

    With ``cfg_scale > 0`` each row also runs with its first ``starts[i]`` tokens masked and the
    guided logits are returned; with shifted logits the prediction of position ``i`` is read at
    ``i - 1`` (position 0 at itself).
    """
    device = rows[0].device
    count, width = len(rows), max(len(row) for row in rows)
    tokens = torch.full((count, width), config.pad_token_id, dtype=torch.long, device=device)  # [R, W]
    attention = torch.zeros((count, width), dtype=torch.long, device=device)  # [R, W]
    for index, row in enumerate(rows):
        tokens[index, :len(row)] = row
        attention[index, :len(row)] = 1
    if config.cfg_scale > 0:
        unconditional = tokens.clone()
        for index, start in enumerate(starts):
            unconditional[index, :start] = config.mask_token_id
        tokens, attention = torch.cat([tokens, unconditional]), torch.cat([attention, attention])  # [2R, W]
    column = (position - 1).clamp(min=0) if config.logit_shift else position  # [M]
    keep_from = int(column.min())
    kwargs: dict[str, Any] = {}
    if not bool(attention.all()):
        kwargs["attention_mask"] = attention
    if config.slice_logits:
        logits = logits_of(model(tokens, logits_to_keep=slice(keep_from, None), **kwargs))  # [R', W - keep, V]
    else:
        logits = logits_of(model(tokens, **kwargs))[:, keep_from:]  # [R', W - keep, V]
    picked = logits[row_of, column - keep_from].float()  # [M, V]
    if config.cfg_scale > 0:
        picked = guide(picked, logits[row_of + count, column - keep_from], config.cfg_scale)
    return picked


@torch.no_grad()
def score_requests(model: Any, requests: Sequence[ScoreRequest], config: ElboConfig) -> Scored:
    """``-ELBO`` estimates (floats, :func:`negative_elbo`'s) of every request, packed (module doc)."""
    if config.block_size is not None:
        values = [negative_elbo(model, r.context, r.continuation, config, r.generator) for r in requests]
        forwards = len(requests) * -(-config.mc_num // config.batch_size)
        return Scored(values, forwards)
    draws = [draw_masks(r.start, r.start + len(r.continuation), config, r.generator) for r in requests]
    losses = [torch.zeros(config.mc_num, dtype=torch.float64) for _ in requests]  # per row
    order = sorted(range(len(requests)), key=lambda i: -(requests[i].start + len(requests[i].continuation)))
    units = [(i, k) for i in order for k in range(config.mc_num)]  # (request, draw)
    widths = [requests[i].start + len(requests[i].continuation) for i, _ in units]
    factor = 2 if config.cfg_scale > 0 else 1
    packs = pack(widths, config.forward_tokens, factor)
    sequences = {i: requests[i].sequence for i in order}
    for members in packs:
        rows, starts, row_of, position, target, weight = [], [], [], [], [], []
        for slot, unit in enumerate(members):
            i, k = units[unit]
            request, (masked, weights) = requests[i], draws[i]
            columns = torch.nonzero(masked[k], as_tuple=True)[0]  # [m]
            row = sequences[i].clone()
            row[request.start + columns.to(row.device)] = config.mask_token_id
            rows.append(row)
            starts.append(request.start)
            row_of.append(torch.full_like(columns, slot))
            position.append(request.start + columns)
            target.append(request.continuation[columns.to(request.continuation.device)].cpu())
            weight.append(weights[k, columns])
        device = rows[0].device
        row_index = torch.cat(row_of)  # [M]
        logits = logits_at(model, rows, starts, row_index.to(device), torch.cat(position).to(device), config)
        ce = F.cross_entropy(logits, torch.cat(target).to(device), reduction="none").double().cpu()  # [M]
        per_row = torch.zeros(len(members), dtype=torch.float64).index_add_(0, row_index, ce * torch.cat(weight))
        for slot, unit in enumerate(members):
            i, k = units[unit]
            losses[i][k] = per_row[slot]
    return Scored([float(loss.sum()) / config.mc_num for loss in losses], len(packs))


@torch.no_grad()
def greedy_checks(model: Any, requests: Sequence[ScoreRequest], config: ElboConfig, mode: str) -> Scored:
    """lm-eval's greedy flag of every request, by ``mode`` (one of ``GREEDY_CHECKS``, module doc)."""
    if mode == "off" or not requests:
        return Scored([False] * len(requests), 0)
    if config.block_size is not None:
        return Scored([is_greedy(model, r.context, r.continuation, config) for r in requests], len(requests))
    if mode == "one_forward":
        return _one_forward(model, requests, config)
    return _iterative(model, requests, config)


def _masked_rows(requests: Sequence[ScoreRequest], mask_id: int) -> list[torch.Tensor]:
    """Each request's context followed by its continuation fully masked."""
    return [torch.cat([r.context, torch.full_like(r.continuation, mask_id)]) for r in requests]


def _one_forward(model: Any, requests: Sequence[ScoreRequest], config: ElboConfig) -> Scored:
    rows = _masked_rows(requests, config.mask_token_id)
    order = sorted(range(len(requests)), key=lambda i: -len(rows[i]))
    factor = 2 if config.cfg_scale > 0 else 1
    packs = pack([len(rows[i]) for i in order], config.forward_tokens, factor)
    greedy = [False] * len(requests)
    for members in packs:
        chosen = [order[slot] for slot in members]
        positions = [torch.arange(requests[i].start, len(rows[i])) for i in chosen]
        row_of = torch.cat([torch.full_like(p, slot) for slot, p in enumerate(positions)])  # [M]
        device = rows[chosen[0]].device
        argmax = logits_at(model, [rows[i] for i in chosen], [requests[i].start for i in chosen],
                           row_of.to(device), torch.cat(positions).to(device), config).argmax(dim=-1).cpu()
        for slot, i in enumerate(chosen):
            greedy[i] = bool((argmax[row_of == slot] == requests[i].continuation.cpu()).all())
    return Scored(greedy, len(packs))


def _iterative(model: Any, requests: Sequence[ScoreRequest], config: ElboConfig) -> Scored:
    rows = _masked_rows(requests, config.mask_token_id)
    factor = 2 if config.cfg_scale > 0 else 1
    forwards = 0
    for _ in range(max(len(r.continuation) for r in requests)):
        active = sorted((i for i in range(len(requests)) if bool((rows[i] == config.mask_token_id)[requests[i].start:]
                                                                   .any())), key=lambda i: -len(rows[i]))
        for members in pack([len(rows[i]) for i in active], config.forward_tokens, factor):
            chosen = [active[slot] for slot in members]
            positions = [requests[i].start + torch.nonzero(rows[i][requests[i].start:] == config.mask_token_id,
                                                           as_tuple=True)[0] for i in chosen]
            row_of = torch.cat([torch.full_like(p, slot) for slot, p in enumerate(positions)]).cpu()  # [M]
            device = rows[chosen[0]].device
            logits = logits_at(model, [rows[i] for i in chosen], [requests[i].start for i in chosen],
                               row_of.to(device), torch.cat(positions).to(device), config)  # [M, V]
            confidence, token = torch.softmax(logits, dim=-1).max(dim=-1)  # [M] each
            confidence, token = confidence.cpu(), token.cpu()
            forwards += 1
            for slot, i in enumerate(chosen):
                mine = torch.nonzero(row_of == slot, as_tuple=True)[0]
                best = mine[int(confidence[mine].argmax())]
                rows[i][positions[slot][best - mine[0]]] = token[best].to(rows[i].device)
    greedy = [bool((rows[i][r.start:] == r.continuation).all()) for i, r in enumerate(requests)]
    return Scored(greedy, forwards)
