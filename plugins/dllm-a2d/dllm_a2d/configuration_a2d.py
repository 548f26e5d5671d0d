"""A2D configurations: transformers' Qwen3/Qwen2/Llama configs under the A2D ``model_type``s.

The field names are transformers' own (``config.json`` of an A2D checkpoint is the AR model's
with ``model_type`` ``a2d-qwen3``, ``a2d-qwen2`` or ``a2d-llama``, as ZHZisZZ/dllm writes it),
so official A2D checkpoints and converted ones load unchanged. The mask token is the
tokenizer's (``<|mask|>``), not a config field.
"""

from __future__ import annotations

from transformers import LlamaConfig, Qwen2Config, Qwen3Config


class A2DQwen3Config(Qwen3Config):
    model_type = "a2d-qwen3"


class A2DQwen2Config(Qwen2Config):
    model_type = "a2d-qwen2"


class A2DLlamaConfig(LlamaConfig):
    model_type = "a2d-llama"
