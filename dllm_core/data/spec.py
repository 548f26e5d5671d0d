"""Dataset spec strings: ``name_or_path[train:N,test:M]+other[...]``.

A spec is one or more parts joined by ``+``; each part is a source with optional bracketed
``key:value`` options:

* the source is a registered built-in task (``sudoku4``), a local file (``.json``, ``.jsonl``,
  ``.parquet``, ``.csv``, ``.txt``), a folder written by ``datasets``' ``save_to_disk``, or a
  Hugging Face dataset name (``org/name``);
* ``train:N`` / ``test:M``: how many rows each split takes (``test:0`` asks for none);
* ``seed:S``: the seed of task generation and of row sampling (default 0);
* ``name:CONFIG``: the configuration of a Hugging Face dataset;
* ``split:NAME``: use only that split of the source as the pool both splits come from;
* any field of a task's config, for tasks only (``sudoku9[blanks:50]``).

:func:`parse_dataset_spec` only parses (pure Python); :func:`check_dataset_spec` also resolves
every part without loading anything (no ``datasets``, no torch); :func:`load_dataset_spec`
resolves every part first (so every spec mistake is reported before anything loads), then loads
them and concatenates the ``train`` and ``test`` splits across parts. How sources become splits is in
:mod:`dllm_core.data.sources`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping

from dllm_core.errors import DllmError

if TYPE_CHECKING:
    from datasets import DatasetDict

    from dllm_core.data.records import RecordRules

#: options every part accepts (tasks also accept their config fields)
GENERAL_OPTIONS = ("train", "test", "seed", "name", "split")
_INTEGER_OPTIONS = ("train", "test", "seed")
_FORMAT = "name_or_path[train:N,test:M]+other[...]"


class DatasetSpecError(DllmError):
    """A dataset spec that cannot be parsed or resolved."""


@dataclass(frozen=True)
class SpecPart:
    """One ``+``-separated part of a dataset spec."""

    source: str  # task name, file or folder path, or Hugging Face dataset name
    train: int | None = None  # train rows (None: the source's default)
    test: int | None = None  # test rows (None: the source's default)
    seed: int = 0  # task generation and row sampling seed
    name: str | None = None  # Hugging Face dataset configuration
    split: str | None = None  # the only source split to draw from
    extra: Mapping[str, str] = field(default_factory=dict)  # task config fields, as written

    def describe(self) -> str:
        """The part as written in a spec, for messages."""
        options = {key: getattr(self, key) for key in GENERAL_OPTIONS}
        options = {key: value for key, value in options.items() if value is not None}
        if options.get("seed") == 0:
            del options["seed"]
        options.update(self.extra)
        inside = ",".join(f"{key}:{value}" for key, value in options.items())
        return f"{self.source}[{inside}]" if inside else self.source


@dataclass(frozen=True)
class DatasetSpec:
    """A parsed dataset spec."""

    parts: tuple[SpecPart, ...]


def parse_dataset_spec(spec: str) -> DatasetSpec:
    """Parse a spec string; any mistake raises :class:`DatasetSpecError`."""
    if not spec or not spec.strip():
        raise DatasetSpecError(f"empty dataset spec; expected {_FORMAT}.")
    return DatasetSpec(tuple(_parse_part(text.strip(), spec) for text in _split_parts(spec)))


def check_dataset_spec(spec: str | DatasetSpec) -> DatasetSpec:
    """Parse ``spec`` and resolve each part (task names and their options, paths, the options
    each kind of source takes) without loading any data, so a mistake (``sudok4``) is reported
    before ``datasets`` or torch is imported. Returns the parsed spec."""
    from dllm_core.data.sources import resolve_part

    parsed = parse_dataset_spec(spec) if isinstance(spec, str) else spec
    for part in parsed.parts:
        resolve_part(part)
    return parsed


def load_dataset_spec(spec: str | DatasetSpec, rules: RecordRules | None = None) -> DatasetDict:
    """Load a spec into a ``DatasetDict``: ``train``, plus ``test`` when any part has test rows.
    ``rules``: how records of local files are checked (default :class:`RecordRules`)."""
    from datasets import DatasetDict, concatenate_datasets

    from dllm_core.data.records import RecordRules
    from dllm_core.data.sources import load_part, resolve_part

    parsed = parse_dataset_spec(spec) if isinstance(spec, str) else spec
    resolved = [resolve_part(part) for part in parsed.parts]
    loaded = [load_part(source, rules or RecordRules()) for source in resolved]
    splits = DatasetDict()
    for split in ("train", "test"):
        pieces = [(source, getattr(pair, split)) for source, pair in zip(resolved, loaded)]
        pieces = [(source, data) for source, data in pieces if data is not None]
        if not pieces:
            continue
        columns = {tuple(sorted(data.column_names)) for _, data in pieces}
        if len(columns) > 1:
            listing = "; ".join(f"{s.part.describe()} has {sorted(d.column_names)}" for s, d in pieces)
            raise DatasetSpecError(
                f"cannot concatenate the {split} splits of the spec's parts: their columns differ "
                f"({listing}). Combine only sources with the same columns."
            )
        try:
            splits[split] = concatenate_datasets([data for _, data in pieces])
        except ValueError as error:
            raise DatasetSpecError(
                f"cannot concatenate the {split} splits of the spec's parts: {error}. Combine only "
                "sources whose columns have the same types."
            ) from error
    return splits


def _split_parts(spec: str) -> list[str]:
    """Split on ``+`` outside brackets, checking that brackets balance and do not nest."""
    parts: list[str] = []
    depth, start = 0, 0
    for position, char in enumerate(spec):
        if char == "[":
            depth += 1
            if depth > 1:
                raise DatasetSpecError(f"nested '[' at position {position} in dataset spec '{spec}'; "
                                       f"options are flat: {_FORMAT}.")
        elif char == "]":
            depth -= 1
            if depth < 0:
                raise DatasetSpecError(f"unbalanced ']' at position {position} in dataset spec "
                                       f"'{spec}'; expected {_FORMAT}.")
        elif char == "+" and depth == 0:
            parts.append(spec[start:position])
            start = position + 1
    if depth:
        raise DatasetSpecError(f"unclosed '[' in dataset spec '{spec}'; close it with ']': {_FORMAT}.")
    parts.append(spec[start:])
    if any(not part.strip() for part in parts):
        raise DatasetSpecError(f"empty part in dataset spec '{spec}' (a stray '+'?); expected {_FORMAT}.")
    return parts


def _parse_part(text: str, spec: str) -> SpecPart:
    source, bracket, rest = text.partition("[")
    source = source.strip()
    if not source:
        raise DatasetSpecError(f"part '{text}' of dataset spec '{spec}' has no source before '['.")
    if not bracket:
        return SpecPart(source)
    inside, _, after = rest.partition("]")
    if after.strip():
        raise DatasetSpecError(
            f"unexpected '{after.strip()}' after ']' in part '{text}' of dataset spec '{spec}'; "
            f"join parts with '+': {_FORMAT}."
        )
    options: dict[str, str] = {}
    for item in filter(None, (item.strip() for item in inside.split(","))):
        key, colon, value = (piece.strip() for piece in item.partition(":"))
        if not colon or not key or not value:
            raise DatasetSpecError(f"option '{item}' in part '{text}' is not 'key:value' (e.g. train:1000).")
        if key in options:
            raise DatasetSpecError(f"option '{key}' is given twice in part '{text}'; keep one.")
        options[key] = value
    general: dict[str, int | str] = {}
    for key in GENERAL_OPTIONS:
        if key not in options:
            continue
        value = options.pop(key)
        general[key] = _integer(key, value, text) if key in _INTEGER_OPTIONS else value
    return SpecPart(source, extra=options, **general)  # type: ignore[arg-type]


def _integer(key: str, value: str, part: str) -> int:
    if not (value.isascii() and value.isdigit()):
        raise DatasetSpecError(
            f"option '{key}' in part '{part}' must be a non-negative integer, got '{value}' "
            f"(e.g. {key}:1000)."
        )
    return int(value)
