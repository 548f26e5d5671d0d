"""Command-line options and JSON, declared once on a dataclass's fields.

A field declared with :func:`option` carries its help text (and, where the defaults do not fit,
its flag, argparse group and metavar) in ``dataclasses.field(metadata=...)``; its type says how
the command line reads the value:

* ``bool`` (default ``False``): a flag that sets it;
* ``int``, ``float``, ``str``, ``Path`` (or ``X | None``): one value of that type;
* ``Literal[...]``: one of the literal values;
* ``list[str]``: comma-separated names (``q_proj,v_proj``), repeatable (``--reward a --reward b``);
* ``dict[str, Any]``: repeatable ``KEY=VALUE``, VALUE read as JSON when it parses, else as text.

A field without a default is a required option. :func:`add_options` adds a dataclass's options to
a parser and :func:`from_namespace` builds the dataclass from the parsed arguments;
:func:`to_json` and :func:`from_json` carry an instance to another process (paths restored).
Only the standard library is imported.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from dataclasses import MISSING, dataclass
from pathlib import Path
from typing import Any, Callable, Literal, TypeVar, Union

T = TypeVar("T")

#: the key of a field's metadata that holds its :class:`OptionSpec`
METADATA_KEY = "dllm_option"
#: types read as one value, converted by the type itself
SCALARS = (int, float, str, Path)


@dataclass(frozen=True)
class OptionSpec:
    """How a field shows on the command line (what its type does not say)."""

    help: str  # the help text; a concrete default is appended to it
    flag: str | None = None  # the option string; None: ``--`` + the field name with dashes
    group: str | None = None  # title of the argparse group listing it; None: the parser's own
    metavar: str | None = None  # the value's name in the help; None: argparse's


def option(default: Any = MISSING, *, help: str, flag: str | None = None, group: str | None = None,
           metavar: str | None = None, default_factory: Callable[[], Any] | Any = MISSING) -> Any:
    """A dataclass field that is also a command-line option (see the module docstring).

    ``default`` and ``default_factory`` are those of ``dataclasses.field``; with neither, the
    option is required. The other arguments are the :class:`OptionSpec`.
    """
    spec = OptionSpec(help=help, flag=flag, group=group, metavar=metavar)
    return dataclasses.field(default=default, default_factory=default_factory, metadata={METADATA_KEY: spec})


def option_spec(field: dataclasses.Field) -> OptionSpec:
    """The :class:`OptionSpec` of a field declared with :func:`option`."""
    spec = field.metadata.get(METADATA_KEY)
    if not isinstance(spec, OptionSpec):
        raise TypeError(f"field {field.name!r} is not declared with option(...): it has no command-line help")
    return spec


def option_flag(field: dataclasses.Field) -> str:
    """The option string of a field: its spec's flag, else ``--field-name``."""
    return option_spec(field).flag or "--" + field.name.replace("_", "-")


def add_options(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one option per field of the dataclass ``cls`` (each stored under the field's name)."""
    hints = typing.get_type_hints(cls)
    groups: dict[str, Any] = {}  # title -> argument group, created where its first option is
    for field in dataclasses.fields(cls):
        spec = option_spec(field)
        target: Any = parser
        if spec.group is not None:
            if spec.group not in groups:
                groups[spec.group] = parser.add_argument_group(spec.group)
            target = groups[spec.group]
        target.add_argument(option_flag(field), **_argument(field, spec, hints[field.name]))


def from_namespace(cls: type[T], namespace: argparse.Namespace) -> T:
    """The dataclass ``cls`` from the arguments that :func:`add_options` declared."""
    return cls(**{field.name: getattr(namespace, field.name) for field in dataclasses.fields(cls)})


def to_json(instance: Any) -> str:
    """JSON of a dataclass's fields (paths as text), read back by :func:`from_json`."""
    values = {field.name: getattr(instance, field.name) for field in dataclasses.fields(instance)}
    return json.dumps(values, default=_path_text)


def from_json(cls: type[T], text: str) -> T:
    """The ``cls`` instance that :func:`to_json` wrote; fields typed ``Path`` become paths again."""
    hints = typing.get_type_hints(cls)
    values = json.loads(text)
    return cls(**{name: _restore(hints[name], value) for name, value in values.items()})


def comma_list(text: str) -> list[str]:
    """``"q_proj, v_proj,"`` -> ``["q_proj", "v_proj"]``."""
    return [name.strip() for name in text.split(",") if name.strip()]


def json_or_text(text: str) -> Any:
    """``text`` read as JSON (``10`` -> 10, ``true`` -> True) when it parses, else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


class CommaList(argparse.Action):
    """A ``list[str]`` option: comma-separated names, and repeatable (``--reward a --reward b,c`` ->
    ``[a, b, c]``). The first use replaces the default; later uses add to it."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        current = getattr(namespace, self.dest)
        given = [] if current is self.default else list(current)  # the default object: not given yet
        setattr(namespace, self.dest, given + comma_list(str(values)))


class KeyValues(argparse.Action):
    """A repeatable ``KEY=VALUE`` option collected into a dict (VALUE: :func:`json_or_text`)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        key, equals, text = str(values).partition("=")
        if not equals or not key:
            raise argparse.ArgumentError(self, f"{values!r} is not KEY=VALUE")
        setattr(namespace, self.dest, {**getattr(namespace, self.dest), key: json_or_text(text)})


def _argument(field: dataclasses.Field, spec: OptionSpec, hint: Any) -> dict[str, Any]:
    """``add_argument`` keywords for ``field`` of type ``hint``."""
    kind = _value_type(hint)
    default = field.default_factory() if field.default_factory is not MISSING else field.default
    arguments: dict[str, Any] = {"dest": field.name, "help": _help(spec.help, default)}
    if default is MISSING:
        arguments["required"] = True
    else:
        arguments["default"] = default
    if kind is bool:
        if default is not False:
            raise TypeError(f"bool option {field.name!r} must default to False: its flag can only set it")
        return {**arguments, "action": "store_true"}
    if spec.metavar is not None:
        arguments["metavar"] = spec.metavar
    if typing.get_origin(kind) is Literal:
        choices = typing.get_args(kind)
        return {**arguments, "choices": choices, "type": type(choices[0])}
    if kind in SCALARS:
        return {**arguments, "type": kind}
    if kind == list[str]:
        return {**arguments, "action": CommaList}
    if kind == dict[str, Any]:
        return {"metavar": "KEY=VALUE", **arguments, "action": KeyValues}
    raise TypeError(f"option {field.name!r} has type {hint}, which the command line cannot read")


def _value_type(hint: Any) -> Any:
    """``X`` for ``X | None``, else ``hint`` itself."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        kinds = [kind for kind in typing.get_args(hint) if kind is not type(None)]
        if len(kinds) == 1:
            return kinds[0]
    return hint


def _help(text: str, default: Any) -> str:
    """The help text, with a default that says something (not None, False or empty) appended."""
    if default is MISSING or default is None or default is False or default in ([], {}, ""):
        return text.replace("%", "%%")
    shown = ",".join(default) if isinstance(default, list) else default
    return f"{text} (default: {shown})".replace("%", "%%")


def _path_text(value: Any) -> str:
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _restore(hint: Any, value: Any) -> Any:
    return Path(value) if value is not None and _value_type(hint) is Path else value
