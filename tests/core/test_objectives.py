"""Masked and block diffusion objectives, checked against exact values on toy models; time
sampling and random length checked statistically against their closed forms."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dllm_core.family import ModelFamily
from dllm_core.objectives import (
    BlockDiffusionConfig,
    BlockDiffusionObjective,
    MaskedDiffusionConfig,
    MaskedDiffusionObjective,
    bd3lm_attention_mask,
)
from dllm_core.objectives.elbo import cut_to_random_length, sample_times
from dllm_core.schedules import CosineSchedule, LinearSchedule

VOCAB, LENGTH, MASK_ID = 7, 12, 6


class TableModel(nn.Module):
    """Context-free model: the logits at position i are ``table[i]`` whatever the input.

    For such a model the masked-diffusion ELBO is tight, so the loss is an unbiased estimate of
    the exact NLL. It records the inputs it was called with.
    """

    def __init__(self, length: int = LENGTH, vocab: int = VOCAB, mask_token_id: int | None = MASK_ID):
        super().__init__()
        self.table = nn.Parameter(torch.randn(length, vocab, generator=torch.Generator().manual_seed(3)))
        self.config = SimpleNamespace(mask_token_id=mask_token_id)
        self.calls: list[dict] = []

    def forward(self, input_ids, attention_mask=None, position_ids=None):
        self.calls.append(
            {"input_ids": input_ids, "attention_mask": attention_mask, "position_ids": position_ids}
        )
        if position_ids is None:
            position_ids = torch.arange(input_ids.shape[1]).expand_as(input_ids)
        return SimpleNamespace(logits=self.table[position_ids])  # [B, L, V]

    def token_nll(self, ids: torch.Tensor, shift: bool = False) -> torch.Tensor:
        """-log p_i(ids_i) for every position, ``[B, L]``."""
        log_probs = F.log_softmax(self.table, dim=-1)  # [L, V]
        if shift:
            log_probs = torch.cat([log_probs[:1], log_probs[:-1]])
        return -log_probs.gather(1, ids.T).T


def make_batch(batch_size: int = 1, prompt: int = 3, pad: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    """Rows of ``prompt`` prompt tokens, a response, and ``pad`` padding tokens (ids < MASK_ID)."""
    ids = torch.randint(0, MASK_ID, (1, LENGTH), generator=torch.Generator().manual_seed(seed))
    ids = ids.repeat(batch_size, 1)  # [B, L]
    labels = ids.clone()
    labels[:, :prompt] = -100
    attention_mask = torch.ones_like(ids)
    if pad:
        labels[:, -pad:] = -100
        attention_mask[:, -pad:] = 0
    return {"input_ids": ids, "labels": labels, "attention_mask": attention_mask}


def draws(objective, model, batch, calls: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        return torch.stack([objective.loss(model, batch, generator=generator).loss for _ in range(calls)])


@pytest.mark.parametrize(
    "objective",
    [
        MaskedDiffusionObjective(MaskedDiffusionConfig(normalization="batch")),
        MaskedDiffusionObjective(MaskedDiffusionConfig(schedule=CosineSchedule(), normalization="batch")),
        BlockDiffusionObjective(BlockDiffusionConfig(block_size=4, normalization="batch")),
    ],
    ids=["masked-linear", "masked-cosine", "block-4"],
)
def test_schedule_weighted_loss_is_unbiased_for_exact_nll(objective) -> None:
    model, batch = TableModel(), make_batch(batch_size=256)
    maskable = batch["labels"][0] != -100
    exact = model.token_nll(batch["input_ids"][:1])[0][maskable].sum().item()
    values = draws(objective, model, batch, calls=60)
    standard_error = values.std().item() / len(values) ** 0.5
    assert abs(values.mean().item() - exact) < 4 * standard_error
    assert standard_error < 0.05 * exact  # the check above is tight enough to mean something


def test_uniform_weighting_is_not_the_bound() -> None:
    model, batch = TableModel(), make_batch(batch_size=256)
    exact = model.token_nll(batch["input_ids"][:1])[0][batch["labels"][0] != -100].sum().item()
    objective = MaskedDiffusionObjective(MaskedDiffusionConfig(weighting="uniform", normalization="batch"))
    values = draws(objective, model, batch, calls=20)
    # E[#masked] = E[t] * n: half the NLL on average
    assert abs(values.mean().item() - 0.5 * exact) < 0.05 * exact


def test_loss_at_is_exact() -> None:
    model, batch = TableModel(), make_batch(batch_size=2)
    masked = torch.zeros(2, LENGTH, dtype=torch.bool)
    masked[0, [3, 4, 7]] = True
    masked[1, [5]] = True
    t = torch.tensor([0.25, 0.8])
    out = MaskedDiffusionObjective().loss_at(model, batch, t=t, masked=masked)
    nll = model.token_nll(batch["input_ids"])
    expected = (nll[0, [3, 4, 7]].sum() / 0.25 + nll[1, 5] / 0.8) / (2 * 7)  # 7 maskable per row
    torch.testing.assert_close(out.loss, expected)
    torch.testing.assert_close(out.metrics["nll_bound"], expected)
    torch.testing.assert_close(out.metrics["ppl_bound"], expected.exp())
    assert out.metrics["num_tokens"].item() == 14
    seen = model.calls[-1]["input_ids"]
    assert torch.equal(seen[masked], torch.full((4,), MASK_ID))
    assert torch.equal(seen[~masked], batch["input_ids"][~masked])


def test_loss_at_rejects_masking_prompt() -> None:
    batch = make_batch(batch_size=1)
    masked = torch.zeros(1, LENGTH, dtype=torch.bool)
    masked[0, 0] = True  # a prompt position
    with pytest.raises(ValueError, match="-100"):
        MaskedDiffusionObjective().loss_at(TableModel(), batch, t=torch.tensor([0.5]), masked=masked)


def test_normalization_modes() -> None:
    model = TableModel()
    batch = make_batch(batch_size=3, prompt=3, pad=0)
    batch["labels"][1, 3:9] = -100  # row counts n_b: 9, 3, 9
    batch["labels"][2, 3:] = -100  # row 2 has nothing maskable: n_b = 0
    masked = torch.zeros(3, LENGTH, dtype=torch.bool)
    masked[0, [3, 4]] = True
    masked[1, [10]] = True
    t = torch.tensor([0.5, 0.25, 0.5])
    nll = model.token_nll(batch["input_ids"])
    row = torch.stack([(nll[0, 3] + nll[0, 4]) / 0.5, nll[1, 10] / 0.25])  # weighted sums
    expected = {
        "token": row.sum() / 12,
        "sequence": (row[0] / 9 + row[1] / 3) / 2,  # the empty row is left out
        "batch": row.sum() / 3,
    }
    losses = {}
    for mode, value in expected.items():
        out = MaskedDiffusionObjective(MaskedDiffusionConfig(normalization=mode)).loss_at(
            model, batch, t=t, masked=masked
        )
        torch.testing.assert_close(out.loss, value)
        torch.testing.assert_close(out.metrics["nll_bound"], expected["token"])  # always token-normalised
        losses[mode] = out.loss.item()
    assert len({round(v, 6) for v in losses.values()}) == 3


def test_uniform_weighting_drops_schedule_weight() -> None:
    model, batch = TableModel(), make_batch(batch_size=1)
    masked = torch.zeros(1, LENGTH, dtype=torch.bool)
    masked[0, [4, 5]] = True
    objective = MaskedDiffusionObjective(MaskedDiffusionConfig(weighting="uniform"))
    out = objective.loss_at(model, batch, t=torch.tensor([0.2]), masked=masked)
    nll = model.token_nll(batch["input_ids"])[0, [4, 5]].sum()
    torch.testing.assert_close(out.loss, nll / 7)
    torch.testing.assert_close(out.metrics["nll_bound"], nll / 0.2 / 7)


def test_prompt_and_padding_ids_never_change_the_loss() -> None:
    model, batch = TableModel(), make_batch(batch_size=8)
    changed = {k: v.clone() for k, v in batch.items()}
    never = batch["labels"] == -100
    changed["input_ids"][never] = (changed["input_ids"][never] + 1) % MASK_ID
    objective = MaskedDiffusionObjective()
    first = draws(objective, model, batch, calls=5, seed=7)
    second = draws(objective, model, changed, calls=5, seed=7)
    torch.testing.assert_close(first, second)


def test_prompt_and_padding_are_never_masked() -> None:
    model, batch = TableModel(), make_batch(batch_size=64)
    objective = MaskedDiffusionObjective(MaskedDiffusionConfig(schedule=LinearSchedule()))
    draws(objective, model, batch, calls=10)
    never = batch["labels"] == -100
    seen_masked = torch.zeros_like(never)
    for call in model.calls:
        assert torch.equal(call["input_ids"][never], batch["input_ids"][never])
        seen_masked |= call["input_ids"] == MASK_ID
    assert seen_masked[~never].all()  # every maskable position was masked at least once
    assert torch.equal(model.calls[0]["attention_mask"], batch["attention_mask"])


def _shift_case(objective, family=None):
    model, batch = TableModel(), make_batch(batch_size=1, prompt=1, pad=0)
    masked = torch.zeros(1, LENGTH, dtype=torch.bool)
    masked[0, [1, 6]] = True
    out = objective.loss_at(model, batch, family, t=torch.tensor([0.5]), masked=masked)
    return model, batch, out


def test_logit_shift_reads_previous_position() -> None:
    model, batch, out = _shift_case(MaskedDiffusionObjective(MaskedDiffusionConfig(logit_shift=True)))
    shifted = model.token_nll(batch["input_ids"], shift=True)[0, [1, 6]].sum() / 0.5 / 11
    unshifted = model.token_nll(batch["input_ids"])[0, [1, 6]].sum() / 0.5 / 11
    torch.testing.assert_close(out.loss, shifted)
    assert not torch.isclose(out.loss, unshifted)


def test_logit_shift_position_zero_keeps_its_own() -> None:
    model, batch = TableModel(), make_batch(batch_size=1, prompt=0, pad=0)
    masked = torch.zeros(1, LENGTH, dtype=torch.bool)
    masked[0, 0] = True
    objective = MaskedDiffusionObjective(MaskedDiffusionConfig(logit_shift=True))
    out = objective.loss_at(model, batch, t=torch.tensor([1.0]), masked=masked)
    torch.testing.assert_close(out.loss, model.token_nll(batch["input_ids"])[0, 0] / LENGTH)


def test_logit_shift_follows_family_unless_configured() -> None:
    dream_like = ModelFamily(name="dream-like", logit_shift=True)
    model, batch, from_family = _shift_case(MaskedDiffusionObjective(), dream_like)
    shifted = model.token_nll(batch["input_ids"], shift=True)[0, [1, 6]].sum() / 0.5 / 11
    torch.testing.assert_close(from_family.loss, shifted)
    forced = MaskedDiffusionObjective(MaskedDiffusionConfig(logit_shift=False))
    _, _, forced_off = _shift_case(forced, dream_like)
    _, _, no_family = _shift_case(MaskedDiffusionObjective())
    torch.testing.assert_close(forced_off.loss, no_family.loss)
    assert not torch.isclose(forced_off.loss, from_family.loss)


def test_mask_token_from_batch_overrides_config() -> None:
    model, batch = TableModel(mask_token_id=None), make_batch(batch_size=2)
    with pytest.raises(ValueError, match="mask token id"):
        MaskedDiffusionObjective().loss(model, batch)
    batch["mask_token_id"] = torch.tensor([5, 5])
    MaskedDiffusionObjective().loss(model, batch, generator=torch.Generator().manual_seed(0))
    seen = model.calls[-1]["input_ids"]
    assert (seen[batch["input_ids"] != seen] == 5).all()
    batch["mask_token_id"] = torch.tensor([5, 4])
    with pytest.raises(ValueError, match="single id"):
        MaskedDiffusionObjective().loss(model, batch)


def test_config_reached_through_data_parallel_wrapper() -> None:
    class Wrapper(nn.Module):  # like DistributedDataParallel: no config, model in .module
        def __init__(self, module):
            super().__init__()
            self.module = module

        def forward(self, **kwargs):
            return self.module(**kwargs)

    out = MaskedDiffusionObjective().loss(Wrapper(TableModel()), make_batch(batch_size=2))
    assert torch.isfinite(out.loss)


def test_loss_backpropagates_to_the_model() -> None:
    model = TableModel()
    generator = torch.Generator().manual_seed(1)
    out = MaskedDiffusionObjective().loss(model, make_batch(batch_size=4), generator=generator)
    out.loss.backward()
    assert model.table.grad is not None and model.table.grad.abs().sum() > 0
    assert model.table.grad[:3].abs().sum() == 0  # prompt positions carry no loss


@pytest.mark.parametrize("field, value", [("eps", 1.0), ("weighting", "elbo"), ("normalization", "tokens")])
def test_config_validation(field: str, value) -> None:
    with pytest.raises(ValueError, match=field):
        MaskedDiffusionConfig(**{field: value})


# -- block diffusion ---------------------------------------------------------------------------


def slow_bd3lm_mask(length: int, block_size: int, shift: int = 0) -> torch.Tensor:
    """The BD3LM mask written out position by position (position i in block (i + shift) // size)."""
    mask = torch.zeros(2 * length, 2 * length, dtype=torch.bool)
    for q in range(2 * length):
        for k in range(2 * length):
            q_clean, k_clean = q >= length, k >= length
            q_block, k_block = (q % length + shift) // block_size, (k % length + shift) // block_size
            if not q_clean and not k_clean:
                mask[q, k] = q_block == k_block
            elif not q_clean and k_clean:
                mask[q, k] = k_block < q_block
            elif q_clean and k_clean:
                mask[q, k] = k_block <= q_block
    return mask


@pytest.mark.parametrize("length, block_size", [(1, 1), (4, 1), (6, 2), (8, 4), (8, 8), (10, 4), (7, 3)])
@pytest.mark.parametrize("shift", [0, 1, 2])
def test_bd3lm_mask_matches_slow_construction(length: int, block_size: int, shift: int) -> None:
    shift = shift % block_size
    expected = slow_bd3lm_mask(length, block_size, shift)
    assert torch.equal(bd3lm_attention_mask(length, block_size, shift=shift), expected)


@pytest.mark.parametrize("answer_starts_block", [True, False])
def test_each_row_answer_starts_a_block_of_its_own_grid(answer_starts_block: bool) -> None:
    """Rows with prompts of 3, 4, 5 and 0 tokens: with ``answer_starts_block`` every answer starts
    a block (the grid shifted by (-prompt) mod 4, as bd3lm sampling lays it out), without it the
    blocks run from position 0; the model gets each row's own block-causal mask."""
    rows = [make_batch(prompt=prompt, pad=0) for prompt in (3, 4, 5, 0)]
    batch = {key: torch.cat([row[key] for row in rows]) for key in rows[0]}
    objective = BlockDiffusionObjective(BlockDiffusionConfig(block_size=4, answer_starts_block=answer_starts_block))
    block = objective.blocks(batch["labels"])
    model = TableModel()
    objective.loss(model, batch, generator=torch.Generator().manual_seed(0))
    allowed = model.calls[-1]["attention_mask"][:, 0] == 0  # [B, 2L, 2L]
    for row, prompt in enumerate((3, 4, 5, 0)):
        shift = (-prompt) % 4 if answer_starts_block else 0
        assert torch.equal(block[row], (torch.arange(LENGTH) + shift) // 4)
        if answer_starts_block and prompt:
            assert block[row, prompt] == block[row, prompt - 1] + 1  # the answer opens a new block
        assert torch.equal(allowed[row], slow_bd3lm_mask(LENGTH, 4, shift))
    assert objective.num_blocks(batch["labels"]) == (4 if answer_starts_block else 3)


@pytest.mark.parametrize("field, value", [("block_size", 0), ("answer_starts_block", "False")])
def test_block_config_validation(field: str, value) -> None:
    with pytest.raises(ValueError, match=field):
        BlockDiffusionConfig(**{field: value})


def test_bd3lm_model_call_contract() -> None:
    model, batch = TableModel(), make_batch(batch_size=2, pad=2)
    BlockDiffusionObjective(BlockDiffusionConfig(block_size=4)).loss(model, batch)
    call = model.calls[-1]
    assert call["input_ids"].shape == (2, 2 * LENGTH)
    assert torch.equal(call["input_ids"][:, LENGTH:], batch["input_ids"])
    assert torch.equal(call["position_ids"], torch.arange(LENGTH).repeat(2).expand(2, -1))
    mask = call["attention_mask"]
    assert mask.shape == (2, 1, 2 * LENGTH, 2 * LENGTH) and mask.dtype == torch.float32
    allowed = mask == 0
    assert torch.equal(allowed | (mask == torch.finfo(torch.float32).min), torch.ones_like(allowed))
    padding_keys = torch.cat([batch["attention_mask"], batch["attention_mask"]], dim=1) == 0  # [B, 2L]
    assert not allowed[:, 0][padding_keys[:, None, :].expand(-1, 2 * LENGTH, -1)].any()
    expected = bd3lm_attention_mask(LENGTH, 4, shift=1)[None] & ~padding_keys[:, None, :]  # prompt 3: shift 1
    assert torch.equal(allowed[:, 0], expected)


def test_block_diffusion_with_one_block_equals_masked_diffusion() -> None:
    model, batch = TableModel(), make_batch(batch_size=2)
    masked = torch.zeros(2, LENGTH, dtype=torch.bool)
    masked[0, [3, 8]] = True
    masked[1, [4, 5, 6]] = True
    t = torch.tensor([0.3, 0.6])
    one_block = BlockDiffusionConfig(block_size=LENGTH, answer_starts_block=False)  # from position 0
    block = BlockDiffusionObjective(one_block).loss_at(
        model, batch, t=t[:, None], masked=masked
    )
    masked_diffusion = MaskedDiffusionObjective().loss_at(model, batch, t=t, masked=masked)
    torch.testing.assert_close(block.loss, masked_diffusion.loss)


def test_block_diffusion_weights_each_block_by_its_own_time() -> None:
    model, batch = TableModel(), make_batch(batch_size=1, prompt=0, pad=0)
    masked = torch.zeros(1, LENGTH, dtype=torch.bool)
    masked[0, [1, 5, 9]] = True  # one position in each block of 4
    t = torch.tensor([[0.2, 0.5, 1.0]])
    objective = BlockDiffusionObjective(BlockDiffusionConfig(block_size=4))
    out = objective.loss_at(model, batch, t=t, masked=masked)
    nll = model.token_nll(batch["input_ids"])[0]
    torch.testing.assert_close(out.loss, (nll[1] / 0.2 + nll[5] / 0.5 + nll[9] / 1.0) / LENGTH)


def test_block_diffusion_refuses_shifted_families() -> None:
    with pytest.raises(ValueError, match="shifted"):
        dream = ModelFamily(name="dream", logit_shift=True)
        BlockDiffusionObjective().loss(TableModel(), make_batch(), dream)


def test_block_diffusion_attention_reaches_a_transformers_model() -> None:
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(
        vocab_size=VOCAB, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=32, is_causal=False, mask_token_id=MASK_ID,
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config).eval()
    logits = []
    model.register_forward_hook(lambda module, args, output: logits.append(output.logits[:, :8]))
    objective = BlockDiffusionObjective(BlockDiffusionConfig(block_size=4))
    masked = torch.zeros(1, 8, dtype=torch.bool)
    masked[0, 4:] = True  # x_t block 1 is all masks whatever x_0 holds there
    ids = torch.tensor([[0, 1, 2, 3, 4, 5, 0, 1]])
    later_clean = ids.clone()
    later_clean[0, 4:] = torch.tensor([3, 3, 3, 3])  # changes only x_0 block 1
    earlier_clean = ids.clone()
    earlier_clean[0, 0] = 5  # changes x_0 block 0 (and x_t block 0)
    with torch.no_grad():
        for x in (ids, later_clean, earlier_clean):
            batch = {"input_ids": x, "labels": x}
            objective.loss_at(model, batch, t=torch.tensor([[0.5, 1.0]]), masked=masked)
    base, later, earlier = logits
    torch.testing.assert_close(later, base)  # no x_t block sees x_0 block 1
    assert not torch.allclose(earlier[:, 4:], base[:, 4:])  # x_t block 1 sees x_0 block 0


# -- time sampling and random length -------------------------------------------------------------


@pytest.mark.parametrize("config_class", [MaskedDiffusionConfig, BlockDiffusionConfig])
@pytest.mark.parametrize("eps", [0.0, -1e-3, 1.0, 1.5])
def test_eps_outside_the_open_unit_interval_is_refused(config_class, eps: float) -> None:
    with pytest.raises(ValueError, match=r"eps must lie in \(0, 1\).*w\(t\) is infinite"):
        config_class(eps=eps)


@pytest.mark.parametrize("field, value", [("time_sampling", "antithetic"), ("random_length_ratio", 1.5),
                                          ("random_length_ratio", -0.01)])
def test_time_sampling_and_random_length_are_validated(field: str, value) -> None:
    with pytest.raises(ValueError, match=field):
        MaskedDiffusionConfig(**{field: value})


def unit_draws(sampling: str, batch: int, seed: int) -> torch.Tensor:
    """The s in [0, 1) behind ``sample_times``'s t = eps + (1 - eps) s."""
    eps = 1e-3
    t = sample_times((batch,), eps, torch.device("cpu"), torch.Generator().manual_seed(seed), sampling)
    return (t.double() - eps) / (1 - eps)


@pytest.mark.parametrize("sampling", ["low-discrepancy", "stratified"])
def test_spread_times_put_one_draw_in_each_interval(sampling: str) -> None:
    for seed in range(50):
        s = unit_draws(sampling, 8, seed)
        assert sorted((s * 8).floor().long().tolist()) == list(range(8)), s


def test_low_discrepancy_times_are_one_uniform_shifted_by_i_over_b() -> None:
    s = unit_draws("low-discrepancy", 5, seed=3)
    u = torch.rand((1,), generator=torch.Generator().manual_seed(3)).double()
    torch.testing.assert_close(s, torch.remainder(u + torch.arange(5) / 5, 1.0), rtol=0, atol=1e-6)


def test_spread_times_lower_the_variance_of_the_batch_mean() -> None:
    batch, batches = 8, 3000
    variance = {sampling: torch.stack([unit_draws(sampling, batch, seed).mean() for seed in range(batches)]).var().item()
                for sampling in ("iid", "low-discrepancy", "stratified")}
    # closed forms: 1 / (12 B), 1 / (12 B^2), 1 / (12 B^3)
    assert abs(variance["iid"] - 1 / (12 * batch)) < 0.15 / (12 * batch)
    assert abs(variance["low-discrepancy"] - 1 / (12 * batch**2)) < 0.15 / (12 * batch**2)
    assert variance["low-discrepancy"] < variance["iid"] / 4  # expected ratio B = 8
    assert variance["stratified"] < variance["low-discrepancy"] / 4


@pytest.mark.parametrize("objective_class, config_class", [(MaskedDiffusionObjective, MaskedDiffusionConfig),
                                                           (BlockDiffusionObjective, BlockDiffusionConfig)])
@pytest.mark.parametrize("sampling", ["iid", "low-discrepancy", "stratified"])
def test_objectives_mask_at_the_times_of_their_sampling(objective_class, config_class, sampling: str) -> None:
    """With the linear schedule a row (a block) masked at time t masks about a share t of its tokens."""
    length, batch = (3000 if config_class is MaskedDiffusionConfig else 1200), 4  # block: [B, 2L, 2L] masks
    model = TableModel(length=length)
    ids = torch.randint(0, MASK_ID, (batch, length), generator=torch.Generator().manual_seed(0))
    extra = {"block_size": length} if config_class is BlockDiffusionConfig else {}
    objective = objective_class(config_class(time_sampling=sampling, **extra))
    out = objective.loss(model, {"input_ids": ids, "labels": ids}, generator=torch.Generator().manual_seed(9))
    shape = (batch,) if config_class is MaskedDiffusionConfig else (batch, 1)
    t = sample_times(shape, 1e-3, torch.device("cpu"), torch.Generator().manual_seed(9), sampling).flatten()
    masked_share = (model.calls[-1]["input_ids"][:, :length] == MASK_ID).double().mean(dim=1)
    assert (masked_share - t).abs().max() < 0.05, (masked_share, t)  # binomial sd <= 0.015
    assert torch.isfinite(out.loss)


def test_spread_times_are_not_the_iid_ones() -> None:
    draws = {s: unit_draws(s, 4, seed=9) for s in ("iid", "low-discrepancy", "stratified")}
    assert not torch.allclose(draws["iid"], draws["low-discrepancy"])
    assert not torch.allclose(draws["iid"], draws["stratified"])


def test_random_length_applies_at_its_rate_and_keeps_lengths_in_range() -> None:
    batch = make_batch(batch_size=2, prompt=0, pad=0)
    generator = torch.Generator().manual_seed(0)
    trials, cut_lengths = 30000, []
    for _ in range(trials):
        out = cut_to_random_length(batch, 0.01, generator)
        if out is not batch:
            cut_lengths.append(int(out["attention_mask"][0].sum()))
    assert 240 <= len(cut_lengths) <= 360  # 300 expected, sd 17
    assert min(cut_lengths) >= 1 and max(cut_lengths) <= LENGTH


def test_random_length_is_uniform_over_one_to_l_and_cuts_logically() -> None:
    batch = make_batch(batch_size=2, prompt=3, pad=2)
    generator = torch.Generator().manual_seed(1)
    counts = torch.zeros(LENGTH + 1, dtype=torch.long)
    for _ in range(1200):
        out = cut_to_random_length(batch, 1.0, generator)
        n = int((out["attention_mask"][0] == 1).nonzero().max()) + 1 if out["attention_mask"][0].any() else 0
        kept = torch.arange(LENGTH) < n
        counts[n] += 1
        assert torch.equal(out["input_ids"], batch["input_ids"])  # shapes and ids stay
        assert torch.equal(out["labels"][:, kept], batch["labels"][:, kept])
        assert (out["labels"][:, ~kept] == -100).all() and (out["attention_mask"][:, ~kept] == 0).all()
        assert torch.equal(out["attention_mask"][:, kept], batch["attention_mask"][:, kept])
    # the row's last attended position after the cut: min(n, 10) (2 padding positions at the end)
    assert counts[0] == 0 and counts[11:].sum() == 0
    assert 200 <= counts[10] <= 400  # n in {10, 11, 12}: 300 expected
    assert all(60 <= int(c) <= 140 for c in counts[1:10])  # 100 expected each


def test_random_length_builds_an_attention_mask_and_draws_nothing_when_off() -> None:
    ids = torch.arange(LENGTH)[None]
    out = cut_to_random_length({"input_ids": ids, "labels": ids}, 1.0, torch.Generator().manual_seed(2))
    n = int(out["attention_mask"].sum())
    assert 1 <= n <= LENGTH and out["attention_mask"][0, :n].all() and (out["labels"][0, n:] == -100).all()
    generator = torch.Generator().manual_seed(3)
    state = generator.get_state()
    batch = {"input_ids": ids, "labels": ids}
    assert cut_to_random_length(batch, 0.0, generator) is batch
    assert torch.equal(generator.get_state(), state)


@pytest.mark.parametrize("objective", [
    MaskedDiffusionObjective(MaskedDiffusionConfig(random_length_ratio=1.0)),
    BlockDiffusionObjective(BlockDiffusionConfig(block_size=4, random_length_ratio=1.0)),
], ids=["masked", "block"])
def test_objectives_train_on_the_cut_batch_with_a_finite_loss(objective) -> None:
    model, batch = TableModel(), make_batch(batch_size=3, prompt=3, pad=0)
    generator = torch.Generator().manual_seed(4)
    for _ in range(40):
        out = objective.loss(model, batch, generator=generator)
        assert torch.isfinite(out.loss) and torch.isfinite(out.metrics["nll_bound"])
        call = model.calls[-1]
        attention = call["attention_mask"]
        if attention.dim() == 4:  # block diffusion: additive [B, 1, 2L, 2L]; keys anyone may attend to
            attention = (attention[:, 0] == 0).any(dim=1)  # [B, 2L] = [x_t keys ; x_0 keys]
            attention = attention[:, :LENGTH] & attention[:, LENGTH:]
        n = int(attention[0].sum())
        assert 1 <= n <= LENGTH and (attention[:, :n] == 1).all() and (attention[:, n:] == 0).all()
        noisy = call["input_ids"][:, :LENGTH]
        assert not (noisy[:, n:] == MASK_ID).any()  # cut positions are never masked
        assert not (noisy[:, :3] == MASK_ID).any()  # nor the prompt
