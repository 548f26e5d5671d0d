"""lm-eval gen_kwargs -> generator parameters (dllm_core.evaluation.generation_plan), through
each generator's declared roles (length, block, steps)."""

from __future__ import annotations

import pytest

from dllm_core.evaluation.generation_plan import cut_at_stop_strings, plan_generation
from dllm_core.generation.presets import DREAM, LLADA, MDLM
LLADA_DEFAULTS = {"steps": 128, "gen_length": 128, "block_length": 32}


def test_max_gen_toks_sets_length_blocks_and_steps_per_token():
    plan = plan_generation(LLADA, LLADA_DEFAULTS, {}, {"max_gen_toks": 256, "until": ["\n\n"]})
    assert plan.params == {"steps": 256, "gen_length": 256, "block_length": 32}
    assert plan.max_new_tokens == 256 and plan.until == ("\n\n",)


def test_short_answers_shrink_the_block_and_long_ones_round_up_to_whole_blocks():
    short = plan_generation(LLADA, LLADA_DEFAULTS, {}, {"max_gen_toks": 20})
    assert short.params == {"steps": 20, "gen_length": 20, "block_length": 20}
    odd = plan_generation(LLADA, {"steps": 64, "gen_length": 128, "block_length": 32}, {}, {"max_gen_toks": 40})
    # 40 tokens -> 2 blocks of 32 = 64 positions; half a step per token -> 32 steps, 16 per block
    assert odd.params == {"steps": 32, "gen_length": 64, "block_length": 32}
    assert odd.max_new_tokens == 40


def test_model_args_win_over_gen_kwargs_which_win_over_defaults():
    overrides = {"gen_length": 64, "temperature": 0.5}
    plan = plan_generation(LLADA, LLADA_DEFAULTS, overrides,
                           {"max_gen_toks": 256, "temperature": 0.0, "cfg_scale": 1.0})
    assert plan.params == {"steps": 128, "gen_length": 64, "block_length": 32, "temperature": 0.5, "cfg_scale": 1.0}
    assert plan.max_new_tokens == 256


def test_explicit_steps_and_block_are_kept():
    plan = plan_generation(LLADA, LLADA_DEFAULTS, {"steps": 8, "block_length": 16}, {"max_gen_toks": 20})
    assert plan.params == {"steps": 8, "gen_length": 32, "block_length": 16}


def test_do_sample_false_means_greedy_and_unknown_keys_are_reported():
    plan = plan_generation(DREAM, {"steps": 128, "max_new_tokens": 128, "alg": "entropy"}, {},
                           {"do_sample": False, "temperature": 0.7, "top_p": 0.9, "repetition_penalty": 1.1,
                            "until": "Question:"})
    assert plan.params["temperature"] == 0.0 and plan.params["top_p"] == 0.9
    assert plan.ignored == ("repetition_penalty",) and plan.until == ("Question:",)
    sampled = plan_generation(DREAM, {}, {}, {"do_sample": True, "temperature": 0.7})
    assert sampled.params == {"temperature": 0.7}


@pytest.mark.parametrize("generator, defaults, expected", [
    (DREAM, {"steps": 128, "max_new_tokens": 128}, {"steps": 48, "max_new_tokens": 48}),
    (MDLM, {"steps": 128, "max_new_tokens": 128, "block_size": 32},
     {"steps": 64, "max_new_tokens": 64, "block_size": 32}),
])
def test_presets_named_after_other_references(generator, defaults, expected):
    max_gen_toks = expected["max_new_tokens"]
    assert plan_generation(generator, defaults, {}, {"max_gen_toks": max_gen_toks}).params == expected


def test_without_max_gen_toks_the_defaults_decide_the_length():
    plan = plan_generation(LLADA, LLADA_DEFAULTS, {}, {"until": []})
    assert plan.params == LLADA_DEFAULTS and plan.max_new_tokens is None


def test_cut_at_stop_strings_takes_the_earliest():
    assert cut_at_stop_strings("12\n\nQuestion: x", ("Question:", "\n\n")) == "12"
    assert cut_at_stop_strings("no stop here", ("</s>",)) == "no stop here"
    assert cut_at_stop_strings("keep", ("",)) == "keep"
