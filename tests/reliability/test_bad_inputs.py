"""Issue 25: every bad input is one ``dllm: error:`` line, exit code 2, and nothing written."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

TRAIN_CASES = [
    (("--max-length", "0"), "--max-length must be at least 1, got 0"),
    (("--max-length", "-5"), "--max-length must be at least 1, got -5"),
    (("--batch-size", "0"), "--batch-size must be at least 1, got 0"),
    (("--gradient-accumulation-steps", "0"), "--gradient-accumulation-steps must be at least 1"),
    (("--save-steps", "0"), "--save-steps must be at least 1, got 0"),
    (("--max-steps", "0"), "--max-steps must be a positive number of steps"),
    (("--max-steps", "-3"), "--max-steps must be a positive number of steps"),
    (("--learning-rate", "0"), "--learning-rate must be greater than 0, got 0.0"),
    (("--learning-rate", "nan"), "--learning-rate must be greater than 0, got nan"),
    (("--num-train-epochs", "-1"), "--num-train-epochs must be greater than 0"),
    (("--data", "sudoku4[train:0,test:0]"), "gives no training rows; ask for some with train:N"),
    (("--family", "lladaa"), "unknown family 'lladaa'. Did you mean 'llada'?"),
    (("--batch-size", "-2"), "--batch-size must be at least 1, got -2"),
    (("--learning-rate", "-0.1"), "--learning-rate must be greater than 0, got -0.1"),
    (("--logging-steps", "0"), "--logging-steps must be at least 1, got 0"),
    (("--eval-steps", "-1"), "--eval-steps must be at least 1, got -1"),
    (("--warmup-ratio", "1.5"), "--warmup-ratio must be in [0, 1)"),
    (("--data", "sudok4"), "unknown task 'sudok4'. Did you mean 'sudoku4'?"),
    (("--data", "sudoku4[blanks:x]"), "option 'blanks' of part 'sudoku4[blanks:x]' must be a int, got 'x'"),
    (("--data", "sudoku4[train:-1]"), "option 'train' in part 'sudoku4[train:-1]' must be a non-negative integer"),
    (("--data", "sudoku4[colour:red]"), "unknown option 'colour' for task 'sudoku4'"),
    (("--data", "runs/no-such.jsonl"), "file or folder 'runs/no-such.jsonl' does not exist"),
    (("--num-processes", "0"), "--num-processes must be at least 1, got 0"),
    (("--num-processes", "2", "--accelerate-config", "zero9"), "unknown accelerate config 'zero9'"),
    (("--num-processes", "2", "--family", "lladaa"), "unknown family 'lladaa'. Did you mean 'llada'?"),
]


@pytest.mark.parametrize("flags, message", TRAIN_CASES, ids=[" ".join(flags) for flags, _ in TRAIN_CASES])
def test_bad_training_settings_are_one_line_and_write_nothing(train, tmp_path, flags, message):
    output = tmp_path / "run"
    result = train(output, "--max-steps", "1", *flags)
    assert result.code == 2 and message in result.one_error
    assert not output.exists()


SAMPLE_CASES = [
    (("--preset", "fastdllm", "--threshold", "1.5"), "generator 'fastdllm': threshold must be between 0 and 1, got 1.5"),
    (("--preset", "fastdllm", "--threshold", "-0.5"), "threshold must be between 0 and 1, got -0.5"),
    (("--preset", "fastdllm", "--threshold", "nan"), "threshold must be between 0 and 1, got nan"),
    (("--temperature", "-1"), "generator 'llada': temperature must be 0 or more, got -1.0"),
    (("--steps", "0"), "generator 'llada': steps must be at least 1, got 0"),
    (("--gen-length", "16", "--block-length", "5"), "gen_length (16) must be a multiple of block_length (5)"),
    (("--gen-length", "0"), "generator 'llada': gen_length must be at least 1, got 0; an answer needs a token"),
    (("--gen-length", "-4"), "gen_length must be 0 or more, got -4"),
    (("--preset", "dream", "--gen-length", "0"), "generator 'dream': max_new_tokens must be at least 1, got 0"),
    (("--block-length", "0"), "generator 'llada': block_length must be at least 1, got 0"),
    (("--steps", "-2"), "generator 'llada': steps must be at least 1, got -2"),
    (("--steps", "64", "--gen-length", "32", "--block-length", "32"),
     "steps (64) is more than the 32 answer tokens (gen_length), and every step past the last token is a forward "
     "call that commits nothing; pass --steps 32 or fewer, or --gen-length 64 or more"),
    (("--steps", "256"), "steps (256) is more than the 128 answer tokens (gen_length)"),  # the checkpoint's length
    (("--device", "gpu0"), "--device 'gpu0' is not a device; use cpu, cuda, cuda:1, mps"),
    (("--preset", "llada", "--threshold", "0.9"), "generator 'llada' has no parameter 'threshold'"),
    (("--preset", "mdlm", "--use-cache", "dual"), "generator 'mdlm' has no parameter 'use_cache'"),
]


@pytest.mark.parametrize("flags, message", SAMPLE_CASES, ids=[" ".join(flags) for flags, _ in SAMPLE_CASES])
def test_out_of_range_sampling_settings_are_one_line(dllm, tiny_checkpoint, flags, message):
    result = dllm("sample", tiny_checkpoint, "--prompt", "12", *flags)
    assert result.code == 2 and message in result.one_error and result.out == ""


def test_cuda_on_a_build_without_it_is_one_line(dllm, tiny_checkpoint):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is usable here")
    result = dllm("sample", tiny_checkpoint, "--prompt", "12", "--device", "cuda")
    assert result.code == 2 and result.out == ""
    assert "--device cuda: this torch build has no usable CUDA GPU" in result.one_error
    assert "use --device cpu" in result.one_error


def test_a_mistyped_local_checkpoint_is_no_such_folder_with_a_suggestion(dllm, tiny_checkpoint, monkeypatch):
    monkeypatch.chdir(tiny_checkpoint.parent.parent)
    result = dllm("sample", f"{tiny_checkpoint.parent.name}/rnu", "--prompt", "1")
    assert result.code == 2
    assert (f"checkpoint folder {tiny_checkpoint.parent.name}/rnu does not exist. Did you mean "
            f"'{tiny_checkpoint.parent.name}/run'?") in result.one_error


@pytest.mark.parametrize("name", ["core", "llada"])
def test_new_plugin_refuses_installed_names(dllm, tmp_path, name):
    result = dllm("new-plugin", name, "--output-dir", tmp_path)
    assert result.code == 2 and f"plugin name '{name}' is taken by an installed plugin" in result.one_error
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["train", "eval"])
@pytest.mark.parametrize("under", [False, True], ids=["a-file", "under-a-file"])
def test_an_output_folder_that_is_a_file_is_one_line_before_any_work(dllm, train, tiny_checkpoint, tmp_path, command,
                                                                     under):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    target = blocker / "out" if under else blocker
    if command == "train":
        result = train(target, "--max-steps", "1")
        flag = "--output-dir"
    else:
        result = dllm("eval", tiny_checkpoint, "--tasks", "dllm_sudoku4", "--limit", "1", "--output-path", target)
        flag = "--output-path"
    what = f"cannot be created: {blocker} is a file" if under else "is a file"
    assert result.code == 2 and f"{flag} {target} {what}; pass a folder" in result.one_error
    assert blocker.read_text() == "x" and result.out == ""


def test_new_plugin_into_a_file_is_one_line(dllm, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = dllm("new-plugin", "fresh-name", "--output-dir", blocker)
    assert result.code == 2 and "cannot create a folder in --output-dir" in result.one_error
    assert blocker.read_text() == "x"


def _damaged_copy(source: Path, target: Path, damage) -> Path:
    shutil.copytree(source, target)
    damage(target)
    return target


DAMAGE = {
    "no-weights": (lambda f: (f / "model.safetensors").unlink(), "no file named model.safetensors"),
    "truncated-weights": (lambda f: (f / "model.safetensors").write_bytes((f / "model.safetensors").read_bytes()[:900]),
                          "Error while deserializing header"),
    "garbage-weights": (lambda f: (f / "model.safetensors").write_bytes(b"not safetensors at all"),
                        "Error while deserializing header"),
    "mismatched-shapes": (lambda f: (f / "config.json").write_text((f / "config.json").read_text().replace(
        '"mlp_hidden_size": 256', '"mlp_hidden_size": 512')), "ignore_mismatched_sizes"),
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_damaged_checkpoints_are_one_line(dllm, tiny_checkpoint, tmp_path, kind):
    damage, words = DAMAGE[kind]
    folder = _damaged_copy(tiny_checkpoint, tmp_path / kind, damage)
    result = dllm("sample", folder, "--prompt", "1")
    assert result.code == 2 and f"cannot load the weights of {folder}" in result.one_error
    assert words in result.one_error


def test_resume_from_a_damaged_checkpoint_is_one_line(train, tmp_path):
    run = tmp_path / "run"
    assert train(run, "--max-steps", 1, "--save-steps", 1).code == 0
    (run / "checkpoint-1" / "model.safetensors").write_bytes(b"garbage")
    result = train(run, "--max-steps", 2, "--save-steps", 1, "--resume")
    assert result.code == 2 and f"--resume: {run / 'checkpoint-1'} is damaged" in result.one_error
    assert (run / "dllm.json").is_file() and not (run / "checkpoint-2").exists()


def test_convert_into_a_folder_that_cannot_be_created_is_one_line(dllm, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = dllm("convert", "--from-ar", tmp_path, "--output", blocker / "out", "--family", "a2d")
    assert result.code == 2 and f"--output {blocker / 'out'} cannot be created: {blocker} is no folder" in result.one_error
    assert blocker.read_text() == "x"


def test_a_checkpoint_saved_under_a_file_is_one_line(tmp_path):
    from dllm_core.checkpoint import atomic_directory
    from dllm_core.errors import DllmError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DllmError, match=f"cannot write {blocker / 'out'} "):
        with atomic_directory(blocker / "out"):
            pass


@pytest.mark.parametrize("flags, message", [
    (("--family", "lladaa"), "unknown family 'lladaa'. Did you mean 'llada'?"),
    (("--objective", "maskedd"), "unknown objective 'maskedd'. Did you mean 'masked-diffusion'?"),
    (("--data", "sudok4[train:8]"), "unknown task 'sudok4'. Did you mean 'sudoku4'?"),
    (("--data", "sudoku4[train:8]+countdwn"), "unknown task 'countdwn'. Did you mean 'countdown'?"),
    (("--num-processes", "2", "--data", "sudok4"), "unknown task 'sudok4'"),  # the launcher's process checks it
], ids=["family", "objective", "task", "second-task", "task-two-processes"])
def test_a_mistyped_name_is_reported_before_torch_is_imported(tmp_path, flags, message):
    import subprocess
    import sys

    script = ("import sys\nfrom dllm_core.cli.main import main\n"
              "code = main(['train', '--family', 'llada', '--preset', 'tiny', '--data', 'sudoku4[train:8]', "
              f"'--output-dir', {str(tmp_path / 'run')!r}, *{list(flags)!r}])\n"
              "print('exit', code, 'torch imported', 'torch' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert message in result.stderr
    assert "exit 2 torch imported False" in result.stdout
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("name, values, fitted", [
    ("dream", {"steps": 128, "max_new_tokens": 16}, 16),  # Dream's family default above a short answer
    ("llada", {"steps": 128, "gen_length": 32, "block_length": 8}, 32),  # 4 blocks still divide 32
    ("mdlm", {"steps": 128, "max_new_tokens": 20, "block_size": 8}, 20),
    ("bd3lm", {"steps": 64, "max_new_tokens": 12, "block_size": 4}, 12),
    ("llada2", {"steps": 32, "gen_length": 16, "block_length": 8}, 16),
    ("llada", {"steps": 16, "gen_length": 32, "block_length": 8}, 16),  # within the answer: unchanged
])
def test_default_steps_above_the_answer_are_lowered_and_given_ones_refused(name, values, fitted):
    from dllm_core.errors import DllmError
    from dllm_core.registry import get_registry

    generator = get_registry().generators.get(name)
    params = generator.make_params(values)
    assert generator.fit_answer(params).steps == fitted
    assert generator.fit_answer(params, given={"temperature"}).steps == fitted
    length = values.get("gen_length", values.get("max_new_tokens"))
    if values["steps"] > length:
        with pytest.raises(DllmError, match=f"steps \\({values['steps']}\\) is more than the {length} answer tokens"):
            generator.fit_answer(params, given={"steps"})
    else:
        assert generator.fit_answer(params, given={"steps"}) is params


def test_steps_of_a_generator_that_does_not_unmask_per_step_are_left_alone():
    """Edit Flows tau-leaping steps discretise time, not answer tokens: more steps than tokens is fine."""
    from dllm_core.registry import get_registry

    generators = get_registry().generators
    if "editflow" not in generators:
        pytest.skip("the editflow plugin is not installed")
    editflow = generators.get("editflow")
    params = editflow.make_params({"steps": 64, "max_new_tokens": 8})
    assert editflow.fit_answer(params, given={"steps"}).steps == 64


def test_sample_with_a_short_answer_lowers_the_checkpoints_default_steps(dllm, tiny_checkpoint):
    """The tiny checkpoint's dllm.json says 128 steps; a 32-token answer in one block takes 32 calls."""
    result = dllm("sample", tiny_checkpoint, "--prompt", "12", "--gen-length", "32", "--block-length", "32")
    assert result.code == 0 and "### prompt 1 (nfe 32)" in result.out
