"""The golden reference data: tiny official-format checkpoints and the official code's outputs.

Two series: ``golden`` (v1) and ``golden2`` (seeded sampling, mask-argmax, Fast-dLLM's factor
rule, LLaDA2, LLaDA-MoE and A2D). Series 1 is ``$DLLM_GOLDEN_DIR`` when set, series 2
``$DLLM_GOLDEN2_DIR``; else ``../shared/golden`` / ``../shared/golden2`` beside the repository.
Each ``manifest.json`` lists every case (inputs, parameters, expected ids and NFE).
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

_REPO_ROOT = Path(__file__).resolve().parents[2]  # tests/support/golden.py -> the repository

#: series -> (environment variable, folder name under ../shared)
_SERIES = {1: ("DLLM_GOLDEN_DIR", "golden"), 2: ("DLLM_GOLDEN2_DIR", "golden2")}


def golden_path(series: int = 1) -> Path:
    """Where the golden data of ``series`` is expected (it may not exist)."""
    variable, folder = _SERIES[series]
    return Path(os.environ.get(variable, _REPO_ROOT.parent / "shared" / folder))


@lru_cache(maxsize=None)
def load_manifest(series: int = 1) -> dict[str, Any]:
    """The parsed ``manifest.json``; a missing file is a clear error (tests must not skip it)."""
    manifest = golden_path(series) / "manifest.json"
    if not manifest.is_file():
        raise FileNotFoundError(
            f"golden data not found at {manifest.parent}; set {_SERIES[series][0]} to the folder "
            "holding manifest.json"
        )
    return json.loads(manifest.read_text())


def golden_cases(family: str, series: int = 1) -> list[dict[str, Any]]:
    """The cases of one family (``llada``, ``dream``, ``bert``, ...), in manifest order."""
    return [case for case in load_manifest(series)["cases"] if case["family"] == family]


def golden2_path() -> Path:
    """Where series 2 is expected."""
    return golden_path(2)


def golden2_cases(family: str) -> list[dict[str, Any]]:
    """The series-2 cases of one family (``llada``, ``dream``, ``llada2``, ``lladamoe``,
    ``a2d_qwen3``), in manifest order."""
    return golden_cases(family, series=2)
