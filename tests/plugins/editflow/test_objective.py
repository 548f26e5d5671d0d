"""The Edit Flows loss on a case small enough to compute by hand.

Two rows, a model whose rates and token distributions are fixed numbers:

* row 0: prompt [5], x_t = [7], x_1 = [7, 8]: one remaining edit, insert 8 after position 1;
  t = 0.5, w(t) = 1 / (1 - t) = 2;
* row 1: prompt [5, 6], x_t = [3, 4], x_1 = [9]: delete position 2, substitute position 3 by 9;
  t = 0.75, w(t) = 4, capped at ``max_weight`` = 3.

Per row, bracket_b = sum of every allowed edit's relative rate - sum of the remaining edits' log
rates; loss = sum_b min(w_b, cap) bracket_b / |x_1 tokens|, and the reported bound is
sum_b (w_b bracket_b - N_b w_b log w_b) / |x_1 tokens| (``dllm_editflow.objective``).
"""

from __future__ import annotations

import math

import torch

from dllm_editflow.edits import Edits, NoisedBatch
from dllm_editflow.modeling import EditFlowOutput
from dllm_editflow.objective import EditFlowLossConfig, EditFlowObjective

PAD, VOCAB, UNUSED = 0, 10, 9.0  # UNUSED: rates of positions that must not count


class FixedRates:
    """Returns the same rates and logits whatever the input; remembers what it was called with."""

    def __init__(self) -> None:
        rates = torch.full((2, 4, 3), UNUSED)  # [B, L, (ins, del, sub)]
        rates[0, 0] = torch.tensor([0.5, UNUSED, UNUSED])  # the prompt's last token: insertions only
        rates[0, 1] = torch.tensor([0.4, 0.3, 0.25])
        rates[1, 1] = torch.tensor([0.6, UNUSED, UNUSED])
        rates[1, 2] = torch.tensor([0.2, 0.5, 0.3])
        rates[1, 3] = torch.tensor([0.1, 0.4, 0.8])
        self.rates = rates
        self.insert_logits = torch.zeros(2, 4, VOCAB)
        self.insert_logits[0, 1, 8] = math.log(3.0)  # Q_ins^1(8) = 3 / (9 + 3) = 1/4
        self.substitute_logits = torch.zeros(2, 4, VOCAB)
        self.substitute_logits[1, 3, 9] = math.log(7.0)  # Q_sub^3(9) = 7 / (9 + 7) = 7/16
        self.calls: list[dict] = []

    def __call__(self, input_ids, attention_mask, t):
        self.calls.append({"input_ids": input_ids, "attention_mask": attention_mask, "t": t})
        return EditFlowOutput(rates=self.rates, insert_logits=self.insert_logits,
                              substitute_logits=self.substitute_logits)


def noised_batch() -> NoisedBatch:
    return NoisedBatch(
        input_ids=torch.tensor([[5, 7, PAD, PAD], [5, 6, 3, 4]]),
        attention_mask=torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]]),
        prompt_lengths=torch.tensor([1, 2]),
        editable=torch.tensor([[0, 1, 0, 0], [0, 0, 1, 1]]).bool(),
        insertable=torch.tensor([[1, 1, 0, 0], [0, 1, 1, 1]]).bool(),
        edits=Edits(insert=torch.tensor([[0, 1, 8]]), delete=torch.tensor([[1, 2]]),
                    substitute=torch.tensor([[1, 3, 9]])),
    )


def test_loss_and_bound_equal_the_hand_computed_values() -> None:
    model = FixedRates()
    objective = EditFlowObjective(EditFlowLossConfig(max_weight=3.0))
    out = objective.loss_at(model, noised_batch(), torch.tensor([0.5, 0.75]), torch.tensor([2, 1]))

    # row 0: allowed edits: del + sub at 1, ins at 0 and 1; remaining: insert 8 after 1
    bracket0 = (0.3 + 0.25 + 0.5 + 0.4) - (math.log(0.4) + math.log(1 / 4))
    # row 1: del + sub at 2 and 3, ins at 1, 2, 3; remaining: delete 2, substitute 3 by 9
    bracket1 = (0.5 + 0.3 + 0.4 + 0.8 + 0.6 + 0.2 + 0.1) - (math.log(0.5) + math.log(0.8) + math.log(7 / 16))
    tokens = 3
    loss = (2 * bracket0 + 3 * bracket1) / tokens  # weights 2 and min(4, 3)
    bound = (2 * bracket0 - 1 * 2 * math.log(2) + 4 * bracket1 - 2 * 4 * math.log(4)) / tokens
    assert math.isclose(out.loss.item(), loss, rel_tol=1e-6)
    assert math.isclose(out.metrics["nll_bound"].item(), bound, rel_tol=1e-6)
    assert out.metrics["edits_per_token"] == 3 / 3 and int(out.metrics["num_tokens"]) == 3
    (call,) = model.calls
    assert torch.equal(call["input_ids"], noised_batch().input_ids)
    assert torch.equal(call["t"], torch.tensor([0.5, 0.75]))


def test_a_larger_cap_gives_the_paper_weights() -> None:
    out = EditFlowObjective(EditFlowLossConfig(max_weight=10.0)).loss_at(
        FixedRates(), noised_batch(), torch.tensor([0.5, 0.75]), torch.tensor([2, 1]))
    bracket0 = 1.45 - math.log(0.1)
    bracket1 = 2.9 - math.log(0.5 * 0.8 * 7 / 16)
    assert math.isclose(out.loss.item(), (2 * bracket0 + 4 * bracket1) / 3, rel_tol=1e-6)
