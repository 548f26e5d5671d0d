"""Named presets: the official samplers as settings of the one generation loop.

Each preset takes its reference function's parameter names and defaults; the registry holds
them under the ``generators`` kind (``llada``, ``fastdllm``, ``dream``, ``mdlm``).
"""

from dllm_core.generation.presets.base import Preset, PresetContext, Prepared
from dllm_core.generation.presets.dream import DREAM
from dllm_core.generation.presets.llada import FASTDLLM, LLADA
from dllm_core.generation.presets.mdlm import MDLM

__all__ = ["DREAM", "FASTDLLM", "LLADA", "MDLM", "Preset", "PresetContext", "Prepared"]
