"""Every preset and its main options on the toy model: no mask left, the caller's prompts kept,
committed tokens final, NFE within budget, reproducible under a seed, in a second process too
(``PresetConformance``)."""

from __future__ import annotations

import torch

from dllm_core.generation import DREAM, FASTDLLM, LLADA, MDLM
from dllm_core.testing.generation import PresetConformance

CAPABLE = dict(supports_kv_cache=True, supports_logits_to_keep=True)


class TestLLaDALowConfidence(PresetConformance):
    preset = LLADA
    params = dict(steps=8, gen_length=16, block_length=8)
    max_nfe = 8


class TestLLaDARandomRemaskingWithTemperature(PresetConformance):
    preset = LLADA
    params = dict(steps=6, gen_length=12, block_length=4, remasking="random", temperature=0.8)
    max_nfe = 6

    def test_seeds_differ(self):
        assert not torch.equal(self._run(seed=1).sequences, self._run(seed=2).sequences)


class TestLLaDAGuidance(PresetConformance):
    preset = LLADA
    params = dict(steps=8, gen_length=8, block_length=8, cfg_scale=1.0, logits_eos_inf=True)
    max_nfe = 8


class TestFastdLLMThreshold(PresetConformance):
    preset = FASTDLLM
    params = dict(steps=8, gen_length=16, block_length=4, threshold=0.3)
    max_nfe = 16


class TestFastdLLMFactor(PresetConformance):
    preset = FASTDLLM
    params = dict(steps=8, gen_length=16, block_length=4, factor=1.0)
    max_nfe = 16


class TestFastdLLMPrefixCache(PresetConformance):
    preset = FASTDLLM
    params = dict(steps=8, gen_length=16, block_length=4, use_cache="prefix", **CAPABLE)
    max_nfe = 8


class TestFastdLLMDualCacheThresholdSampled(PresetConformance):
    preset = FASTDLLM
    params = dict(steps=8, gen_length=16, block_length=4, use_cache="dual", threshold=0.5,
                  temperature=1.0, **CAPABLE)
    max_nfe = 16


class TestDreamOrigin(PresetConformance):
    preset = DREAM
    params = dict(steps=6, max_new_tokens=12, alg="origin")
    max_nfe = 6


class TestDreamMaskgitSampledPositions(PresetConformance):
    preset = DREAM
    params = dict(steps=6, max_new_tokens=12, alg="maskgit_plus", alg_temp=0.5, temperature=0.7,
                  top_p=0.9, top_k=10)
    max_nfe = 6


class TestDreamTopkMargin(PresetConformance):
    preset = DREAM
    params = dict(steps=5, max_new_tokens=12, alg="topk_margin", logit_shift=True)
    max_nfe = 5


class TestDreamEntropy(PresetConformance):
    preset = DREAM
    params = dict(steps=4, max_new_tokens=12, alg="entropy", logit_shift=True)
    max_nfe = 4


class TestDreamConfidenceThreshold(PresetConformance):
    preset = DREAM
    params = dict(steps=4, max_new_tokens=12, alg="confidence_threshold", threshold=0.5)
    max_nfe = 12


class TestDreamBlockDualCache(PresetConformance):
    preset = DREAM
    params = dict(steps=6, max_new_tokens=12, alg="entropy", block_length=4, dual_cache=True,
                  logit_shift=True, **CAPABLE)
    max_nfe = 6


class TestMDLM(PresetConformance):
    preset = MDLM
    params = dict(steps=8, max_new_tokens=12, block_size=5, suppress_tokens=[38],
                  begin_suppress_tokens=[36])
    max_nfe = 12

    def make_prompts(self):
        return [[3, 14, 15, 9, 2, 6], [5, 3, 5]], None

    def test_prompts_are_right_padded_with_eos(self):
        out = self._run()
        assert out.sequences.shape == (2, 18)
        assert out.sequences[1, 15:].tolist() == [38, 38, 38]  # eos filler after 3 + 12 tokens
        assert not bool((out.sequences[0] == 38).any())  # suppressed in the generated part


class TestMDLMLeftPaddedTensor(PresetConformance):
    """The suite's own prompts: a left-padded ``[B, Lp]`` tensor with its attention mask."""

    preset = MDLM
    params = dict(steps=8, max_new_tokens=8, block_size=4)
    max_nfe = 8


class TestMDLMGuidanceWithShift(PresetConformance):
    preset = MDLM
    params = dict(steps=6, max_new_tokens=6, block_size=6, cfg_scale=0.5, right_shift_logits=True,
                  remasking="random")
    max_nfe = 6

    def make_prompts(self):
        return torch.tensor([[3, 14, 15, 9], [5, 3, 37, 37]]), torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
