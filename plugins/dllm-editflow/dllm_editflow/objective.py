"""The Edit Flows training objective (arXiv 2506.09018, eq. 13): ``editflow``.

Per row b of an SFT batch: the prompt is every token before the first labelled one (a row with
none gets the model's BOS as its prompt, the anchor of insertions at the front); the target x_1
is the rest of the row (answer and EOS, up to padding). Then

1. x_0 ~ the source (``source``, :mod:`dllm_editflow.sources`), drawn from the prompt alone;
2. (z_0, z_1) = a minimum edit distance alignment of x_0 and x_1 (:mod:`dllm_editflow.alignment`);
3. t ~ U[0, 1); each column of z_t is z_1's with probability kappa(t), else z_0's; x_t drops
   the blanks (:func:`dllm_editflow.edits.noise`);
4. with the model's rates and token distributions at x_t (prompt in front, time t),

       L_b = sum_{j} u_j(x_t)  -  w(t) * sum_{remaining edits e} log u_e(x_t),
       w(t) = min(kappa'(t) / (1 - kappa(t)), max_weight),

   where sum_j u_j is the total rate of every allowed edit (lambda_del + lambda_sub over x_t,
   lambda_ins over x_t and the last prompt token: the token distributions sum to 1), and the
   rate of one edit is log u_e = log lambda_ins^j + log Q_ins^j(a) (insert a after j),
   log lambda_del^j (delete j) or log lambda_sub^j + log Q_sub^j(a) (replace j by a).

The loss is sum_b L_b / sum_b |x_1^b| (per target token). ``nll_bound`` reports the same with
the uncapped weight (the paper's objective, of which the cap is a variance-reducing clip).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import torch

from dllm_core.objectives.base import Batch, LossOutput, Objective
from dllm_core.objectives.model_io import model_config
from dllm_core.schedules import EditLinearSchedule, EditSchedule
from dllm_editflow.alignment import align
from dllm_editflow.edits import NoisedBatch, noise
from dllm_editflow.modeling import DELETE, INSERT, SUBSTITUTE
from dllm_editflow.sources import draw_sources, parse_source

if TYPE_CHECKING:
    from dllm_core.family import ModelFamily

#: rates below this are clipped before the log (softplus can underflow to 0)
MIN_RATE = 1e-12


@dataclass
class EditFlowLossConfig:
    """Settings of the ``editflow`` objective."""

    schedule: EditSchedule = field(default_factory=EditLinearSchedule)  # kappa(t)
    source: str = "empty"  # x_0 source spec: empty, masks[length:N], prompt, a registered name
    max_weight: float = 20.0  # cap on w(t) = kappa'(t) / (1 - kappa(t)) (w = 20 at t = 0.95 for kappa = t)

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
        rates = out.rates  # [B, L, 3]
        total = (rates[..., DELETE] + rates[..., SUBSTITUTE]) * noised.editable + rates[..., INSERT] * noised.insertable
        edit_log_rate = torch.zeros_like(t, dtype=rates.dtype)  # [B], sum of log u_e per row
        ins, dele, sub = noised.edits.insert, noised.edits.delete, noised.edits.substitute
        if len(ins):
            log_q = torch.log_softmax(out.insert_logits[ins[:, 0], ins[:, 1]].float(), dim=-1)  # [N, V]
            terms = rates[ins[:, 0], ins[:, 1], INSERT].clamp(min=MIN_RATE).log() + log_q.gather(1, ins[:, 2:3])[:, 0]
            edit_log_rate = edit_log_rate.index_add(0, ins[:, 0], terms)
        if len(dele):
            terms = rates[dele[:, 0], dele[:, 1], DELETE].clamp(min=MIN_RATE).log()
            edit_log_rate = edit_log_rate.index_add(0, dele[:, 0], terms)
        if len(sub):
            log_q = torch.log_softmax(out.substitute_logits[sub[:, 0], sub[:, 1]].float(), dim=-1)
            terms = rates[sub[:, 0], sub[:, 1], SUBSTITUTE].clamp(min=MIN_RATE).log() + log_q.gather(1, sub[:, 2:3])[:, 0]
            edit_log_rate = edit_log_rate.index_add(0, sub[:, 0], terms)
        weight = self.config.schedule.weight(t.clamp(max=1 - 1e-6))  # [B]
        rate_sum = total.sum(dim=1)  # [B]
        tokens = target_lengths.sum().clamp(min=1)
        loss = (rate_sum - weight.clamp(max=self.config.max_weight) * edit_log_rate).sum() / tokens
        with torch.no_grad():
            bound = (rate_sum - weight * edit_log_rate).sum() / tokens
            edits = len(ins) + len(dele) + len(sub)
        return LossOutput(loss=loss, metrics={"nll_bound": bound, "num_tokens": target_lengths.sum(),
                                              "edits_per_token": edits / float(tokens)})
