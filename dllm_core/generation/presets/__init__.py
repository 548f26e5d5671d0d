"""Named presets: the official samplers as settings of the generation loops.

Each preset takes its reference function's parameter names and defaults; the registry holds
them under the ``generators`` kind: the masked-diffusion presets of the engine (``llada``,
``fastdllm``, ``dream``, ``mdlm``) and the block-diffusion presets of
:mod:`~dllm_core.generation.block` (``bd3lm``, ``llada2``).
"""

from dllm_core.generation.presets.base import Preset, PresetContext, Prepared
from dllm_core.generation.presets.bd3lm import BD3LM
from dllm_core.generation.presets.dream import DREAM
from dllm_core.generation.presets.llada import FASTDLLM, LLADA
from dllm_core.generation.presets.llada2 import LLADA2
from dllm_core.generation.presets.mdlm import MDLM

__all__ = ["BD3LM", "DREAM", "FASTDLLM", "LLADA", "LLADA2", "MDLM", "Preset", "PresetContext", "Prepared"]
