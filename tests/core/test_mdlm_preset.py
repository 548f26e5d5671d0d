"""The ``mdlm`` preset against dllm's ``MDLMSampler.sample`` written out step by step.

:func:`reference_sample` is an independent, loop-by-loop statement of the reference algorithm
(ZHZisZZ/dllm ``dllm/core/samplers/mdlm.py`` and ``get_num_transfer_tokens`` of ``utils.py``): it
shares no code with the engine. On the toy model the preset must give exactly its canvas for
every option, including seeded sampling (the reference draws from torch's global generator, so
both runs start from the same ``torch.manual_seed``). The prompt forms (list, left-padded tensor
with or without an attention mask), the empty-prompt BOS rule and ``cfg_keep_tokens`` are checked
on their own too.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import pytest
import torch

from dllm_core.generation import MDLM, generate
from dllm_core.testing.generation import ToyDiffusionLM

MASK, EOS, PAD, BOS = 39, 38, 37, 36


class RecordingToy(ToyDiffusionLM):
    """The toy model, remembering the ``input_ids`` of every call."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[torch.Tensor] = []

    def forward(self, input_ids, *args: Any, **kwargs: Any):
        self.inputs.append(input_ids.clone())
        return super().forward(input_ids, *args, **kwargs)


@pytest.fixture(scope="module")
def model() -> ToyDiffusionLM:
    return ToyDiffusionLM()


def linear_step_counts(masked: int, steps: int) -> list[int]:
    """The reference's per-step reveal counts of one row (linear alpha), zero steps dropped.

    Step j goes from t = (S - j) / S to s = (S - j - 1) / S; the still-masked ratio
    (1 - alpha(s)) / (1 - alpha(t)) is taken in float32, the count round(n_left * (1 - ratio)) in
    float64 with ties to even.
    """
    counts = []
    for j in range(steps):
        t = torch.tensor((steps - j) / steps, dtype=torch.float32)
        s = torch.tensor((steps - j - 1) / steps, dtype=torch.float32)
        still_masked = ((1 - (1 - s)) / (1 - (1 - t))).item()
        count = min(int(torch.round(torch.tensor(masked, dtype=torch.float64) * (1 - still_masked))), masked)
        counts.append(count)
        masked -= count
        if masked == 0:
            break
    return [count for count in counts if count > 0]


