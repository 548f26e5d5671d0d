"""DiffusionGemma's block-diffusion loop on tensors, built from :mod:`.sampling`'s parts.

Per canvas (block) of ``C`` tokens:

1. the encoder appends the not-yet-encoded tokens (the prompt, then the previous canvas) to the
   KV cache (causal, positions continuing the sequence);
2. the canvas starts uniform; for ``k = N, ..., 1`` the denoiser reads the cache and the canvas
   (bidirectional) plus the previous step's tempered logits (self-conditioning), the tokens are
   sampled at temperature ``tau_k``, the entropy-bound rule accepts some of them, the rest are
   re-noised, and rows that are stable and confident stop (they keep their canvas);
3. the final argmax canvas is appended; rows that produced EOS (or reached the length) finish,
   their later tokens become pad.

This reproduces ``DiffusionGemmaForBlockDiffusion.generate`` (transformers >= 5.25, dynamic
cache) token for token when ``generator`` is seeded as the library's global generator
(``tests/plugins/diffusiongemma/test_generation_parity.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch

from dllm_diffusiongemma.sampling import (
    StableAndConfident,
    entropy_bound_accept,
    linear_temperature,
    sample_tokens,
    uniform_canvas,
)


@dataclass(frozen=True)
class DiffusionGemmaSettings:
    """The loop's settings (names and defaults of ``DiffusionGemmaGenerationConfig``).

    Attributes:
        max_new_tokens: tokens to generate; whole canvases are produced (``ceil(max/C)`` of them).
        max_denoising_steps: ``N``, denoising steps per canvas at most.
        entropy_bound: ``gamma`` of the acceptance rule (> 0; larger accepts more per step).
        t_min, t_max: the linear temperature schedule's last and first temperature.
        stability_threshold: ``s``, steps the argmax canvas must repeat to stop (0: no condition).
        confidence_threshold: ``c``, mean entropy below which a stable row stops; ``None``
            together with ``stability_threshold=None`` disables adaptive stopping.
        eos_token_id: ids that finish a row; ``None``: rows run to the length.
        pad_token_id: written after a finished row's EOS; ``None``: tokens are left as drawn.
    """

    max_new_tokens: int = 256
    max_denoising_steps: int = 48
    entropy_bound: float = 0.1
    t_min: float = 0.4
    t_max: float = 0.8
    stability_threshold: int | None = 1
    confidence_threshold: float | None = 0.005
    eos_token_id: tuple[int, ...] | None = None
    pad_token_id: int | None = None

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.max_denoising_steps < 1:
            raise ValueError(f"max_denoising_steps must be >= 1, got {self.max_denoising_steps}")
        if not self.entropy_bound > 0:
            raise ValueError(f"entropy_bound must be > 0, got {self.entropy_bound}")
        if not 0 <= self.t_min < self.t_max:
            raise ValueError(f"need 0 <= t_min < t_max, got t_min={self.t_min}, t_max={self.t_max}")
        if self.stability_threshold is not None and self.stability_threshold < 0:
            raise ValueError(f"stability_threshold must be >= 0, got {self.stability_threshold}")
        if self.confidence_threshold is not None and not self.confidence_threshold > 0:
            raise ValueError(f"confidence_threshold must be > 0, got {self.confidence_threshold}")


@dataclass
class StepRecord:
    """What the loop reports after each denoising step (for ``callback``)."""

    block: int
    step: int  # k, steps remaining
    canvas: torch.Tensor  # [B, C] the next canvas (accepted tokens, the rest re-noised)
    argmax: torch.Tensor  # [B, C] the argmax canvas
    accepted: torch.Tensor  # [B, C] bool
    finished: torch.Tensor  # [B] bool, rows that stopped denoising this canvas


@dataclass
class DiffusionGemmaOutput:
    """``sequences`` ``[B, P + n C]`` (prompt then canvases, pad after a row's EOS) and ``nfe``
    (denoiser forwards of the batch)."""

    sequences: torch.Tensor
    prompt_length: int
    nfe: int


def _encode(model: Any, tokens: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, cache: Any) -> None:
    """Append ``tokens`` ``[B, n]`` at ``positions`` ``[1, n]`` to ``cache`` through the encoder."""
    encoder = model.model.encoder
    shape_only = torch.empty((tokens.shape[0], tokens.shape[1], 0), dtype=model.dtype, device=tokens.device)
    masks = encoder.create_masks_for_generate(config=model.config, inputs_embeds=shape_only, attention_mask=mask,
                                              cache=cache, position_ids=positions)
    encoder(input_ids=tokens.contiguous(), attention_mask=masks, cache=cache, position_ids=positions)


def _finish_canvas(sequences: torch.Tensor, finished: torch.Tensor, width: int, limit: int,
                   settings: DiffusionGemmaSettings) -> torch.Tensor:
    """Rows done after the canvas just appended (EOS in it, or ``limit`` tokens); pads in place
    every finished row's tokens after its EOS (and whole canvases of rows finished before)."""
    canvas = sequences[:, -width:]  # a view: writes land in ``sequences``
    eos = None if settings.eos_token_id is None else torch.tensor(settings.eos_token_id, device=sequences.device)
    has_eos = torch.zeros_like(finished) if eos is None else torch.isin(canvas, eos).any(dim=-1)
    now = has_eos | (sequences.shape[1] >= limit)
    if settings.pad_token_id is not None and bool((finished | now).any()):
        canvas[finished] = settings.pad_token_id
        if eos is not None and bool(now.any()):
            is_eos = torch.isin(canvas, eos)
            seen = is_eos.cumsum(dim=-1)
            after_first_eos = (seen > 0) & ~((seen == 1) & is_eos)
            canvas[after_first_eos] = settings.pad_token_id
    return finished | now


def _denoise_canvas(model: Any, cache: Any, canvas_mask: torch.Tensor, length: int, block: int,
                    settings: DiffusionGemmaSettings, stopper: StableAndConfident | None,
                    generator: torch.Generator | None, callback: Callable[[StepRecord], None] | None
                    ) -> tuple[torch.Tensor, int]:
    """Denoise one canvas after ``length`` cached tokens (``canvas_mask`` ``[B, length + C]``):
    the final ``[B, C]`` argmax canvas and the number of denoiser calls."""
    config = model.config
    batch, width, vocab = canvas_mask.shape[0], config.canvas_length, config.text_config.vocab_size
    device = canvas_mask.device
    canvas = uniform_canvas(batch, width, vocab, device, generator)
    attention = model.model.decoder.create_diffusion_decoder_attention_mask(
        config=config, inputs_embeds=canvas[..., None], cache=cache, decoder_attention_mask=canvas_mask)
    positions = torch.arange(length, length + width, dtype=torch.int32, device=device)[None]
    embed_dtype = model.model.decoder.embed_tokens.weight.dtype
    argmax, previous, done = canvas, None, torch.zeros(batch, dtype=torch.bool, device=device)
    if stopper is not None:
        stopper.reset()
    calls = 0
    for step in range(settings.max_denoising_steps, 0, -1):
        logits = model(decoder_input_ids=canvas, self_conditioning_logits=previous, decoder_attention_mask=attention,
                       cache=cache, decoder_position_ids=positions).logits  # [B, C, V]
        calls += 1
        logits = linear_temperature(logits, step, settings.max_denoising_steps, settings.t_min, settings.t_max)
        drawn = sample_tokens(logits, generator)
        new_argmax = logits.argmax(dim=-1)
        accepted = entropy_bound_accept(logits, settings.entropy_bound)
        noise = uniform_canvas(batch, width, vocab, device, generator)
        new_canvas = torch.where(accepted, drawn, noise)  # accepted tokens stay, the rest re-noised
        if stopper is not None:
            if bool(done.any()):  # stopped rows keep their canvas, argmax and logits
                new_argmax = torch.where(done[:, None], argmax, new_argmax)
                new_canvas = torch.where(done[:, None], canvas, new_canvas)
                logits = torch.where(done[:, None, None], previous, logits)
            done = done | stopper(new_argmax, logits)
        canvas, argmax, previous = new_canvas, new_argmax, logits.to(embed_dtype)
        if callback is not None:
            callback(StepRecord(block, step, canvas, argmax, accepted, done))
        if bool(done.all()):
            break
    return argmax, calls


@torch.no_grad()
def generate(model: Any, input_ids: torch.Tensor, settings: DiffusionGemmaSettings, *,
             attention_mask: torch.Tensor | None = None, generator: torch.Generator | None = None,
             callback: Callable[[StepRecord], None] | None = None) -> DiffusionGemmaOutput:
    """Run the loop (module doc) on left-padded ``input_ids`` ``[B, P]`` (``attention_mask``
    ``[B, P]``, 1 for real tokens); ``generator=None`` draws from torch's global generator."""
    from transformers import DynamicCache

    if hasattr(model, "get_base_model"):  # a peft model: its LoRA layers live inside the base model
        model = model.get_base_model()
    width = model.config.canvas_length
    batch, prompt_length = input_ids.shape
    limit = prompt_length + settings.max_new_tokens
    mask = (torch.ones_like(input_ids) if attention_mask is None else attention_mask).bool()
    cache = DynamicCache(config=model.config.get_text_config(decoder=True))
    stopper = None
    if settings.stability_threshold is not None and settings.confidence_threshold is not None:
        stopper = StableAndConfident(settings.stability_threshold, settings.confidence_threshold)
    sequences, unencoded, nfe = input_ids, input_ids, 0
    finished = torch.zeros(batch, dtype=torch.bool, device=input_ids.device)
    for block in range(math.ceil(settings.max_new_tokens / width)):
        length = sequences.shape[1]
        start = length - unencoded.shape[1]
        _encode(model, unencoded, mask, torch.arange(start, length, dtype=torch.int32, device=mask.device)[None], cache)
        canvas_mask = torch.nn.functional.pad(mask, (0, width), value=True)  # [B, length + C]
        argmax, calls = _denoise_canvas(model, cache, canvas_mask, length, block, settings, stopper, generator,
                                        callback)
        nfe += calls
        sequences = torch.cat([sequences, argmax], dim=-1)
        finished = _finish_canvas(sequences, finished, width, limit, settings)
        if bool(finished.all()):
            break
        unencoded, mask = sequences[:, -width:], canvas_mask
    return DiffusionGemmaOutput(sequences, prompt_length, nfe)
