"""Helpers over a model's Hugging Face config: its context length and a family's size presets.

Imports neither torch nor transformers at module level.
"""

from __future__ import annotations

from typing import Any


def max_positions(config: Any) -> int | None:
    """The longest sequence the model's positions allow (``None`` when the config says nothing)."""
    for attribute in ("max_sequence_length", "max_position_embeddings", "n_positions"):
        value = getattr(config, attribute, None)
        if isinstance(value, int) and value > 0:
            return value
    return None
