"""The key/value cache and the prefix/dual policies of the loop, on the toy model.

A one-layer toy model's keys/values depend only on token and position, so a cached run must
give exactly the tokens of an uncached one; with two layers the cache is an approximation
(Fast-dLLM's), which must still fill every mask with the same number of calls.
"""

from __future__ import annotations

import pytest
import torch

from dllm_core.generation import FASTDLLM, DREAM, generate
from dllm_core.generation.cache import DiffusionCache
from dllm_core.testing.generation import ToyConfig, ToyDiffusionLM

PROMPTS = torch.tensor([[3, 14, 15, 9, 2, 6], [37, 37, 37, 5, 3, 5]])
MASK = torch.tensor([[1, 1, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1]])
CAPABLE = dict(supports_kv_cache=True, supports_logits_to_keep=True)


def _kv(length, fill):
    return torch.full((2, 1, length, 3), float(fill)), torch.full((2, 1, length, 3), -float(fill))


def test_record_stores_and_returns_the_inputs():
    cache = DiffusionCache()
    keys, values = _kv(6, 1)
    assert cache.update(keys, values, 0) == (keys, values)
    assert cache.get_seq_length() == 6 and cache.get_seq_length(1) == 0


def test_prefix_prepends_the_kept_positions_without_storing():
    cache = DiffusionCache()
    cache.update(*_kv(6, 1), 0)
    cache.prefix(4)
    keys, values = cache.update(*_kv(2, 2), 0)
    assert keys[0, 0, :, 0].tolist() == [1, 1, 1, 1, 2, 2] and values[0, 0, :, 0].tolist()[-1] == -2
    assert cache.get_seq_length() == 6 and cache.keys[0][0, 0, :, 0].tolist() == [1] * 6


def test_dual_overwrites_the_block_in_place():
    cache = DiffusionCache()
    cache.update(*_kv(6, 1), 0)
    cache.dual(2, 4)
    keys, values = cache.update(*_kv(2, 5), 0)
    assert keys[0, 0, :, 0].tolist() == [1, 1, 5, 5, 1, 1] and values is cache.values[0]
    cache.record()
    assert cache.get_seq_length() == 0


def _queries(model, run):
    lengths = []
    hook = model.register_forward_hook(lambda m, args, out: lengths.append((args[0].shape, out.logits.shape)))
    try:
        return run(), lengths
    finally:
        hook.remove()


@pytest.mark.parametrize("threshold", [None, 0.3])
@pytest.mark.parametrize("use_cache", ["prefix", "dual"])
def test_exact_cache_gives_the_uncached_tokens(use_cache, threshold):
    model = ToyDiffusionLM()
    params = dict(steps=8, gen_length=16, block_length=4, threshold=threshold)
    plain = generate(model, PROMPTS, preset=FASTDLLM, attention_mask=MASK, **CAPABLE, **params)
    cached, calls = _queries(model, lambda: generate(model, PROMPTS, preset=FASTDLLM, attention_mask=MASK,
                                                     use_cache=use_cache, **CAPABLE, **params))
    assert torch.equal(cached.sequences, plain.sequences) and cached.nfe == plain.nfe
    full = PROMPTS.shape[1] + 16
    assert calls[0][0] == (2, full)  # the block-start call records the whole canvas
    later = [shape[1] for shape, _ in calls if shape[1] != full]
    assert later and all(q <= (full - 6 if use_cache == "prefix" else 4) for q in later)
    assert all(out[1] <= 4 for _, out in calls)  # the LM head sees at most the block


@pytest.mark.parametrize("use_cache", ["prefix", "dual"])
@pytest.mark.parametrize("alg", ["confidence_threshold", "entropy"])
def test_exact_cache_with_logit_shift(use_cache, alg):
    """Dream-style shift: the block's first position reads the output one position back."""
    model = ToyDiffusionLM()
    params = dict(steps=8, max_new_tokens=16, block_length=4, alg=alg, threshold=0.3,
                  logit_shift=True, **CAPABLE)
    plain = generate(model, PROMPTS, preset=DREAM, attention_mask=MASK, use_cache="none", **params)
    cached = generate(model, PROMPTS, preset=DREAM, attention_mask=MASK, use_cache=use_cache, **params)
    assert torch.equal(cached.sequences, plain.sequences) and cached.nfe == plain.nfe


def test_cache_with_guidance_keeps_both_halves():
    model = ToyDiffusionLM()
    params = dict(steps=8, gen_length=8, block_length=4, cfg_scale=1.5, **CAPABLE)
    plain = generate(model, PROMPTS, preset=FASTDLLM, attention_mask=MASK, **params)
    cached, calls = _queries(model, lambda: generate(model, PROMPTS, preset=FASTDLLM, attention_mask=MASK,
                                                     use_cache="dual", **params))
    assert torch.equal(cached.sequences, plain.sequences)
    assert all(shape[0] == 4 for shape, _ in calls)  # 2B rows every call


@pytest.mark.parametrize("use_cache", ["prefix", "dual"])
def test_approximate_cache_still_fills_everything(use_cache):
    model = ToyDiffusionLM(ToyConfig(num_layers=2))
    params = dict(steps=8, gen_length=16, block_length=4)
    plain = generate(model, PROMPTS, preset=FASTDLLM, attention_mask=MASK, **CAPABLE, **params)
    cached = generate(model, PROMPTS, preset=FASTDLLM, attention_mask=MASK, use_cache=use_cache,
                      **CAPABLE, **params)
    assert cached.nfe == plain.nfe == 8
    assert not bool((cached.sequences == model.config.mask_token_id).any())
    assert torch.equal(cached.sequences[:, :6], PROMPTS)


def test_cache_request_without_support_falls_back_to_full_forwards():
    model = ToyDiffusionLM()  # no registered family: no cache support
    out, calls = _queries(model, lambda: generate(model, PROMPTS, preset=FASTDLLM, attention_mask=MASK,
                                                  steps=4, gen_length=8, block_length=4, use_cache="dual"))
    assert out.nfe == 4 and all(shape[1] == 14 for shape, _ in calls)
