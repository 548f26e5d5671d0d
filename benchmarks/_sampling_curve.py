"""Accuracy against speed of the fast sampling rules on one trained checkpoint (``quality.py``).

Every point samples the same puzzles with the ``fastdllm`` generator over the demo's answer
(one block of 20 tokens): a commit rule at one value, with or without a key/value cache.
Speed is tokens per forward: the answer's tokens over the forward calls the puzzles need, each
puzzle counted up to the call that committed its last token (what it costs sampled alone), all
puzzles together; ``NFE`` is the calls per batch of 200, whose slowest puzzle sets it.

The points separate the two causes of Fast-dLLM's loss:

* parallel commits alone: each rule without a cache (threshold, factor, entropy bound);
* cache staleness alone: one token per step with the prefix or dual cache (the plain setting's
  commits, only the keys/values differ), and with the cache recomputed every few steps
  (``cache_refresh``);
* both: the rules with the dual cache (Fast-dLLM's default is threshold 0.9 with it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from dllm_core.data.tasks.base import Task

#: (rule, values): each rule's parameter of the ``fastdllm`` generator, loosest value last
RULES = (
    ("threshold", (0.999, 0.99, 0.95, 0.9, 0.7)),
    ("factor", (0.05, 0.2, 0.5, 1.0)),
    ("entropy_bound", (0.01, 0.05, 0.1, 0.3)),
)
#: (label, params): caches with one token per step (staleness alone)
ONE_TOKEN = (
    ("prefix cache", {"use_cache": "prefix"}),
    ("dual cache", {"use_cache": "dual"}),
    ("dual cache, refresh every 2 steps", {"use_cache": "dual", "cache_refresh": 2}),
)
#: (label, params, values): caches the threshold rule is also tried with, at these thresholds
THRESHOLD_CACHES = (
    ("dual cache", {"use_cache": "dual"}, (0.99, 0.9)),
    ("dual cache, refresh every 2 steps", {"use_cache": "dual", "cache_refresh": 2}, (0.99, 0.9)),
)


@dataclass
class CurvePoint:
    """One setting's solve rate and speed."""

    rule: str  # "plain", "one token/step" or a commit rule of RULES
    value: float | None  # the rule's parameter
    cache: str  # label of the cache policy ("" for none)
    solved: float
    tokens_per_forward: float
    nfe: float
    seconds: float


#: one point of the curve: (rule, value, cache label, {"preset", "params"})
Setting = tuple[str, float | None, str, dict[str, Any]]


def curve_settings(base: dict[str, int], quick: bool = False) -> list[Setting]:
    """Every point of the curve over the answer settings ``base``; ``quick``: each rule's
    strictest and loosest value, and Fast-dLLM's default, only."""
    def point(rule: str, value: float | None, label: str, params: dict[str, Any]) -> Setting:
        return rule, value, label, {"preset": "fastdllm" if params else "llada", "params": {**base, **params}}

    points = [point("plain", None, "", {})]
    points += [point("one token/step", None, label, cache) for label, cache in ONE_TOKEN[: 2 if quick else None]]
    for rule, values in RULES:
        chosen = (values[0], values[-1]) if quick else values
        points += [point(rule, value, "", {rule: value}) for value in chosen]
    for label, cache, values in THRESHOLD_CACHES[: 1 if quick else None]:
        chosen = values[-1:] if quick else values
        points += [point("threshold", value, label, {**cache, "threshold": value}) for value in chosen]
    return points


def run_curve(checkpoint: Path, task: Task, prompts: Sequence[str], base: dict[str, int],
              quick: bool = False) -> list[CurvePoint]:
    """Sample ``prompts`` with every setting of :func:`curve_settings` on ``checkpoint``."""
    from dllm_core.session import InferenceSession
    from dllm_llada.demo import sample_counting_forwards, setting_result

    session = InferenceSession.load(checkpoint)
    points = []
    for rule, value, cache, setting in curve_settings(base, quick):
        sampled = sample_counting_forwards(session, list(prompts), setting)
        result = setting_result(rule, task, list(prompts), sampled)
        points.append(CurvePoint(rule, value, cache, result.accuracy, result.tokens_per_forward, result.nfe,
                                 result.seconds))
        print(f"  {curve_label(points[-1]):<52} solved {100 * result.accuracy:5.1f}%  tokens/forward "
              f"{result.tokens_per_forward:5.2f}  NFE {result.nfe:5.1f}", flush=True)
    return points


def curve_label(point: CurvePoint) -> str:
    value = "" if point.value is None else f" {point.value:g}"
    return f"{point.rule}{value}" + (f" + {point.cache}" if point.cache else "")


def best_fast(points: Sequence[CurvePoint], within: float = 0.01, speed: float = 3.0) -> CurvePoint | None:
    """The fastest point at ``speed`` or more tokens per forward that solves at most ``within``
    fewer puzzles than the plain setting (0: none fewer), or ``None``."""
    plain = next(p for p in points if p.rule == "plain")
    good = [p for p in points if p.rule != "plain" and p.tokens_per_forward >= speed
            and p.solved >= plain.solved - within - 1e-9]  # 1e-9: rates are ratios of counts
    return max(good, key=lambda p: p.tokens_per_forward, default=None)


def curve_table(points: Sequence[CurvePoint]) -> str:
    lines = [f"{'setting':<52} {'solved':>7} {'tok/fwd':>8} {'NFE':>6} {'seconds':>8}"]
    lines += [f"{curve_label(p):<52} {100 * p.solved:>6.1f}% {p.tokens_per_forward:>8.2f} {p.nfe:>6.1f} "
              f"{p.seconds:>8.1f}" for p in points]
    return "\n".join(lines)


def write_curve_chart(points: Sequence[CurvePoint], path: Path, title: str) -> None:
    """Solve rate against tokens per forward: one line per rule and cache, plain and the
    one-token caches as single points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7.5, 4.8))
    series: dict[str, list[CurvePoint]] = {}
    for point in points:
        series.setdefault(point.rule + (f" + {point.cache}" if point.cache else ""), []).append(point)
    for label, members in series.items():
        members = sorted(members, key=lambda p: p.tokens_per_forward)
        style = "o" if len(members) == 1 else "o-"
        axes.plot([p.tokens_per_forward for p in members], [100 * p.solved for p in members], style,
                  label=label, markersize=4)
    axes.set_xscale("log")
    axes.set_xlabel("tokens per forward (log)")
    axes.set_ylabel("solved (%)")
    axes.set_title(title, fontsize=9)
    axes.legend(fontsize=7, loc="lower left")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
