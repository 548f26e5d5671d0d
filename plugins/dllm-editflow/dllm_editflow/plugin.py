"""dllm entry point of the ``dllm-editflow`` distribution: the Edit Flows family, its objective,
its generator and its x_0 sources (lazy references: nothing heavy is imported here)."""

from __future__ import annotations

from typing import Callable

from dllm_core.api import hookimpl
from dllm_editflow.family import EDITFLOW

Register = Callable[..., None]


@hookimpl
def dllm_register_families(register: Register) -> None:
    register(EDITFLOW)


@hookimpl
def dllm_register_schedules(register: Register) -> None:
    register("edit-linear", "dllm_editflow.schedules:EditLinearSchedule", description="Edit Flows kappa(t) = t")
    register("edit-cubic", "dllm_editflow.schedules:EditCubicSchedule", description="Edit Flows cubic kappa(t; a, b)")
    register("edit-cosine", "dllm_editflow.schedules:EditCosineSchedule", description="Edit Flows cosine kappa(t)")


@hookimpl
def dllm_register_objectives(register: Register) -> None:
    register("editflow", "dllm_editflow.objective:EditFlowObjective",
             description="Edit Flows: rates of insertions, deletions, substitutions (arXiv 2506.09018)")


@hookimpl
def dllm_register_generators(register: Register) -> None:
    register("editflow", "dllm_editflow.generator:EDITFLOW",
             description="Edit Flows tau-leaping from x_0, prompt protected, rows of any lengths")


@hookimpl
def dllm_register_engine_parts(register: Register) -> None:
    register("editflow-x0/empty", "dllm_editflow.sources:empty", description="Edit Flows x_0: nothing")
    register("editflow-x0/masks", "dllm_editflow.sources:masks", description="Edit Flows x_0: masks[length:N]")
    register("editflow-x0/prompt", "dllm_editflow.sources:prompt",
             description="Edit Flows x_0: the prompt without special tokens")
