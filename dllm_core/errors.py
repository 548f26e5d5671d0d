"""The error types of dllm, and the helpers that word them.

Every error meant for a user is a :class:`DllmError`: one line naming the problem and the fix.
The CLI prints it and exits with code 2 (``--debug`` shows the traceback). This module imports
nothing of dllm, so any module can raise these without importing the registry.
"""

from __future__ import annotations

import difflib
from typing import Iterable


class DllmError(Exception):
    """An error with a message meant for the user: the problem and the fix, on one line."""


class UnknownNameError(DllmError, KeyError):
    """A name that no registry entry (or plugin) carries."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


class PluginError(DllmError):
    """A plugin could not be loaded (raised in strict mode or for bad ``DLLM_PLUGINS``)."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A ``" Did you mean 'x'?"`` suffix for the closest of ``choices`` (or ``""``)."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def unknown_name_error(what: str, name: str, choices: Iterable[str], fix: str = "") -> UnknownNameError:
    """Build the one-line error for an unknown ``what`` called ``name``."""
    choices = sorted(choices)
    known = ", ".join(choices) if choices else "none"
    message = f"unknown {what} '{name}'.{did_you_mean(name, choices)} Known: {known}."
    if fix:
        message += f" {fix}"
    return UnknownNameError(message)
