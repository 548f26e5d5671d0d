"""The reward curve PNG a GRPO run writes next to its loss curve."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from dllm_core.training.report import loss_points, plot_curves


def write_reward_curve(history: Sequence[dict[str, Any]], path: Path) -> Path | None:
    """Plot the mean reward (in total and per reward function) against steps; ``None`` if none logged."""
    total = loss_points(history, "reward")
    if not total[0]:
        return None
    names = sorted({key for row in history for key in row if key.startswith("reward/")})
    per_function = [(name, loss_points(history, name), "-") for name in names] if len(names) > 1 else []
    return plot_curves([("mean reward (total)", total, "-"), *per_function], path, ylabel="reward",
                       title="diffu-GRPO")
