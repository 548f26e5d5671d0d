"""The sources behind dataset spec parts: what each one is, and its train/test rows.

:func:`resolve_part` decides, without loading data, what a part's source is (checked in this
order): an existing local file or ``save_to_disk`` folder, a registered task (looked up in
``get_registry().tasks``), a missing local path (an error), or a Hugging Face dataset name. It
also checks the part's options against that kind. :func:`load_part` then loads it:

* a ``.csv``, ``.jsonl`` or ``.json`` file is read by :mod:`dllm_core.data.text_files`: values as
  text (a CSV answer ``146`` stays ``"146"``; a JSON number keeps its literal text, so one
  numeric record cannot turn ``"0012"`` into ``12``), each record checked where it stands in the
  file (an error names the file, the line and the field; ``--on-bad-record skip`` drops it);
* the rows of other sources (Hugging Face datasets, saved folders, ``.parquet``, ``.txt``) are
  checked the same way as they are chosen, each named by its split and row (``.txt``: line) in
  the source, not by its place after shuffling;

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
import itertools
import json
import os
import sys
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Literal, Mapping, Sequence

from dllm_core.data.records import BadRecordError, RecordRules, check_record
from dllm_core.data.text_files import TEXT_READERS
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
    """The train and test rows of a resolved part, its records checked by ``rules`` where they
    stand in the source (a text file's as it is read, other sources' as rows are chosen)."""
    part = resolved.part
    if resolved.task is not None:
        return _task_rows(resolved.task, part)
    if resolved.kind == "file":
        splits = _read_file(part.source, rules)
    elif resolved.kind == "saved":
        splits = _read_saved(part.source)
    else:
        splits = _read_hub(part)
    checked_when_read = resolved.kind == "file" and Path(part.source).suffix.lower() in TEXT_READERS
    check = None if checked_when_read else _RecordCheck(resolved, rules)
    pair = _select(splits, part, check)
    if check is not None and check.skipped:
        print(f"dllm: skipped {check.skipped} bad record(s) of {part.source} (--on-bad-record skip)", file=sys.stderr)
    return pair


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

    from dllm_core.data.text_files import read_records

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
#: ``keep(position, row)``: whether the row at ``position`` of its split is kept (raises on a bad one)
RowCheck = Callable[[int, Mapping[str, Any]], bool]


class _RecordCheck:
    """Checks the rows of a source read through ``datasets`` (a Hugging Face dataset, a saved
    folder, ``.parquet``, ``.txt``) by :func:`~dllm_core.data.records.check_record`, each where it
    stands in its split before any shuffling: an error names the source, the split and the row
    (``.txt``: the line). With ``--on-bad-record skip`` a bad row is left out and counted."""

    def __init__(self, resolved: ResolvedPart, rules: RecordRules) -> None:
        self.resolved, self.rules, self.skipped = resolved, rules, 0

    def where(self, split: str, position: int) -> str:
        source = self.resolved.part.source
        if self.resolved.kind == "file":
            return f"{source} line {position + 1}" if source.lower().endswith(".txt") else f"{source} row {position}"
        name = f"Hugging Face dataset '{source}'" if self.resolved.kind == "hub" else source
        return f"{name} split '{split}' row {position}"

    def of_split(self, split: str) -> RowCheck:
        def keep(position: int, row: Mapping[str, Any]) -> bool:
            try:
                check_record(row, self.where(split, position), self.rules)
            except BadRecordError:
                if self.rules.on_bad_record == "error":
                    raise
                self.skipped += 1
                return False
            return True

        return keep


def _select(splits: Mapping[str, Dataset], part: SpecPart, check: _RecordCheck | None = None) -> SplitPair:
    def rule(split: str) -> RowCheck | None:
        return None if check is None else check.of_split(split)

    if part.split is not None:
        if part.split not in splits:
            raise DatasetSpecError(
                f"'{part.source}' has no split '{part.split}'; its splits are {sorted(splits)}."
            )
        return _carve(splits[part.split], part, rule(part.split))
    if "train" not in splits:
        if len(splits) != 1:
            raise DatasetSpecError(
                f"'{part.source}' has splits {sorted(splits)} and none is 'train'; choose one with "
                f"split:NAME in part '{part.describe()}'."
            )
        [(name, pool)] = splits.items()
        return _carve(pool, part, rule(name))
    held_out = next((name for name in ("test", "validation") if name in splits), None)
    if held_out is None:
        return _carve(splits["train"], part, rule("train"))
    test = None if part.test == 0 else _take(splits[held_out], part.test, part, "test", rule(held_out))
    return SplitPair(_take(splits["train"], part.train, part, "train", rule("train")), test)


def _shuffled_order(size: int, seed: int) -> list[int]:
    """The row order ``Dataset.shuffle(seed=seed)`` gives (numpy's default generator), kept as
    positions so that every chosen row is still known by its place in the source."""
    import numpy as np

    return np.random.default_rng(seed).permutation(size).tolist()


def _usable(pool: Dataset, order: Sequence[int], check: RowCheck | None) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """``(position, row)`` for the rows of ``pool`` at the positions ``order`` lists, in that
    order, leaving out those ``check`` skips (rows are read lazily: stop early, read less)."""
    for position, row in zip(order, pool.select(order, keep_in_memory=True)):
        if check is None or check(position, row):
            yield position, row


def _take(data: Dataset, count: int | None, part: SpecPart, split: str, check: RowCheck | None = None) -> Dataset:
    """``count`` rows drawn at random (``seed``), or all rows in order when ``count`` is None."""
    if count is not None and count > len(data):
        raise DatasetSpecError(
            f"part '{part.describe()}' asks for {count} {split} rows but the source's {split} "
            f"split has only {len(data)}; lower {split}:N."
        )
    if count is None and check is None:
        return data
    order = range(len(data)) if count is None else _shuffled_order(len(data), part.seed)
    chosen = [position for position, _ in itertools.islice(_usable(data, order, check), count)]
    if count is not None and len(chosen) < count:
        raise DatasetSpecError(
            f"part '{part.describe()}' asks for {count} {split} rows but only {len(chosen)} rows of the source's "
            f"{split} split are good records (the others were skipped); lower {split}:N."
        )
    return data.select(chosen, keep_in_memory=True)


def _carve(pool: Dataset, part: SpecPart, check: RowCheck | None = None) -> SplitPair:
    """Train and test rows from one pool, sharing no row (see the module docstring)."""
    if not part.test:
        return SplitPair(_take(pool, part.train, part, "train", check), None)
    if part.test > len(pool):
        raise DatasetSpecError(
            f"part '{part.describe()}' asks for {part.test} test rows but the source has only "
            f"{len(pool)} rows; lower test:M."
        )
    usable = _usable(pool, _shuffled_order(len(pool), part.seed), check)
    test = list(itertools.islice(usable, part.test))
    if len(test) < part.test:
        raise DatasetSpecError(
            f"part '{part.describe()}' asks for {part.test} test rows but only {len(test)} rows of the source "
            "are good records (the others were skipped); lower test:M."
        )
    test_rows = {_row_key(row) for _, row in test}
    chosen: list[int] = []
    for position, row in usable:  # the rows after the test rows, in the same order
        if part.train is not None and len(chosen) == part.train:
            break
        if _row_key(row) not in test_rows:
            chosen.append(position)
    if part.train is not None and len(chosen) < part.train:
        raise DatasetSpecError(
            f"part '{part.describe()}' asks for {part.train} train rows but only {len(chosen)} "
            f"rows of the source are left after the {part.test} test rows; lower train:N or test:M."
        )
    return SplitPair(pool.select(chosen, keep_in_memory=True),
                     pool.select([position for position, _ in test], keep_in_memory=True))


def _row_key(row: Mapping[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, default=str)
