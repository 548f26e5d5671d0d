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
* :class:`PresetConformance`: a whole preset on a model: no mask left, the caller's prompts
  where the layout puts them and the answer slots right after them, committed tokens never
  change, NFE within the budget, reproducible under a seed.

"Reproducible" means: the same result with torch's global generator reseeded differently, and
the same result in a second Python process (:func:`in_second_process`), which catches a
dependence on this process's state (its global generator, Python's hash seed, caches).

:class:`ToyDiffusionLM` is a tiny bidirectional model with the full generation contract
(attention mask, position ids, a ``cache.update`` per layer, ``logits_to_keep``). With one layer
its keys/values depend on token and position only, so prefix and dual caching are exact there.
"""

from __future__ import annotations

import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, TypeVar

import torch
from torch import nn

from dllm_core.generation import GenerationOutput, generate
from dllm_core.generation.commit import CommitRule
from dllm_core.generation.confidence import ConfidenceScore
from dllm_core.generation.presets.base import Preset
from dllm_core.generation.tokens import TokenChoice, TokenChooser
from dllm_core.generation.transfer import StepQuota, TransferSchedule
from dllm_core.registry import get_registry


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


T = TypeVar("T")

_second_process: ProcessPoolExecutor | None = None


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def in_second_process(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` computed in a second Python process, spawned on first use and reused.

    ``function`` must be a module-level function and ``args`` must pickle (library objects,
    tensors). Comparing its answer with this process's catches results that depend on process
    state: torch's global generator, Python's hash seed, caches filled by earlier runs.
    """
    global _second_process
    if _second_process is None:
        _second_process = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    return _second_process.submit(function, *args).result(timeout=600)


