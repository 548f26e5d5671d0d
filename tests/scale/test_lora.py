"""LoRA through ``dllm train --lora``: train, save, reload, merge; QLoRA where bitsandbytes runs."""

from __future__ import annotations

import json
import subprocess

import pytest
import torch
from scale_runs import DLLM, dllm, environment, logits_of

peft = pytest.importorskip("peft", reason="the lora extra is not installed")

LORA_RUN = ["--data", "sudoku4[train:32,test:0]", "--max-steps", "3", "--batch-size", "4", "--logging-steps", "1",
            "--learning-rate", "1e-2", "--no-progress", "--lora", "--lora-r", "4", "--lora-alpha", "8",
            "--lora-target-modules", "q_proj,v_proj,ff_proj", "--lora-modules-to-save", "ln_f"]


def test_lora_trains_an_adapter_that_reloads_and_merges(reference, tmp_path):
    adapter = tmp_path / "adapter"
    dllm("train", "--model", str(reference), *LORA_RUN, "--output-dir", str(adapter))
    names = {p.name for p in adapter.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "dllm.json", "tokenizer.json"} <= names
    assert "model.safetensors" not in names  # only the adapter is saved
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["r"] == 4 and config["lora_alpha"] == 8
    assert set(config["target_modules"]) == {"q_proj", "v_proj", "ff_proj"} and config["modules_to_save"] == ["ln_f"]
    base_logits, adapter_logits = logits_of(reference), logits_of(adapter)  # reload: base + adapter
    assert not torch.allclose(adapter_logits, base_logits, atol=1e-4)  # the adapter learned something

    merged = tmp_path / "merged"
    result = dllm("merge-lora", str(adapter), "--output", str(merged))
    assert f"checkpoint: {merged}" in result.stdout
    names = {p.name for p in merged.iterdir()}
    assert {"config.json", "model.safetensors", "dllm.json", "tokenizer.json"} <= names
    assert "adapter_config.json" not in names
    info = json.loads((merged / "dllm.json").read_text())
    assert info["family"] == "llada" and info["extra"]["merged_from"] == str(adapter.resolve())
    torch.testing.assert_close(logits_of(merged), adapter_logits, rtol=1e-4, atol=1e-4)


def test_merge_lora_refuses_a_full_checkpoint(reference, tmp_path):
    result = subprocess.run([*DLLM, "merge-lora", str(reference), "--output", str(tmp_path / "x")],
                            capture_output=True, text=True, env=environment(), timeout=300)
    assert result.returncode == 2 and "is not a LoRA adapter" in result.stderr
    assert not (tmp_path / "x").exists()


def bitsandbytes_cpu_problem() -> str | None:
    """Why 4-bit cannot run on this CPU, or ``None`` when a 4-bit layer runs forward and backward."""
    try:
        import bitsandbytes as bnb
    except ImportError:
        return "bitsandbytes is not installed (pip install 'dllm-core[quant]')"
    try:
        layer = bnb.nn.Linear4bit(16, 16, quant_type="nf4", compress_statistics=True).to("cpu")
        layer.weight = bnb.nn.Params4bit(torch.randn(16, 16), requires_grad=False, quant_type="nf4").to("cpu")
        x = torch.randn(2, 16, requires_grad=True)
        layer(x).sum().backward()
    except Exception as exc:  # noqa: BLE001 - any failure means: not supported here
        return f"bitsandbytes {bnb.__version__} cannot run 4-bit layers on this CPU ({type(exc).__name__}: {exc})"
    return None


def test_qlora_loads_in_4bit_and_trains_an_adapter(reference, tmp_path):
    problem = bitsandbytes_cpu_problem()
    if problem is not None:
        print(f"skipping QLoRA: {problem}")
        pytest.skip(problem)
    adapter = tmp_path / "qlora"
    result = dllm("train", "--model", str(reference), *LORA_RUN, "--load-in-4bit", "--output-dir", str(adapter))
    assert "train_loss" in result.stdout
    history = json.loads((adapter / "log_history.json").read_text())
    assert all(torch.isfinite(torch.tensor(row["loss"])) for row in history if "loss" in row)
    assert (adapter / "adapter_model.safetensors").is_file() and not (adapter / "model.safetensors").exists()
    # the adapter applies to the full-precision base as well
    assert not torch.allclose(logits_of(adapter), logits_of(reference), atol=1e-4)
