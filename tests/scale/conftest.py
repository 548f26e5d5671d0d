"""Fixtures of the scale tests (``make test-scale``; not part of ``make test``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from scale_runs import RUN, dllm


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference run: one process, 2 accumulated micro-batches of 4 rows per step."""
    output = tmp_path_factory.mktemp("reference") / "run"
    dllm("train", *RUN, "--gradient-accumulation-steps", "2", "--output-dir", str(output))
    return output
