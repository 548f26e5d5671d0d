"""Evaluate a checkpoint with lm-eval: the path behind ``dllm eval`` and :func:`evaluate_checkpoint`.

1. Every dllm family goes into lm-eval's model registry
   (:func:`~dllm_core.evaluation.registration.register_lm_eval_models`); the checkpoint's family
   names the model.
2. The tasks (``--tasks`` and/or a suite's) become runs: one per distinct few-shot count and
   generation length. Task names are looked up among the bundled tasks and ``include_path``
   first (fast) and in lm-eval's own index only when needed; unknown names raise.
3. The model loads once; each run is one ``lm_eval.simple_evaluate``; their results merge.
4. On the main process the results are written (:mod:`~dllm_core.evaluation.report`) and returned.

The chat template applies when asked; by default it applies to runs made only of bundled tasks
(they evaluate models trained by ``dllm train`` on the built-in tasks, in chat form) and to
suites that say so, and not otherwise, as in lm-eval.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from dllm_core.evaluation.bundled import BUNDLED_TASKS, TASKS_DIR
from dllm_core.evaluation.suites import get_suite
from dllm_core.errors import DllmError, did_you_mean


@dataclass
class EvalConfig:
    """One ``dllm eval`` invocation.

    Attributes:
        checkpoint: checkpoint or LoRA adapter folder.
        tasks: lm-eval task names (bundled: ``dllm_sudoku4``, ``dllm_countdown``,
            ``dllm_addition``) or task YAML files.
        suite: a named suite (:mod:`~dllm_core.evaluation.suites`), run besides ``tasks``.
        num_fewshot: shots for every task (``None``: each task's or suite's own).
        limit: documents per task (a fraction when below 1).
        batch_size: ``batch_size`` model argument, prompts per generate call (``None``: the model
            argument or 16).
        model_args: adapter and generator settings (:mod:`~dllm_core.evaluation.settings`).
        include_path: more folders of task YAML files.
        apply_chat_template: ``None`` chooses as the module doc says.
        gen_kwargs: generation settings applied to every generative task.
        confirm_run_unsafe_code: allow tasks whose metric runs model-written code.
        output_path: folder for ``results.json``, ``results.md`` and the sample logs.
        log_samples: keep per-document samples in the results.
    """

    checkpoint: Path
    tasks: tuple[str, ...] = ()
    suite: str | None = None
    num_fewshot: int | None = None
    limit: float | None = None
    batch_size: int | None = None
    model_args: dict[str, Any] = field(default_factory=dict)
    include_path: tuple[Path, ...] = ()
    apply_chat_template: bool | None = None
    gen_kwargs: dict[str, Any] = field(default_factory=dict)
    confirm_run_unsafe_code: bool = False
    output_path: Path | None = None
    log_samples: bool = True


@dataclass(frozen=True)
class EvalRun:
    """Tasks evaluated together by one ``simple_evaluate`` call."""

    tasks: tuple[str, ...]
    num_fewshot: int | None
    gen_kwargs: dict[str, Any]
    apply_chat_template: bool


def plan_runs(config: EvalConfig) -> list[EvalRun]:
    """The runs of ``config``: the suite's, grouped by settings, then one for ``tasks``."""
    if not config.tasks and config.suite is None:
        raise DllmError("nothing to evaluate: pass --tasks NAME[,NAME...] (e.g. dllm_sudoku4) or --suite NAME.")
    runs = []
    if config.suite is not None:
        suite = get_suite(config.suite)
        unsafe = [task.task for task in suite.tasks if task.runs_code]
        if unsafe and not config.confirm_run_unsafe_code:
            raise DllmError(f"suite '{suite.name}' includes {', '.join(unsafe)}, whose metric executes "
                            "model-written code; pass --confirm-run-unsafe-code to allow it.")
        chat = suite.apply_chat_template if config.apply_chat_template is None else config.apply_chat_template
        grouped: dict[tuple[int | None, int | None], list[str]] = {}
        for task in suite.tasks:
            shots = task.num_fewshot if config.num_fewshot is None else config.num_fewshot
            grouped.setdefault((shots, task.max_gen_toks), []).append(task.task)
        for (shots, max_gen_toks), names in grouped.items():
            gen_kwargs = {"max_gen_toks": max_gen_toks} if max_gen_toks is not None else {}
            runs.append(EvalRun(tuple(names), shots, {**gen_kwargs, **config.gen_kwargs}, chat))
    if config.tasks:
        chat = config.apply_chat_template
        if chat is None:
            chat = all(task in BUNDLED_TASKS for task in config.tasks)
        runs.append(EvalRun(tuple(config.tasks), config.num_fewshot, dict(config.gen_kwargs), chat))
    return runs


