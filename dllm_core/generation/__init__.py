"""Generation: the generator contract, one masked-diffusion loop composed of parts, and the
official samplers as presets of it.

Every sampler implements :class:`~dllm_core.generation.contract.Generator` (front ends call it
through :class:`dllm_core.session.InferenceSession`). For the masked-diffusion presets,
``generate(model, input_ids, preset="llada", steps=..., ...)`` runs the engine on tensors. The loop
(:func:`~dllm_core.generation.engine.denoise`) takes a :class:`Canvas` and a
:class:`GenerationConfig` made of

* a transfer schedule (:mod:`~dllm_core.generation.transfer`): tokens per step;
* a token chooser (:mod:`~dllm_core.generation.tokens`): greedy, Gumbel, categorical, top-k/p;
* a confidence score (:mod:`~dllm_core.generation.confidence`);
* a commit rule (:mod:`~dllm_core.generation.commit`): top-k, threshold, factor, ...;
* a cache policy (:mod:`~dllm_core.generation.cache`), guidance, suppressed tokens, EOS stop.

Block diffusion (:mod:`~dllm_core.generation.block`, presets ``bd3lm`` and ``llada2``) grows the
answer block by block over an exact key/value cache with the same parts inside each block;
``generate_blocks(model, prompts, preset="bd3lm", ...)`` runs it on token prompts.

Importing this package imports torch.
"""

from dllm_core.generation.api import generate
from dllm_core.generation.block import BlockConfig, BlockOutput, denoise_blocks
from dllm_core.generation.block_generator import BlockGenerator, generate_blocks
from dllm_core.generation.canvas import Canvas
from dllm_core.generation.capabilities import ModelCapabilities
from dllm_core.generation.config import GenerationConfig
from dllm_core.generation.engine import denoise
from dllm_core.generation.output import GenerationOutput, StepInfo
from dllm_core.generation.presets import BD3LM, DREAM, FASTDLLM, LLADA, LLADA2, MDLM, Preset

__all__ = [
    "BD3LM",
    "DREAM",
    "FASTDLLM",
    "LLADA",
    "LLADA2",
    "MDLM",
    "BlockConfig",
    "BlockGenerator",
    "BlockOutput",
    "Canvas",
    "GenerationConfig",
    "GenerationOutput",
    "ModelCapabilities",
    "Preset",
    "StepInfo",
    "denoise",
    "denoise_blocks",
    "generate",
    "generate_blocks",
]
