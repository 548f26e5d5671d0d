"""Training reports: the summary a run prints and the loss curve PNG written next to its checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from dllm_core.training.run import TrainRunResult


def print_result(result: TrainRunResult) -> None:
    """The run's metrics, where its checkpoint is, and what to run next."""
    for name, value in sorted({**result.train_metrics, **result.eval_metrics}.items()):
        print(f"{name}: {value:.4g}" if isinstance(value, float) else f"{name}: {value}")
    print(f"processes: {result.processes}")
    print(f"checkpoint: {result.checkpoint}  (loss curve: {result.checkpoint / 'loss_curve.png'})")
    chat = " --chat" if result.chat else ""
    print(f"next: dllm sample {result.checkpoint}{chat} --prompt \"...\"")


def loss_points(history: Sequence[dict[str, Any]], key: str = "loss") -> tuple[list[int], list[float]]:
    """``(steps, values)`` of ``key`` in a Trainer ``log_history``."""
    rows = [(row["step"], float(row[key])) for row in history if key in row and "step" in row]
    return [step for step, _ in rows], [value for _, value in rows]


def plot_curves(series: Sequence[tuple[str, tuple[list[int], list[float]], str]], path: Path, *, ylabel: str,
                title: str) -> Path:
    """Save one chart of ``(label, (steps, values), matplotlib format)`` series against the
    optimizer step to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for label, (steps, values), style in series:
        axis.plot(steps, values, style, label=label)
    axis.set_xlabel("optimizer step")
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def write_loss_curve(history: Sequence[dict[str, Any]], path: Path) -> Path | None:
    """Plot training loss (and eval NLL bound when logged) against steps; ``None`` if nothing logged."""
    train = loss_points(history)
    if not train[0]:
        return None
    series = [("train loss", train, "-")]
    bound = loss_points(history, "eval_nll_bound")
    if bound[0]:
        series.append(("eval NLL bound", bound, "o-"))
    return plot_curves(series, path, ylabel="loss (nats / token)", title="masked diffusion training")