def reference_sample(
    model: Any,
    prompts: Sequence[Sequence[int]],
    *,
    steps: int,
    max_new_tokens: int,
    block_size: int,
    temperature: float = 0.0,
    remasking: str = "low_confidence",
    cfg_scale: float = 0.0,
    cfg_keep_tokens: Sequence[int] | None = None,
    suppress_tokens: Sequence[int] | None = None,
    begin_suppress_tokens: Sequence[int] | None = None,
    right_shift_logits: bool = False,
) -> torch.Tensor:
    """dllm ``MDLMSampler.sample`` on list prompts, one plain loop per row where it has one."""
    if right_shift_logits:
        prompts = [list(p) if len(p) else [BOS] for p in prompts]
    lengths = [len(p) for p in prompts]
    batch, width = len(prompts), max(lengths) + max_new_tokens
    x = torch.full((batch, width), EOS, dtype=torch.long)
    attention = torch.zeros((batch, width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        x[row, : len(prompt)] = torch.tensor(prompt, dtype=torch.long)
        x[row, len(prompt): len(prompt) + max_new_tokens] = MASK
        attention[row, : len(prompt) + max_new_tokens] = 1
    hidden = (x != MASK) & attention.bool()  # what the unconditional pass masks
    for token in cfg_keep_tokens or ():
        hidden &= x != token
    blocks = math.ceil(max_new_tokens / block_size)
    steps_per_block = math.ceil(steps / blocks)
    for b in range(blocks):
        counts = []
        for row in range(batch):
            start = lengths[row] + b * block_size
            end = min(start + block_size, lengths[row] + max_new_tokens)
            counts.append(linear_step_counts(int((x[row, start:end] == MASK).sum()), steps_per_block))
        for i in range(max(len(c) for c in counts)):
            masked = x == MASK
            if cfg_scale > 0:
                unconditional = x.masked_fill(hidden, MASK)
                both = model(torch.cat([x, unconditional]), attention_mask=attention.repeat(2, 1)).logits
                cond, uncond = both[:batch], both[batch:]
                logits = uncond + (cfg_scale + 1) * (cond - uncond)
            else:
                logits = model(x, attention_mask=attention).logits
            for token in suppress_tokens or ():
                logits[:, :, token] = -torch.inf
            if right_shift_logits:
                logits = torch.cat([logits[:, :1], logits[:, :-1]], dim=1)
            if temperature > 0:
                noise = torch.rand_like(logits, dtype=torch.float64)
                chosen = (logits.double().exp() / (-torch.log(noise)) ** temperature).argmax(dim=-1)
            else:
                chosen = logits.argmax(dim=-1)
            for token in begin_suppress_tokens or ():
                logits[:, :, token] = -torch.inf
            if remasking == "low_confidence":
                confidence = torch.softmax(logits, dim=-1).gather(-1, chosen[..., None])[..., 0]
            else:
                confidence = torch.rand((batch, width))
            for row in range(batch):
                confidence[row, lengths[row] + (b + 1) * block_size:] = -torch.inf
            confidence = torch.where(masked, confidence, -torch.inf)
            chosen = torch.where(masked, chosen, x)
            for row in range(batch):
                count = counts[row][i] if i < len(counts[row]) else 0
                picked = torch.topk(confidence[row], k=count).indices
                x[row, picked] = chosen[row, picked]
    return x


ONLY_7_12_AND_MASK = [token for token in range(MASK) if token not in (7, 12)]
CASES = {
    "one_block": dict(steps=8, max_new_tokens=8, block_size=8),
    "three_blocks_ragged": dict(steps=9, max_new_tokens=12, block_size=4),
    "partial_last_block": dict(steps=7, max_new_tokens=10, block_size=4, suppress_tokens=[EOS]),
    "begin_suppress": dict(steps=6, max_new_tokens=6, block_size=6, begin_suppress_tokens=[31]),
    "guidance": dict(steps=6, max_new_tokens=8, block_size=4, cfg_scale=1.5),
    "guidance_keep_tokens": dict(steps=6, max_new_tokens=8, block_size=4, cfg_scale=1.5, cfg_keep_tokens=[3, 5]),
    "right_shift": dict(steps=6, max_new_tokens=6, block_size=3, right_shift_logits=True),
    "gumbel": dict(steps=8, max_new_tokens=8, block_size=4, temperature=0.9),
    "random_remasking": dict(steps=6, max_new_tokens=8, block_size=8, remasking="random", temperature=0.5),
    # only 7, 12 and the mask id can be chosen: some positions choose the mask id, stay masked and
    # are carried into later blocks (6 are still masked at the end)
    "mask_argmax": dict(steps=6, max_new_tokens=8, block_size=4, suppress_tokens=ONLY_7_12_AND_MASK),
}
PROMPTS = [[3, 14, 15, 9, 2, 6], [5, 3, 8], [3]]


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_preset_matches_the_reference_loop(model, case):
    params = CASES[case]
    torch.manual_seed(5)
    expected = reference_sample(model, PROMPTS, **params)
    torch.manual_seed(5)
    out = generate(model, PROMPTS, preset=MDLM, mask_token_id=MASK, eos_token_id=EOS, **params)
    assert out.sequences.tolist() == expected.tolist()


def test_mask_argmax_leaves_masks_unless_suppressed(model):
    params = CASES["mask_argmax"]
    kept = generate(model, PROMPTS, preset=MDLM, **params).sequences
    assert int((kept == MASK).sum()) == 6
    filled = generate(model, PROMPTS, preset=MDLM, suppress_mask_token=True, **params).sequences
    assert not (filled == MASK).any() and set(filled[0, 6:].tolist()) <= {7, 12}


def test_empty_prompt_with_right_shift_starts_from_bos(model):
    params = dict(steps=4, max_new_tokens=4, block_size=4, right_shift_logits=True)
    prompts = [[], [5, 3, 8]]
    expected = reference_sample(model, prompts, **params)
    out = generate(model, prompts, preset=MDLM, mask_token_id=MASK, eos_token_id=EOS, bos_token_id=BOS,
                   return_history=True, **params)
    assert out.histories[0][0].tolist() == [BOS, MASK, MASK, MASK, MASK, EOS, EOS]
    assert out.sequences.tolist() == expected.tolist()
    with pytest.raises(ValueError, match="bos_token_id"):  # the toy config has no BOS
        generate(model, prompts, preset=MDLM, mask_token_id=MASK, eos_token_id=EOS, **params)


def test_empty_prompt_without_shift_stays_empty(model):
    out = generate(model, [[], [5]], preset=MDLM, steps=2, max_new_tokens=2, block_size=2, return_history=True)
    assert out.histories[0].tolist() == [[MASK, MASK, EOS], [5, MASK, MASK]]


@pytest.mark.parametrize("with_mask", [True, False], ids=["attention_mask", "pad_token_id"])
def test_left_padded_tensor_means_the_list_prompt(model, with_mask):
    params = dict(steps=6, max_new_tokens=6, block_size=3)
    ids = torch.tensor([[PAD, PAD, PAD, 5, 3, 8], [3, 14, 15, 9, 2, 6], [PAD, PAD, PAD, PAD, PAD, 4]])
    mask = (ids != PAD).long() if with_mask else None
    as_list = generate(model, [[5, 3, 8], [3, 14, 15, 9, 2, 6], [4]], preset=MDLM, **params)
    as_tensor = generate(model, ids, preset=MDLM, attention_mask=mask, return_history=True, **params)
    assert torch.equal(as_tensor.sequences, as_list.sequences)
    m = MASK
    assert as_tensor.histories[0].tolist() == [  # each prompt, its 6 masks, EOS filler (attention 0)
        [5, 3, 8, m, m, m, m, m, m, EOS, EOS, EOS],
        [3, 14, 15, 9, 2, 6, m, m, m, m, m, m],
        [4, m, m, m, m, m, m, EOS, EOS, EOS, EOS, EOS],
    ]


def test_right_padded_tensor_with_mask_is_cut_at_its_padding(model):
    params = dict(steps=4, max_new_tokens=4, block_size=4)
    ids, mask = torch.tensor([[5, 3, PAD, PAD], [1, 2, 3, 4]]), torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    as_list = generate(model, [[5, 3], [1, 2, 3, 4]], preset=MDLM, **params)
    assert torch.equal(generate(model, ids, preset=MDLM, attention_mask=mask, **params).sequences, as_list.sequences)


def test_unconditional_pass_keeps_exactly_the_keep_tokens():
    model = RecordingToy()
    prompts = [[3, 14, 5, 9], [5, 3]]
    generate(model, prompts, preset=MDLM, steps=1, max_new_tokens=2, block_size=2, cfg_scale=1.0,
             cfg_keep_tokens=[5])
    (both,) = model.inputs
    m = MASK
    assert both.tolist() == [[3, 14, 5, 9, m, m], [5, 3, m, m, EOS, EOS],  # the canvas
                             [m, m, 5, m, m, m], [5, m, m, m, EOS, EOS]]  # prompt masked but 5, filler kept


@pytest.mark.parametrize("ids, mask, message", [
    (torch.tensor([5, 3, 8]), None, "list of prompts or a \\[batch, length\\] tensor"),
    (torch.tensor([[5, 3, 8]]), torch.tensor([[1, 1]]), "attention_mask has shape"),
])
def test_bad_prompt_tensors_are_one_clear_error(model, ids, mask, message):
    with pytest.raises(ValueError, match=message):
        generate(model, ids, preset=MDLM, attention_mask=mask, steps=2, max_new_tokens=2, block_size=2)
