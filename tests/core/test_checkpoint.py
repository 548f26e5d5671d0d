"""Checkpoint folders: atomic writes, dllm.json round trip, family resolution errors."""

from __future__ import annotations

import json

import pytest

from dllm_core.checkpoint import CheckpointInfo, atomic_directory, resolve_family
from dllm_core.errors import DllmError


def test_atomic_directory_replaces_only_on_success(tmp_path):
    target = tmp_path / "ckpt"
    with atomic_directory(target) as staging:
        (staging / "a.txt").write_text("first")
    assert (target / "a.txt").read_text() == "first"

    with pytest.raises(RuntimeError):
        with atomic_directory(target) as staging:
            (staging / "a.txt").write_text("half-written")
            raise RuntimeError("killed mid-save")
    assert (target / "a.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # no temporary leftovers

    with atomic_directory(target) as staging:
        (staging / "b.txt").write_text("second")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_dllm_json_round_trip(tmp_path):
    info = CheckpointInfo(family="llada", objective={"name": "masked-diffusion"},
                          schedule={"name": "linear"}, generator={"preset": "llada", "steps": 64})
    info.write(tmp_path)
    assert CheckpointInfo.read(tmp_path) == info
    assert json.loads((tmp_path / "dllm.json").read_text())["family"] == "llada"
    assert CheckpointInfo.read(tmp_path / "missing") is None


def test_broken_dllm_json_is_a_clear_error(tmp_path):
    (tmp_path / "dllm.json").write_text("{not json")
    with pytest.raises(DllmError, match="not a valid dllm.json"):
        CheckpointInfo.read(tmp_path)


def test_resolve_family_errors_name_the_problem(tmp_path):
    with pytest.raises(DllmError, match="does not exist"):
        resolve_family(tmp_path / "nope")
    with pytest.raises(DllmError, match="holds no config.json"):
        resolve_family(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 8}))
    with pytest.raises(DllmError, match="has no model_type"):
        resolve_family(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "no-such-type"}))
    with pytest.raises(DllmError, match="unknown model_type 'no-such-type'"):
        resolve_family(tmp_path)


def test_adapter_without_base_is_a_clear_error(tmp_path):
    (tmp_path / "adapter_config.json").write_text(json.dumps({"r": 4}))
    with pytest.raises(DllmError, match="base_model_name_or_path"):
        resolve_family(tmp_path)


def test_locate_checkpoint_takes_folders_and_explains_unreachable_hub_ids(tmp_path, monkeypatch):
    from dllm_core.checkpoint import locate_checkpoint

    assert locate_checkpoint(tmp_path) == tmp_path
    with pytest.raises(DllmError, match="does not exist"):
        locate_checkpoint(tmp_path / "missing")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(DllmError, match="could not be fetched from the Hugging Face hub"):
        locate_checkpoint("no-such-org/no-such-model")
