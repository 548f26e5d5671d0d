"""Tau-leaping sampling of an Edit Flows model (arXiv 2506.09018, section 3.4), batched.

Rows start as ``prompt ++ x_0`` (x_0 from the source, :mod:`dllm_editflow.sources`) and step
t = 0, tau, 2 tau, ... < 1 with tau = 1 / steps. At each step the rates at (x_t, t) are
lambda = w(t) r: the model's relative rates r times w(t) = kappa'(t) / (1 - kappa(t)) of the
schedule it was trained with (``schedule``; :mod:`dllm_editflow.objective`). Every position j
of the region independently

* fires a deletion or a substitution with probability min(1, tau (lambda_del^j + lambda_sub^j)),
  a deletion with probability lambda_del^j / (lambda_del^j + lambda_sub^j) of that, else a
  substitution by a ~ Q_sub^j;
* and, independently, inserts a ~ Q_ins^j after itself with probability min(1, tau lambda_ins^j);
  the last prompt token may insert too (the region's front), no other prompt position changes.

With kappa(t) = t an edit that surely remains (r = 1) fires at step k with probability
1 / (steps - k): the share of the remaining columns that the noising process flips in
[t, t + tau), and surely by the last step.

All edits of a step apply at once (:func:`dllm_editflow.edits.apply_edits`). Rows of any lengths
share each forward call (right padding), and every random number of row b comes from its own
generator seeded with ``seeds[b]`` and drawn in shapes that depend on that row only, so a row
samples the same alone or in any batch. A row that would outgrow ``max_new_tokens`` (or the
model's context) skips that step's insertions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from dllm_core.api import EditSchedule
from dllm_editflow.edits import Edits, apply_edits, pad_rows, region_masks
from dllm_editflow.history import EditHistory, EditStep
from dllm_editflow.modeling import DELETE, INSERT, SUBSTITUTE
from dllm_editflow.schedules import EditLinearSchedule
from dllm_editflow.sources import draw_sources


@dataclass
class EditFlowSamplingConfig:
    """Parameters of the ``editflow`` generator."""

    steps: int = field(default=64, metadata={"help": "tau-leaping steps (tau = 1 / steps)"})
    schedule: EditSchedule = field(default_factory=EditLinearSchedule,
                                   metadata={"help": "kappa(t) the model was trained with (from dllm.json)"})
    temperature: float = field(default=1.0, metadata={"help": "of Q_ins and Q_sub; 0: most likely token"})
    source: str = field(default="empty", metadata={"help": "x_0 source spec (default: the training source)"})
    max_new_tokens: int | None = field(default=None, metadata={
        "help": "cap on the answer region's length (default: the model's context)"})

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be at least 1, got {self.steps}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not isinstance(self.schedule, EditSchedule):
            raise TypeError(f"schedule must be an EditSchedule, got {type(self.schedule).__name__}")


@dataclass
class EditFlowGeneration:
    """Result of :func:`sample`.

    Attributes:
        sequences: each row's final ``prompt ++ region`` token ids.
        prompt_lengths: where each row's region starts.
        nfe: forward calls of the model.
        histories: with ``record_history``, each row's :class:`EditHistory`.
    """

    sequences: list[list[int]]
    prompt_lengths: list[int]
    nfe: int
    histories: list[EditHistory] | None = field(default=None)


def _pick(probabilities: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Inverse-CDF draw per row of ``probabilities [n, V]`` with uniforms ``u [n]`` -> ``[n]``."""
    cdf = probabilities.cumsum(dim=-1)
    return torch.searchsorted(cdf, (u * cdf[:, -1])[:, None]).clamp(max=probabilities.shape[-1] - 1)[:, 0]