def task_manager(names: Sequence[str], include_path: Sequence[Path], metadata: dict[str, Any]) -> Any:
    """A ``TaskManager`` that knows ``names``: bundled and ``include_path`` tasks only when that
    suffices (indexing lm-eval's thousands of tasks takes many seconds), else everything."""
    from lm_eval.tasks import TaskManager

    for folder in include_path:
        if not Path(folder).is_dir():
            raise DllmError(f"--include-path {folder} is not a folder; pass a folder of task YAML files.")
    for name in names:
        if name.endswith(".yaml") and not Path(name).is_file():
            raise DllmError(f"task file {name} does not exist.")
    paths = [str(TASKS_DIR), *map(str, include_path)]
    wanted = [name for name in names if not name.endswith(".yaml")]
    local = TaskManager(include_path=paths, include_defaults=False, metadata=metadata)
    if all(name in local.all_tasks for name in wanted):
        return local
    everything = TaskManager(include_path=paths, metadata=metadata)
    for name in wanted:
        if name not in everything.all_tasks:
            raise DllmError(f"unknown task '{name}'.{did_you_mean(name, everything.all_tasks)} Bundled offline "
                            f"tasks: {', '.join(BUNDLED_TASKS)}; `lm-eval ls tasks` lists lm-eval's; "
                            "--include-path adds folders of task YAML files.")
    return everything


def merge_results(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One results dictionary from several runs: mapping entries merge, the first run's other
    entries (dates, versions of the software) stay."""
    merged: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged.setdefault(key, value)
    return merged


def _simple_evaluate(lm: Any, run: EvalRun, config: EvalConfig, manager: Any) -> dict[str, Any] | None:
    """One lm-eval run; a download failure becomes a :class:`DllmError` naming the tasks."""
    import lm_eval

    try:
        return lm_eval.simple_evaluate(
            model=lm, tasks=list(run.tasks), num_fewshot=run.num_fewshot, limit=config.limit,
            task_manager=manager, log_samples=config.log_samples,
            apply_chat_template=run.apply_chat_template, gen_kwargs=run.gen_kwargs or None,
            confirm_run_unsafe_code=config.confirm_run_unsafe_code,
        )
    except Exception as exc:
        if not is_download_failure(exc):
            raise
        raise download_error(exc, [task for task in run.tasks if task not in BUNDLED_TASKS]) from None


def _network_error_types() -> tuple[type, ...]:
    """Exception types of a failed or refused download: Python's, requests', httpx's, the hub's."""
    types: list[type] = [ConnectionError, TimeoutError]
    for module, names in (("requests.exceptions", ("ConnectionError", "Timeout")),
                          ("httpx", ("TransportError",)),
                          ("huggingface_hub.errors", ("OfflineModeIsEnabled", "LocalEntryNotFoundError"))):
        try:
            imported = __import__(module, fromlist=list(names))
        except ImportError:
            continue
        types += [getattr(imported, name) for name in names if isinstance(getattr(imported, name, None), type)]
    return tuple(types)


def is_download_failure(exc: BaseException) -> bool:
    """Whether ``exc`` or an exception it was raised from is a network / offline-mode failure."""
    types = _network_error_types()
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, types):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def download_error(exc: BaseException, tasks: Sequence[str] = ()) -> DllmError:
    """The one-line error for task data that could not be downloaded (e.g. offline)."""
    which = f"task(s) {', '.join(tasks)}" if tasks else "the tasks"
    reason = " ".join(str(exc).split())[:200] or type(exc).__name__
    return DllmError(f"the data of {which} could not be downloaded ({type(exc).__name__}: {reason}). lm-eval's "
                     "tasks need the network once for their data: run once online to pre-download it into the "
                     "Hugging Face cache (later runs work offline with HF_DATASETS_OFFLINE=1), or evaluate the "
                     f"bundled offline tasks: {', '.join(BUNDLED_TASKS)}.")


def evaluate(config: EvalConfig) -> dict[str, Any] | None:
    """Run ``config``; lm-eval's results (with ``samples`` when logged) on the main process,
    ``None`` on the others. Results are written to ``config.output_path`` when given."""
    from lm_eval.api.registry import get_model

    from dllm_core.checkpoint import locate_checkpoint, resolve_family
    from dllm_core.evaluation.models import lm_eval_name
    from dllm_core.evaluation.registration import register_lm_eval_models
    from dllm_core.evaluation.report import write_results

    runs = plan_runs(config)
    config.checkpoint = locate_checkpoint(config.checkpoint)
    model = lm_eval_name(resolve_family(config.checkpoint))
    register_lm_eval_models()
    model_args = {**config.model_args, "pretrained": str(config.checkpoint)}
    if config.batch_size is not None:
        model_args["batch_size"] = config.batch_size
    manager = task_manager([task for run in runs for task in run.tasks], config.include_path, model_args)
    lm = get_model(model).create_from_arg_obj(model_args)
    parts = [_simple_evaluate(lm, run, config, manager) for run in runs]
    if lm.rank != 0:
        return None
    results = merge_results([part for part in parts if part is not None])
    results["config"] = {**results.get("config", {}), "model": model, "model_args": model_args,
                         "suite": config.suite, "limit": config.limit}
    if config.output_path is not None:
        write_results(results, Path(config.output_path))
    return results


def evaluate_checkpoint(checkpoint: str | Path, tasks: Sequence[str] = (), **options: Any) -> dict[str, Any] | None:
    """Evaluate ``checkpoint`` on ``tasks``; ``options`` are :class:`EvalConfig` fields.

    Example: the sudoku solve rate of a checkpoint::

        results = evaluate_checkpoint(path, ["dllm_sudoku4"], limit=50, model_args={"steps": 32})
        results["results"]["dllm_sudoku4"]["solved,none"]
    """
    return evaluate(EvalConfig(checkpoint=Path(checkpoint), tasks=tuple(tasks), **options))
