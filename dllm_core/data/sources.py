"""The sources behind dataset spec parts: what each one is, and its train/test rows.

:func:`resolve_part` decides, without loading data, what a part's source is (checked in this
order): an existing local file or ``save_to_disk`` folder, a registered task (looked up in
``get_registry().tasks``), a missing local path (an error), or a Hugging Face dataset name. It
also checks the part's options against that kind. :func:`load_part` then loads it:

* a ``.csv``, ``.jsonl`` or ``.json`` file is read by :mod:`dllm_core.data.text_files`: values as
  text (a CSV answer ``146`` stays ``"146"``; a JSON number keeps its literal text, so one
  numeric record cannot turn ``"0012"`` into ``12``), each record checked where it stands in the
  file (an error names the file, the line and the field; ``--on-bad-record skip`` drops it);

* a task generates ``train`` and ``test`` rows (its defaults when the spec gives no sizes);
  its hash split keeps them disjoint (:mod:`dllm_core.data.tasks.base`);
* a source with a ``train`` split takes train rows from it and test rows from its ``test`` (or
  else ``validation``) split; a size draws that many rows at random (``seed``);
* a source with a single split (a local file, a one-split folder, or ``split:NAME``) gives all
  its rows to train unless ``test:M`` asks for test rows: then, after a seeded shuffle, the
  first ``M`` rows are the test split and train takes later rows only, skipping any row whose
  content equals a test row, so the splits share no row even when the source repeats rows.
"""

from __future__ import annotations

import dataclasses
import json
import os
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Mapping

from dllm_core.data.records import RecordRules
from dllm_core.data.spec import GENERAL_OPTIONS, DatasetSpecError, SpecPart
from dllm_core.errors import did_you_mean, unknown_name_error
from dllm_core.registry import get_registry

if TYPE_CHECKING:
    from datasets import Dataset

    from dllm_core.data.tasks.base import Task

#: file suffix -> the ``datasets`` builder that reads it
FILE_BUILDERS = {".json": "json", ".jsonl": "json", ".parquet": "parquet", ".csv": "csv", ".txt": "text"}
#: files ``save_to_disk`` writes into a saved ``DatasetDict`` / ``Dataset`` folder
SAVED_MARKERS = ("dataset_dict.json", "state.json")
#: spec options a task config field may not be set through (general options cover them)
_TASK_RESERVED = ("seed", "train_size", "test_size")
_SOURCES_HELP = ("A part's source is a registered task, a local file (.json, .jsonl, .parquet, .csv, "
                 ".txt), a folder saved with datasets' save_to_disk, or a Hugging Face dataset name.")

SourceKind = Literal["task", "file", "saved", "hub"]


@dataclass(frozen=True)
class ResolvedPart:
    """A spec part whose source kind is known and whose options fit that kind."""

    part: SpecPart
    kind: SourceKind
    task: Task | None = None  # the configured task, for kind "task"


@dataclass(frozen=True)
class SplitPair:
    """The rows one part contributes to each split (``test`` is ``None`` when it has none)."""

    train: Dataset
    test: Dataset | None


def resolve_part(part: SpecPart) -> ResolvedPart:
    """Classify ``part``'s source and validate its options; nothing is loaded."""
    path = Path(part.source).expanduser()
    if path.is_dir() and any((path / marker).exists() for marker in SAVED_MARKERS):
        _check_options(part, "a folder saved with save_to_disk", invalid=("name",))
        return ResolvedPart(part, "saved")
    if path.is_file():
        if path.suffix.lower() not in FILE_BUILDERS:
            raise DatasetSpecError(
                f"file '{part.source}' has an unsupported type '{path.suffix}'; use one of "
                f"{', '.join(FILE_BUILDERS)}."
            )
        _check_options(part, "a local file", invalid=("name", "split"))
        return ResolvedPart(part, "file")
    tasks = get_registry().tasks
    if part.source in tasks:
        _check_options(part, "a task", invalid=("name", "split"), takes_extra=True)
        return ResolvedPart(part, "task", _configured_task(part, tasks.get(part.source)))
    if path.is_dir():
        raise DatasetSpecError(
            f"folder '{part.source}' was not written by datasets' save_to_disk (it has none of "
            f"{', '.join(SAVED_MARKERS)}); name a data file inside it instead."
        )
    if _looks_like_path(part.source):
        raise DatasetSpecError(
            f"file or folder '{part.source}' does not exist; check the path. {_SOURCES_HELP}"
        )
    if "/" not in part.source and did_you_mean(part.source, tasks.names()):
        raise unknown_name_error("task", part.source, tasks.names(), _SOURCES_HELP)
    _check_options(part, "a Hugging Face dataset", invalid=())
    return ResolvedPart(part, "hub")


