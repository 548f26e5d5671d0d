"""Every hook a dllm plugin may implement.

A plugin is a module named by an entry point in the ``dllm`` group. It implements any of the
hooks below with the ``hookimpl`` marker::

    from dllm_core.hookspecs import hookimpl

    @hookimpl
    def dllm_register_schedules(register):
        register("my-schedule", "my_plugin.schedules:MySchedule", description="...")

Registration hooks follow the "register callback" pattern: the host passes a ``register``
function, and the plugin calls it once per thing it provides. Targets are lazy
``"package.module:Name"`` references, imported on first use, so listing plugins never imports
torch. Every hook here is documented in ``docs/plugins.md`` (a test enforces it).
"""

from __future__ import annotations

from typing import Any, Callable

import pluggy

PROJECT_NAME = "dllm"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def dllm_register_families(register: Callable[..., None]) -> None:
    """Register model families.

    Call ``register(family)`` with a :class:`dllm_core.family.ModelFamily` for each family.
    The family's model/config classes are lazy references inside it.
    """


@hookspec
def dllm_register_schedules(register: Callable[..., None]) -> None:
    """Register noise schedules (``NoiseSchedule`` / ``EditSchedule`` subclasses).

    Call ``register(name, "module:Class", **metadata)``.
    """


@hookspec
def dllm_register_objectives(register: Callable[..., None]) -> None:
    """Register training objectives (``Objective`` subclasses).

    Call ``register(name, "module:Class", **metadata)``.
    """


@hookspec
def dllm_register_generators(register: Callable[..., None]) -> None:
    """Register generators: objects implementing :class:`dllm_core.api.Generator` (samplers and
    the engine's presets).

    Call ``register(name, "module:OBJECT", **metadata)`` with a ``Generator`` instance; anything
    else is refused (register parts with ``dllm_register_engine_parts``).
    """


@hookspec
def dllm_register_engine_parts(register: Callable[..., None]) -> None:
    """Register parts that generators are composed of (transfer schedules, commit rules, token
    choosers, confidence scores, Edit Flows x_0 sources, ...), for plugins that build their own.

    Call ``register(name, "module:Object", **metadata)``; by convention the name carries the
    part's kind as a prefix (``commit/top-k``). Parts are looked up with
    ``get_registry().engine_parts.get(name)``.
    """


@hookspec
def dllm_register_tasks(register: Callable[..., None]) -> None:
    """Register built-in tasks usable as dataset specs and eval tasks.

    Call ``register(name, "module:Class", **metadata)``.
    """


@hookspec
def dllm_register_suites(register: Callable[..., None]) -> None:
    """Register evaluation suites (``dllm eval --suite NAME``).

    Call ``register(name, "module:SUITE", description=...)`` with a
    :class:`dllm_core.evaluation.suites.Suite`.
    """


@hookspec
def dllm_register_rewards(register: Callable[..., None]) -> None:
    """Register reward functions for ``dllm train --mode grpo`` (``--reward NAME``).

    Call ``register(name, "module:function", description=...)``; the function follows trl's
    reward-function protocol ``f(prompts, completions, **columns) -> list[float | None]``
    (see :mod:`dllm_core.rl.rewards`).
    """


@hookspec
def dllm_trainer_callbacks(context: dict[str, Any]) -> list[Any] | None:
    """Return ``transformers.TrainerCallback`` instances to attach to a training run.

    ``context`` holds the run's settings (``family``, ``objective``, ``output_dir``, ``args``).
    Called once per run, at training time; return ``None`` or an empty list to add nothing.
    """


@hookspec
def dllm_register_commands(cli: Any) -> None:
    """Add ``dllm`` subcommands.

    Call ``cli.add(name, "module:object", help="...")``. The object is imported only when the
    subcommand runs; it must provide ``add_arguments(parser)`` and ``run(args) -> int``.
    """
