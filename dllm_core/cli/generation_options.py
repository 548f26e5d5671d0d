"""The generation options ``dllm sample`` and ``dllm chat`` share, and the session they open.

Generic options reach whatever generator the checkpoint uses through its declared roles
(``--gen-length`` is ``gen_length`` of one generator and ``max_new_tokens`` of another) or by
parameter name (``--temperature``, ``--threshold``, ``--use-cache``, and any parameter with
``--param KEY=VALUE``). Options a generator declares itself (``--show-denoising``,
``--show-edits``, ...) are added from the registered generators and handed back to the chosen
one; an option of another generator is an error naming the fix.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from functools import cache
from typing import Any

from dllm_core.errors import DllmError

#: CLI option -> generic role of the generator's parameters
ROLE_OPTIONS = {"gen_length": "length", "block_length": "block", "steps": "steps"}
#: CLI options passed by parameter name
NAMED_OPTIONS = ("temperature", "threshold", "use_cache")


def add_generation_arguments(parser: argparse.ArgumentParser) -> None:
    """Generator choice and settings (defaults from dllm.json, the checkpoint or the family)."""
    group = parser.add_argument_group("generation (defaults from dllm.json, generation_config.json or the family)")
    group.add_argument("--preset", "--generator", dest="preset",
                       help="generator name (`dllm list generators`); default: the checkpoint's")
    group.add_argument("--steps", type=int, help="denoising steps")
    group.add_argument("--gen-length", type=int, help="tokens to generate")
    group.add_argument("--block-length", type=int, help="semi-autoregressive block length")
    group.add_argument("--temperature", type=float)
    group.add_argument("--use-cache", choices=("none", "prefix", "dual"),
                       help="KV cache (generators that have one; selects the family's fast generator)")
    group.add_argument("--threshold", type=float, help="confidence threshold (generators that have one)")
    group.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                       help="any parameter of the generator (VALUE read as JSON when it parses; repeatable)")
    group.add_argument("--seed", type=int, default=0)
    group.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cpu)")
    own = parser.add_argument_group("options of particular generators (`dllm list generators NAME`)")
    for option in _registered_options():
        kwargs: dict[str, Any] = {"help": option.help, "dest": option.dest}
        if option.type is None:
            kwargs["action"] = "store_true"
        else:
            kwargs.update(type=option.type, metavar=option.metavar)
        own.add_argument(option.flag, **kwargs)


def _registered_generators() -> list[Any]:
    """Every registered generator that loads (one that fails is reported and left out)."""
    from dllm_core.registry import get_registry

    generators = get_registry().generators
    loaded = []
    for entry in generators:
        try:
            loaded.append(generators.get(entry.name))
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the command
            print(f"dllm: warning: generator '{entry.name}' of plugin '{entry.plugin}' cannot load: {exc}",
                  file=sys.stderr)
    return loaded


@cache
def _registered_options() -> list[Any]:
    from dllm_core.generation.contract import unique_options

    return unique_options(_registered_generators())


def parse_params(items: list[str]) -> dict[str, Any]:
    """``["alg=entropy", "top_p=0.9"]`` -> ``{"alg": "entropy", "top_p": 0.9}``."""
    values: dict[str, Any] = {}
    for item in items:
        key, equals, text = item.partition("=")
        if not equals or not key.strip():
            raise DllmError(f"--param {item!r}: write KEY=VALUE, e.g. --param alg=entropy")
        try:
            values[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            values[key.strip()] = text
    return values


@dataclass
class GenerationRequest:
    """What the options ask of the session: generator settings by role and by name, options."""

    roles: dict[str, Any]
    values: dict[str, Any]
    options: dict[str, Any]


def generation_request(args: argparse.Namespace) -> GenerationRequest:
    """The settings given on the command line (unset options are left to the defaults)."""
    roles = {role: getattr(args, option) for option, role in ROLE_OPTIONS.items()
             if getattr(args, option) is not None}
    values = {name: getattr(args, name) for name in NAMED_OPTIONS if getattr(args, name) is not None}
    if values.get("use_cache") == "none":
        values["use_cache"] = None
    values.update(parse_params(args.param))
    options = {option.dest: getattr(args, option.dest) for option in _registered_options()}
    return GenerationRequest(roles, values, options)


def open_session(args: argparse.Namespace) -> tuple[Any, Any, dict[str, Any]]:
    """``(session, params, generator options)`` for the checkpoint and options in ``args``; options
    the chosen generator cannot take are refused before the weights load. Answer length and
    steps follow :meth:`~dllm_core.generation.contract.Generator.fit_answer` (a default number of
    steps above a short answer's length is lowered to it; a given one is refused)."""
    from dllm_core.generation.contract import check_options, option_values
    from dllm_core.session import InferenceSession, plan_session

    request = generation_request(args)
    plan = plan_session(args.checkpoint, args.preset, request.values)
    check_options(plan.generator, request.options, _registered_options())
    for role in request.roles:
        plan.generator.role_parameter(role)
    session = InferenceSession.load(plan, device=args.device)
    given = {*request.values, *(plan.generator.role_parameter(role) for role in request.roles)}
    params = session.generator.fit_answer(session.params(request.roles, request.values), given)
    return session, params, option_values(session.generator, request.options)