def _tokens(logits: torch.Tensor, u: torch.Tensor, temperature: float) -> torch.Tensor:
    """Tokens from ``logits [n, V]``: argmax at temperature 0, else an inverse-CDF draw."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    return _pick(torch.softmax(logits.float() / temperature, dim=-1), u)


@torch.no_grad()
def sample(model: Any, prompts: Sequence[Sequence[int]], config: EditFlowSamplingConfig | None = None, *,
           seeds: Sequence[int] | int = 0, record_history: bool = False) -> EditFlowGeneration:
    """Run the edit flow from each prompt; ``seeds``: one per row, or an int s for s, s+1, ...

    An empty prompt gets the model's BOS as its anchor (as in training).
    """
    config = config or EditFlowSamplingConfig()
    model_cfg = model.config
    device = next(model.parameters()).device
    rows = [torch.tensor(list(p) if len(p) else [model_cfg.bos_token_id], dtype=torch.long, device=device)
            for p in prompts]
    batch = len(rows)
    row_seeds = [seeds + b for b in range(batch)] if isinstance(seeds, int) else list(seeds)
    generators = [torch.Generator(device=device).manual_seed(int(s)) for s in row_seeds]
    pad = model_cfg.pad_token_id if model_cfg.pad_token_id is not None else 0
    sources = [draw_sources(config.source, [row], model_cfg, g)[0] for row, g in zip(rows, generators)]
    prompt_lengths = torch.tensor([len(r) for r in rows], device=device)
    ids, lengths = pad_rows([torch.cat([r, s]) for r, s in zip(rows, sources)], pad, device)
    limit = model_cfg.max_position_embeddings
    cap = prompt_lengths + (config.max_new_tokens if config.max_new_tokens is not None else 1 << 30)
    if limit is not None:
        cap = cap.clamp(max=limit)
    histories = [EditHistory(rows[b].tolist(), ids[b, len(rows[b]):lengths[b]].tolist()) for b in range(batch)] \
        if record_history else None
    tau = 1.0 / config.steps
    for step in range(config.steps):
        t = step * tau
        width = int(lengths.max())
        ids = ids[:, :width]
        attention = (torch.arange(width, device=device)[None, :] < lengths[:, None]).long()
        out = model(input_ids=ids, attention_mask=attention, t=torch.full((batch,), t, device=device))
        editable, insertable = region_masks(prompt_lengths, lengths, width)
        scale = tau * float(config.schedule.weight(t))  # tau w(t): rates r -> firing probabilities
        edits = _draw_edits(out, lengths, editable, insertable, generators, scale, config.temperature)
        new_ids, new_lengths = apply_edits(ids, lengths, edits, pad)
        grown_too_much = new_lengths > cap
        if bool(grown_too_much.any()):
            keep = ~grown_too_much[edits.insert[:, 0]]
            edits = Edits(edits.insert[keep], edits.delete, edits.substitute)
            new_ids, new_lengths = apply_edits(ids, lengths, edits, pad)
        if histories is not None:
            for b, history in enumerate(histories):
                history.steps.append(EditStep.of_row(b, t, ids[b, : lengths[b]], prompt_lengths[b], edits))
        ids, lengths = new_ids, new_lengths
    sequences = [ids[b, : lengths[b]].tolist() for b in range(batch)]
    return EditFlowGeneration(sequences, prompt_lengths.tolist(), config.steps, histories)


def _draw_edits(out: Any, lengths: torch.Tensor, editable: torch.Tensor, insertable: torch.Tensor,
                generators: Sequence[torch.Generator], scale: float, temperature: float) -> Edits:
    """One tau-leap of every row: which positions delete, substitute and insert, and what.

    ``scale`` = tau w(t) turns the relative rates ``out.rates`` into firing probabilities.
    """
    inserts, deletes, substitutes = [], [], []
    for b, generator in enumerate(generators):
        n = int(lengths[b])
        rates = out.rates[b, :n].float()  # [n, 3]
        u = torch.rand((5, n), device=rates.device, generator=generator)  # fire, which, insert, 2 tokens
        change = rates[:, DELETE] + rates[:, SUBSTITUTE]
        fires = (u[0] < (scale * change).clamp(max=1)) & editable[b, :n]
        deleting = fires & (u[1] * change < rates[:, DELETE])
        substituting = fires & ~deleting
        inserting = (u[2] < (scale * rates[:, INSERT]).clamp(max=1)) & insertable[b, :n]
        row = torch.full((n,), b, dtype=torch.long, device=rates.device)
        positions = torch.arange(n, device=rates.device)
        if bool(inserting.any()):
            token = _tokens(out.insert_logits[b, :n][inserting], u[3][inserting], temperature)
            inserts.append(torch.stack([row[inserting], positions[inserting], token], dim=1))
        if bool(deleting.any()):
            deletes.append(torch.stack([row[deleting], positions[deleting]], dim=1))
        if bool(substituting.any()):
            token = _tokens(out.substitute_logits[b, :n][substituting], u[4][substituting], temperature)
            substitutes.append(torch.stack([row[substituting], positions[substituting], token], dim=1))

    def cat(parts: list[torch.Tensor], columns: int) -> torch.Tensor:
        return torch.cat(parts) if parts else torch.zeros((0, columns), dtype=torch.long, device=lengths.device)

    return Edits(cat(inserts, 3), cat(deletes, 2), cat(substitutes, 3))