def load_part(resolved: ResolvedPart, rules: RecordRules = RecordRules()) -> SplitPair:
    """The train and test rows of a resolved part (file records checked by ``rules``)."""
    part = resolved.part
    if resolved.task is not None:
        return _task_rows(resolved.task, part)
    if resolved.kind == "file":
        splits = _read_file(part.source, rules)
    elif resolved.kind == "saved":
        splits = _read_saved(part.source)
    else:
        splits = _read_hub(part)
    return _select(splits, part)


# -- resolution --------------------------------------------------------------------------------
def _check_options(part: SpecPart, kind: str, invalid: tuple[str, ...],
                   takes_extra: bool = False) -> None:
    """Reject the general options that do not apply to ``kind``, and unknown ones."""
    for option in invalid:
        if getattr(part, option) is not None:
            raise DatasetSpecError(
                f"option '{option}' does not apply to '{part.source}', which is {kind}; remove it "
                f"from part '{part.describe()}'."
            )
    if part.extra and not takes_extra:
        allowed = ", ".join(option for option in GENERAL_OPTIONS if option not in invalid)
        raise DatasetSpecError(
            f"unknown option(s) {', '.join(sorted(part.extra))} in part '{part.describe()}'; "
            f"{kind} takes only {allowed}."
        )


def _configured_task(part: SpecPart, task_class: type[Task]) -> Task:
    """The task with the part's seed and config fields (``blanks:50`` -> ``blanks=50``)."""
    hints = typing.get_type_hints(task_class)
    allowed = {f.name for f in dataclasses.fields(task_class) if f.init and f.name not in _TASK_RESERVED}
    settings: dict[str, Any] = {}
    for key, text in part.extra.items():
        if key not in allowed:
            raise DatasetSpecError(
                f"unknown option '{key}' for task '{part.source}'.{did_you_mean(key, allowed)} "
                f"Options: train, test, seed, {', '.join(sorted(allowed))}."
            )
        settings[key] = _convert(text, hints[key], key, part)
    return task_class(seed=part.seed, **settings)


def _convert(text: str, wanted: Any, key: str, part: SpecPart) -> Any:
    """``text`` as the field's type (``int``, ``float``, ``bool`` or ``str``)."""
    try:
        if wanted is bool:
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return text.lower() in ("true", "1")
        if wanted in (int, float, str):
            return wanted(text)
    except ValueError:
        raise DatasetSpecError(
            f"option '{key}' of part '{part.describe()}' must be a {wanted.__name__}, got '{text}'."
        ) from None
    raise DatasetSpecError(f"option '{key}' of task '{part.source}' cannot be set from a spec string.")


def _looks_like_path(source: str) -> bool:
    return (source.startswith((".", "/", "~")) or Path(source).suffix.lower() in FILE_BUILDERS
            or (os.sep != "/" and os.sep in source))


# -- loading -----------------------------------------------------------------------------------
def _task_rows(task: Task, part: SpecPart) -> SplitPair:
    from datasets import Dataset

    def rows(count: int, split: str) -> Dataset:
        records = task.generate(count, part.seed, split)
        return Dataset.from_dict({key: [r[key] for r in records] for key in ("prompt", "answer")})

    n_test = task.test_size if part.test is None else part.test
    test = rows(n_test, "test") if n_test else None
    return SplitPair(rows(task.train_size if part.train is None else part.train, "train"), test)


def _read_file(source: str, rules: RecordRules) -> dict[str, Dataset]:
    from datasets import load_dataset

    from dllm_core.data.text_files import TEXT_READERS, read_records

    if Path(source).suffix.lower() in TEXT_READERS:
        return {"train": read_records(Path(source).expanduser(), rules)}
    builder = FILE_BUILDERS[Path(source).suffix.lower()]
    try:
        return dict(load_dataset(builder, data_files=str(Path(source).expanduser())))
    except Exception as error:  # noqa: BLE001 - any parse failure becomes one clear message
        raise DatasetSpecError(
            f"could not read '{source}' as {builder}: {type(error).__name__}: {error}. Fix the "
            "file or give it the suffix of its real format."
        ) from error


