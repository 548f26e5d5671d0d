"""Everything around the adapter that needs no model: model_args, suites, runs, task lookup,
bundled tasks, lm-eval registration and the command-line wrappers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dllm_core.evaluation import __main__ as eval_main
from dllm_core.evaluation import bundled, runner
from dllm_core.evaluation.runner import EvalConfig, EvalRun, merge_results, plan_runs
from dllm_core.evaluation.settings import AdapterSettings, settings_from_model_args
from dllm_core.evaluation.suites import STANDARD, get_suite
from dllm_core.errors import DllmError
from dllm_core.registry import get_registry

CKPT = Path("/nonexistent/ckpt")


# -- model_args ------------------------------------------------------------------------------
def test_model_args_split_into_adapter_settings_and_generator_parameters():
    settings = settings_from_model_args({"pretrained": "out/x", "mc_num": 32, "batch_size": "4", "steps": 64,
                                         "dtype": "bfloat16", "max_batch_size": 8, "trust_remote_code": True,
                                         "device": None})
    assert settings == AdapterSettings(pretrained=Path("out/x"), mc_num=32, batch_size=4, dtype="bfloat16",
                                       generator_params={"steps": 64})
    # LLaDA's evaluation defaults: 128 draws stratified in groups of 32, iterative greedy check, no CFG
    assert (settings.mc_batch_size, settings.greedy_check, settings.cfg_scale) == (32, "iterative", None)
    scoring = settings_from_model_args({"pretrained": "x", "cfg_scale": "0.5", "greedy_check": "one_forward",
                                        "mc_batch_size": 8, "forward_tokens": "1024"})
    assert (scoring.cfg_scale, scoring.greedy_check, scoring.mc_batch_size, scoring.forward_tokens) == (
        0.5, "one_forward", 8, 1024)
    assert scoring.generator_params == {}


@pytest.mark.parametrize("model_args, message", [
    ({}, "pretrained=PATH is required"),
    ({"pretrained": "x", "batch_size": "auto"}, "no automatic batch size"),
    ({"pretrained": "x", "mc_num": 0}, "mc_num must be a positive integer"),
    ({"pretrained": "x", "dtype": "fp8"}, "dtype must be one of"),
    ({"pretrained": "x", "seed": "abc"}, "seed must be an integer"),
    ({"pretrained": "x", "greedy_check": "fast"}, "greedy_check must be one of iterative, one_forward, off"),
    ({"pretrained": "x", "cfg_scale": "-1"}, "cfg_scale must be a number >= 0"),
    ({"pretrained": "x", "forward_tokens": "0"}, "forward_tokens must be a positive integer"),
])
def test_bad_model_args_are_one_clear_error(model_args, message):
    with pytest.raises(DllmError, match=message):
        settings_from_model_args(model_args)


# -- suites and runs -------------------------------------------------------------------------
def test_suites_name_their_source_and_unknown_names_suggest():
    names = {task.task for task in STANDARD.tasks}
    assert STANDARD.source and {"gsm8k", "mmlu", "mmlu_pro", "humaneval", "hellaswag"} <= names
    with pytest.raises(DllmError, match="Did you mean 'standard'"):
        get_suite("standrad")


def test_suite_runs_are_grouped_by_shots_and_length():
    runs = plan_runs(EvalConfig(CKPT, suite="standard", confirm_run_unsafe_code=True, gen_kwargs={"steps": 64}))
    by_tasks = {run.tasks: run for run in runs}
    assert by_tasks[("mmlu", "winogrande", "gpqa_main_n_shot")] == EvalRun(
        ("mmlu", "winogrande", "gpqa_main_n_shot"), 5, {"steps": 64}, False)
    generative = by_tasks[("gsm8k", "minerva_math", "bbh", "humaneval", "mbpp", "mmlu_pro")]
    assert generative.num_fewshot is None and generative.gen_kwargs == {"max_gen_toks": 1024, "steps": 64}
    assert sorted(t for run in runs for t in run.tasks) == sorted(t.task for t in STANDARD.tasks)


def test_suites_that_run_code_need_confirmation():
    with pytest.raises(DllmError, match="--confirm-run-unsafe-code"):
        plan_runs(EvalConfig(CKPT, suite="standard"))


@pytest.mark.parametrize("tasks, asked, expected", [
    (("dllm_sudoku4", "dllm_addition"), None, True),  # bundled tasks are in the SFT chat form
    (("dllm_sudoku4", "gsm8k"), None, False),
    (("gsm8k",), True, True),
    (("dllm_sudoku4",), False, False),
])
def test_chat_template_default(tasks, asked, expected):
    [run] = plan_runs(EvalConfig(CKPT, tasks=tasks, apply_chat_template=asked))
    assert run.apply_chat_template is expected


def test_nothing_to_evaluate_is_an_error():
    with pytest.raises(DllmError, match="nothing to evaluate"):
        plan_runs(EvalConfig(CKPT))


def test_merge_results_unions_mappings_and_keeps_the_first_scalars():
    first = {"results": {"a": {"acc,none": 1.0}}, "n-shot": {"a": 5}, "date": 1.0}
    second = {"results": {"b": {"acc,none": 0.5}}, "n-shot": {"b": 0}, "date": 2.0}
    assert merge_results([first, second]) == {
        "results": {"a": {"acc,none": 1.0}, "b": {"acc,none": 0.5}}, "n-shot": {"a": 5, "b": 0}, "date": 1.0}


# -- task lookup -----------------------------------------------------------------------------
class FakeTaskManager:
    """Stands in for lm-eval's TaskManager: knows a few 'built-in' names, records each index."""

    built: list[bool] = []

    def __init__(self, include_path, include_defaults=True, metadata=None):
        self.built.append(include_defaults)
        self.all_tasks = list(bundled.BUNDLED_TASKS) + (["gsm8k", "hellaswag"] if include_defaults else [])