def _global_generator_independent(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` twice, torch's global generator seeded differently before each (and
    restored after); the two answers must be equal (``torch.equal`` on their tensors)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        first = function(*args)
        torch.manual_seed(2)
        second = function(*args)
    assert _equal(first, second), "the result depends on torch's global generator, not only on the seed given"
    return first


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, TokenChoice):
        return _equal(a.tokens, b.tokens) and _equal(a.probs, b.probs)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return a == b


def _assert_reproducible(function: Callable[..., Any], *args: Any) -> None:
    """Same answer under reseeded global generators and in a second process."""
    here = _global_generator_independent(function, *args)
    assert _equal(here, in_second_process(function, *args)), "a second process computes another result"


def commit_with_seed(rule: CommitRule, confidence: torch.Tensor, candidates: torch.Tensor, quota: StepQuota,
                     seed: int) -> torch.Tensor:
    """``rule.select`` with a generator seeded with ``seed``."""
    return rule.select(confidence, candidates, quota, _generator(seed))


def choose_with_seed(chooser: TokenChooser, logits: torch.Tensor, seed: int) -> TokenChoice:
    """``chooser.choose`` with a generator seeded with ``seed``."""
    return chooser.choose(logits, _generator(seed))


def score_with_seed(score: ConfidenceScore, choice: TokenChoice, seed: int) -> torch.Tensor:
    """``score.score`` with a generator seeded with ``seed``."""
    return score.score(choice, _generator(seed))


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

    def _inputs(self) -> tuple[torch.Tensor, torch.Tensor, StepQuota]:
        scores = torch.rand((3, 6), generator=_generator(1))
        candidates = torch.tensor([[1, 0, 1, 1, 0, 1], [0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1]]).bool()
        return scores.masked_fill(~candidates, -torch.inf), candidates, self.make_quota(candidates)

    def _select(self, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, StepQuota]:
        confidence, candidates, quota = self._inputs()
        return commit_with_seed(self.make_rule(), confidence, candidates, quota, seed), candidates, quota

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
        _assert_reproducible(commit_with_seed, self.make_rule(), *self._inputs(), 3)


class TokenChooserConformance:
    """Subclass with :meth:`make_chooser`."""

    def make_chooser(self) -> TokenChooser:
        raise NotImplementedError("return the token chooser under test")

    def _logits(self) -> torch.Tensor:
        logits = torch.randn((2, 5, 11), generator=_generator(2)) * 3
        logits[..., 4] = -torch.inf  # a suppressed token
        return logits

    def _choose(self, seed: int = 0) -> tuple[torch.Tensor, TokenChoice]:
        logits = self._logits()
        return logits, choose_with_seed(self.make_chooser(), logits, seed)

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
        _assert_reproducible(choose_with_seed, self.make_chooser(), self._logits(), 7)


class ConfidenceScoreConformance:
    """Subclass with :meth:`make_score`."""

    def make_score(self) -> ConfidenceScore:
        raise NotImplementedError("return the confidence score under test")

    def _choice(self) -> TokenChoice:
        probs = torch.softmax(torch.randn((2, 5, 11), generator=_generator(4)), dim=-1)
        return TokenChoice(tokens=probs.argmax(dim=-1), probs=probs)

    def _score(self, seed: int = 0) -> tuple[TokenChoice, torch.Tensor]:
        choice = self._choice()
        return choice, score_with_seed(self.make_score(), choice, seed)

    def test_one_finite_score_per_position(self) -> None:
        choice, scores = self._score()
        assert scores.shape == choice.tokens.shape and bool(torch.isfinite(scores).all())

    def test_reproducible_under_seed(self) -> None:
        _assert_reproducible(score_with_seed, self.make_score(), self._choice(), 5)


@dataclass
class GenerationJob:
    """One :func:`~dllm_core.generation.generate` call as data: it pickles, so
    :func:`in_second_process` can run it too."""

    model: Any
    preset: str | Preset
    input_ids: Any  # [B, Lp] tensor or a list of rows
    attention_mask: torch.Tensor | None
    params: dict[str, Any]
    seed: int

    def run(self, return_history: bool = False) -> GenerationOutput:
        return generate(self.model, self.input_ids, preset=self.preset, attention_mask=self.attention_mask,
                        generator=_generator(self.seed), return_history=return_history, **self.params)


def job_sequences(job: GenerationJob) -> torch.Tensor:
    """The ``[B, L]`` sequences of ``job``."""
    return job.run().sequences


def caller_prompts(input_ids: Any, attention_mask: torch.Tensor | None,
                   pad_token_id: int | None = None) -> list[list[int]]:
    """The prompts the caller means: a list's rows, or each tensor row's attended tokens (without
    a mask: the row after its leading run of ``pad_token_id``)."""
    if not isinstance(input_ids, torch.Tensor):
        return [list(map(int, row)) for row in input_ids]
    if attention_mask is None:
        attention_mask = (input_ids != pad_token_id).cumsum(dim=1) > 0 if pad_token_id is not None else None
    if attention_mask is None:
        return input_ids.tolist()
    return [row[keep.bool()].tolist() for row, keep in zip(input_ids, attention_mask)]


class PresetConformance:
    """Subclass with ``preset``, ``params`` and ``max_nfe``; override the ``make_*`` hooks to use
    another model or prompts (the default prompts are left-padded, so presets must take
    ``attention_mask``). The model, preset and prompts must pickle (see :func:`in_second_process`).

    The output is checked against the prompts as the caller gave them, not against the canvas
    the preset built: the layout puts them at the start of each row for presets with
    ``ragged_rows``, else at the end of the (left-padded) prompt columns, which keep the
    caller's padding; the answer slots (the preset's length role) follow right after."""

    preset: ClassVar[str | Preset] = ""
    params: ClassVar[dict[str, Any]] = {}
    #: the largest NFE the preset may spend on :meth:`make_prompts`
    max_nfe: ClassVar[int] = 0

    def make_model(self) -> Any:
        return ToyDiffusionLM()

    def make_prompts(self) -> tuple[Any, torch.Tensor | None]:
        ids = torch.tensor([[3, 14, 15, 9, 2, 6], [37, 37, 5, 3, 5, 8]])
        return ids, torch.tensor([[1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1]])

    def job(self, seed: int = 0) -> GenerationJob:
        ids, mask = self.make_prompts()
        return GenerationJob(self.make_model(), self.preset, ids, mask, dict(self.params), seed)

    def _run(self, seed: int = 0, **extra: Any) -> GenerationOutput:
        job = self.job(seed)
        job.params.update(extra)
        return job.run(return_history=True)

    def _preset(self) -> Preset:
        if isinstance(self.preset, Preset):
            return self.preset
        return get_registry().generators.get(self.preset)

    def _answer_length(self) -> int | None:
        """The value of the preset's length role (``params``, else its default), if it has one."""
        preset = self._preset()
        name = preset.roles.length
        if name is None:
            return None
        return self.params.get(name, getattr(preset.params_class(), name))

    def test_fills_every_mask_and_keeps_the_callers_prompt(self) -> None:
        ids, mask = self.make_prompts()
        out = self._run()
        config = self.make_model().config
        mask_id = config.mask_token_id
        assert not bool((out.sequences == mask_id).any()), "masks left in the output"
        ragged, length = self._preset().ragged_rows, self._answer_length()
        for row, prompt in enumerate(caller_prompts(ids, mask, getattr(config, "pad_token_id", None))):
            start = 0 if ragged else ids.shape[1] - len(prompt)
            end = start + len(prompt)
            assert out.sequences[row, start:end].tolist() == prompt, f"row {row} lost the caller's prompt"
            if not ragged:
                assert torch.equal(out.sequences[row, : ids.shape[1]], ids[row]), f"row {row}: padding changed"
            if length is not None:
                answer = out.histories[0][row] == mask_id  # [L]
                assert answer[end:end + length].all() and int(answer.sum()) == length, (
                    f"row {row}: the {length} answer slots do not follow the prompt")

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
        _assert_reproducible(job_sequences, self.job(seed=11))
