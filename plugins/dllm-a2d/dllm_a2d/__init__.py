"""dllm-a2d: A2D ("autoregressive to diffusion") models for dllm: Qwen3, Qwen2 and Llama with
bidirectional attention (ZHZisZZ/dllm's ``a2d-qwen3``/``a2d-qwen2``/``a2d-llama`` checkpoints load
without remote code), and their converter from AR checkpoints (``dllm convert --from-ar
... --objective block-diffusion``).

Importing this package is cheap; the model classes live in ``dllm_a2d.modeling_a2d`` and
``dllm_a2d.configuration_a2d`` and are imported on first use.
"""

__version__ = "0.1.0"
