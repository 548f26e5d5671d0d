"""The speed a score was obtained at: per task, what the adapter measured while answering.

For each task the adapter records the requests it answered, the wall time it spent on them, the
model forward calls (NFE) and the tokens produced: generated answer tokens (kept, before the
``until`` cut) for ``generate_until``, scored continuation tokens for the likelihood requests.
The columns reported (results JSON ``config.speed``, markdown table under the scores):

* ``tokens/s`` = tokens / wall time;
* ``NFE/request`` = forward calls / requests (for generation, each request counts the forwards of
  the batch it ran in; packed likelihood forwards are shared, so this can be below 1);
* ``tokens/forward`` = tokens / forward calls;
* ``wall_s``: seconds spent in the adapter on the task's requests (this process's shard).

Pure Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


@dataclass
class TaskSpeed:
    """Counters of one task (see the module doc)."""

    requests: int = 0
    wall_s: float = 0.0
    forwards: int = 0
    request_forwards: int = 0  # sum over requests of the forwards each one waited for
    tokens: int = 0

    def add(self, requests: int, wall_s: float, forwards: int, tokens: int,
            request_forwards: int | None = None) -> None:
        """Count more work; ``request_forwards`` defaults to ``forwards`` (shared forwards)."""
        self.requests += requests
        self.wall_s += wall_s
        self.forwards += forwards
        self.request_forwards += forwards if request_forwards is None else request_forwards
        self.tokens += tokens

    def summary(self) -> dict[str, Any]:
        """The reported columns, rounded for reading."""
        return {
            "requests": self.requests,
            "wall_s": round(self.wall_s, 3),
            "tokens": self.tokens,
            "tokens_per_s": round(self.tokens / self.wall_s, 2) if self.wall_s > 0 else None,
            "nfe": self.forwards,
            "nfe_per_request": round(self.request_forwards / self.requests, 3) if self.requests else None,
            "tokens_per_forward": round(self.tokens / self.forwards, 3) if self.forwards else None,
        }


COLUMNS = (("requests", "requests"), ("wall_s", "wall s"), ("tokens_per_s", "tokens/s"),
           ("nfe_per_request", "NFE/request"), ("tokens_per_forward", "tokens/forward"))


def speed_table(speed: Mapping[str, Mapping[str, Any]], settings: Mapping[str, Any] | None = None) -> str:
    """A markdown table of ``speed`` (task -> :meth:`TaskSpeed.summary`), and the settings used."""
    lines = ["|task|" + "|".join(title for _, title in COLUMNS) + "|",
             "|---|" + "|".join("---:" for _ in COLUMNS) + "|"]
    for task, row in sorted(speed.items()):
        lines.append(f"|{task}|" + "|".join("" if row.get(key) is None else str(row[key]) for key, _ in COLUMNS) + "|")
    if settings:
        lines.append("")
        lines.append("settings: " + ", ".join(f"{key}={value}" for key, value in settings.items()))
    return "\n".join(lines)
