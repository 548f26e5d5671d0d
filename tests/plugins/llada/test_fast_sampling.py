"""The demo's fast setting keeps the plain setting's accuracy: a short, honest version of the
demo's stage 4 and of the sampling curve of ``benchmarks/quality.py``.

A tiny LLaDA is trained from scratch for a short budget on easy 4x4 sudoku (1 to 4 blanks),
enough to solve many but not all held-out puzzles, then the same held-out puzzles are sampled
with the demo's plain setting (one token per step) and its fast setting
(``dllm_llada.demo.FAST``), counting the forwards each puzzle needs. The fast setting must solve
nearly as many (within ``BOUND``) while committing several tokens per forward; a rule that
committed too eagerly, or a forward count that was wrong, fails.

Calibration (this configuration, seed 0, ``pytest -rA`` prints the figures): plain solved 0.908
at 1.00 token per forward, the fast setting (threshold 0.99) 0.908 at 6.69 tokens per forward
(the factor rule at 0.2 solved 0.867 at 10.91: this model is far less sure of itself than the
demo's). 300 steps of 16 on 1 to 6 blanks was too short: no prediction reached 0.99, so the
fast setting took one token per step and the speed floor failed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dllm_core.registry import get_registry
from dllm_core.session import InferenceSession
from dllm_core.training.run import run_training
from dllm_core.training.run_config import TrainRunConfig
from dllm_llada.demo import FAST, PLAIN, sample_counting_forwards, setting_result

STEPS, BATCH = 400, 16
BLANKS = "min_blanks:1,max_blanks:4"
PUZZLES = 120  # held-out puzzles, 30 per blank count
BOUND = 0.05  # the fast setting may solve at most this share fewer puzzles than the plain one


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("fast-sampling") / "checkpoint"
    run_training(TrainRunConfig(
        data=f"sudoku4[train:{STEPS * BATCH},test:0,seed:0,{BLANKS}]", output_dir=output, family="llada",
        preset="tiny", max_steps=STEPS, batch_size=BATCH, learning_rate=2e-3, weight_decay=0.1, warmup_ratio=0.2,
        lr_scheduler_type="cosine", seed=0, logging_steps=50, disable_progress_bar=True,
        generator_defaults=dict(PLAIN["params"])))
    return output


def test_the_fast_setting_keeps_the_plain_accuracy_at_several_tokens_per_forward(checkpoint):
    task = get_registry().tasks.get("sudoku4")(min_blanks=1, max_blanks=4)
    prompts = [r["prompt"] for r in task.generate(PUZZLES, seed=1234, split="test")]
    session = InferenceSession.load(checkpoint)
    plain = setting_result("plain", task, prompts, sample_counting_forwards(session, prompts, PLAIN))
    fast = setting_result("fast", task, prompts, sample_counting_forwards(session, prompts, FAST))
    print(f"plain {plain.accuracy:.3f} at {plain.tokens_per_forward:.2f} tokens/forward; "
          f"fast {fast.accuracy:.3f} at {fast.tokens_per_forward:.2f}")
    assert plain.tokens_per_forward == pytest.approx(1.0)  # one token per step: 20 forwards each
    assert 0.3 <= plain.accuracy < 1.0  # learned, and not so well that any setting would pass
    assert fast.accuracy >= plain.accuracy - BOUND
    assert fast.tokens_per_forward >= 3.0
    assert set(fast.by_hints) == set(range(12, 16))  # 1..4 blanks: 15..12 hints
