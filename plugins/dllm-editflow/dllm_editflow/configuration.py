"""``EditFlowConfig``: an Edit Flows head over a backbone named by its dllm family.

The backbone's own config is kept whole (``backbone``, its ``to_dict()``) next to the name of
the family that builds it (``backbone_family``), so ``config.json`` alone rebuilds the model
through the registry; no other plugin is imported.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from transformers import PretrainedConfig


class EditFlowConfig(PretrainedConfig):
    model_type = "editflow"

    def __init__(
        self,
        backbone_family: str = "",  # dllm family of the backbone (``dllm list families``)
        backbone: Optional[dict[str, Any]] = None,  # the backbone config's to_dict()
        time_frequencies: int = 64,  # sinusoidal features of t fed to the time embedding MLP
        max_position_embeddings: Optional[int] = None,  # the backbone's context, for checks
        mask_token_id: Optional[int] = None,
        special_token_ids: Sequence[int] = (),  # tokens the ``prompt`` source leaves out
        **kwargs: Any,
    ) -> None:
        self.backbone_family = backbone_family
        self.backbone = dict(backbone or {})
        self.time_frequencies = time_frequencies
        self.max_position_embeddings = max_position_embeddings
        self.mask_token_id = mask_token_id
        self.special_token_ids = [int(i) for i in special_token_ids]
        super().__init__(**kwargs)
