"""The ``diffusiongemma`` generator: :func:`dllm_diffusiongemma.generate.generate` behind the
core's :class:`~dllm_core.api.Generator` contract, so ``dllm sample``, ``dllm chat``, ``dllm
eval`` and the server run it through one ``InferenceSession``.

Parameters keep transformers' names (``DiffusionGemmaGenerationConfig``; its
``sampler_config.entropy_bound`` is the flat ``entropy_bound``). The canvas length is the
model's (``config.canvas_length``), so the generator has no block parameter; answers are cut to
``max_new_tokens`` (the library returns whole canvases).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from dllm_core.api import DllmError, Generation, Generator, ParameterRoles, params_field as _help


@dataclass
class DiffusionGemmaParams:
    """``dllm sample --param KEY=VALUE`` settings of the ``diffusiongemma`` generator."""

    max_new_tokens: int = _help(256, "tokens to generate (whole canvases are denoised, the answer is cut)")
    max_denoising_steps: int = _help(48, "denoising steps per canvas at most")
    entropy_bound: float = _help(0.1, "entropy bound of the acceptance rule (> 0; larger accepts more per step)")
    t_min: float = _help(0.4, "temperature at the last denoising step")
    t_max: float = _help(0.8, "temperature at the first denoising step")
    stability_threshold: int | None = _help(1, "steps the argmax canvas must repeat to stop early (0: no condition)")
    confidence_threshold: float | None = _help(0.005, "mean entropy below which a stable canvas stops early")
    eos_token_id: int | list[int] | None = _help(None, "ids that end an answer (default: the checkpoint's stop tokens)")
    pad_token_id: int | None = _help(None, "id written after an answer's EOS (default: the checkpoint's pad)")


@dataclass(frozen=True)
class DiffusionGemmaGenerator(Generator):
    """Uniform-noise block diffusion as ``DiffusionGemmaForBlockDiffusion.generate`` does it."""

    name: str = "diffusiongemma"
    description: str = "DiffusionGemma generate (uniform canvas, entropy bound, re-noising, self-conditioning)"
    params_class: type = DiffusionGemmaParams
    roles: ParameterRoles = ParameterRoles(length="max_new_tokens", steps="max_denoising_steps")
    ragged_rows: bool = False

    def settings(self, session: Any, params: DiffusionGemmaParams) -> Any:
        """The loop's settings: ``params`` with the checkpoint's stop and pad ids filled in."""
        from dllm_diffusiongemma.generate import DiffusionGemmaSettings

        eos = params.eos_token_id
        eos_ids = session.special.stop_token_ids() if eos is None else ([eos] if isinstance(eos, int) else eos)
        pad = params.pad_token_id if params.pad_token_id is not None else session.special.pad_token_id
        try:
            return DiffusionGemmaSettings(
                max_new_tokens=params.max_new_tokens, max_denoising_steps=params.max_denoising_steps,
                entropy_bound=float(params.entropy_bound), t_min=float(params.t_min), t_max=float(params.t_max),
                stability_threshold=params.stability_threshold, confidence_threshold=params.confidence_threshold,
                eos_token_id=tuple(int(i) for i in eos_ids) or None, pad_token_id=pad)
        except ValueError as exc:
            raise DllmError(f"generator '{self.name}': {exc}") from None

    def complete(self, session: Any, prompts: Sequence[Sequence[int]], params: Any, *, seed: int = 0,
                 callback: Any = None, options: Mapping[str, Any] | None = None) -> Generation:
        """Left-pad ``prompts``, run the loop seeded with ``seed``, return each row's answer."""
        import torch

        from dllm_diffusiongemma.generate import generate

        settings = self.settings(session, params)
        ids, mask = session.pad_left(prompts)
        output = generate(session.model, ids, settings, attention_mask=mask, callback=callback,
                          generator=torch.Generator(device=session.device).manual_seed(seed))
        answers = output.sequences[:, output.prompt_length:output.prompt_length + settings.max_new_tokens]
        return Generation(answers.tolist(), output.nfe)


DIFFUSIONGEMMA_GENERATOR = DiffusionGemmaGenerator()
