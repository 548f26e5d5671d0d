"""Records as conversations: validation and the ``prompt``/``answer`` -> chat conversion.

A training record is a mapping with either

* ``messages``: a list of ``{"role": ..., "content": ...}`` turns (roles ``system``, ``user``,
  ``assistant``; a ``system`` turn only first; at least one ``assistant`` turn; the last turn
  from the assistant), or
* ``prompt`` and ``answer`` strings (what built-in tasks produce): one user turn and one
  assistant turn.

A pretraining record holds its document in a text field (``text``, or ``--text-field``).

Anything else is a bad record: :func:`conversation_of` raises :class:`BadRecordError` naming
the record (its index, or where it is: ``data.csv line 3``), the field and what is wrong.
:func:`check_record` checks a record where it stands in its source, before any shuffling, so the
error names the file's own line (or the source's own row). Pure Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Mapping

from dllm_core.errors import DllmError

ROLES = ("system", "user", "assistant")

#: what to do with a bad record: raise, or skip it and count it
OnBadRecord = Literal["error", "skip"]

Message = dict[str, str]


class BadRecordError(DllmError):
    """A record that is not a valid training example."""


#: what a record must hold: a conversation (``sft``), a document (``pt``), or either (``None``)
RecordKind = Literal["sft", "pt"] | None
#: the fields that make a record a conversation
CONVERSATION_FIELDS = ("messages", "prompt", "answer")


@dataclass(frozen=True)
class RecordRules:
    """How records are checked where they stand in their source (``--text-field``,
    ``--on-bad-record``, and ``--mode``: which kind of record the run trains on)."""

    text_field: str = "text"  # the field of a pretraining document
    on_bad_record: OnBadRecord = "error"  # raise on a bad record, or skip and count it
    mode: RecordKind = None  # "sft": conversations only; "pt": documents only; None: either


def as_messages(prompt: str, answer: str) -> list[Message]:
    """The chat form of a prompt/answer pair: one user turn, one assistant turn."""
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]


def conversation_of(record: Any, index: int | str) -> list[Message]:
    """The validated conversation of ``record``: the ``index``-th of its dataset, or the record
    at ``index`` when that is a place (``"data.csv line 3"``)."""
    if not isinstance(record, Mapping):
        raise _bad(index, f"is a {type(record).__name__}, not a mapping")
    if record.get("messages") is not None:
        return _checked_messages(record["messages"], index)
    if "prompt" in record or "answer" in record:
        for key in ("prompt", "answer"):
            if not isinstance(record.get(key), str):
                raise _bad(index, f"field '{key}' must be a string, got {type(record.get(key)).__name__}")
        return as_messages(record["prompt"], record["answer"])
    raise _bad(index, f"has neither 'messages' nor 'prompt'/'answer' (fields: {sorted(record)})")


def check_record(record: Mapping[str, Any], where: str, rules: RecordRules) -> None:
    """Check a record of a source at ``where`` (``"data.csv line 3"``, ``"org/name split 'train'
    row 7"``): a conversation (``messages`` or ``prompt``/``answer``) unless ``rules.mode`` is
    ``"pt"``, else a document in ``rules.text_field`` unless ``rules.mode`` is ``"sft"``."""
    if rules.mode != "pt" and any(key in record for key in CONVERSATION_FIELDS):
        conversation_of(record, where)
        return
    if rules.mode != "sft" and rules.text_field in record:
        if not isinstance(record[rules.text_field], str):
            raise _bad(where, f"field '{rules.text_field}' must be a string, got "
                              f"{type(record[rules.text_field]).__name__}")
        return
    fields = ", ".join(sorted(map(str, record)))
    if rules.mode == "sft":
        wanted, fix = "neither 'messages' nor 'prompt'/'answer'", "Rename them (documents train with --mode pt)"
    elif rules.mode == "pt":
        wanted = f"no field '{rules.text_field}'"
        fix = "Name the document field with --text-field NAME (conversations train with --mode sft)"
    else:
        wanted = f"none of the fields 'messages', 'prompt'/'answer' or '{rules.text_field}'"
        fix = "Rename them, name the document field with --text-field NAME"
    raise BadRecordError(f"{where} has {wanted} (its fields: {fields}). {fix}, or pass --on-bad-record skip to "
                         "skip (and count) such records.")


def _checked_messages(messages: Any, index: int | str) -> list[Message]:
    if not isinstance(messages, (list, tuple)) or not messages:
        raise _bad(index, "has an empty or non-list 'messages'")
    checked: list[Message] = []
    for turn, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise _bad(index, f"message {turn} is not a mapping")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise _bad(index, f"message {turn} has role {role!r}; roles must be one of {ROLES}")
        if role == "system" and turn != 0:
            raise _bad(index, f"message {turn} is a system turn; only the first turn may be one")
        if not isinstance(content, str):
            raise _bad(index, f"message {turn} has no string 'content'")
        checked.append({"role": role, "content": content})
    if checked[-1]["role"] != "assistant":
        raise _bad(index, "does not end with an assistant turn, so it has nothing to learn")
    return checked


def _bad(index: int | str, problem: str) -> BadRecordError:
    where = f"record {index}" if isinstance(index, int) else index
    return BadRecordError(
        f"{where} {problem}. Fix the data, or pass --on-bad-record skip (on_bad_record='skip' in Python) to "
        "skip (and count) such records."
    )
