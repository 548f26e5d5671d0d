"""dllm-core: the minimal core of dllm, a framework for diffusion language models.

The core defines the abstract pieces (noise schedules, objectives, generators, trainer hooks,
data and evaluation plumbing, the ``dllm`` CLI) and the plugin registry through which model
families (``dllm-llada``, ``dllm-dream``, ...) register their implementations.

Importing this package is cheap: it imports neither torch nor transformers.
"""

__version__ = "0.1.0"
