"""Loop features on the toy model: batches of different lengths, infilling, guidance,
suppressed tokens, EOS early stop, streaming callback and history, LM-head slicing, logit shift."""

from __future__ import annotations

import pytest
import torch

from dllm_core.generation import DREAM, FASTDLLM, LLADA, MDLM, generate
from dllm_core.testing.generation import ToyConfig, ToyDiffusionLM, ToyOutput

MASK, EOS, PAD = 39, 38, 37


@pytest.fixture(scope="module")
def model():
    return ToyDiffusionLM()


def _calls(model, run):
    shapes = []
    hook = model.register_forward_hook(lambda m, args, out: shapes.append(tuple(args[0].shape)))
    try:
        return run(), shapes
    finally:
        hook.remove()


def test_dream_batch_rows_match_single_prompts(model):
    """Left padding + attention mask + padding-aware positions: a row's tokens do not depend on
    the other rows or on how much padding it gets."""
    params = dict(steps=6, max_new_tokens=12, alg="entropy", logit_shift=True)
    long, short = [3, 14, 15, 9, 2, 6], [5, 3, 5]
    batch = torch.tensor([long, [PAD] * 3 + short])
    mask = torch.tensor([[1] * 6, [0] * 3 + [1] * 3])
    together = generate(model, batch, preset=DREAM, attention_mask=mask, **params).sequences
    alone = [generate(model, torch.tensor([row]), preset=DREAM, **params).sequences[0] for row in (long, short)]
    assert torch.equal(together[0], alone[0]) and torch.equal(together[1, 3:], alone[1])


def test_mdlm_right_padded_rows_match_single_prompts(model):
    params = dict(steps=6, max_new_tokens=12, block_size=4)
    rows = [[3, 14, 15, 9, 2, 6], [5, 3, 5]]
    together = generate(model, rows, preset=MDLM, **params).sequences
    for index, row in enumerate(rows):
        alone = generate(model, [row], preset=MDLM, **params).sequences[0]
        assert torch.equal(together[index, : len(row) + 12], alone)
    # the same batch given as a right-padded tensor with its attention mask
    padded = torch.tensor([rows[0], rows[1] + [EOS] * 3])
    mask = torch.tensor([[1] * 6, [1] * 3 + [0] * 3])
    assert torch.equal(generate(model, padded, preset=MDLM, attention_mask=mask, **params).sequences, together)


@pytest.mark.parametrize("gen_length", [0, 4])
def test_infilling_fills_masks_inside_the_prompt(model, gen_length):
    prompt = torch.tensor([[3, MASK, MASK, 9, 2, MASK, 6, MASK]])
    out = generate(model, prompt, preset=LLADA, steps=4, gen_length=gen_length, block_length=4)
    given = prompt[0] != MASK
    assert not bool((out.sequences == MASK).any())
    assert torch.equal(out.sequences[0, :8][given], prompt[0][given])
    # blocks tile the span from the first mask (position 1): 7 + gen_length positions, i.e.
    # 2 or 3 blocks sharing the 4 steps (2 or 1 each)
    assert out.nfe == {0: 4, 4: 3}[gen_length]


def test_guidance_is_one_call_of_twice_the_batch(model):
    prompts = torch.tensor([[3, 14, 15, 9], [5, 3, 5, 8]])
    guided, shapes = _calls(model, lambda: generate(model, prompts, preset=LLADA, steps=8, gen_length=8,
                                                    block_length=8, cfg_scale=2.0))
    plain = generate(model, prompts, preset=LLADA, steps=8, gen_length=8, block_length=8)
    assert guided.nfe == 8 == len(shapes) and all(shape == (4, 12) for shape in shapes)
    assert not torch.equal(guided.sequences, plain.sequences)


def test_suppressed_eos_never_appears(model):
    biased = ToyDiffusionLM()
    with torch.no_grad():
        biased.head.bias[EOS] += 6.0  # the model now loves EOS
    prompts = torch.tensor([[3, 14, 15, 9]])
    free = generate(biased, prompts, preset=LLADA, steps=8, gen_length=8, block_length=8)
    banned = generate(biased, prompts, preset=LLADA, steps=8, gen_length=8, block_length=8,
                      logits_eos_inf=True)
    assert bool((free.sequences == EOS).any()) and not bool((banned.sequences == EOS).any())


def _mask_lover() -> ToyDiffusionLM:
    lover = ToyDiffusionLM()
    with torch.no_grad():
        lover.head.bias[MASK] += 8.0  # predicts the mask token everywhere
    return lover


def test_a_chosen_mask_token_leaves_the_position_masked():
    """LLaDA's reference: the transfer is used up, nothing is committed, the mask stays."""
    committed = []
    out = generate(_mask_lover(), torch.tensor([[3, 14, 15, 9]]), preset=LLADA, steps=4, gen_length=8,
                   block_length=8, callback=lambda info: committed.append(int(info.committed.sum())))
    assert out.nfe == 4 and committed == [0, 0, 0, 0]
    assert out.sequences[0, 4:].tolist() == [MASK] * 8


def test_suppress_mask_token_never_chooses_it():
    out = generate(_mask_lover(), torch.tensor([[3, 14, 15, 9]]), preset=LLADA, steps=4, gen_length=8,
                   block_length=8, suppress_mask_token=True)
    assert not bool((out.sequences == MASK).any())


