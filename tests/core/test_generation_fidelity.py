"""Seeded sampling reproduces the references' random draws, checked against a plain re-statement
of ML-GSAI/LLaDA ``generate`` written here (full-canvas float64 Gumbel noise every call, then
``torch.rand((B, L))`` for random remasking), and LLaDA's EOS / EoT confidence rule."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dllm_core.generation import FASTDLLM, LLADA, generate
from dllm_core.testing.generation import ToyDiffusionLM

MASK, EOS, EOT = 39, 38, 36


def plain_llada_generate(model, prompt, steps, gen_length, block_length, temperature, cfg_scale, remasking,
                         confidence_eos_eot_inf=False):
    """The reference algorithm, step by step, for one unpadded batch (no engine code)."""
    x = torch.cat([prompt, torch.full((prompt.shape[0], gen_length), MASK)], dim=1)
    given = x != MASK
    per_block = steps // (gen_length // block_length)
    for block in range(gen_length // block_length):
        end = prompt.shape[1] + (block + 1) * block_length
        block_masks = (x[:, end - block_length: end] == MASK).sum(dim=1)
        counts = [[int(n) // per_block + (1 if i < int(n) % per_block else 0) for i in range(per_block)]
                  for n in block_masks]
        for i in range(per_block):
            masked = x == MASK
            if cfg_scale > 0:
                both = model(torch.cat([x, x.masked_fill(given, MASK)])).logits
                cond, uncond = both.chunk(2)
                logits = uncond + (cfg_scale + 1) * (cond - uncond)
            else:
                logits = model(x).logits
            if temperature > 0:
                noise = torch.rand_like(logits, dtype=torch.float64)
                scores = logits.double().exp() / (-torch.log(noise)) ** temperature
            else:
                scores = logits  # the same tensor, as in the reference
            x0 = scores.argmax(dim=-1)
            if confidence_eos_eot_inf:
                scores[:, :, EOS] = logits[:, :, EOT] = -torch.inf
            if remasking == "random":
                p = torch.rand(x0.shape)
            else:
                p = F.softmax(logits, dim=-1).gather(-1, x0[..., None])[..., 0]
            p[:, end:] = -torch.inf
            confidence = torch.where(masked, p, -torch.inf)
            for row in range(x.shape[0]):
                # topk, with ties (zero confidences) broken left to right: torch.topk leaves it open
                picked = confidence[row].sort(descending=True, stable=True).indices[: counts[row][i]]
                x[row, picked] = torch.where(masked[row, picked], x0[row, picked], x[row, picked])
    return x


@pytest.mark.parametrize("settings", [
    dict(temperature=1.0, cfg_scale=0.0, remasking="low_confidence"),
    dict(temperature=0.7, cfg_scale=0.0, remasking="random"),
    dict(temperature=0.0, cfg_scale=0.0, remasking="random"),
    dict(temperature=0.8, cfg_scale=1.5, remasking="low_confidence"),
    dict(temperature=0.0, cfg_scale=0.0, remasking="low_confidence", confidence_eos_eot_inf=True),
    dict(temperature=0.9, cfg_scale=0.0, remasking="low_confidence", confidence_eos_eot_inf=True),
])
@pytest.mark.parametrize("seed", [0, 7])
def test_seeded_llada_matches_the_plain_reference(settings, seed):
    model = _eos_lover() if settings.get("confidence_eos_eot_inf") else ToyDiffusionLM()
    prompt = torch.tensor([[3, 14, 15, 9, 2], [6, 5, 3, 5, 8]])
    shape = dict(steps=6, gen_length=12, block_length=4)
    torch.manual_seed(seed)
    expected = plain_llada_generate(model, prompt, **shape, **settings)
    torch.manual_seed(seed)
    ours = generate(model, prompt, preset=LLADA, eot_token_id=EOT, **shape, **settings).sequences
    assert torch.equal(ours, expected)


def test_fastdllm_prefix_cache_draws_its_noise_twice():
    """``generate_with_prefix_cache`` draws (and discards) the Gumbel noise once more per cached
    call; the generator is left where the reference leaves it."""
    model = ToyDiffusionLM()
    prompt = torch.tensor([[3, 14, 15, 9]])
    shape = dict(steps=4, gen_length=8, block_length=4, temperature=1.0)
    torch.manual_seed(3)
    generate(model, prompt, preset=FASTDLLM, use_cache="prefix", **shape, supports_kv_cache=True)
    after_prefix = torch.rand(1)
    torch.manual_seed(3)
    generate(model, prompt, preset=FASTDLLM, use_cache="dual", **shape, supports_kv_cache=True)
    after_dual = torch.rand(1)
    assert not torch.equal(after_prefix, after_dual)


def _eos_lover() -> ToyDiffusionLM:
    model = ToyDiffusionLM()
    with torch.no_grad():
        model.head.bias[EOS] += 5.0
        model.head.bias[EOT] += 5.0
    return model


def _commit_order(model, **params):
    order = []
    out = generate(model, torch.tensor([[3, 14, 15, 9]]), preset=LLADA, steps=8, gen_length=8, block_length=8,
                   eot_token_id=EOT, callback=lambda info: order.append(info.committed[0].nonzero().flatten().tolist()),
                   **params)
    return out.sequences[0], [position for step in order for position in step]


def test_confidence_eos_eot_inf_commits_eos_and_eot_last_at_temperature_zero():
    model = _eos_lover()
    sequence, order = _commit_order(model, confidence_eos_eot_inf=True)
    ended = [int(sequence[p]) in (EOS, EOT) for p in order]
    assert any(ended) and not all(ended)
    assert ended == sorted(ended)  # every EOS / EoT after every other token


def test_confidence_eos_eot_inf_spares_eos_under_gumbel_noise():
    """With temperature > 0 the reference's EOS line writes into the noisy copy of the logits,
    so only EoT loses its confidence."""
    from dllm_core.generation.capabilities import ModelCapabilities
    from dllm_core.generation.presets.base import PresetContext

    context = PresetContext(_eos_lover(), torch.tensor([[3, 14]]), None, ModelCapabilities(), EOS, EOT)
    cold = LLADA.prepare(context, LLADA.make_params({"confidence_eos_eot_inf": True}))
    hot = LLADA.prepare(context, LLADA.make_params({"confidence_eos_eot_inf": True, "temperature": 0.5}))
    assert cold.config.tokens.confidence_suppress_tokens == (EOS, EOT)
    assert hot.config.tokens.confidence_suppress_tokens == (EOT,)


def plain_dream_origin(model, prompt, steps, max_new_tokens, temperature, eps=1e-3):
    """Dream's ``diffusion_generate`` with ``alg="origin"``, restated plainly: uniforms over the
    masked positions first, then one categorical draw per revealed position."""
    x = torch.cat([prompt, torch.full((prompt.shape[0], max_new_tokens), MASK)], dim=1)
    times = torch.linspace(1, eps, steps + 1)
    for i in range(steps):
        masked = x == MASK
        logits = model(x).logits
        logits = torch.cat([logits[:, :1], logits[:, :-1]], dim=1)
        rows = logits[masked]
        t, s = times[i], times[i + 1]
        p_transfer = 1 - s / t if i < steps - 1 else 1
        x0 = torch.full((rows.shape[0],), MASK)
        revealed = torch.rand(rows.shape[0]) < p_transfer
        probs = torch.softmax(rows[revealed] / temperature, dim=-1)
        x0[revealed] = torch.distributions.Categorical(probs=probs).sample()
        x[masked] = x0
    return x


@pytest.mark.parametrize("seed", [0, 5])
def test_seeded_dream_origin_matches_the_plain_reference(seed):
    from dllm_core.generation import DREAM

    model = ToyDiffusionLM()
    prompt = torch.tensor([[3, 14, 15, 9], [6, 5, 3, 5]])
    torch.manual_seed(seed)
    expected = plain_dream_origin(model, prompt, steps=5, max_new_tokens=10, temperature=0.9)
    torch.manual_seed(seed)
    ours = generate(model, prompt, preset=DREAM, steps=5, max_new_tokens=10, alg="origin", temperature=0.9,
                    logit_shift=True).sequences
    assert torch.equal(ours, expected)
