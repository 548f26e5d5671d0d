"""LLaDA's last block runs its queries on the ``logits_to_keep`` rows only: the kept rows' logits
equal those rows of the full forward (with and without a cache, with a per-query mask), the
cache still gets every position's keys/values, and training with all rows is untouched."""

from __future__ import annotations

import pytest
import torch

from dllm_core.generation.cache import DiffusionCache
from dllm_llada.configuration_llada import LLaDAConfig
from dllm_llada.family import PRESETS
from dllm_llada.modeling_llada import LLaDAModelLM

L, PROMPT = 24, 8


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    config = LLaDAConfig(**{**PRESETS["tiny"], "vocab_size": 96, "mask_token_id": 95, "n_layers": 3})
    return LLaDAModelLM(config).eval()


@pytest.fixture(scope="module")
def ids():
    tokens = torch.randint(0, 95, (2, L), generator=torch.Generator().manual_seed(1))
    tokens[:, PROMPT:] = 95
    return tokens


KEEPS = [slice(9, 17), torch.tensor([8, 11, 12, 20]), torch.tensor([10, 10, 10, 10]), 5]


def _expected(full: torch.Tensor, keep) -> torch.Tensor:
    return full[:, -keep:] if isinstance(keep, int) else full[:, keep]


@pytest.mark.parametrize("keep", KEEPS, ids=["slice", "index", "repeated", "last-k"])
@torch.no_grad()
def test_kept_rows_equal_the_full_forward_rows(model, ids, keep):
    full = model(ids).logits  # [B, L, V]
    kept = model(ids, logits_to_keep=keep).logits
    torch.testing.assert_close(kept, _expected(full, keep), rtol=1e-5, atol=1e-5)


@torch.no_grad()
def test_kept_rows_with_a_per_query_mask(model, ids):
    allowed = torch.rand(2, 1, L, L, generator=torch.Generator().manual_seed(2)) > 0.3
    allowed |= torch.eye(L, dtype=torch.bool)  # every query sees at least itself
    keep = torch.tensor([3, 9, 15, 22])
    full = model(ids, attention_mask=allowed).logits
    kept = model(ids, attention_mask=allowed, logits_to_keep=keep).logits
    torch.testing.assert_close(kept, full[:, keep], rtol=1e-5, atol=1e-5)


@torch.no_grad()
def test_kept_rows_with_a_dual_cache(model, ids):
    """A recorded canvas, then a block-only call (queries ``[8, 16)``) keeping 4 of its rows: the
    same logits as the full call's rows, and the cache holds the same keys/values as when every
    row is kept."""
    lo, hi = PROMPT, PROMPT + 8
    positions = torch.arange(lo, hi).expand(2, -1)
    caches = []
    for keep in (None, torch.tensor([0, 2, 5, 7])):
        cache = DiffusionCache()
        cache.record()
        recorded = model(ids, past_key_values=cache, use_cache=True, logits_to_keep=keep).logits
        cache.dual(lo, hi)
        step = model(ids[:, lo:hi], position_ids=positions, past_key_values=cache, use_cache=True,
                     logits_to_keep=keep).logits
        caches.append((recorded, step, cache))
    (full_record, full_step, full_cache), (kept_record, kept_step, kept_cache) = caches
    keep = torch.tensor([0, 2, 5, 7])
    torch.testing.assert_close(kept_record, full_record[:, keep], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(kept_step, full_step[:, keep], rtol=1e-5, atol=1e-5)
    for layer in range(model.config.n_layers):
        for stored in (full_cache.keys, full_cache.values):
            assert stored[layer].shape[2] == L
        torch.testing.assert_close(kept_cache.keys[layer], full_cache.keys[layer], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(kept_cache.values[layer], full_cache.values[layer], rtol=1e-5, atol=1e-5)


def test_training_forward_without_keep_gives_every_row_and_gradients(model, ids):
    """No ``logits_to_keep``: every row goes through the last block, and the loss of one row reaches
    the last block's query projection (only that row's query feeds it)."""
    labels = torch.full_like(ids, -100)
    labels[:, PROMPT:] = 3
    model.train()
    try:
        out = model(ids, labels=labels)
        out.loss.backward()
        q_grad = model.model.transformer.blocks[-1].q_proj.weight.grad.clone()
    finally:
        model.eval()
        model.zero_grad(set_to_none=True)
    assert out.logits.shape == (2, L, 96)
    assert q_grad.abs().sum() > 0
    with torch.no_grad():
        torch.testing.assert_close(out.logits.detach(), model(ids).logits, rtol=1e-5, atol=1e-5)
