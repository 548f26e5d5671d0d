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
:func:`check_record` checks a record as read from a file, before any shuffling, so the error
names the file's own line. Pure Python.
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


@dataclass(frozen=True)
class RecordRules:
    """How records read from a file are checked (``--text-field``, ``--on-bad-record``)."""

    text_field: str = "text"  # the field of a pretraining document
    on_bad_record: OnBadRecord = "error"  # raise on a bad record, or skip and count it


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
    """Check a record read from a file at ``where`` (``"data.csv line 3"``): a conversation
    (``messages`` or ``prompt``/``answer``), else a document in ``rules.text_field``."""
    if any(key in record for key in ("messages", "prompt", "answer")):
        conversation_of(record, where)
        return
    if rules.text_field in record:
        if not isinstance(record[rules.text_field], str):
            raise _bad(where, f"field '{rules.text_field}' must be a string, got "
                              f"{type(record[rules.text_field]).__name__}")
        return
    raise BadRecordError(
        f"{where} has none of the fields 'messages', 'prompt'/'answer' or '{rules.text_field}' (its fields: "
        f"{', '.join(sorted(map(str, record)))}). Rename them, name the document field with --text-field "
        "NAME, or pass --on-bad-record skip to skip (and count) such records."
    )


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
