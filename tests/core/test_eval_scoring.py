"""Packed likelihood scoring (dllm_core.evaluation.scoring) against the one-request-at-a-time
reference of dllm_core.evaluation.loglikelihood, and LLaDA's iterative greedy check against a
plain loop written here, on a small model whose tokens interact (so the two greedy checks differ)."""

from __future__ import annotations

import pytest
import torch

from dllm_core.evaluation.loglikelihood import ElboConfig, is_greedy, negative_elbo
from dllm_core.evaluation.scoring import ScoreRequest, greedy_checks, pack, score_requests

MASK, PAD, VOCAB = 0, 1, 12


class MixingLM(torch.nn.Module):
    """``logits_i = W tanh(E[x_i] + P_i + mean_{j attended} E[x_j])``: every position reads every
    attended token, as a bidirectional transformer does. Records its inputs and masks."""

    def __init__(self, seed: int = 0, dim: int = 16, length: int = 32) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.embed = torch.randn(VOCAB, dim, generator=generator)
        self.position = torch.randn(length, dim, generator=generator)
        self.out = torch.randn(dim, VOCAB, generator=generator) * 2
        self.calls: list[tuple[torch.Tensor, torch.Tensor | None]] = []

    def forward(self, tokens, attention_mask=None, logits_to_keep=None):
        self.calls.append((tokens.clone(), attention_mask))
        h = self.embed[tokens] + self.position[: tokens.shape[1]]  # [R, L, D]
        keep = torch.ones(tokens.shape, dtype=torch.long) if attention_mask is None else attention_mask  # [R, L]
        mean = (self.embed[tokens] * keep[..., None]).sum(1, keepdim=True) / keep.sum(1)[:, None, None]
        logits = torch.tanh(h + mean) @ self.out  # [R, L, V]
        return logits if logits_to_keep is None else logits[:, logits_to_keep]


def make_requests(seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(seed)
    shapes = [(3, 4), (5, 2), (2, 6), (4, 1), (6, 3)]  # (context, continuation) lengths: rows differ
    return [(torch.randint(2, VOCAB, (c,), generator=generator), torch.randint(2, VOCAB, (n,), generator=generator))
            for c, n in shapes]


def request(context, continuation, index) -> ScoreRequest:
    return ScoreRequest(context, continuation, torch.Generator().manual_seed(100 + index))


@pytest.mark.parametrize("extra", [{}, {"cfg_scale": 0.5}, {"logit_shift": True, "slice_logits": True}])
def test_packed_scores_equal_the_one_request_at_a_time_scores(extra):
    config = ElboConfig(mask_token_id=MASK, pad_token_id=PAD, mc_num=12, batch_size=4, forward_tokens=400, **extra)
    pairs = make_requests()
    model = MixingLM()
    alone = [negative_elbo(model, c, y, config, torch.Generator().manual_seed(100 + i))
             for i, (c, y) in enumerate(pairs)]
    unbatched_calls = len(model.calls)
    model.calls.clear()
    packed = score_requests(model, [request(c, y, i) for i, (c, y) in enumerate(pairs)], config)
    assert packed.values == pytest.approx(alone, rel=1e-5)
    assert len(set(round(v, 3) for v in alone)) == len(alone)  # the requests really differ
    assert packed.forwards == len(model.calls) < unbatched_calls
    # a forward held rows of different requests (widths differ, so a padding mask was passed)
    assert any(mask is not None and not bool(mask.all()) for _, mask in model.calls)
    rows_per_draw = 2 if extra.get("cfg_scale") else 1  # guidance adds the unconditional rows
    assert all(t.numel() <= 400 or len(t) == rows_per_draw for t, _ in model.calls)


def test_forward_budget_bounds_rows_times_width():
    assert pack([5, 5, 4, 4, 3], budget=10) == [[0, 1], [2, 3], [4]]
    assert pack([12, 3], budget=10) == [[0], [1]]  # a row over the budget goes alone
    assert pack([3, 3, 3], budget=12, factor=2) == [[0, 1], [2]]  # guidance doubles the rows


def test_cfg_changes_the_score_and_masks_the_context_of_the_unconditional_rows():
    context, continuation = make_requests()[0]
    model = MixingLM()
    plain = score_requests(model, [request(context, continuation, 0)],
                           ElboConfig(mask_token_id=MASK, mc_num=4, batch_size=4)).values[0]
    model.calls.clear()
    guided = score_requests(model, [request(context, continuation, 0)],
                            ElboConfig(mask_token_id=MASK, mc_num=4, batch_size=4, cfg_scale=1.0)).values[0]
    tokens, _ = model.calls[0]
    assert len(tokens) == 8 and bool((tokens[4:, :3] == MASK).all()) and torch.equal(tokens[0, :3], context)
    assert guided != pytest.approx(plain, abs=1e-3)


def reference_greedy(model, context, continuation) -> bool:
    """LLaDA's suffix_greedy_prediction, one request, one token per step, written plainly."""
    sequence = torch.cat([context, torch.full_like(continuation, MASK)])
    for _ in range(len(continuation)):
        logits = model(sequence[None])[0]  # [L, V]
        probabilities = torch.softmax(logits, dim=-1)
        best_position, best_confidence, best_token = None, -1.0, None
        for position in range(len(context), len(sequence)):
            if sequence[position] == MASK:
                confidence, token = probabilities[position].max(dim=0)
                if confidence.item() > best_confidence:
                    best_position, best_confidence, best_token = position, confidence.item(), token
        sequence[best_position] = best_token
    return bool(torch.equal(sequence[len(context):], continuation))


def decode_iteratively(model, context, n) -> torch.Tensor:
    sequence = torch.cat([context, torch.full((n,), MASK)])
    for _ in range(n):
        probabilities = torch.softmax(model(sequence[None])[0], dim=-1)[len(context):]  # [n, V]
        confidence, token = probabilities.max(dim=-1)
        confidence[sequence[len(context):] != MASK] = -1
        position = int(confidence.argmax())
        sequence[len(context) + position] = token[position]
    return sequence[len(context):]


def test_iterative_greedy_check_matches_the_reference_loop_where_one_forward_differs():
    model = MixingLM(seed=3)
    config = ElboConfig(mask_token_id=MASK, pad_token_id=PAD, forward_tokens=64)
    candidates = []
    for context, continuation in make_requests(seed=1):
        n = len(continuation) + 2
        one_shot = model(torch.cat([context, torch.full((n,), MASK)])[None])[0, len(context):].argmax(-1)
        candidates += [(context, decode_iteratively(model, context, n)), (context, one_shot), (context, continuation)]
    expected = [reference_greedy(model, c, y) for c, y in candidates]
    requests = [ScoreRequest(c, y) for c, y in candidates]
    iterative = greedy_checks(model, requests, config, "iterative")
    one_forward = greedy_checks(model, requests, config, "one_forward")
    assert iterative.values == expected
    assert one_forward.values == [is_greedy(model, c, y, config) for c, y in candidates]
    assert any(expected) and not all(expected)
    assert iterative.values != one_forward.values  # the model is one where the two checks differ
    assert iterative.forwards < sum(len(y) for _, y in candidates)  # requests shared the steps
    assert greedy_checks(model, requests, config, "off").values == [False] * len(requests)
