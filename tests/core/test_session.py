"""The inference session: generator choice, defaults by precedence and role, context checks,
batching and seeding (on the toy model of the author kit, no plugin needed)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from dllm_core.checkpoint import CheckpointInfo
from dllm_core.errors import DllmError
from dllm_core.family import ModelFamily
from dllm_core.generation import generate
from dllm_core.generation.contract import ParameterRoles
from dllm_core.generation.presets import DREAM, FASTDLLM, LLADA, MDLM
from dllm_core.session import (
    InferenceSession,
    carry_over,
    choose_generator,
    content_seed,
    generation_config_defaults,
    generator_defaults,
)
from dllm_core.special_tokens import SpecialTokens
from dllm_core.testing.generation import ToyConfig, ToyDiffusionLM

TOY = ToyConfig()
FAMILY = ModelFamily(name="toy", model_types=("dllm-toy",), default_generator="llada", fast_generator="fastdllm",
                     generator_defaults={"steps": 8, "gen_length": 8, "block_length": 4})


class DigitTokenizer:
    """Decodes ids as space-separated numbers (enough for the session's text output)."""

    bos_token = None

    def decode(self, ids, skip_special_tokens=True):
        return " ".join(map(str, ids))


def _session(**overrides) -> InferenceSession:
    special = SpecialTokens(mask_token_id=TOY.mask_token_id, eos_token_id=TOY.eos_token_id,
                            pad_token_id=TOY.pad_token_id)
    values = dict(model=ToyDiffusionLM(TOY), tokenizer=DigitTokenizer(), special=special, family=FAMILY,
                  generator=LLADA, defaults=dict(FAMILY.generator_defaults), max_length=TOY.max_positions)
    return InferenceSession(**{**values, **overrides})


def test_saved_defaults_carry_over_by_name_and_by_role():
    saved = {"steps": 8, "max_new_tokens": 16, "block_size": 4, "remasking": "random", "alg": "entropy"}
    assert carry_over(saved, MDLM, LLADA) == {"steps": 8, "gen_length": 16, "block_length": 4,
                                              "remasking": "random"}
    assert carry_over({"gen_length": 32, "threshold": 0.9}, FASTDLLM, DREAM) == {"max_new_tokens": 32,
                                                                                 "threshold": 0.9}


def test_the_generator_is_the_named_one_then_dllm_json_then_the_family_or_its_fast_one():
    info = CheckpointInfo(family="toy", generator={"preset": "mdlm"})
    assert choose_generator(FAMILY, None, None, set()) is LLADA
    assert choose_generator(FAMILY, None, None, {"use_cache"}) is FASTDLLM  # only the fast one takes it
    assert choose_generator(FAMILY, None, "dream", {"use_cache"}) is DREAM  # a named one is kept
    assert choose_generator(FAMILY, info, None, set()) is MDLM
    assert choose_generator(FAMILY, None, None, {"no_such_parameter"}) is LLADA  # the generator will refuse it


def test_defaults_rank_family_then_generation_config_then_dllm_json(tmp_path):
    (tmp_path / "generation_config.json").write_text(json.dumps(
        {"steps": 16, "gen_length": 16, "temperature": 0.5, "bos_token_id": 1, "top_p": None}))
    assert generation_config_defaults(tmp_path, LLADA) == {"steps": 16, "gen_length": 16, "temperature": 0.5}
    info = CheckpointInfo(family="toy", generator={"preset": "llada", "steps": 32})
    assert generator_defaults(tmp_path, FAMILY, info, LLADA) == {
        "steps": 32, "gen_length": 16, "block_length": 4, "temperature": 0.5}
    # dllm.json saved for mdlm, read by fastdllm: the length and block carry over by role
    mdlm_info = CheckpointInfo(family="toy", generator={"preset": "mdlm", "max_new_tokens": 12, "block_size": 6})
    assert generator_defaults(tmp_path, FAMILY, mdlm_info, FASTDLLM) == {
        "steps": 16, "gen_length": 12, "block_length": 6, "temperature": 0.5}
    # a nested section (transformers' serialised sampler configs) gives the keys the generator takes;
    # a top-level key wins
    (tmp_path / "generation_config.json").write_text(json.dumps(
        {"steps": 16, "sampler_config": {"_cls_name": "X", "temperature": 0.25, "steps": 99, "unknown": 1}}))
    assert generation_config_defaults(tmp_path, LLADA) == {"steps": 16, "temperature": 0.25}
    (tmp_path / "generation_config.json").write_text("{broken")
    with pytest.raises(DllmError, match="generation_config.json"):
        generator_defaults(tmp_path, FAMILY, info, LLADA)


def test_params_fill_roles_and_the_mask_and_refuse_what_the_generator_lacks():
    session = _session()
    params = session.params(roles={"length": 12, "block": 6, "steps": 4}, values={"temperature": 0.7})
    assert (params.gen_length, params.block_length, params.steps, params.temperature) == (12, 6, 4, 0.7)
    assert params.mask_id == TOY.mask_token_id
    with pytest.raises(DllmError, match="generator 'llada' has no parameter 'threshold'"):
        session.params(values={"threshold": 0.9})
    no_block = dataclasses.replace(LLADA, name="no-block", roles=ParameterRoles(length="gen_length"))
    with pytest.raises(DllmError, match="generator 'no-block' has no block parameter"):
        _session(generator=no_block).params(roles={"block": 4})


def test_prompts_must_fit_the_context_or_are_cut_on_the_left():
    session = _session(max_length=20)
    params = session.params()  # 8 answer tokens
    with pytest.raises(DllmError, match="prompt of 13 tokens plus 8 generated tokens exceeds the model's context "
                                        "of 20; shorten the prompt or lower --gen-length"):
        session.fit([[1] * 13], params)
    assert session.fit([list(range(15)), [1, 2]], params, cut_prompts=True) == [list(range(3, 15)), [1, 2]]


def _engine_answers(session: InferenceSession, rows: list[list[int]]) -> list[list[int]]:
    """The engine run directly on the left-padded batch, each answer cut at its first EOS."""
    ids, mask = session.pad_left(rows)
    output = generate(session.model, ids, preset=LLADA, attention_mask=mask, steps=8, gen_length=8,
                      block_length=4, mask_id=TOY.mask_token_id)
    answers = []
    for sequence in output.sequences[:, ids.shape[1]:].tolist():
        answers.append(sequence[:sequence.index(TOY.eos_token_id)] if TOY.eos_token_id in sequence else sequence)
    return answers


def test_generate_matches_the_engine_keeps_the_order_and_cuts_at_eos():
    session = _session()
    rows = [[3, 4], [5, 6, 7, 8], [9]]
    params = session.params()
    together = session.generate(rows, params)  # one batch, longest prompt first
    by_length = [rows[1], rows[0], rows[2]]
    expected = dict(zip(map(tuple, by_length), _engine_answers(session, by_length)))
    assert [a.token_ids for a in together] == [expected[tuple(row)] for row in rows]
    alone = session.generate(rows, params, batch_size=1)
    assert [a.token_ids for a in alone] == [_engine_answers(session, [row])[0] for row in rows]
    assert all(a.text == " ".join(map(str, a.token_ids)) for a in alone)


def test_sampling_is_seeded_by_the_run_seed_and_the_prompts():
    from dllm_core.generation import generate

    session = _session()
    params = session.params(values={"temperature": 1.0})
    rows = [[3, 4, 5]]
    torch.manual_seed(123)  # the global generator plays no part
    first = session.generate(rows, params, seed=3)[0].token_ids
    torch.manual_seed(456)
    assert session.generate(rows, params, seed=3)[0].token_ids == first
    # the same draws through the engine directly, seeded with content_seed(run seed, prompts)
    direct = generate(session.model, torch.tensor(rows), preset=session.generator, params=params,
                      generator=torch.Generator().manual_seed(content_seed(3, rows[0])), stop_at_eos=True,
                      eos_token_id=TOY.eos_token_id)
    assert session.cut_at_stop(direct.sequences[0, 3:].tolist()) == first
    draws = {tuple(session.generate(rows, params, seed=seed)[0].token_ids) for seed in range(6)}
    assert len(draws) > 1
    assert content_seed(3, [3, 4, 5]) != content_seed(3, [3, 4, 6]) != content_seed(4, [3, 4, 6])


def _check_commit_order(completions, order, frames) -> None:
    """Every answer token's recorded step is the step whose canvas first shows it (and only it
    wrote that column)."""
    for completion in completions:
        generation, row = completion.generation, completion.row
        start = generation.answer_starts[row]
        steps = order.answer_steps(row, start, len(completion.token_ids))
        assert len(steps) == len(completion.token_ids) and min(steps) >= 0
        for k, (token, step) in enumerate(zip(completion.token_ids, steps)):
            tokens, committed = frames[step]
            assert tokens[row, start + k] == token and committed[row, start + k]
            assert not any(frame[1][row, start + k] for frame in frames[step + 1:])


def test_commit_order_records_the_step_of_every_answer_token():
    from dllm_core.generation.commit_order import CommitOrder

    session = _session()
    order, frames = CommitOrder(), []

    def record(info):
        order(info)
        frames.append((info.tokens.clone(), info.committed.clone()))

    rows = [[1, 2, 3, 4, 5], [6, 7]]
    completions = session.generate(rows, session.params(values={"steps": 8, "gen_length": 8, "block_length": 4}),
                                   seed=3, callback=record)
    assert order.count == len(frames) == 8
    _check_commit_order(completions, order, frames)
    for completion in completions:  # one token per step: each answer column has its own step
        start = completion.generation.answer_starts[completion.row]
        assert sorted(order.answer_steps(completion.row, start, 8)) == list(range(8))
