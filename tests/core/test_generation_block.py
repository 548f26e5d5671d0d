"""Block diffusion (``bd3lm``, ``llada2``) on a two-layer rotary model built from the core's
modules, no plugin needed: the exact cache against recomputing the prefix, block-causal
attention, batches against single rows, EOS stops, streaming callbacks, parameter errors, the
LLaDA2 parts and the session."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import nn

from dllm_core.errors import DllmError
from dllm_core.family import ModelFamily
from dllm_core.generation import BD3LM, LLADA2, BlockGenerator, generate_blocks
from dllm_core.generation.block_parts import BlockLengthSplit, SoftmaxSampleChooser, ThresholdElseTopKCommit
from dllm_core.generation.cache import BlockKVCache
from dllm_core.generation.transfer import StepQuota
from dllm_core.modeling import RMSNorm, attention_mask_for_sdpa, keep_positions, rotary_cos_sin, rotary_self_attention
from dllm_core.registry import get_registry
from dllm_core.session import InferenceSession
from dllm_core.special_tokens import SpecialTokens
from dllm_core.testing.generation import CommitRuleConformance, TokenChooserConformance

VOCAB, MASK, EOS, PAD = 48, 47, 46, 45
SPECIAL = SpecialTokens(mask_token_id=MASK, eos_token_id=EOS, pad_token_id=PAD)
CAPABLE = dict(supports_kv_cache=True, supports_logits_to_keep=True)
PROMPTS = [[3, 14, 15, 9, 2, 6, 5], [8, 9, 7], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]]


class RotaryLayer(nn.Module):
    def __init__(self, width: int, heads: int, index: int):
        super().__init__()
        self.heads, self.index = heads, index
        self.attn_norm, self.ff_norm = RMSNorm(width), RMSNorm(width)
        self.q, self.k, self.v, self.o = (nn.Linear(width, width) for _ in range(4))
        self.up, self.down = nn.Linear(width, 2 * width), nn.Linear(2 * width, width)

    def forward(self, x, cos, sin, mask, cache):
        n = self.attn_norm(x)
        x = x + self.o(rotary_self_attention(self.q(n), self.k(n), self.v(n), cos, sin, n_heads=self.heads,
                                             n_kv_heads=self.heads, mask=mask, cache=cache, layer_idx=self.index,
                                             rope_full_precision=True))
        return x + self.down(torch.relu(self.up(self.ff_norm(x))))


class RotaryToyLM(nn.Module):
    """Two bidirectional rotary layers (the core's attention, masks and cache protocol) with
    ``logits_to_keep``; records each call's inputs and kept logits in ``calls``."""

    def __init__(self, seed: int = 0, width: int = 32, heads: int = 2, layers: int = 2):
        super().__init__()
        torch.manual_seed(seed)
        self.config = SimpleNamespace(model_type="block-toy", mask_token_id=MASK, eos_token_id=EOS,
                                      pad_token_id=PAD, max_position_embeddings=512)
        self.embed = nn.Embedding(VOCAB, width)
        self.layers = nn.ModuleList(RotaryLayer(width, heads, i) for i in range(layers))
        self.norm, self.head = RMSNorm(width), nn.Linear(width, VOCAB)
        with torch.no_grad():
            self.head.weight.mul_(6.0)  # confident predictions, so the threshold rule commits several
        self.head_dim = width // heads
        self.calls: list[dict[str, Any]] = []
        self.eval()

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    def forward(self, input_ids, attention_mask=None, position_ids=None, past_key_values=None, use_cache=False,
                logits_to_keep=None):
        x = self.embed(input_ids)
        cos, sin = rotary_cos_sin(position_ids, self.head_dim, 10000.0)
        mask = attention_mask_for_sdpa(attention_mask, x.dtype)
        for layer in self.layers:
            x = layer(x, cos, sin, mask, past_key_values)
        logits = self.head(self.norm(keep_positions(x, logits_to_keep)))
        self.calls.append(dict(input_ids=input_ids.clone(), mask=attention_mask, positions=position_ids.clone(),
                               logits=logits.clone()))
        return SimpleNamespace(logits=logits)


class EndsAt(nn.Module):
    """``model`` with its answer decided up to ``position`` and ending there: +100 on the best
    non-EOS logit before ``position``, +100 on EOS at it, all logits / 100 (undecided) after it."""

    def __init__(self, model: nn.Module, position: int):
        super().__init__()
        self.model, self.position, self.config = model, position, model.config

    @property
    def device(self) -> torch.device:
        return self.model.device

    def forward(self, input_ids, position_ids=None, logits_to_keep=None, **kwargs):
        logits = self.model(input_ids, position_ids=position_ids, logits_to_keep=logits_to_keep, **kwargs).logits
        kept = (position_ids[:, logits_to_keep] if logits_to_keep is not None else position_ids)[..., None]
        best = logits.index_fill(-1, torch.tensor([EOS]), -torch.inf).argmax(dim=-1, keepdim=True)
        decided = logits.scatter_add(-1, best, torch.full_like(best, 100.0, dtype=logits.dtype))
        ending = logits.index_add(-1, torch.tensor([EOS]), torch.full_like(logits[..., :1], 100.0))
        return SimpleNamespace(logits=torch.where(kept < self.position, decided,
                                                  torch.where(kept == self.position, ending, logits / 100)))


BD3LM_PARAMS = dict(steps=12, max_new_tokens=20, block_size=8)
LLADA2_PARAMS = dict(block_length=8, steps=4, gen_length=20, threshold=0.9)
SETTINGS = {
    "bd3lm": ("bd3lm", BD3LM_PARAMS),
    "bd3lm-shift-random": ("bd3lm", {**BD3LM_PARAMS, "right_shift_logits": True, "remasking": "random",
                                     "temperature": 0.7}),
    "llada2": ("llada2", LLADA2_PARAMS),
    "llada2-sampled": ("llada2", {**LLADA2_PARAMS, "temperature": 0.8, "top_k": 12, "top_p": 0.9}),
}


def run(model, prompts, preset, seed=0, **params):
    return generate_blocks(model, prompts, preset=preset, special=SPECIAL,
                           generator=torch.Generator().manual_seed(seed), **CAPABLE, **params)


# -- the exact cache -------------------------------------------------------------------------

@pytest.mark.parametrize("setting", SETTINGS, ids=list(SETTINGS))
def test_cache_gives_the_tokens_nfe_and_logits_of_recomputing_the_prefix(setting):
    preset, params = SETTINGS[setting]
    cached_model, full_model = RotaryToyLM(), RotaryToyLM()
    cached = run(cached_model, PROMPTS, preset, **params)
    full = run(full_model, PROMPTS, preset, use_cache=False, **params)
    assert torch.equal(cached.sequences, full.sequences)
    assert cached.nfe == full.nfe == len(cached_model.calls) == len(full_model.calls) > 6
    for ours, reference in zip(cached_model.calls, full_model.calls):
        # the same columns end each call's kept logits (recomputing, a shifted step also keeps the
        # output before the block, which the cached steps read from the call that finished it)
        kept = ours["logits"].shape[1]
        assert kept <= reference["logits"].shape[1] <= kept + int(bool(params.get("right_shift_logits")))
        torch.testing.assert_close(ours["logits"], reference["logits"][:, -kept:], atol=1e-4, rtol=1e-4)
    # the cache is used: after the first call no call runs more than two blocks of tokens
    widths = [call["input_ids"].shape[1] for call in cached_model.calls]
    assert max(widths[1:]) <= 16 and 2 * sum(widths) < sum(call["input_ids"].shape[1] for call in full_model.calls)


def test_block_cache_appends_only_the_kept_positions():
    cache = BlockKVCache(capacity=6)
    first = torch.arange(3.0).view(1, 1, 3, 1)
    cache.keep(2)
    keys, _ = cache.update(first, -first, 0)
    assert keys.flatten().tolist() == [0, 1, 2]
    cache.commit()
    assert cache.get_seq_length() == 2
    keys, values = cache.update(torch.full((1, 1, 3, 1), 9.0), torch.full((1, 1, 3, 1), -9.0), 0)
    assert keys.flatten().tolist() == [0, 1, 9, 9, 9] and values.flatten().tolist() == [0, -1, -9, -9, -9]
    cache.commit()  # nothing kept: the next call overwrites the same columns
    assert cache.get_seq_length() == 2
    with pytest.raises(ValueError, match="holds 6 positions"):
        cache.update(torch.zeros(1, 1, 5, 1), torch.zeros(1, 1, 5, 1), 0)


# -- block-causal attention ------------------------------------------------------------------

@pytest.mark.parametrize("preset,params,length", [("bd3lm", BD3LM_PARAMS, "max_new_tokens"),
                                                  ("llada2", LLADA2_PARAMS, "gen_length")])
def test_later_blocks_never_influence_earlier_ones(preset, params, length):
    """A longer answer adds blocks after the shorter one's: the shared blocks come out the same,
    which fails if any call let a block attend to later (still masked) columns."""
    per_answer = preset == "bd3lm"  # bd3lm's steps cover the answer, llada2's one block: 2 per block both
    short = run(RotaryToyLM(), PROMPTS, preset, **{**params, length: 16, "steps": 4 if per_answer else 2})
    long = run(RotaryToyLM(), PROMPTS, preset, **{**params, length: 40, "steps": 10 if per_answer else 2})
    assert short.answers() == [answer[:16] for answer in long.answers()]


def test_each_call_sees_the_block_causal_mask_and_positions_without_padding():
    model = RotaryToyLM()
    run(model, [[5, 6, 7, 8, 9], [3, 4]], "bd3lm", use_cache=False, steps=2, max_new_tokens=8, block_size=4)
    # canvas: 8 prompt columns (row 1: 3 padding + 5 tokens, row 2: 6 padding + 2), then 2 answer blocks
    valid = torch.tensor([[0] * 3 + [1] * 13, [0] * 6 + [1] * 10]).bool()
    for call in model.calls:
        width = call["input_ids"].shape[1]
        block = torch.arange(width) // 4
        expected = (block[None, :] <= block[:, None])[None] & valid[:, None, :width]
        expected |= torch.eye(width, dtype=torch.bool)
        assert torch.equal(call["mask"][:, 0], expected)
        assert call["positions"][0, 3:].tolist() == list(range(width - 3))
        assert call["positions"][1, 6:].tolist() == list(range(width - 6))
    assert [call["input_ids"].shape[1] for call in model.calls] == [8, 12, 12, 16]  # prefix, step, prefix, step


def test_bd3lm_treats_tokens_equal_to_the_pad_id_as_padding():
    """dllm's BD3LM hides every token equal to the pad id (a BOS equal to it too)."""
    model = RotaryToyLM()
    run(model, [[PAD, 5, 6]], "bd3lm", use_cache=False, steps=1, max_new_tokens=4, block_size=4)
    first = model.calls[0]
    assert first["mask"][0, 0, 3, :4].tolist() == [False, False, True, True]  # column 1 holds PAD
    assert first["positions"][0, 2:4].tolist() == [0, 1]


# -- batches, EOS, callbacks -----------------------------------------------------------------

@pytest.mark.parametrize("preset,params", [("bd3lm", BD3LM_PARAMS), ("llada2", LLADA2_PARAMS)])
def test_a_batch_of_different_prompt_lengths_equals_single_rows(preset, params):
    together = run(RotaryToyLM(), PROMPTS, preset, **params).answers()
    alone = [run(RotaryToyLM(), [prompt], preset, **params).answers()[0] for prompt in PROMPTS]
    assert together == alone
    assert len({len(prompt) % 8 for prompt in PROMPTS}) == 3  # every row on its own block offset


def test_bd3lm_stops_after_the_block_where_every_row_produced_eos():
    prompt = [[3, 14, 15, 9, 2, 6, 5]]  # one padding column: answer column c has position c - 1
    params = dict(steps=12, max_new_tokens=24, block_size=4)  # 6 blocks of 2 steps
    full = run(RotaryToyLM(), prompt, "bd3lm", **params)
    ended = run(EndsAt(RotaryToyLM(), 17), prompt, "bd3lm", **params)  # EOS at column 18, block [16, 20)
    assert full.sequences.shape[1] == 8 + 24 and full.nfe == 6 * (1 + 2)
    assert ended.sequences.shape[1] == 20 and ended.nfe == 3 * (1 + 2)  # a prefix call and two steps per block
    assert ended.answers()[0][-1] == EOS and len(ended.answers()[0]) == 11
    assert EOS not in ended.answers()[0][:-1]


def test_a_batch_stops_only_once_every_row_has_ended():
    rows = [[3, 14, 15, 9, 2, 6, 5], [3, 14, 15, 9, 2, 6, 5, 1, 2, 3, 4, 5, 6]]  # answers at column 16 in both
    ended = run(EndsAt(RotaryToyLM(), 15), rows, "bd3lm", steps=12, max_new_tokens=24, block_size=4)
    # position 15 is column 24 in row 1 (9 padding columns), column 18 in row 2 (3 padding columns)
    assert ended.sequences.shape[1] == 28 and ended.nfe == 3 * 3
    assert [answer[-1] for answer in ended.answers()] == [EOS, EOS]


def test_llada2_stops_after_the_block_or_right_after_the_step_with_eos():
    params = dict(block_length=8, steps=4, gen_length=32, threshold=0.99)  # 2 tokens per step
    prompt = [[3, 14, 15, 9, 2, 6, 5, 1, 2, 3]]  # answer columns from 10 on; block 1 = [8, 16)
    ended = run(EndsAt(RotaryToyLM(), 12), prompt, "llada2", **params)
    early = run(EndsAt(RotaryToyLM(), 12), prompt, "llada2", eos_early_stop=True, **params)
    # step 1 commits the three decided columns 10-12 (EOS at 12); columns 13-15 take two more steps
    assert ended.sequences.shape[1] == 16 and ended.nfe == 3
    assert early.nfe == 1 and early.answers() == ended.answers()
    assert len(ended.answers()[0]) == 3 and ended.answers()[0][-1] == EOS


def test_callbacks_stream_every_step():
    infos = []
    out = run(RotaryToyLM(), PROMPTS, "llada2", **LLADA2_PARAMS)
    streamed = generate_blocks(RotaryToyLM(), PROMPTS, preset="llada2", special=SPECIAL, **CAPABLE,
                               generator=torch.Generator().manual_seed(0),
                               callback=lambda info: infos.append((info.block, info.step, info.nfe,
                                                                   info.committed.clone(), info.tokens.clone())),
                               **LLADA2_PARAMS)
    assert torch.equal(out.sequences, streamed.sequences)
    assert [nfe for _, _, nfe, _, _ in infos] == list(range(1, out.nfe + 1))  # llada2: one call per step
    blocks = [block for block, *_ in infos]
    spans = [math.ceil((len(p) + 20) / 8) - len(p) // 8 for p in PROMPTS]  # answer blocks per row
    assert blocks == sorted(blocks) and blocks[0] == 0 and blocks[-1] == max(spans) - 1
    final, filled = out.sequences, torch.stack([committed for *_, committed, _ in infos]).sum(dim=0)
    for _, _, _, committed, tokens in infos:  # each step reports what it wrote, and it stays
        assert bool((tokens[committed] == final[committed]).all())
    columns = torch.arange(final.shape[1])
    answers = columns[None, :] >= out.region_start[:, None]
    assert int(filled.max()) == 1 and torch.equal(filled.bool(), answers & (final != MASK))


class PrefersMask(nn.Module):
    """``model`` rating the mask id highest (+100) at rotary position ``position``."""

    def __init__(self, model: nn.Module, position: int):
        super().__init__()
        self.model, self.position, self.config = model, position, model.config

    @property
    def device(self) -> torch.device:
        return self.model.device

    def forward(self, input_ids, position_ids=None, logits_to_keep=None, **kwargs):
        logits = self.model(input_ids, position_ids=position_ids, logits_to_keep=logits_to_keep, **kwargs).logits
        kept = (position_ids[:, logits_to_keep] if logits_to_keep is not None else position_ids)[..., None]
        bonus = torch.zeros(VOCAB).index_fill(0, torch.tensor([MASK]), 100.0)
        return SimpleNamespace(logits=logits + (kept == self.position) * bonus)


@pytest.mark.parametrize("preset,params", [("bd3lm", dict(steps=4, max_new_tokens=8, block_size=4)),
                                           ("llada2", dict(steps=2, gen_length=8, block_length=4, threshold=1.0))])
def test_a_chosen_mask_id_stays_masked_unless_suppressed(preset, params):
    """As the references: a selected position whose best token is the mask id keeps it (its
    transfer is used up, so it is still masked when the block's steps are spent)."""
    prompt = [[3, 14, 15, 9]]  # answer columns 4..11 at positions 4..11
    kept = run(PrefersMask(RotaryToyLM(), 5), prompt, preset, **params)
    filled = run(PrefersMask(RotaryToyLM(), 5), prompt, preset, suppress_mask_token=True, **params)
    assert kept.answers()[0][1] == MASK and MASK not in kept.answers()[0][4:]  # only its block keeps masks
    assert MASK not in filled.answers()[0] and len(filled.answers()[0]) == 8


# -- parameters and parts --------------------------------------------------------------------

def test_bad_settings_are_one_clear_error():
    model = RotaryToyLM()
    with pytest.raises(ValueError, match="block_size must be at least 1"):
        run(model, PROMPTS, "bd3lm", steps=4, max_new_tokens=8, block_size=0)
    with pytest.raises(ValueError, match="minimal_topk .* leaves no step; lower minimal_topk"):
        run(model, PROMPTS, "llada2", gen_length=4, minimal_topk=8)
    with pytest.raises(ValueError, match="cfg_scale > 0 is not implemented for bd3lm"):
        run(model, PROMPTS, "bd3lm", cfg_scale=1.0)
    with pytest.raises(TypeError, match="generator 'bd3lm' has no parameter 'block_length'"):
        run(model, PROMPTS, "bd3lm", block_length=8)
    with pytest.raises(ValueError, match="every prompt needs at least one token"):
        run(model, [[]], "llada2")
    with pytest.raises(DllmError, match="'llada' is not a block-diffusion preset"):
        run(model, PROMPTS, "llada")


def test_block_length_split_counts_from_the_block_length():
    plan = BlockLengthSplit(steps=4, block_length=10).plan(torch.tensor([10, 3]))
    assert plan.num_steps == 4
    assert [plan.quota(step, torch.tensor([1, 1])).count.tolist() for step in range(4)] == [[3, 3], [3, 3], [2, 2],
                                                                                              [2, 2]]


def test_threshold_else_top_k_takes_every_confident_position_only_when_there_are_enough():
    confidence = torch.tensor([[0.95, 0.2, 0.91, 0.5], [0.95, 0.2, 0.5, 0.4], [0.99, 0.98, 0.97, -torch.inf]])
    candidates = torch.isfinite(confidence)
    chosen = ThresholdElseTopKCommit(0.9).select(confidence, candidates, StepQuota(torch.tensor([2, 2, 1])), None)
    assert chosen.tolist() == [[True, False, True, False], [True, False, True, False], [True, True, True, False]]
    at_threshold = ThresholdElseTopKCommit(0.5).select(torch.tensor([[0.5, 0.4]]), torch.ones(1, 2, dtype=torch.bool),
                                                       StepQuota(torch.tensor([1])), None)
    assert at_threshold.tolist() == [[True, False]]  # strictly above: 0.5 is not, so top-1


class TestThresholdElseTopKConformance(CommitRuleConformance):
    respects_count = False  # above the threshold it commits more than the count

    def make_rule(self):
        return ThresholdElseTopKCommit(0.3)


class TestSoftmaxSampleChooserConformance(TokenChooserConformance):
    def make_chooser(self):
        return SoftmaxSampleChooser(temperature=0.8, top_k=6, top_p=0.95)


def test_softmax_sample_chooser_draws_one_multinomial_per_position():
    logits = torch.randn(2, 5, 11, generator=torch.Generator().manual_seed(0))
    chooser = SoftmaxSampleChooser(temperature=0.5, top_k=4, top_p=0.9)
    choice = chooser.choose(logits, torch.Generator().manual_seed(3))
    probs = torch.softmax(logits / 0.5, dim=-1)
    kept = probs >= probs.topk(4, dim=-1).values[..., -1:]
    assert bool(kept.gather(-1, choice.tokens[..., None]).all())  # only top-k tokens are drawn
    expected = torch.multinomial(choice.probs.reshape(-1, 11), 1, generator=torch.Generator().manual_seed(3))
    assert choice.tokens.flatten().tolist() == expected.flatten().tolist()
    greedy = SoftmaxSampleChooser().choose(logits, None)
    assert torch.equal(greedy.tokens, logits.argmax(dim=-1))


# -- registry and session --------------------------------------------------------------------

def test_both_generators_are_registered_block_generators():
    generators = get_registry().generators
    assert generators.get("bd3lm") is BD3LM and generators.get("llada2") is LLADA2
    assert isinstance(BD3LM, BlockGenerator) and BD3LM.ragged_rows and LLADA2.ragged_rows
    assert (BD3LM.roles.length, BD3LM.roles.block, BD3LM.roles.mask_id) == ("max_new_tokens", "block_size",
                                                                             "mask_token_id")
    assert (LLADA2.roles.length, LLADA2.roles.block, LLADA2.roles.mask_id) == ("gen_length", "block_length", "mask_id")


class DigitTokenizer:
    bos_token = None

    def decode(self, ids, skip_special_tokens=True):
        return " ".join(map(str, ids))


@pytest.mark.parametrize("generator", [BD3LM, LLADA2], ids=["bd3lm", "llada2"])
def test_the_session_runs_block_generators_with_roles_and_the_checkpoints_ids(generator):
    family = ModelFamily(name="block-toy", model_types=("block-toy",), default_generator=generator.name,
                         supports_kv_cache=True, supports_logits_to_keep=True)
    session = InferenceSession(model=RotaryToyLM(), tokenizer=DigitTokenizer(), special=SPECIAL, family=family,
                               generator=generator, max_length=512)
    params = session.params(roles={"length": 12, "block": 4, "steps": 6})
    assert session.answer_length(params) == 12 and getattr(params, generator.roles.mask_id) == MASK
    streamed = []
    completions = session.generate(PROMPTS, params, seed=5, callback=streamed.append)
    direct = generate_blocks(session.model, [PROMPTS[2]], preset=generator, params=params, special=SPECIAL,
                             family=family, generator=torch.Generator().manual_seed(0))
    assert len(completions) == 3 and all(len(c.token_ids) <= 12 for c in completions)
    assert all(MASK not in c.token_ids and EOS not in c.token_ids for c in completions)
    assert streamed and completions[0].nfe == streamed[-1].nfe
    greedy = session.generate([PROMPTS[2]], params, seed=123)[0].token_ids
    answer = direct.answers()[0]
    assert greedy == (answer[:answer.index(EOS)] if EOS in answer else answer)  # greedy: the seed does not matter
    block = generator.roles.block
    with pytest.raises(DllmError, match=f"generator '{generator.name}': {block} must be at least 1, got 0"):
        session.generate([PROMPTS[0]], session.params(roles={"length": 12, "block": 0}))


@pytest.mark.parametrize("generator", [BD3LM, LLADA2], ids=["bd3lm", "llada2"])
def test_block_generators_report_where_answers_start_for_the_commit_order(generator):
    """``answer_starts`` and the step callback locate every answer token at the step that wrote it
    (what GRPO's trajectory estimator reads)."""
    from dllm_core.generation.commit_order import CommitOrder

    family = ModelFamily(name="block-toy", model_types=("block-toy",), default_generator=generator.name,
                         supports_kv_cache=True, supports_logits_to_keep=True)
    session = InferenceSession(model=RotaryToyLM(), tokenizer=DigitTokenizer(), special=SPECIAL, family=family,
                               generator=generator, max_length=512)
    order, frames = CommitOrder(), []

    def record(info):
        order(info)
        frames.append((info.tokens.clone(), info.committed.clone()))

    completions = session.generate(PROMPTS, session.params(roles={"length": 12, "block": 4, "steps": 12}), seed=5,
                                   callback=record)
    for completion in completions:
        start = completion.generation.answer_starts[completion.row]
        steps = order.answer_steps(completion.row, start, len(completion.token_ids))
        for k, (token, step) in enumerate(zip(completion.token_ids, steps)):
            assert step >= 0 and frames[step][0][completion.row, start + k] == token
            assert frames[step][1][completion.row, start + k]