def test_threshold_block_does_not_hang_on_the_mask_token():
    """Fast-dLLM's threshold loop never ends when its forced best token is the mask id; ours
    redoes such a step with the mask id banned, so every block still fills."""
    out = generate(_mask_lover(), torch.tensor([[3, 14, 15, 9]]), preset=FASTDLLM, steps=2, gen_length=8,
                   block_length=4, threshold=0.9)
    assert not bool((out.sequences == MASK).any()) and out.nfe <= 8


def test_masks_left_by_a_block_are_candidates_of_the_next():
    """Masks left in block 0 (mask id chosen) are filled during block 1 (ML-GSAI ``generate``
    ranks every masked position before the block's end), and block 1 then ends short."""

    class MaskFirstCall(torch.nn.Module):
        """First call: the mask id everywhere; later: token 5, more confident further left."""

        def __init__(self):
            super().__init__()
            self.inner, self.calls, self.config = ToyDiffusionLM(), 0, ToyConfig()

        def forward(self, input_ids, **kwargs):
            logits = self.inner(input_ids, **kwargs).logits
            self.calls += 1
            if self.calls == 1:
                logits[..., MASK] = 1e4
            else:
                logits[..., 5] = 20.0 - torch.arange(logits.shape[1], dtype=logits.dtype)
            return ToyOutput(logits)

    committed = []
    out = generate(MaskFirstCall(), torch.tensor([[3, 14, 15, 9]]), preset=LLADA, steps=4, gen_length=8,
                   block_length=4, callback=lambda info: committed.append(info.committed[0].nonzero().flatten().tolist()))
    assert [len(c) for c in committed] == [0, 2, 2, 2]  # block 0, step 0 chose the mask id twice
    assert all(4 <= position < 8 for position in committed[2])  # block 1 fills block 0's leftovers first
    assert (out.sequences[0] == MASK).nonzero().flatten().tolist() == [10, 11]


def test_stop_at_eos_skips_the_remaining_blocks():
    biased = ToyDiffusionLM()
    with torch.no_grad():
        biased.head.bias[EOS] += 6.0
    prompts = torch.tensor([[3, 14, 15, 9], [5, 3, 5, 8]])
    params = dict(steps=16, gen_length=32, block_length=8)
    full = generate(biased, prompts, preset=LLADA, **params)
    early = generate(biased, prompts, preset=LLADA, stop_at_eos=True, **params)
    assert full.nfe == 16 and early.nfe == 4  # every row produced EOS in the first block
    assert torch.equal(early.sequences[:, :12], full.sequences[:, :12])
    assert bool((early.sequences[:, 12:] == EOS).all())


def test_stop_at_eos_waits_for_every_row(model):
    params = dict(steps=8, gen_length=16, block_length=4)
    prompts = torch.tensor([[3, 14, 15, 9]])
    out = generate(model, prompts, preset=LLADA, stop_at_eos=True, eos_token_id=999, **params)
    assert out.nfe == 8  # no row ever produces the EOS id: nothing is skipped


def test_callback_and_history_describe_every_step(model):
    infos = []
    out = generate(model, torch.tensor([[3, 14, 15, 9]]), preset=FASTDLLM, steps=8, gen_length=8,
                   block_length=4, threshold=0.2, return_history=True,
                   callback=lambda info: infos.append((info.block, info.step, info.nfe, info.committed.clone(),
                                                       info.tokens.clone())))
    assert len(infos) == out.nfe and len(out.histories) == out.nfe + 1
    for (block, step, nfe, committed, tokens), before, after in zip(infos, out.histories, out.histories[1:]):
        assert torch.equal(committed, (before == MASK) & (after != MASK))
        assert torch.equal(tokens, after)
    assert [info[2] for info in infos] == list(range(1, out.nfe + 1))
    assert {info[0] for info in infos} == {0, 1} and infos[0][1] == 0


@pytest.mark.parametrize("preset, params", [
    (LLADA, dict(steps=8, gen_length=16, block_length=4)),
    (DREAM, dict(steps=8, max_new_tokens=16, alg="topk_margin", logit_shift=True)),
])
def test_lm_head_slicing_does_not_change_tokens(model, preset, params):
    prompts = torch.tensor([[3, 14, 15, 9, 2, 6]])
    sliced, shapes = _calls(model, lambda: generate(model, prompts, preset=preset, supports_logits_to_keep=True,
                                                    **params))
    full = generate(model, prompts, preset=preset, slice_logits=False, supports_logits_to_keep=True, **params)
    assert torch.equal(sliced.sequences, full.sequences)


def test_logit_shift_handles_a_canvas_without_prompt(model):
    """Position 0 has no left neighbour: with a shift it keeps its own output (Dream)."""
    out = generate(model, torch.tensor([[MASK, MASK, MASK]]), preset=DREAM, steps=3, max_new_tokens=3,
                   alg="maskgit_plus", logit_shift=True, supports_logits_to_keep=True)
    assert not bool((out.sequences == MASK).any()) and out.nfe == 3


def test_global_generator_is_used_without_one(model):
    params = dict(steps=8, gen_length=8, block_length=8, temperature=1.0, remasking="random")
    prompts = torch.tensor([[3, 14, 15, 9]])
    torch.manual_seed(5)
    first = generate(model, prompts, preset=LLADA, **params).sequences
    torch.manual_seed(5)
    assert torch.equal(generate(model, prompts, preset=LLADA, **params).sequences, first)
