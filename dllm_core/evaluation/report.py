"""Results on disk and on screen: lm-eval's JSON, a markdown table, the per-sample logs.

``write_results(results, folder)`` writes

* ``results.json``: lm-eval's results dictionary without the per-sample logs;
* ``results.md``: :func:`markdown_report` (scores, then speed and settings);
* ``samples_<task>.jsonl``: one line per evaluated document (prompt, answer, metrics), when the
  run kept them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dllm_core.evaluation.speed import speed_table


def markdown_report(results: dict[str, Any]) -> str:
    """lm-eval's markdown tables of the task results and, when there are groups, of the groups,
    then the speed table (:func:`~dllm_core.evaluation.speed.speed_table`)."""
    from lm_eval.utils import make_table

    tables = [make_table(results)]
    if results.get("groups"):
        tables.append(make_table(results, "groups"))
    speed = speed_section(results)
    if speed:
        tables.append(speed)
    return "\n".join(tables)


def speed_section(results: dict[str, Any]) -> str:
    """The speed table and settings recorded in ``results["config"]`` by the adapter ('' if none)."""
    config = results.get("config") or {}
    if not config.get("speed"):
        return ""
    settings = {"generator": config.get("generator"), **(config.get("generator_params") or {}),
                "batch_size": config.get("batch_size"), **(config.get("likelihood") or {})}
    return speed_table(config["speed"], {key: value for key, value in settings.items() if value is not None})


def write_results(results: dict[str, Any], folder: Path) -> list[Path]:
    """Write the files of the module doc into ``folder``; returns their paths."""
    from lm_eval.utils import handle_non_serializable

    folder.mkdir(parents=True, exist_ok=True)
    summary = {key: value for key, value in results.items() if key != "samples"}
    written = [folder / "results.json", folder / "results.md"]
    written[0].write_text(json.dumps(summary, indent=2, default=handle_non_serializable, ensure_ascii=False) + "\n")
    written[1].write_text(markdown_report(results) + "\n")
    for task, samples in results.get("samples", {}).items():
        path = folder / f"samples_{task}.jsonl"
        lines = (json.dumps(sample, default=handle_non_serializable, ensure_ascii=False) for sample in samples)
        path.write_text("".join(line + "\n" for line in lines))
        written.append(path)
    return written
