"""``dllm list KIND [NAME]``: the registered names of one kind, or the details of one name."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from dllm_core.errors import unknown_name_error
from dllm_core.registry import REGISTRATION_HOOKS, Entry, get_registry


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", help=f"one of: {', '.join(REGISTRATION_HOOKS)}")
    parser.add_argument("name", nargs="?", help="show the details of this entry")


def _details(entry: Entry) -> dict:
    target = entry.target
    if dataclasses.is_dataclass(target):
        target = dataclasses.asdict(target)
    details = {"name": entry.name, "kind": entry.kind, "plugin": entry.plugin,
               "target": target, "metadata": entry.metadata}
    if entry.kind == "generators":
        details.update(_generator_details(get_registry().generators.get(entry.name)))
    return details


def _generator_details(generator: Any) -> dict:
    """A generator's parameters (default and help), roles and options, for ``dllm list generators NAME``."""
    parameters = {}
    for field in dataclasses.fields(generator.params_class):
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        parameters[field.name] = {"default": default, "help": field.metadata.get("help", "")}
    return {"parameters": parameters, "roles": dataclasses.asdict(generator.roles),
            "ragged_rows": generator.ragged_rows, "options": [option.flag for option in generator.cli_options]}


def run(args: argparse.Namespace) -> int:
    host = get_registry()
    if args.kind not in host.registries:
        raise unknown_name_error("kind", args.kind, host.registries, "Example: `dllm list families`.")
    registry = host.registries[args.kind]
    if args.name:
        print(json.dumps(_details(registry.entry(args.name)), indent=2, default=str))
        return 0
    for entry in registry:
        about = entry.metadata.get("description") or entry.metadata.get("help") or ""
        print(f"{entry.name:<24} {entry.plugin:<12} {about}")
    return 0
