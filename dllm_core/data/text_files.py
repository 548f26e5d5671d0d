"""Reading ``.csv``, ``.jsonl`` and ``.json`` training files with every value as text.

``datasets``' builders infer a type per column, so a CSV answer column of numbers becomes
integers and, in JSON, one numeric record can turn the strings ``"0012"`` of the others into
numbers. Here a CSV cell is always a string, and a JSON number keeps its literal text
(``146`` -> ``"146"``, ``1.50`` -> ``"1.50"``); booleans and nulls stay what they are. Each
record is checked where it stands in the file (:func:`dllm_core.data.records.check_record`), so
an error names the file, the line and the field, before any shuffling; with
``on_bad_record="skip"`` bad records are dropped and counted instead.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from dllm_core.data.records import BadRecordError, RecordRules, check_record
from dllm_core.data.spec import DatasetSpecError

if TYPE_CHECKING:
    from datasets import Dataset

Located = tuple[str, Any]  # (where in the file, the record)


def _json_text(text: str) -> Any:
    return json.loads(text, parse_int=str, parse_float=str, parse_constant=str)


def _jsonl_records(path: Path) -> Iterator[Located]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield f"{path} line {number}", _json_text(line)
            except json.JSONDecodeError as exc:
                raise DatasetSpecError(f"{path} line {number} is not valid JSON ({exc.msg} at column {exc.colno}); "
                                       "fix that line (one JSON object per line)") from None


def _json_records(path: Path) -> Iterator[Located]:
    """A ``.json`` file: one array of records (or one object per line, as ``datasets`` allows)."""
    text = path.read_text(encoding="utf-8")
    if not text.lstrip().startswith("["):
        yield from _jsonl_records(path)
        return
    try:
        records = _json_text(text)
    except json.JSONDecodeError as exc:
        raise DatasetSpecError(f"{path} line {exc.lineno} is not valid JSON ({exc.msg}); fix the file") from None
    for index, record in enumerate(records):
        yield f"{path} record {index}", record


def _csv_records(path: Path) -> Iterator[Located]:
    csv.field_size_limit(sys.maxsize)
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        start = 2
        for row in reader:
            where = f"{path} line {start}"
            start = reader.line_num + 1
            if None in row:
                raise BadRecordError(f"{where} has more cells than the header names; quote cells that hold commas "
                                     "(\"a, b\") or fix the row")
            missing = [name for name, value in row.items() if value is None]
            if missing:
                raise BadRecordError(f"{where} has no value for field '{missing[0]}'; give every header field a "
                                     "cell (an empty one is fine)")
            yield where, row


#: file suffix -> the reader of its records
TEXT_READERS: dict[str, Callable[[Path], Iterator[Located]]] = {
    ".csv": _csv_records, ".jsonl": _jsonl_records, ".json": _json_records,
}


def read_records(path: Path, rules: RecordRules) -> Dataset:
    """The checked records of ``path`` as a ``Dataset`` (values as text, see the module doc)."""
    from datasets import Dataset

    rows: list[dict[str, Any]] = []
    skipped = 0
    for where, record in TEXT_READERS[path.suffix.lower()](path):
        try:
            if not isinstance(record, dict):
                raise BadRecordError(f"{where} is a {type(record).__name__}, not an object with fields; "
                                     "fix the data, or pass --on-bad-record skip to skip such records")
            check_record(record, where, rules)
        except BadRecordError:
            if rules.on_bad_record == "error":
                raise
            skipped += 1
            continue
        rows.append(record)
    if skipped:
        print(f"dllm: skipped {skipped} bad record(s) of {path} (--on-bad-record skip)", file=sys.stderr)
    if not rows:
        raise DatasetSpecError(f"{path} holds no usable records; add some (one per line)")
    try:
        return Dataset.from_list(rows)
    except Exception as exc:  # noqa: BLE001 - arrow type clashes between records
        raise DatasetSpecError(f"{path}: its records do not share one layout ({type(exc).__name__}: {exc}); give "
                               "each field the same kind of value (text, list, object) in every record") from None
