"""The Edit Flows training objective (arXiv 2506.09018, eq. 13): ``editflow``.

Per row b of an SFT batch: the prompt is every token before the first labelled one (a row with
none gets the model's BOS as its prompt, the anchor of insertions at the front); the target x_1
is the rest of the row (answer and EOS, up to padding). Then

1. x_0 ~ the source (``source``, :mod:`dllm_editflow.sources`), drawn from the prompt alone;
2. (z_0, z_1) = a minimum edit distance alignment of x_0 and x_1 (:mod:`dllm_editflow.alignment`);
3. t ~ U[0, 1); each column of z_t is z_1's with probability kappa(t), else z_0's; x_t drops
   the blanks (:func:`dllm_editflow.edits.noise`);
4. with the model's outputs at x_t (prompt in front, time t), the edit rates are
   u = w(t) r, w(t) = kappa'(t) / (1 - kappa(t)), r the model's relative rates
   (:mod:`dllm_editflow.modeling`), and the paper's loss per row is

       L_b = sum_j u_j(x_t) - w(t) sum_{remaining edits e} log u_e(x_t)
           = w(t) [ sum_j r_j - sum_e log r_e ] - w(t) N_b log w(t),

   where sum_j r_j is the total relative rate of every allowed edit (r_del + r_sub over x_t,
   r_ins over x_t and the last prompt token: the token distributions sum to 1), N_b the number
   of remaining edits, and the log-rate of one edit is log r_e = log r_ins^j + log Q_ins^j(a)
   (insert a after j), log r_del^j (delete j) or log r_sub^j + log Q_sub^j(a) (replace j by a).

We minimise  sum_b min(w(t_b), max_weight) [ sum_j r_j - sum_e log r_e ] / sum_b |x_1^b|
(per target token): the last term of L_b is free of parameters, and for each (x_t, t) the
bracket is smallest at r_e = E[how many remaining edits are e | x_t, t] (a probability for a
deletion or a substitution) whatever positive factor multiplies it, so capping the weight only
tames its variance near t = 1 and leaves the optimum where the paper has it (u = w r); the
default cap 1 makes the factor 1 at every t for kappa(t) = t. ``nll_bound`` reports the
uncapped L_b per target token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import torch

from dllm_core.api import Batch, EditSchedule, LossOutput, Objective, model_config
from dllm_editflow.alignment import align
from dllm_editflow.edits import NoisedBatch, noise
from dllm_editflow.modeling import DELETE, INSERT, SUBSTITUTE
from dllm_editflow.schedules import EditLinearSchedule
from dllm_editflow.sources import draw_sources, parse_source

if TYPE_CHECKING:
    from dllm_core.api import ModelFamily

#: rates below this are clipped before the log (softplus can underflow to 0)
MIN_RATE = 1e-12


@dataclass
class EditFlowLossConfig:
    """Settings of the ``editflow`` objective."""

    schedule: EditSchedule = field(default_factory=EditLinearSchedule)  # kappa(t)
    source: str = "empty"  # x_0 source spec: empty, masks[length:N], prompt, a registered name
    # cap on the factor w(t) = kappa'(t) / (1 - kappa(t)) of each row's loss; it moves no optimum
    # (module docstring), only how much each t counts: 1 weighs every t alike for kappa = t (the
    # fastest learning we measured, docs/editflow.md), larger values approach the paper's weighting
    max_weight: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.schedule, EditSchedule):
            raise TypeError(f"schedule must be an EditSchedule (edit-linear, edit-cubic, edit-cosine), "
                            f"got {type(self.schedule).__name__}")
        if self.max_weight <= 0:
            raise ValueError(f"max_weight must be positive, got {self.max_weight}")
        parse_source(self.source)


def split_rows(batch: Batch, bos_token_id: int | None) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Each row's prompt (before the first label, or ``[BOS]``) and target (the rest, unpadded)."""
    ids, labels = batch["input_ids"], batch["labels"]  # [B, L]
    mask = batch.get("attention_mask")
    lengths = mask.sum(dim=1) if mask is not None else torch.full((ids.shape[0],), ids.shape[1])
    labelled = (labels != -100).long()
    has_label = labelled.any(dim=1)
    first = torch.where(has_label, labelled.argmax(dim=1), lengths)  # [B]
    prompts, targets = [], []
    for row, start, end in zip(ids, first.tolist(), lengths.tolist()):
        prompt = row[:start]
        if start == 0:
            if bos_token_id is None:
                raise ValueError("a row without prompt needs bos_token_id in the model config as its anchor")
            prompt = row.new_tensor([bos_token_id])
        prompts.append(prompt)
        targets.append(row[start:end])
    return prompts, targets


