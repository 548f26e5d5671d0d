"""Tau-leaping: a batch samples like its rows one by one, prompts stay, histories replay the run."""

from __future__ import annotations

import torch

from dllm_core.data.tokenizer import build_char_tokenizer
from dllm_editflow.builder import build_from_preset
from dllm_editflow.sampler import EditFlowSamplingConfig, sample
from dllm_editflow.view import save_animation


def make_model():
    torch.manual_seed(0)
    tokenizer = build_char_tokenizer()
    model = build_from_preset("tiny", tokenizer, backbone="llada").eval()
    with torch.no_grad():  # lively rates, so that every kind of edit happens
        model.rate_head.bias.fill_(1.0)
    return model, tokenizer


PROMPTS = [[2, 6, 10, 11, 12, 1, 7], [2, 7], [2, 6, 13, 14, 15, 16, 17, 18, 1, 7]]


def test_batch_equals_row_by_row_and_protects_prompts() -> None:
    model, _ = make_model()
    config = EditFlowSamplingConfig(steps=12, source="masks[length:4]")
    together = sample(model, PROMPTS, config, seeds=[5, 6, 7], record_history=True)
    for b, prompt in enumerate(PROMPTS):
        alone = sample(model, [prompt], config, seeds=[5 + b])
        assert alone.sequences[0] == together.sequences[b]
        assert together.sequences[b][: len(prompt)] == prompt
    totals = [h.totals() for h in together.histories]
    assert all(sum(t[k] for t in totals) > 0 for k in ("insert", "delete", "substitute")), totals
    for b, history in enumerate(together.histories):
        assert history.initial == [model.config.mask_token_id] * 4
        assert history.prompt + history.final == together.sequences[b]


def test_region_length_cap_and_animation(tmp_path) -> None:
    model, tokenizer = make_model()
    out = sample(model, PROMPTS, EditFlowSamplingConfig(steps=12, max_new_tokens=3), seeds=0, record_history=True)
    assert all(len(seq) - start <= 3 for seq, start in zip(out.sequences, out.prompt_lengths))
    for suffix in (".gif", ".html"):
        path = save_animation(out.histories, tokenizer, tmp_path / f"edits{suffix}")
        assert path.stat().st_size > 0
    from PIL import Image

    assert Image.open(tmp_path / "edits.gif").n_frames >= 3