def _read_saved(source: str) -> dict[str, Dataset]:
    from datasets import Dataset, load_from_disk

    try:
        saved = load_from_disk(str(Path(source).expanduser()))
    except Exception as error:  # noqa: BLE001
        raise DatasetSpecError(f"could not load the saved dataset '{source}': {error}.") from error
    return {"train": saved} if isinstance(saved, Dataset) else dict(saved)


def _offline_variable() -> str | None:
    for variable in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"):
        if os.environ.get(variable, "").strip().lower() in ("1", "true", "yes", "on"):
            return variable
    return None


def _read_hub(part: SpecPart) -> dict[str, Dataset]:
    from datasets import load_dataset

    try:
        if part.split is not None:
            return {part.split: load_dataset(part.source, part.name, split=part.split)}
        return dict(load_dataset(part.source, part.name))
    except Exception as error:  # noqa: BLE001 - hub failures have many types
        variable = _offline_variable()
        tasks = ", ".join(get_registry().tasks.names()) or "none"
        if variable is not None:
            raise DatasetSpecError(
                f"cannot load Hugging Face dataset '{part.source}': this machine is offline "
                f"({variable} is set) and the dataset is not in the local cache. Download it while "
                f"online, or use a local file or a built-in task (known tasks: {tasks})."
            ) from error
        raise DatasetSpecError(
            f"could not load Hugging Face dataset '{part.source}'"
            f"{f' (config {part.name!r})' if part.name else ''}: {type(error).__name__}: {error}. "
            f"Check the name and the network, or use a local file or a built-in task "
            f"(known tasks: {tasks})."
        ) from error


# -- choosing rows -----------------------------------------------------------------------------
def _select(splits: Mapping[str, Dataset], part: SpecPart) -> SplitPair:
    if part.split is not None:
        if part.split not in splits:
            raise DatasetSpecError(
                f"'{part.source}' has no split '{part.split}'; its splits are {sorted(splits)}."
            )
        return _carve(splits[part.split], part)
    if "train" not in splits:
        if len(splits) != 1:
            raise DatasetSpecError(
                f"'{part.source}' has splits {sorted(splits)} and none is 'train'; choose one with "
                f"split:NAME in part '{part.describe()}'."
            )
        return _carve(next(iter(splits.values())), part)
    held_out = splits.get("test", splits.get("validation"))
    if held_out is None:
        return _carve(splits["train"], part)
    test = None if part.test == 0 else _take(held_out, part.test, part, "test")
    return SplitPair(_take(splits["train"], part.train, part, "train"), test)


def _take(data: Dataset, count: int | None, part: SpecPart, split: str) -> Dataset:
    if count is None:
        return data
    if count > len(data):
        raise DatasetSpecError(
            f"part '{part.describe()}' asks for {count} {split} rows but the source's {split} "
            f"split has only {len(data)}; lower {split}:N."
        )
    return data.shuffle(seed=part.seed, keep_in_memory=True).select(range(count), keep_in_memory=True)


def _carve(pool: Dataset, part: SpecPart) -> SplitPair:
    """Train and test rows from one pool, sharing no row (see the module docstring)."""
    if not part.test:
        return SplitPair(_take(pool, part.train, part, "train"), None)
    if part.test > len(pool):
        raise DatasetSpecError(
            f"part '{part.describe()}' asks for {part.test} test rows but the source has only "
            f"{len(pool)} rows; lower test:M."
        )
    shuffled = pool.shuffle(seed=part.seed, keep_in_memory=True)
    test = shuffled.select(range(part.test), keep_in_memory=True)
    test_rows = {_row_key(row) for row in test}
    chosen: list[int] = []
    for offset, row in enumerate(shuffled.select(range(part.test, len(shuffled)), keep_in_memory=True)):
        if part.train is not None and len(chosen) == part.train:
            break
        if _row_key(row) not in test_rows:
            chosen.append(part.test + offset)
    if part.train is not None and len(chosen) < part.train:
        raise DatasetSpecError(
            f"part '{part.describe()}' asks for {part.train} train rows but only {len(chosen)} "
            f"rows of the source are left after the {part.test} test rows; lower train:N or test:M."
        )
    return SplitPair(shuffled.select(chosen, keep_in_memory=True), test)


def _row_key(row: Mapping[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, default=str)