@pytest.fixture
def fake_task_manager(monkeypatch):
    import lm_eval.tasks

    FakeTaskManager.built = []
    monkeypatch.setattr(lm_eval.tasks, "TaskManager", FakeTaskManager)
    return FakeTaskManager


def test_bundled_tasks_skip_indexing_lm_evals_own(fake_task_manager):
    manager = runner.task_manager(["dllm_sudoku4"], [], {})
    assert fake_task_manager.built == [False] and "gsm8k" not in manager.all_tasks
    runner.task_manager(["dllm_sudoku4", "gsm8k"], [], {})
    assert fake_task_manager.built == [False, False, True]


def test_unknown_task_suggests_and_names_the_offline_ones(fake_task_manager):
    with pytest.raises(DllmError, match=r"unknown task 'gsm8'\. Did you mean 'gsm8k'\?"):
        runner.task_manager(["gsm8"], [], {})
    with pytest.raises(DllmError, match="is not a folder"):
        runner.task_manager(["dllm_sudoku4"], [Path("/no/such/folder")], {})


def _hub_failure() -> Exception:
    """What ``datasets`` raises offline: a hub error wrapped in another exception."""
    from huggingface_hub.errors import OfflineModeIsEnabled

    try:
        try:
            raise OfflineModeIsEnabled("Cannot reach https://huggingface.co/datasets/allenai/ai2_arc: offline mode")
        except OfflineModeIsEnabled as exc:
            raise RuntimeError("Couldn't load dataset\nallenai/ai2_arc") from exc
    except RuntimeError as wrapped:
        return wrapped


@pytest.mark.parametrize("failure", [lambda: ConnectionError("Couldn't reach 'allenai/ai2_arc' on the Hub"),
                                     _hub_failure])
def test_offline_download_failure_names_the_task_and_the_fix(monkeypatch, failure):
    import lm_eval

    def offline(**kwargs):
        raise failure()

    monkeypatch.setattr(lm_eval, "simple_evaluate", offline)
    run = EvalRun(("arc_easy", "dllm_sudoku4"), None, {}, False)
    with pytest.raises(DllmError) as raised:
        runner._simple_evaluate(object(), run, EvalConfig(CKPT), manager=None)
    message = str(raised.value)
    assert "\n" not in message and "task(s) arc_easy could not be downloaded" in message
    assert "HF_DATASETS_OFFLINE=1" in message and "dllm_sudoku4" in message and "pre-download" in message


