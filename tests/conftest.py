"""Shared pytest fixtures: offline Hugging Face settings, the golden data folder, torch threads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    """The golden reference folder (see :mod:`support.golden`); missing fails."""
    from support.golden import golden_path, load_manifest

    try:
        load_manifest()
    except FileNotFoundError as exc:
        pytest.fail(str(exc))
    return golden_path()


@pytest.fixture(scope="session")
def golden2_dir() -> Path:
    """The series-2 golden folder (see :mod:`support.golden`); missing fails."""
    from support.golden import golden2_path, load_manifest

    try:
        load_manifest(2)
    except FileNotFoundError as exc:
        pytest.fail(str(exc))
    return golden2_path()


@pytest.fixture
def torch_threads(request):
    """The test runs on this many torch threads (1, or the parameter of an indirect
    parametrization), restored after: on several, MKL splits some small matrix products
    differently, and their last bits change (docs/speed.md)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(getattr(request, "param", 1))
    yield
    torch.set_num_threads(before)
