"""A ModernBERT checkpoint in the official format loads through the registry as bertchat."""

from __future__ import annotations

import torch
from safetensors.torch import load_file

from dllm_core.checkpoint import CheckpointInfo, load_model, resolve_family, save_checkpoint


def test_golden_modernbert_loads_and_matches_reference_logits(golden_dir, tmp_path):
    folder = golden_dir / "bert" / "checkpoint"
    family = resolve_family(folder)
    assert family.name == "bertchat"
    model = load_model(folder, attn_implementation="sdpa").eval()
    stored = load_file(str(golden_dir / "bert" / "logits.safetensors"))
    with torch.no_grad():
        logits = model(input_ids=stored["input_ids"]).logits
    torch.testing.assert_close(logits, stored["logits"], atol=1e-3, rtol=1e-3)

    saved = save_checkpoint(model, None, tmp_path / "copy", CheckpointInfo(family="bertchat"))
    assert resolve_family(saved).name == "bertchat"
    reloaded = load_model(saved, attn_implementation="sdpa").eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(input_ids=stored["input_ids"]).logits, logits)
