"""A checkpoint trained with block diffusion is scored and sampled as one: the block-diffusion
bound (block-causal ``[x_t ; x_0]`` forward, per-block mask counts), the block generator from its
``dllm.json``, and one clear error when its files disagree on the block size."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dllm_core.checkpoint import CheckpointInfo, save_checkpoint
from dllm_core.data.tokenizer import build_char_tokenizer
from dllm_core.errors import DllmError
from dllm_core.evaluation.lm_adapter import likelihood_blocks
from dllm_core.evaluation.loglikelihood import ElboConfig, is_greedy, negative_elbo
from dllm_core.registry import get_registry
from dllm_core.session import InferenceSession, plan_session
from dllm_llada.configuration_llada import LLaDAConfig
from dllm_llada.family import LLADA, PRESETS
from dllm_llada.modeling_llada import LLaDAModelLM

BLOCK = {"name": "block-diffusion", "block_size": 4}


def _model() -> tuple[LLaDAModelLM, object]:
    torch.manual_seed(0)
    tokenizer = build_char_tokenizer()
    config = LLaDAConfig(**{**PRESETS["tiny"], "d_model": 32, "n_heads": 2, "n_kv_heads": 2, "n_layers": 2,
                            "mlp_hidden_size": 64, "vocab_size": len(tokenizer),
                            "mask_token_id": tokenizer.mask_token_id, "eos_token_id": tokenizer.eos_token_id,
                            "pad_token_id": tokenizer.pad_token_id})
    return LLaDAModelLM(config).eval(), tokenizer


@pytest.fixture(scope="module")
def block_checkpoint(tmp_path_factory) -> Path:
    model, tokenizer = _model()
    info = CheckpointInfo(family="llada", objective=BLOCK,
                          generator={"preset": "bd3lm", "steps": 8, "max_new_tokens": 8, "block_size": 4})
    return save_checkpoint(model, tokenizer, tmp_path_factory.mktemp("block") / "ckpt", info)


def _elbo(model, block_size, seed=0, mc_num=16, answer_starts_block=True):
    context, continuation = torch.tensor([5, 6, 7, 8, 9]), torch.tensor([10, 11, 12, 13, 14, 15, 16])
    config = ElboConfig(mask_token_id=model.config.mask_token_id, mc_num=mc_num, batch_size=8, block_size=block_size,
                        answer_starts_block=answer_starts_block)
    return negative_elbo(model, context, continuation, config, torch.Generator().manual_seed(seed))


def test_one_block_over_everything_is_the_masked_diffusion_bound():
    """With a single block, x_t attends only to itself: the same draws and logits as the plain
    bound, so the same number (a real check of the block layout, positions and weights)."""
    model, _ = _model()
    single = _elbo(model, block_size=64, answer_starts_block=False)  # one block from position 0
    assert single == pytest.approx(_elbo(model, block_size=None), rel=1e-5)


def test_block_bound_conditions_each_block_on_the_clean_earlier_ones():
    """Changing the last block's tokens leaves every earlier block's logits as they were (it is
    never seen by them), while the bidirectional bound's logits change everywhere."""
    from dllm_core.evaluation.loglikelihood import block_continuation_logits, continuation_logits

    model, _ = _model()
    mask = model.config.mask_token_id
    first = torch.tensor([5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
    second = first.clone()
    second[8:] = torch.tensor([20, 21, 22])  # positions 8..10: block 2
    noisy = [s.clone() for s in (first, second)]
    for row in noisy:
        row[[5, 6, 9]] = mask
    with torch.no_grad():
        blocked = [block_continuation_logits(model, row[None], clean, 5, 4)[0] for row, clean in zip(noisy, (first, second))]
        plain = [continuation_logits(model, row[None], 5, ElboConfig(mask_token_id=mask))[0] for row in noisy]
    assert torch.equal(blocked[0][:3], blocked[1][:3])  # positions 5..7 (blocks 1): unaffected
    assert not torch.allclose(blocked[0][3:], blocked[1][3:])
    assert not torch.allclose(plain[0][:3], plain[1][:3])
    assert _elbo(model, block_size=4) == _elbo(model, block_size=4)  # seeded by the generator given


@pytest.mark.parametrize("answer_starts_block", [False, True])
def test_block_greedy_check_reads_the_blockwise_argmax(answer_starts_block):
    model, _ = _model()
    context = torch.tensor([5, 6, 7, 8, 9])
    config = ElboConfig(mask_token_id=model.config.mask_token_id, block_size=4, answer_starts_block=answer_starts_block)
    shift = 3 if answer_starts_block else 0  # (-5) mod 4: the continuation starts block 2
    greedy = []
    canvas = torch.cat([context, torch.full((3,), model.config.mask_token_id)])
    for position in range(5, 8):  # positions 5..7 share a block on both grids: all masked at once
        noisy = canvas.clone()
        clean = torch.cat([context, torch.tensor(greedy + [0] * (3 - len(greedy)))])
        logits = model(torch.cat([noisy, clean])[None], attention_mask=_bd3lm_mask(8, 4, shift),
                       position_ids=torch.arange(8).repeat(2)[None]).logits[0]
        greedy = logits[5:8].argmax(-1).tolist()
    assert is_greedy(model, context, torch.tensor(greedy), config)
    assert not is_greedy(model, context, torch.tensor([(g + 1) % 50 for g in greedy]), config)


def test_the_continuation_starts_a_block_on_the_trained_grid():
    """With ``answer_starts_block`` a continuation after 5 context tokens is cut into blocks
    from its own start (positions 5..8, 9..10 for blocks of 4), as BD3LM sampling lays it out;
    without it, from position 0 (5..7, 8..10). Each draw masks a count of every block."""
    from dllm_core.evaluation.loglikelihood import block_mask_draw

    for shift, blocks in ((3, [(0, 4), (4, 6)]), (0, [(0, 3), (3, 6)])):
        masked, weight = block_mask_draw(5, 11, 4, 64, torch.Generator().manual_seed(0), shift)
        for lo, hi in blocks:
            counts = masked[:, lo:hi].sum(dim=1)
            assert bool((counts >= 1).all()) and set(counts.tolist()) == set(range(1, hi - lo + 1))
            assert torch.allclose(weight[:, lo:hi], ((hi - lo) / counts.float())[:, None].expand(-1, hi - lo))
    model, _ = _model()
    assert _elbo(model, block_size=4) != _elbo(model, block_size=4, answer_starts_block=False)


def _bd3lm_mask(length, block, shift=0):
    from dllm_core.objectives.block_diffusion import bd3lm_attention_mask

    return bd3lm_attention_mask(length, block, shift=shift)[None, None]


def test_a_block_checkpoint_is_scored_and_sampled_with_its_blocks(block_checkpoint):
    plan = plan_session(block_checkpoint)
    assert plan.generator.name == "bd3lm"
    assert likelihood_blocks(plan.family, plan.info) == {"block_size": 4, "answer_starts_block": True}
    assert likelihood_blocks(LLADA, None) == {"block_size": None}  # the masked-diffusion bound by default
    session = InferenceSession.load(plan)
    [completion] = session.complete(["1234"], session.params())
    assert completion.nfe > 0 and len(completion.token_ids) <= 8


def test_block_size_disagreement_is_one_clear_error(tmp_path):
    model, tokenizer = _model()
    info = CheckpointInfo(family="llada", objective=BLOCK, generator={"preset": "bd3lm", "block_size": 8})
    folder = save_checkpoint(model, tokenizer, tmp_path / "mixed", info)
    with pytest.raises(DllmError, match=r"block size is not the same everywhere \(dllm.json objective.block_size "
                                        r"= 4, dllm.json generator.block_size = 8\)"):
        plan_session(folder)
    assert get_registry().generators.get("bd3lm").roles.block == "block_size"
