"""dllm-diffusiongemma: Google's DiffusionGemma as a dllm family, over transformers' own
``DiffusionGemmaForBlockDiffusion`` (no model code here).

Importing this package is cheap: the family is pure data (:mod:`.family`), the generator, the
sampling parts and the model builder import torch and transformers on first use.
"""

__version__ = "0.1.0"

#: the first transformers release that ships ``DiffusionGemmaForBlockDiffusion``
MIN_TRANSFORMERS = "5.25"
