"""The generator contract end to end: a third-party sampler installed as a plugin works in
``dllm sample``, ``dllm chat`` and ``dllm eval`` with no core change; ``dllm sample`` and the
lm-eval adapter give the same tokens for the same prompt; Edit Flows checkpoints chat and
evaluate; a generator's own option is refused for another generator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from fake_dists import make_fake_dist

from dllm_core.training.run import run_training
from dllm_core.training.run_config import TrainRunConfig

DLLM = [sys.executable, "-m", "dllm_core.cli.main"]
PUZZLE = "1200\n3400\n0000\n4321"

#: a third party's plugin module, written exactly as the bundled plugins are: only dllm_core.api
LEFT_TO_RIGHT_PLUGIN = textwrap.dedent('''
    """Leftmost-first greedy decoding: one forward per answer token, never the mask id."""
    from dataclasses import dataclass, field

    import torch

    from dllm_core.api import Generation, Generator, ParameterRoles, hookimpl


    @dataclass(frozen=True)
    class LeftToRightParams:
        answer_tokens: int = field(default=8, metadata={"help": "tokens to generate"})
        mask_token: int | None = field(default=None, metadata={"help": "the mask id"})


    class LeftToRight(Generator):
        name = "left-to-right"
        description = "fills the leftmost mask with the most likely token, one per step"
        params_class = LeftToRightParams
        roles = ParameterRoles(length="answer_tokens", mask_id="mask_token")

        def complete(self, session, prompts, params, *, seed=0, callback=None, options=None):
            ids, attention = session.pad_left(prompts)
            width, count = ids.shape[1], params.answer_tokens
            canvas = torch.cat([ids, ids.new_full((ids.shape[0], count), params.mask_token)], dim=1)
            attention = torch.cat([attention, attention.new_ones((ids.shape[0], count))], dim=1)
            with torch.no_grad():
                for position in range(width, width + count):
                    logits = session.model(canvas, attention_mask=attention).logits[:, position]
                    logits[:, params.mask_token] = -torch.inf
                    canvas[:, position] = logits.argmax(dim=-1)
            return Generation([row[width:] for row in canvas.tolist()], count)


    LEFT_TO_RIGHT = LeftToRight()


    @hookimpl
    def dllm_register_generators(register):
        register("left-to-right", "toy_left_to_right:LEFT_TO_RIGHT", description=LEFT_TO_RIGHT.description)
''')


def _train(output: Path, **extra: object) -> Path:
    run_training(TrainRunConfig(data="sudoku4[train:128,test:0]", output_dir=output, preset="tiny", max_steps=4,
                                batch_size=8, logging_steps=2, disable_progress_bar=True, **extra))
    return output


@pytest.fixture(scope="module")
def llada(tmp_path_factory) -> Path:
    return _train(tmp_path_factory.mktemp("llada") / "ckpt", family="llada")


@pytest.fixture(scope="module")
def editflow(tmp_path_factory) -> Path:
    return _train(tmp_path_factory.mktemp("editflow") / "ckpt", family="editflow", backbone="llada")


@pytest.fixture(scope="module")
def third_party_site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("site")
    make_fake_dist(site, "toy-left-to-right", "toy_left_to_right", LEFT_TO_RIGHT_PLUGIN)
    return site


def _dllm(*args: str, site: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return subprocess.run([*DLLM, *args], capture_output=True, text=True, timeout=300, env=env, input=stdin)


def _greedy_left_to_right(checkpoint: Path, text: str, count: int) -> str:
    """The third-party algorithm computed here, independently of the plugin and the session."""
    from dllm_core.checkpoint import load_for_inference, resolve_family

    model, tokenizer, special = load_for_inference(checkpoint, resolve_family(checkpoint))
    ids = tokenizer.encode(text, add_special_tokens=not text.startswith(tokenizer.bos_token or "\0"))
    canvas = torch.tensor([ids + [special.mask_token_id] * count])
    with torch.no_grad():
        for position in range(len(ids), len(ids) + count):
            logits = model(canvas).logits[0, position]
            logits[special.mask_token_id] = -torch.inf
            canvas[0, position] = logits.argmax()
    answer = canvas[0, len(ids):].tolist()
    stops = set(special.stop_token_ids())
    cut = next((i for i, token in enumerate(answer) if token in stops), len(answer))
    return tokenizer.decode(answer[:cut], skip_special_tokens=True)


def test_a_third_party_generator_works_in_sample_chat_and_eval(llada, third_party_site, tmp_path):
    listed = _dllm("list", "generators", site=third_party_site)
    assert "left-to-right" in listed.stdout and "toy-left-to-right" in listed.stdout

    expected = _greedy_left_to_right(llada, PUZZLE, 6)
    sample = _dllm("sample", str(llada), "--preset", "left-to-right", "--prompt", PUZZLE.replace("\n", "\\n"),
                   "--gen-length", "6", site=third_party_site)
    assert sample.returncode == 0, sample.stderr[-2000:]
    assert "(nfe 6)" in sample.stdout  # --gen-length reached its own `answer_tokens` through the role
    assert _completion(sample.stdout) == expected

    chat_prompt = "1234"
    expected_chat = _greedy_left_to_right(llada, _chat_text(llada, chat_prompt), 6)
    chat = _dllm("chat", str(llada), "--preset", "left-to-right", "--gen-length", "6", site=third_party_site,
                 stdin=f"{chat_prompt}\n/quit\n")
    assert chat.returncode == 0, chat.stderr[-2000:]
    assert "left-to-right sampler" in chat.stdout and f"dllm> {expected_chat}\n" in chat.stdout

    evaluated = _dllm("eval", str(llada), "--tasks", "dllm_sudoku4", "--limit", "2", "--output-path",
                      str(tmp_path / "eval"), "--model-args", "generator=left-to-right", site=third_party_site)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert '"generator": "left-to-right"' in json.dumps(results)


def _completion(stdout: str) -> str:
    """The one completion ``dllm sample`` printed (it ends with the answer, a newline, a blank line)."""
    text = stdout.split("### completion\n", 1)[1]
    assert text.endswith("\n\n")
    return text[:-2]


def _chat_text(checkpoint: Path, message: str) -> str:
    from dllm_core.checkpoint import load_tokenizer, resolve_family
    from dllm_core.special_tokens import adapt_tokenizer

    family = resolve_family(checkpoint)
    tokenizer = adapt_tokenizer(load_tokenizer(checkpoint, family), family)
    return tokenizer.apply_chat_template([{"role": "user", "content": message}], add_generation_prompt=True,
                                         tokenize=False)


def test_dllm_sample_and_dllm_eval_give_the_same_tokens(llada):
    from lm_eval.api.instance import Instance

    from dllm_core.evaluation.lm_adapter import DiffusionLM

    settings = ["--gen-length", "8", "--steps", "8", "--block-length", "4", "--temperature", "1.0", "--seed", "7"]
    sample = _dllm("sample", str(llada), "--prompt", PUZZLE.replace("\n", "\\n"), *settings)
    assert sample.returncode == 0, sample.stderr[-2000:]
    sampled = _completion(sample.stdout)

    model = DiffusionLM(pretrained=str(llada), seed=7, steps=8, block_length=4, temperature=1.0)
    request = Instance("generate_until", {}, (PUZZLE, {"until": [], "max_gen_toks": 8}), 0)
    [evaluated] = model.generate_until([request])
    assert evaluated == sampled


def test_editflow_checkpoints_chat_and_evaluate(editflow, tmp_path):
    chat = _dllm("chat", str(editflow), "--steps", "4", stdin="1234\n/quit\n")
    assert chat.returncode == 0, chat.stderr[-2000:]
    assert "editflow model, editflow sampler" in chat.stdout and "dllm> " in chat.stdout

    evaluated = _dllm("eval", str(editflow), "--tasks", "dllm_sudoku4", "--limit", "2", "--output-path",
                      str(tmp_path / "eval"), "--model-args", "steps=4")
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert (tmp_path / "eval" / "results.json").is_file()


def test_editflow_refuses_log_likelihood_requests_with_the_reason(editflow):
    from lm_eval.api.instance import Instance

    from dllm_core.errors import DllmError
    from dllm_core.evaluation.lm_adapter import DiffusionLM

    model = DiffusionLM(pretrained=str(editflow))
    with pytest.raises(DllmError, match="no masked-diffusion likelihood bound"):
        model.loglikelihood([Instance("loglikelihood", {}, ("12", "34"), 0)])


def test_an_option_of_another_generator_is_one_line_exit_2(llada):
    result = _dllm("sample", str(llada), "--prompt", "12", "--show-edits")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "dllm: error: --show-edits is not an option of generator 'llada'; pick a generator that has it with "
        "--preset (see `dllm list generators`)"]
    missing_role = _dllm("sample", str(llada), "--prompt", "12", "--preset", "editflow", "--block-length", "4")
    assert missing_role.returncode == 2 and "generator 'editflow' has no block parameter" in missing_role.stderr
