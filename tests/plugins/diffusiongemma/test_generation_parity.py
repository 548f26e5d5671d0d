"""The ``diffusiongemma`` loop against the installed transformers' ``generate``, token for token.

Both draw the same random numbers in the same order (initial canvas, then per step one
multinomial over all positions and one uniform re-noise canvas), so a ``torch.Generator`` seeded
like the library's global generator gives identical sequences, padding and EOS handling included.
"""

from __future__ import annotations

import pytest
import torch
from transformers.models.diffusion_gemma.generation_diffusion_gemma import EntropyBoundSamplerConfig

from dllm_diffusiongemma.generate import DiffusionGemmaSettings, generate

SEED = 11

#: settings in transformers' names; ``entropy_bound`` goes through ``sampler_config``
SETTINGS = [
    dict(max_new_tokens=20, max_denoising_steps=5),  # library defaults otherwise, 3 canvases, last cut
    dict(max_new_tokens=16, max_denoising_steps=8, entropy_bound=0.5, t_min=0.1, t_max=2.0),
    dict(max_new_tokens=8, max_denoising_steps=12, entropy_bound=3.0, t_min=0.05, t_max=0.2,
         stability_threshold=2, confidence_threshold=2.5),  # sharp, with a stability history of 2
    dict(max_new_tokens=16, max_denoising_steps=6, stability_threshold=0, confidence_threshold=4.9),
    # rows reach the confidence threshold at different steps (the frozen-row branch)
    dict(max_new_tokens=8, max_denoising_steps=6, entropy_bound=3.0, t_min=0.05, t_max=0.2,
         stability_threshold=0, confidence_threshold=2.35),
]


def prompts(batch: int, padded: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``[B, 7]`` random prompts and their mask; with ``padded`` rows 1.. are left-padded."""
    generator = torch.Generator().manual_seed(batch)
    ids = torch.randint(5, 100, (batch, 7), generator=generator)
    mask = torch.ones_like(ids)
    if padded:
        for row in range(1, batch):
            mask[row, :row + 1] = 0
            ids[row, :row + 1] = 0
    return ids, mask


def library(model, ids, mask, values, eos=None, pad=0):
    values = dict(values)
    bound = values.pop("entropy_bound", 0.1)
    torch.manual_seed(SEED)
    return model.generate(ids, attention_mask=mask, sampler_config=EntropyBoundSamplerConfig(entropy_bound=bound),
                          eos_token_id=eos, pad_token_id=pad, **values).sequences


def ours(model, ids, mask, values, eos=None, pad=0, callback=None):
    settings = DiffusionGemmaSettings(**values, eos_token_id=None if eos is None else tuple(eos), pad_token_id=pad)
    return generate(model, ids, settings, attention_mask=mask, generator=torch.Generator().manual_seed(SEED),
                    callback=callback).sequences


@pytest.mark.parametrize("values", SETTINGS)
def test_same_tokens_as_transformers_batch_with_padding(tiny_model, values):
    ids, mask = prompts(3, padded=True)
    expected = library(tiny_model, ids, mask, values)
    assert torch.equal(ours(tiny_model, ids, mask, values), expected)


def test_same_tokens_single_row_without_mask(tiny_model):
    ids, _ = prompts(1, padded=False)
    values = SETTINGS[1]
    torch.manual_seed(SEED)
    bound = EntropyBoundSamplerConfig(entropy_bound=values["entropy_bound"])
    expected = tiny_model.generate(ids, sampler_config=bound, **{k: v for k, v in values.items()
                                                                 if k != "entropy_bound"}).sequences
    got = generate(tiny_model, ids, DiffusionGemmaSettings(**values), generator=torch.Generator().manual_seed(SEED))
    assert torch.equal(got.sequences, expected)


def test_eos_finishes_rows_and_pads_like_transformers(tiny_model):
    """EOS ids taken from what the model writes, so rows really finish mid-answer."""
    ids, mask = prompts(3, padded=True)
    values = SETTINGS[0]
    free = library(tiny_model, ids, mask, values)
    first_canvas = free[:, 7:15]
    eos = sorted({int(first_canvas[0, 3]), int(first_canvas[2, 5])})
    expected = library(tiny_model, ids, mask, values, eos=eos, pad=0)
    assert (expected[:, 7:] == 0).any(), "the EOS ids should have produced padding"
    assert torch.equal(ours(tiny_model, ids, mask, values, eos=eos, pad=0), expected)


def test_rows_stop_denoising_at_different_steps(tiny_model):
    """The last setting exercises the frozen-row branch: some step has rows stopped and others not."""
    ids, mask = prompts(3, padded=True)
    records = []
    ours(tiny_model, ids, mask, SETTINGS[-1], callback=records.append)
    assert any(bool(r.finished.any()) and not bool(r.finished.all()) for r in records)
    assert bool(records[-1].finished.all())


def test_seed_changes_the_answer(tiny_model):
    ids, mask = prompts(2, padded=False)
    settings = DiffusionGemmaSettings(max_new_tokens=8, max_denoising_steps=3)
    first = generate(tiny_model, ids, settings, attention_mask=mask, generator=torch.Generator().manual_seed(1))
    second = generate(tiny_model, ids, settings, attention_mask=mask, generator=torch.Generator().manual_seed(2))
    assert not torch.equal(first.sequences, second.sequences)
