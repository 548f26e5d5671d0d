"""The Edit Flows model: shapes, time conditioning, and a checkpoint that reloads through the registry."""

from __future__ import annotations

import json

import torch

from dllm_core.checkpoint import CheckpointInfo, load_model, resolve_family, save_checkpoint
from dllm_core.data.tokenizer import build_char_tokenizer
from dllm_editflow.builder import build_from_preset


def test_outputs_and_time_conditioning() -> None:
    torch.manual_seed(0)
    tokenizer = build_char_tokenizer()
    model = build_from_preset("tiny", tokenizer, backbone="dream")
    ids = torch.randint(8, 40, (2, 7))
    out = model(input_ids=ids, t=torch.tensor([0.1, 0.9]))
    vocab = model.get_input_embeddings().num_embeddings
    assert out.rates.shape == (2, 7, 3) and bool((out.rates >= 0).all())
    assert out.insert_logits.shape == out.substitute_logits.shape == (2, 7, vocab)
    same = model(input_ids=ids, t=torch.tensor([0.9, 0.1])).rates
    assert torch.allclose(same, out.rates), "the time embedding starts at zero"
    with torch.no_grad():
        model.time_embedding.out.bias.normal_()
        model.time_embedding.out.weight.normal_()
    moved = model(input_ids=ids, t=torch.tensor([0.9, 0.1])).rates
    assert not torch.allclose(moved, model(input_ids=ids, t=torch.tensor([0.1, 0.9])).rates)


def test_checkpoint_round_trip(tmp_path) -> None:
    torch.manual_seed(0)
    tokenizer = build_char_tokenizer()
    model = build_from_preset("tiny", tokenizer, backbone="llada").eval()
    info = CheckpointInfo(family="editflow", extra={"backbone_family": "llada"})
    folder = save_checkpoint(model, tokenizer, tmp_path / "ckpt", info)
    assert (folder / "model.safetensors").is_file()
    assert json.loads((folder / "config.json").read_text())["backbone_family"] == "llada"
    assert resolve_family(folder).name == "editflow"
    loaded = load_model(folder).eval()
    ids = torch.randint(8, 40, (1, 6))
    t = torch.tensor([0.3])
    a, b = model(input_ids=ids, t=t), loaded(input_ids=ids, t=t)
    for name in ("rates", "insert_logits", "substitute_logits"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
