"""The exact-work paths of a denoising step: the LM head sees only the columns that can still be
committed (padded to the fewest rows whose products match a full head), and the draws of a
step cut at those columns."""

from __future__ import annotations

import pytest
import torch

from dllm_core.generation import FASTDLLM, LLADA, generate
from dllm_core.generation.draws import DrawFrame
from dllm_core.generation.runner import HEAD_ROW_MULTIPLE, head_rows
from dllm_core.testing.generation import ToyDiffusionLM

MASK = 39


@pytest.fixture(scope="module")
def model():
    return ToyDiffusionLM()


def _kept_rows(model, run):
    """``run()`` and the number of LM-head rows of every model call."""
    rows = []
    hook = model.register_forward_hook(lambda module, args, out: rows.append(out.logits.shape[1]))
    try:
        return run(), rows
    finally:
        hook.remove()


@pytest.mark.parametrize("preset, params", [
    (LLADA, dict(steps=16, gen_length=16, block_length=8)),
    (FASTDLLM, dict(steps=16, gen_length=16, block_length=8, use_cache="dual")),
    (FASTDLLM, dict(steps=16, gen_length=16, block_length=8, use_cache="prefix", threshold=0.3)),
])
def test_head_runs_on_the_columns_that_still_hold_a_mask(model, preset, params):
    """Every call projects exactly the columns where some row still has a candidate (padded to a
    multiple of HEAD_ROW_MULTIPLE rows), and the tokens equal those of a full LM head."""
    prompts = torch.tensor([[3, 14, 15, 9, 2, 6], [5, 3, 5, 8, 9, 7]])
    kw = dict(preset=preset, supports_logits_to_keep=True, supports_kv_cache=True, return_history=True, **params)
    out, rows = _kept_rows(model, lambda: generate(model, prompts, **kw))
    full = generate(model, prompts, slice_logits=False, **kw)
    assert torch.equal(out.sequences, full.sequences)
    width = prompts.shape[1]
    expected = []
    for before in out.histories[:-1]:
        masked = (before == MASK).any(dim=0)  # [L] a column some row still has to fill
        block = (int(masked.nonzero()[0]) - width) // params["block_length"]
        end = width + (block + 1) * params["block_length"]
        count = int(masked[width:end].sum())
        expected.append(-(-count // HEAD_ROW_MULTIPLE) * HEAD_ROW_MULTIPLE)
    assert rows == expected
    assert min(expected) < params["block_length"]  # some call skipped committed columns


def test_head_rows_pad_keeps_to_a_multiple_of_four_by_repeating_the_last():
    rows, count = head_rows(slice(3, 5), torch.device("cpu"))
    assert count == 2 and rows.tolist() == [3, 4, 4, 4]
    rows, count = head_rows(torch.tensor([2, 7, 9]), torch.device("cpu"))
    assert count == 3 and rows.tolist() == [2, 7, 9, 9]
    rows, count = head_rows(slice(10, 19), torch.device("cpu"))
    assert count == 9 and rows.tolist() == [*range(10, 19), 18, 18, 18]
    assert head_rows(slice(0, 8), torch.device("cpu")) == (slice(0, 8), 8)


@pytest.mark.parametrize("torch_threads", [1, 2], indirect=True)
def test_padded_head_rows_are_bitwise_those_of_the_full_product(torch_threads):
    """What the padding is for: kept rows of one product equal those rows of the product over a
    whole canvas (the references' head), on one thread and on two (where 5-7 and 9-11 rows alone
    are split between the threads differently)."""
    weight = torch.randn(2048, 64, generator=torch.Generator().manual_seed(0)) / 8  # [V, D]
    hidden = torch.randn(96, 64, generator=torch.Generator().manual_seed(1))  # [L, D]
    full = torch.nn.functional.linear(hidden, weight)  # [L, V]
    for count in range(1, 24):
        rows, kept = head_rows(slice(40, 40 + count), torch.device("cpu"))
        logits = torch.nn.functional.linear(hidden[rows], weight)[:kept]
        assert torch.equal(logits, full[40:40 + count]), count


def test_frame_cuts_and_embeds_scattered_columns_where_the_contiguous_frame_has_them():
    """A draw over the call's outputs ``[start, end)``, cut at scattered columns, is the same
    numbers as the contiguous window's cut at those columns."""
    start, end, window_start = 4, 14, 6
    columns = torch.tensor([6, 9, 10, 13])
    full = torch.rand((2, end - start, 5), generator=torch.Generator().manual_seed(0))
    window = DrawFrame(start, end, window_start, torch.ones((2, 8), dtype=torch.bool))
    scattered = DrawFrame(start, end, window_start, torch.ones((2, 4), dtype=torch.bool), columns=columns)
    assert torch.equal(scattered.cut(full), window.cut(full)[:, columns - window_start])
    scores = torch.arange(8.0).expand(2, 8)
    placed = scattered.embed(scores[:, :4], -1.0)  # [2, n]
    assert placed[:, columns - start].tolist() == [[0.0, 1.0, 2.0, 3.0]] * 2
    assert int((placed == -1.0).sum()) == 2 * (end - start - 4)

