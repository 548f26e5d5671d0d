"""Tiny random DiffusionGemma models (dense and MoE presets) for the plugin's tests."""

from __future__ import annotations

import pytest
import torch

from dllm_core.data.tokenizer import build_char_tokenizer
from transformers import DiffusionGemmaForBlockDiffusion

from dllm_diffusiongemma.builder import preset_config


@pytest.fixture(scope="session")
def char_tokenizer():
    return build_char_tokenizer()


@pytest.fixture(scope="session", params=["tiny", "tiny-moe"])
def tiny_model(request, char_tokenizer):
    """A random ``DiffusionGemmaForBlockDiffusion`` of each preset with canvases of 8 tokens (so
    short answers span several canvases), in eval mode."""
    torch.manual_seed(0)
    return DiffusionGemmaForBlockDiffusion(preset_config(request.param, char_tokenizer, canvas_length=8)).eval()
