"""dllm-dream: the Dream family for dllm (Dream-org checkpoints load without remote code).

Importing this package is cheap; the model classes live in ``dllm_dream.modeling_dream`` and
``dllm_dream.configuration_dream`` and are imported on first use.
"""

__version__ = "0.1.0"
