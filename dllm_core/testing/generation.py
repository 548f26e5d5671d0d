"""Conformance suites for generation parts and presets, and a toy model to run them on.

Subclass a suite in a test module (the subclass name must start with ``Test``)::

    from dllm_core.testing.generation import CommitRuleConformance

    class TestMyRule(CommitRuleConformance):
        def make_rule(self):
            return MyRule(...)

* :class:`TransferScheduleConformance`: counts are non-negative, never exceed what is masked,
  and a block always fills up;
* :class:`CommitRuleConformance`: commits only candidates, nothing in rows without any,
  at most the quota (for counting rules), at least one per row (for rules that promise it),
  reproducibly under a seeded generator;
* :class:`TokenChooserConformance`: tokens in the vocabulary, probabilities that sum to 1,
  never a token whose logit is -inf nor a banned one, reproducible;
* :class:`ConfidenceScoreConformance`: one finite score per position, reproducible;
* :class:`PresetConformance`: a whole preset on a model: no mask left, prompts untouched,
  committed tokens never change, NFE within the budget, reproducible under a seed.

:class:`ToyDiffusionLM` is a tiny bidirectional model with the full generation contract
(attention mask, position ids, a ``cache.update`` per layer, ``logits_to_keep``). With one layer
its keys/values depend on token and position only, so prefix and dual caching are exact there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from dllm_core.generation import generate
from dllm_core.generation.commit import CommitRule
from dllm_core.generation.confidence import ConfidenceScore
from dllm_core.generation.presets.base import Preset
from dllm_core.generation.tokens import TokenChoice, TokenChooser
from dllm_core.generation.transfer import StepQuota, TransferSchedule


@dataclass
class ToyConfig:
    """Sizes and special ids of :class:`ToyDiffusionLM` (ids at the top of the vocabulary)."""

    vocab_size: int = 40
    hidden_size: int = 32
    num_layers: int = 1
    max_positions: int = 128
    mask_token_id: int = 39
    eos_token_id: int = 38
    pad_token_id: int = 37
    seed: int = 0
    model_type: str = "dllm-toy"


@dataclass
class ToyOutput:
    """``logits [B, n_kept, V]``."""

    logits: torch.Tensor


class ToyAttention(nn.Module):
    """Single-head bidirectional attention over the keys a cache returns."""

    def __init__(self, width: int):
        super().__init__()
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(
        self, h: torch.Tensor, key_mask: torch.Tensor | None, cache: Any, layer: int
    ) -> torch.Tensor:
        q, k, v = self.qkv(h).chunk(3, dim=-1)  # [B, q, D] each
        if cache is not None:
            k4, v4 = cache.update(k[:, None], v[:, None], layer)  # [B, 1, Lk, D]
            k, v = k4[:, 0], v4[:, 0]
        scores = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])  # [B, q, Lk]
        if key_mask is not None:
            scores = scores.masked_fill(~key_mask[:, None, :], -torch.inf)
        return self.out(torch.softmax(scores, dim=-1) @ v)


class ToyDiffusionLM(nn.Module):
    """A few-thousand-parameter masked-diffusion LM following the generation contract."""

    def __init__(self, config: ToyConfig | None = None):
        super().__init__()
        self.config = config or ToyConfig()
        width, vocab = self.config.hidden_size, self.config.vocab_size
        self.embed = nn.Embedding(vocab, width)
        self.positions = nn.Embedding(self.config.max_positions, width)
        self.layers = nn.ModuleList(ToyAttention(width) for _ in range(self.config.num_layers))
        self.head = nn.Linear(width, vocab)
        generator = torch.Generator().manual_seed(self.config.seed)
        with torch.no_grad():  # embeddings ~ N(0, 1), matrices ~ N(0, 1 / fan_in), biases ~ N(0, 0.01)
            for name, parameter in self.named_parameters():
                scale = 0.1 if name.endswith("bias") else 1.0
                if name.endswith("weight") and not name.startswith(("embed", "positions")):
                    scale = parameter.shape[1] ** -0.5
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * scale)
        self.eval()

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        past_key_values: Any = None,
        use_cache: bool = False,
        logits_to_keep: int | slice | torch.Tensor | None = None,
    ) -> ToyOutput:
        if position_ids is None:
            position_ids = torch.arange(input_ids.shape[1], device=input_ids.device)[None]
        h = self.embed(input_ids) + self.positions(position_ids)  # [B, q, D]
        key_mask = attention_mask.bool() if attention_mask is not None else None  # [B, Lk]
        for index, layer in enumerate(self.layers):
            h = h + layer(h, key_mask, past_key_values, index)
        if isinstance(logits_to_keep, int) and logits_to_keep > 0:
            h = h[:, -logits_to_keep:]
        elif isinstance(logits_to_keep, (slice, torch.Tensor)):
            h = h[:, logits_to_keep]
        return ToyOutput(logits=self.head(h))


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class TransferScheduleConformance:
    """Subclass with :meth:`make_schedule`."""

    #: mask counts per row at the start of the blocks that are simulated
    masked_counts: ClassVar[tuple[tuple[int, ...], ...]] = ((16,), (5, 12), (0, 7), (1,))

    def make_schedule(self) -> TransferSchedule:
        raise NotImplementedError("return the transfer schedule under test")

    def _simulate(self, masked: tuple[int, ...]) -> list[torch.Tensor]:
        """Run a block where each step commits its whole count (one token when uncounted)."""
        remaining = torch.tensor(masked)
        plan = self.make_schedule().plan(remaining.clone())
        limit = plan.num_steps if plan.num_steps is not None else int(remaining.sum()) + 1
        counts = []
        for step in range(limit):
            if plan.num_steps is None and not bool(remaining.any()):
                break
            quota = plan.quota(step, remaining.clone())
            count = quota.count if quota.count is not None else (remaining > 0).long()
            committed = torch.minimum(count, remaining)
            counts.append(count)
            plan.observe(step, committed)
            remaining = remaining - committed
        assert not bool(remaining.any()), f"masks left after the plan: {remaining.tolist()}"
        return counts

    def test_block_fills_up(self) -> None:
        for masked in self.masked_counts:
            self._simulate(masked)

    def test_counts_within_what_is_masked(self) -> None:
        for masked in self.masked_counts:
            total = torch.tensor(masked)
            for count in self._simulate(masked):
                assert bool((count >= 0).all()) and bool((count <= total).all())


class CommitRuleConformance:
    """Subclass with :meth:`make_rule` (and :meth:`make_quota` for rules needing other budgets)."""

    #: the rule never commits more than ``quota.count``
    respects_count: ClassVar[bool] = True
    #: the rule commits at least one candidate in every row that has one
    always_commits: ClassVar[bool] = True

    def make_rule(self) -> CommitRule:
        raise NotImplementedError("return the commit rule under test")

    def make_quota(self, candidates: torch.Tensor) -> StepQuota:
        return StepQuota(count=torch.tensor([2, 1, 3]), probability=torch.tensor(0.5))

    def _select(self, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, StepQuota]:
        scores = torch.rand((3, 6), generator=_generator(1))
        candidates = torch.tensor([[1, 0, 1, 1, 0, 1], [0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1]]).bool()
        confidence = scores.masked_fill(~candidates, -torch.inf)
        quota = self.make_quota(candidates)
        chosen = self.make_rule().select(confidence, candidates, quota, _generator(seed))
        return chosen, candidates, quota

    def test_commits_only_candidates(self) -> None:
        chosen, candidates, _ = self._select()
        assert chosen.dtype == torch.bool and chosen.shape == candidates.shape
        assert not bool((chosen & ~candidates).any())
        assert not bool(chosen[1].any()), "a row without candidates committed something"

    def test_quota_and_progress(self) -> None:
        chosen, candidates, quota = self._select()
        committed = chosen.sum(dim=1)
        if self.respects_count and quota.count is not None:
            assert bool((committed <= quota.count).all())
        if self.always_commits:
            assert bool((committed[candidates.any(dim=1)] >= 1).all())

    def test_reproducible_under_seed(self) -> None:
        assert torch.equal(self._select(seed=3)[0], self._select(seed=3)[0])


class TokenChooserConformance:
    """Subclass with :meth:`make_chooser`."""

    def make_chooser(self) -> TokenChooser:
        raise NotImplementedError("return the token chooser under test")

    def _choose(self, seed: int = 0) -> tuple[torch.Tensor, TokenChoice]:
        logits = torch.randn((2, 5, 11), generator=_generator(2)) * 3
        logits[..., 4] = -torch.inf  # a suppressed token
        return logits, self.make_chooser().choose(logits, _generator(seed))

    def test_tokens_and_probabilities(self) -> None:
        logits, choice = self._choose()
        assert choice.tokens.shape == logits.shape[:-1] and choice.probs.shape == logits.shape
        assert bool(((choice.tokens >= 0) & (choice.tokens < logits.shape[-1])).all())
        sums = choice.probs.sum(dim=-1).double()
        torch.testing.assert_close(sums, torch.ones_like(sums), atol=1e-5, rtol=0)

    def test_never_picks_a_minus_inf_logit(self) -> None:
        for seed in range(5):
            assert not bool((self._choose(seed)[1].tokens == 4).any())

    def test_never_picks_a_banned_token(self) -> None:
        logits = torch.randn((2, 5, 11), generator=_generator(3))
        logits[..., 2] = 50.0  # the favourite everywhere
        choice = self.make_chooser().choose(logits, _generator(0), banned=(2,))
        assert not bool((choice.tokens == 2).any())
        assert bool((choice.probs[..., 2] > 0.99).all()), "banned tokens stay in the probabilities"

    def test_reproducible_under_seed(self) -> None:
        assert torch.equal(self._choose(7)[1].tokens, self._choose(7)[1].tokens)


class ConfidenceScoreConformance:
    """Subclass with :meth:`make_score`."""

    def make_score(self) -> ConfidenceScore:
        raise NotImplementedError("return the confidence score under test")

    def _score(self, seed: int = 0) -> tuple[TokenChoice, torch.Tensor]:
        probs = torch.softmax(torch.randn((2, 5, 11), generator=_generator(4)), dim=-1)
        choice = TokenChoice(tokens=probs.argmax(dim=-1), probs=probs)
        return choice, self.make_score().score(choice, _generator(seed))

    def test_one_finite_score_per_position(self) -> None:
        choice, scores = self._score()
        assert scores.shape == choice.tokens.shape and bool(torch.isfinite(scores).all())

    def test_reproducible_under_seed(self) -> None:
        assert torch.equal(self._score(5)[1], self._score(5)[1])


class PresetConformance:
    """Subclass with ``preset``, ``params`` and ``max_nfe``; override the ``make_*`` hooks to use
    another model or prompts (the default prompts are left-padded, so presets must take
    ``attention_mask``)."""

    preset: ClassVar[str | Preset] = ""
    params: ClassVar[dict[str, Any]] = {}
    #: the largest NFE the preset may spend on :meth:`make_prompts`
    max_nfe: ClassVar[int] = 0

    def make_model(self) -> Any:
        return ToyDiffusionLM()

    def make_prompts(self) -> tuple[Any, torch.Tensor | None]:
        ids = torch.tensor([[3, 14, 15, 9, 2, 6], [37, 37, 5, 3, 5, 8]])
        return ids, torch.tensor([[1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1]])

    def _run(self, seed: int = 0, **extra: Any):
        ids, mask = self.make_prompts()
        return generate(self.make_model(), ids, preset=self.preset, attention_mask=mask,
                        generator=_generator(seed), return_history=True, **self.params, **extra)

    def test_fills_every_mask_and_keeps_the_prompt(self) -> None:
        out = self._run()
        initial = out.histories[0]
        mask_id = self.make_model().config.mask_token_id
        assert not bool((out.sequences == mask_id).any()), "masks left in the output"
        given = initial != mask_id
        assert torch.equal(out.sequences[given], initial[given]), "prompt tokens changed"

    def test_committed_tokens_never_change(self) -> None:
        out = self._run()
        mask_id = self.make_model().config.mask_token_id
        assert len(out.histories) == out.nfe + 1
        for before, after in zip(out.histories, out.histories[1:]):
            kept = before != mask_id
            assert torch.equal(after[kept], before[kept])

    def test_nfe_within_budget(self) -> None:
        out = self._run()
        assert 1 <= out.nfe <= self.max_nfe

    def test_reproducible_under_seed(self) -> None:
        assert torch.equal(self._run(seed=11).sequences, self._run(seed=11).sequences)

