"""The Edit Flows family description (pure data: importing it imports neither torch nor transformers)."""

from __future__ import annotations

from dllm_core.family import ModelFamily

EDITFLOW = ModelFamily(
    name="editflow",
    description="Edit Flows: a CTMC of insertions, deletions and substitutions over a registered backbone",
    model_types=("editflow",),
    default_objective="editflow",
    default_generator="editflow",
    eval_model_name="editflow",
)
