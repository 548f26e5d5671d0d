"""The core's own built-ins, registered through the same hooks as any plugin.

Entry point ``core`` in the ``dllm`` group of the ``dllm-core`` distribution. Every target is a
lazy ``"module:Name"`` reference: nothing heavy is imported here.
"""

from __future__ import annotations

from typing import Any, Callable

from dllm_core.hookspecs import hookimpl

Register = Callable[..., None]


@hookimpl
def dllm_register_commands(cli: Any) -> None:
    cli.add("plugins", "dllm_core.cli.plugins_command", help="List installed plugins and what they register.")
    cli.add("list", "dllm_core.cli.list_command", help="List registered names of one kind (families, schedules, ...).")
    cli.add("new-plugin", "dllm_core.cli.new_plugin_command", help="Generate a new plugin package from the template.")


@hookimpl
def dllm_register_tasks(register: Register) -> None:
    register("sudoku4", "dllm_core.data.tasks.sudoku:Sudoku4Task", description="4x4 sudoku with a unique solution")
    register("sudoku9", "dllm_core.data.tasks.sudoku:Sudoku9Task", description="9x9 sudoku with a unique solution")
    register("countdown", "dllm_core.data.tasks.countdown:CountdownTask",
             description="reach a target from 3-5 numbers with + - * /")
    register("addition", "dllm_core.data.tasks.addition:AdditionTask", description="multi-digit addition")