class EditFlowObjective(Objective):
    """The Edit Flows loss; see the module docstring."""

    name: ClassVar[str] = "editflow"
    config_class: ClassVar[type[EditFlowLossConfig]] = EditFlowLossConfig
    batch_keys: ClassVar[tuple[str, ...]] = ("input_ids", "labels", "attention_mask")

    def __init__(self, config: EditFlowLossConfig | None = None) -> None:
        self.config = config if config is not None else EditFlowLossConfig()

    def loss(
        self,
        model: torch.nn.Module,
        batch: Batch,
        family: ModelFamily | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> LossOutput:
        """Draw x_0, t and z_t for each row, then score (:meth:`loss_at`)."""
        config = model_config(model)
        prompts, targets = split_rows(batch, config.bos_token_id)
        sources = draw_sources(self.config.source, prompts, config, generator)
        device = batch["input_ids"].device
        t = torch.rand(len(prompts), device=device, generator=generator)  # [B]
        alignment = align(sources, targets)
        kappa = self.config.schedule.kappa(t)  # [B]
        keep = torch.rand(alignment.z0.shape, device=device, generator=generator) < kappa[:, None]  # [B, K]
        noised = noise(prompts, alignment, keep, config.pad_token_id or 0)
        return self.loss_at(model, noised, t, torch.tensor([len(x) for x in targets], device=device))

    def loss_at(self, model: torch.nn.Module, noised: NoisedBatch, t: torch.Tensor,
                target_lengths: torch.Tensor) -> LossOutput:
        """The loss at a given x_t (``noised``) and time ``t [B]``, no randomness."""
        out = model(input_ids=noised.input_ids, attention_mask=noised.attention_mask, t=t)
        rates = out.rates  # [B, L, 3], relative rates r
        total = (rates[..., DELETE] + rates[..., SUBSTITUTE]) * noised.editable + rates[..., INSERT] * noised.insertable
        edit_log_rate = torch.zeros_like(t, dtype=rates.dtype)  # [B], sum of log r_e per row
        edit_count = torch.zeros_like(edit_log_rate)  # [B], N_b
        ins, dele, sub = noised.edits.insert, noised.edits.delete, noised.edits.substitute
        for edits, kind, logits in ((ins, INSERT, out.insert_logits), (dele, DELETE, None),
                                    (sub, SUBSTITUTE, out.substitute_logits)):
            if not len(edits):
                continue
            terms = rates[edits[:, 0], edits[:, 1], kind].clamp(min=MIN_RATE).log()  # [N]
            if logits is not None:
                log_q = torch.log_softmax(logits[edits[:, 0], edits[:, 1]].float(), dim=-1)  # [N, V]
                terms = terms + log_q.gather(1, edits[:, 2:3])[:, 0]
            edit_log_rate = edit_log_rate.index_add(0, edits[:, 0], terms)
            edit_count = edit_count.index_add(0, edits[:, 0], torch.ones_like(terms))
        weight = self.config.schedule.weight(t.clamp(max=1 - 1e-6)).to(rates.dtype)  # [B]
        bracket = total.sum(dim=1) - edit_log_rate  # [B]
        tokens = target_lengths.sum().clamp(min=1)
        loss = (weight.clamp(max=self.config.max_weight) * bracket).sum() / tokens
        with torch.no_grad():
            bound = (weight * bracket - torch.special.xlogy(weight, weight) * edit_count).sum() / tokens
            edits = len(ins) + len(dele) + len(sub)
        return LossOutput(loss=loss, metrics={"nll_bound": bound, "num_tokens": target_lengths.sum(),
                                              "edits_per_token": edits / float(tokens)})
