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
    (("--device", "gpu0"), "--device 'gpu0' is not a device; use cpu, cuda, cuda:1, mps"),
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
    (("--family", "llada", "--objective", "maskedd"), "unknown objective 'maskedd'. Did you mean 'masked-diffusion'?"),
], ids=["family", "objective"])
def test_a_mistyped_name_is_reported_before_torch_is_imported(tmp_path, flags, message):
    import subprocess
    import sys

    script = ("import sys\nfrom dllm_core.cli.main import main\n"
              f"code = main(['train', *{list(flags)!r}, '--preset', 'tiny', '--data', 'sudoku4[train:8]', "
              f"'--output-dir', {str(tmp_path / 'run')!r}])\n"
              "print('exit', code, 'torch imported', 'torch' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert message in result.stderr
    assert "exit 2 torch imported False" in result.stdout
    assert not (tmp_path / "run").exists()
