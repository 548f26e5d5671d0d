"""dllm-llada2: the LLaDA2.x MoE and LLaDA-MoE families for dllm (inclusionAI checkpoints load
without remote code).

Importing this package is cheap; the model classes live in ``dllm_llada2.modeling_llada2_moe``
and ``dllm_llada2.modeling_lladamoe`` (configs in ``configuration_*``) and are imported on first
use.
"""

__version__ = "0.1.0"