def test_other_errors_are_not_taken_for_download_failures(monkeypatch):
    import lm_eval

    monkeypatch.setattr(lm_eval, "simple_evaluate", lambda **kwargs: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        runner._simple_evaluate(object(), EvalRun(("arc_easy",), None, {}, False), EvalConfig(CKPT), manager=None)


def test_lm_eval_command_line_download_failure_is_one_line_and_exit_2(monkeypatch, capsys):
    import lm_eval.__main__

    def offline():
        raise _hub_failure()

    monkeypatch.setattr(lm_eval.__main__, "cli_evaluate", offline)
    code = eval_main.main(["--model", "llada", "--tasks", "arc_easy,hellaswag"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("dllm: error: the data of task(s) arc_easy, hellaswag could not be downloaded")


# -- bundled tasks ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", [name for name in bundled.BUNDLED_TASKS if not name.endswith("_mc")])
def test_bundled_tasks_load_offline_and_score_with_the_checker(name):
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(bundled.TASKS_DIR), include_defaults=False)
    task = manager.load([name])["tasks"][name]
    docs = list(task.test_docs())
    checker = get_registry().tasks.get(docs[0]["task"])()
    assert len(docs) == 200 and len({doc["prompt"] for doc in docs}) == 200
    assert docs == bundled.generate_docs(docs[0]["task"], 200, 1234)  # fixed seed: the same every time
    assert task.config.num_fewshot == 0 and task.config.generation_kwargs["max_gen_toks"] > 0
    for doc in docs[:5]:
        assert task.process_results(doc, [doc["answer"]]) == {"solved": 1.0}
        assert task.process_results(doc, ["nonsense"]) == {"solved": 0.0}
        assert checker.check(doc["prompt"], doc["answer"])
    assert task.doc_to_text(docs[0]) == docs[0]["prompt"]


def test_bundled_multiple_choice_task_offers_the_answer_among_rejected_one_digit_changes():
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(bundled.TASKS_DIR), include_defaults=False)
    task = manager.load(["dllm_sudoku4_mc"])["tasks"]["dllm_sudoku4_mc"]
    docs = list(task.test_docs())
    checker = get_registry().tasks.get("sudoku4")()
    assert len(docs) == 200 and task.OUTPUT_TYPE == "multiple_choice"
    assert [doc["prompt"] for doc in docs] == [doc["prompt"] for doc in bundled.generate_docs("sudoku4", 200, 1234)]
    golds = [task.doc_to_target(doc) for doc in docs]
    assert len(set(golds)) == 4  # the answer's position varies
    for doc, gold in zip(docs[:20], golds):
        choices = task.doc_to_choice(doc)
        assert len(set(choices)) == 4 and choices[gold] == doc["answer"]
        for index, choice in enumerate(choices):
            assert checker.check(doc["prompt"], choice) == (index == gold)
            assert sum(a != b for a, b in zip(choice, doc["answer"])) == (0 if index == gold else 1)
    [request] = task.construct_requests(docs[0], "CTX", apply_chat_template=True)[:1]
    assert request.args == ("CTX", task.doc_to_choice(docs[0])[0])  # the answer follows the chat turn as is


def test_bundled_test_rows_are_in_the_test_split():
    train = {record["prompt"] for record in get_registry().tasks.get("addition")().generate(2000, seed=1234)}
    assert not train & {doc["prompt"] for doc in bundled.generate_docs("addition", 200, 1234)}


# -- command lines ---------------------------------------------------------------------------
def test_lm_eval_cli_keeps_the_bundled_tasks_beside_an_include_path(tmp_path):
    import lm_eval.tasks

    assert eval_main.with_bundled_path(None) == [bundled.TASKS_DIR]
    assert eval_main.with_bundled_path("/mine") == ["/mine", bundled.TASKS_DIR]
    assert eval_main.with_bundled_path(["/a", bundled.TASKS_DIR]) == ["/a", bundled.TASKS_DIR]
    (tmp_path / "mine.yaml").write_text(
        f"include: {bundled.TASKS_DIR / 'dllm_addition.yaml'}\ntask: my_addition\n")
    original = lm_eval.tasks.TaskManager
    with eval_main.dllm_additions():
        manager = lm_eval.tasks.TaskManager(include_path=str(tmp_path), include_defaults=False)
        assert {"my_addition", "dllm_sudoku4"} <= set(manager.all_tasks)
    assert lm_eval.tasks.TaskManager is original
    assert eval_main.requested_tasks(["--tasks", "a,b", "-t", "c", "--tasks=d"]) == ["a", "b", "c", "d"]


def test_dllm_eval_help_imports_no_heavy_module():
    code = ("import sys, contextlib, io\n"
            "from dllm_core.cli import eval_command\n"
            "import argparse; p = argparse.ArgumentParser(); eval_command.add_arguments(p)\n"
            "print(sorted(m for m in ('torch', 'transformers', 'lm_eval', 'datasets') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"



def test_dllm_eval_bad_input_is_one_line_and_exit_2():
    from fake_dists import run_dllm

    missing = run_dllm("eval", "/nonexistent/ckpt", "--tasks", "dllm_sudoku4")
    assert missing.returncode == 2 and "checkpoint folder /nonexistent/ckpt does not exist" in missing.stderr
    malformed = run_dllm("eval", "/nonexistent/ckpt", "--tasks", "dllm_sudoku4", "--model-args", "steps")
    assert malformed.returncode == 2 and "'steps' is not key=value" in malformed.stderr
    assert "Traceback" not in missing.stderr + malformed.stderr
