"""Issue 25, items 1-6 and 10: nothing a user had is lost, nothing half-written loads.

Each test drives ``dllm`` as a user would (in-process, tiny runs of a few steps)."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import pytest

from dllm_core.checkpoint import INCOMPLETE_MARKER, load_model
from dllm_core.training.run_record import RUN_RECORD, read_run_id


def test_convert_refuses_an_output_that_holds_something(dllm, snapshot, tmp_path):
    source = tmp_path / "ar"  # never read: the output is checked first
    source.mkdir()
    as_file = tmp_path / "notes.txt"
    as_file.write_text("keep me")
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "data.csv").write_text("a,b\n")
    for output in (as_file, folder):
        before = snapshot(tmp_path)
        result = dllm("convert", "--from-ar", source, "--output", output, "--family", "a2d")
        assert result.code == 2 and result.one_error
        assert f"--output {output} already exists and is not empty; pass --overwrite" in result.one_error
        assert snapshot(tmp_path) == before


def test_resume_continues_only_its_own_run(train, tmp_path):
    run = tmp_path / "run"
    assert train(run, "--max-steps", 4, "--save-steps", 4, "--seed", 1).code == 0  # an older run
    old_checkpoint = read_run_id(run / "checkpoint-4")
    assert train(run, "--max-steps", 2, "--save-steps", 2, "--seed", 2).code == 0  # a new one, "interrupted"
    new_run = json.loads((run / RUN_RECORD).read_text())["run_id"]
    assert read_run_id(run / "checkpoint-2") == new_run != old_checkpoint

    changed = train(run, "--max-steps", 4, "--save-steps", 2, "--seed", 3, "--resume")
    assert changed.code == 2 and "started with other settings (seed: 2 then, 3 now)" in changed.err

    resumed = train(run, "--max-steps", 4, "--save-steps", 2, "--seed", 2, "--resume")
    assert resumed.code == 0
    assert "not continuing checkpoint-4: written by another run" in resumed.out
    history = json.loads((run / "log_history.json").read_text())
    steps = [row["step"] for row in history if "loss" in row]
    assert steps == [1, 2, 3, 4]  # steps 3 and 4 trained on top of this run's checkpoint-2
    assert read_run_id(run / "checkpoint-4") == new_run


def test_retraining_replaces_an_earlier_adapter_as_a_whole(train, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(tmp_path / "gone"),
                                                         "peft_type": "LORA"}))
    (run / "adapter_model.safetensors").write_bytes(b"old adapter")
    (run / "README.md").write_text("peft card")
    (run / "dllm.json").write_text(json.dumps({"family": "llada"}))
    (run / "my-notes.md").write_text("not a checkpoint file")
    assert train(run, "--max-steps", 1).code == 0
    assert not (run / "adapter_config.json").exists() and not (run / "adapter_model.safetensors").exists()
    assert not (run / "README.md").exists() and (run / "my-notes.md").read_text() == "not a checkpoint file"
    assert type(load_model(run)).__name__ != "PeftModel"


def test_an_unusable_output_folder_fails_before_any_work(train, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for output, words in ((blocker, f"--output-dir {blocker} is a file"),
                          (blocker / "run", f"--output-dir {blocker / 'run'} cannot be created: {blocker} is a file")):
        result = train(output, "--max-steps", 1)
        assert result.code == 2 and words in result.one_error and "loss" not in result.out
    assert blocker.read_text() == "x"


def test_a_failed_final_save_keeps_the_last_good_checkpoint(train, snapshot, tmp_path, monkeypatch):
    from dllm_core.training.trainer import DiffusionTrainer

    run = tmp_path / "run"
    assert train(run, "--max-steps", 1).code == 0
    earlier = snapshot(run)

    real_save = DiffusionTrainer.save_model

    def full_disk(self, output_dir=None, _internal_call=False):
        if _internal_call:  # a checkpoint-N: the disk still had room
            return real_save(self, output_dir, _internal_call)
        Path(output_dir).mkdir(parents=True, exist_ok=True)
        (Path(output_dir) / "model.safetensors").write_bytes(b"half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(DiffusionTrainer, "save_model", full_disk)
    result = train(run, "--max-steps", 2, "--save-steps", 1)
    assert result.code == 2 and result.one_error
    assert "No space left on device" in result.one_error and f"{run / 'checkpoint-2'}" in result.one_error
    assert (run / "checkpoint-2" / "trainer_state.json").is_file()
    kept = snapshot(run)
    assert {name: kept[name] for name in earlier if name not in ("dllm_run.json",)} == \
        {name: data for name, data in earlier.items() if name != "dllm_run.json"}


def test_a_save_killed_mid_swap_leaves_a_folder_that_is_refused(train, dllm, tmp_path, monkeypatch):
    import dllm_core.checkpoint as checkpoint

    run = tmp_path / "run"
    assert train(run, "--max-steps", 1).code == 0
    real_replace, moved = os.replace, []

    def killed_after_two(source, target):
        if len(moved) == 2:
            raise KeyboardInterrupt  # the process dies here
        moved.append(target)
        real_replace(source, target)

    monkeypatch.setattr(checkpoint.os, "replace", killed_after_two)
    assert train(run, "--max-steps", 1, "--seed", 5).code == 130
    monkeypatch.setattr(checkpoint.os, "replace", real_replace)
    assert (run / INCOMPLETE_MARKER).exists() and not (run / "dllm.json").exists()
    result = dllm("sample", run, "--prompt", "1")
    assert result.code == 2 and result.one_error and "holds an incomplete checkpoint" in result.one_error
    assert train(run, "--max-steps", 1).code == 0  # training again repairs it
    assert not (run / INCOMPLETE_MARKER).exists() and (run / "dllm.json").is_file()


def test_saved_files_honour_the_umask(train, tmp_path):
    old = os.umask(0o022)
    try:
        run = tmp_path / "run"
        assert train(run, "--max-steps", 1, "--save-steps", 1).code == 0
    finally:
        os.umask(old)
    for path in (run / "model.safetensors", run / "checkpoint-1" / "model.safetensors"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
