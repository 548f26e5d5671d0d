"""dllm-llada: the LLaDA family for dllm (GSAI-ML/LLaDA checkpoints load without remote code).

Importing this package is cheap; the model classes live in ``dllm_llada.modeling_llada`` and
``dllm_llada.configuration_llada`` and are imported on first use.
"""

__version__ = "0.1.0"
