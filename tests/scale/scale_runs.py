"""Helpers of the scale tests: ``dllm train`` runs of the tiny LLaDA preset on 1-2 CPU processes.

Every run trains the same model on the same rows (``RUN``): 4 rows per micro-batch, 8 optimiser
steps, no test split. ``reference`` is one process accumulating 2 micro-batches per step; the
multi-process runs use 2 processes of 1 micro-batch, the same global batch.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

DLLM = [sys.executable, "-m", "dllm_core.cli.main"]
STEPS = 8
#: the run every scale test shares (without the output folder and the process layout)
RUN = ["--family", "llada", "--preset", "tiny", "--data", "sudoku4[train:96,test:0]", "--max-steps", str(STEPS),
       "--batch-size", "4", "--logging-steps", "1", "--learning-rate", "3e-3", "--no-progress"]
PROMPT_IDS = torch.tensor([[5, 6, 7, 8, 9, 10, 11, 12, 5, 6, 7, 8]])


def environment() -> dict[str, str]:
    """Offline, one thread per process (2 cores), no tokenizer threads."""
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
            "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}


def dllm(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``dllm ARGS`` to completion; a failure shows the end of its output."""
    result = subprocess.run([*DLLM, *args], capture_output=True, text=True, env=environment(), timeout=timeout)
    assert result.returncode == 0, f"dllm {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return result


def logits_of(folder: Path) -> torch.Tensor:
    """Logits of a checkpoint (or adapter) folder on a fixed prompt, in float32."""
    from dllm_core.checkpoint import load_model

    model = load_model(folder).float().eval()
    with torch.no_grad():
        return model(input_ids=PROMPT_IDS).logits


def losses(folder: Path) -> list[float]:
    import json

    history = json.loads((folder / "log_history.json").read_text())
    return [row["loss"] for row in history if "loss" in row]
