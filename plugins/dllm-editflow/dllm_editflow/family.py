"""The Edit Flows family description (pure data: importing it imports neither torch nor transformers).

An Edit Flows model wraps the masked LM of another family (its *backbone*, e.g. ``llada``), so
the family has no presets of its own: ``dllm train --family editflow --backbone llada --preset
tiny`` uses the backbone's ``tiny`` preset through ``model_builder``.
"""

from __future__ import annotations

from dllm_core.api import ModelFamily

EDITFLOW = ModelFamily(
    name="editflow",
    description="Edit Flows: a CTMC of insertions, deletions and substitutions over a registered backbone",
    model_types=("editflow",),
    config_class="dllm_editflow.configuration:EditFlowConfig",
    model_class="dllm_editflow.modeling:EditFlowModel",
    register_auto="dllm_editflow.modeling:register_with_transformers",
    model_builder="dllm_editflow.builder:build_from_preset",
    default_objective="editflow",
    default_generator="editflow",
    generator_defaults={"steps": 64, "temperature": 1.0},
    masked_likelihood=False,
    eval_model_name="editflow",
)
