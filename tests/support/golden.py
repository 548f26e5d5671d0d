"""The golden reference data: tiny official-format checkpoints and the official code's outputs.

The folder is ``$DLLM_GOLDEN_DIR`` when set, else ``../shared/golden`` beside the repository.
Its ``manifest.json`` lists every case (inputs, parameters, expected ids and NFE).
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

_REPO_ROOT = Path(__file__).resolve().parents[2]  # tests/support/golden.py -> the repository


def golden_path() -> Path:
    """Where the golden data is expected (it may not exist)."""
    return Path(os.environ.get("DLLM_GOLDEN_DIR", _REPO_ROOT.parent / "shared" / "golden"))


@lru_cache(maxsize=None)
def load_manifest() -> dict[str, Any]:
    """The parsed ``manifest.json``; a missing file is a clear error (tests must not skip it)."""
    manifest = golden_path() / "manifest.json"
    if not manifest.is_file():
        raise FileNotFoundError(
            f"golden data not found at {manifest.parent}; set DLLM_GOLDEN_DIR to the folder "
            "holding manifest.json"
        )
    return json.loads(manifest.read_text())


def golden_cases(family: str) -> list[dict[str, Any]]:
    """The cases of one family (``llada``, ``dream``, ``bert``), in manifest order."""
    return [case for case in load_manifest()["cases"] if case["family"] == family]
