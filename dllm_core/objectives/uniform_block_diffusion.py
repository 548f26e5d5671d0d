"""Uniform-noise block diffusion: the ``uniform-block-diffusion`` objective (our recipe for
DiffusionGemma-style models; the official training recipe is not published).

The model contract is an *encoder-cache + canvas denoiser* (transformers'
``DiffusionGemmaForBlockDiffusion``)::

    model(input_ids=[B, L], attention_mask=[B, L], position_ids=[1, L], cache=Cache,   # encode x_0
          decoder_input_ids=[B, C], decoder_attention_mask=[B, L + C],                   # denoise a canvas
          decoder_position_ids=[B, C], self_conditioning_logits=[B, C, V] | None,
          self_conditioning_mask=[B] | None).logits                                     # [B, C, V]

with later calls passing ``input_ids=None`` to reuse the cache. ``C`` is the canvas length
(``config.canvas_length``).

Per batch (x_0 ``[B, L]``, a_b the first scored position of row b, its answer):

1. the encoder reads the clean sequence once, causally, into the cache (so the cache entry of
   position j depends on x_0[<= j] only: the block-causal context the sampler builds canvas by
   canvas);
2. canvas k of row b covers positions a_b + kC ... a_b + (k+1)C - 1 (the sampler's layout: the
   answer starts right after the prompt). It draws t_{b,k} = eps + (1 - eps) U and corrupts each
   position with the uniform kernel (:class:`~dllm_core.schedules.kernels.UniformKernel`):
   x_t = x_0 with probability alpha(t_{b,k}), else a uniformly random token;
3. the denoiser reads x_t and the cached keys of positions < a_b + kC (a 2D key mask);
4. self-conditioning: with probability ``self_conditioning`` per row, a second pass gets the
   first pass's logits, detached, as ``self_conditioning_logits`` (rows without it use the
   first pass);
5. the loss is the x_0-prediction cross-entropy over every scored canvas position (corrupted or
   not: a uniform-noise denoiser must also tell which tokens are noise), averaged over them::

       L = E_{t, x_t} [ (1/N) sum_{b,k,i} -log p_theta(x_0^i | x_t^{b,k}, x_0^{< a_b + kC}, sc) ].

Unlike the absorbing-state ELBO this is not weighted by -alpha'/(1 - alpha) and is no
likelihood bound (``dllm eval`` scores no log-likelihood for such models).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import torch

from dllm_core.objectives.base import Batch, LossOutput, Objective
from dllm_core.objectives.elbo import sample_times
from dllm_core.objectives.model_io import logits_of, model_config
from dllm_core.schedules import LinearSchedule, NoiseSchedule
from dllm_core.schedules.kernels import UniformKernel

if TYPE_CHECKING:
    from dllm_core.family import ModelFamily


@dataclass
class UniformBlockDiffusionConfig:
    """Settings of the uniform-noise block diffusion objective."""

    schedule: NoiseSchedule = field(default_factory=LinearSchedule)  # alpha(t)
    eps: float = 1e-3  # t = eps + (1 - eps) U, so no canvas is drawn entirely clean
    self_conditioning: float = 0.5  # probability a row trains with self-conditioning

    def __post_init__(self) -> None:
        if not isinstance(self.schedule, NoiseSchedule):
            raise TypeError(f"schedule must be a NoiseSchedule, got {type(self.schedule).__name__}")
        if not 0 < self.eps < 1:
            raise ValueError(f"eps must lie in (0, 1), got {self.eps}")
        if not 0 <= self.self_conditioning <= 1:
            raise ValueError(f"self_conditioning is a probability in [0, 1], got {self.self_conditioning}")


def answer_starts(labels: torch.Tensor) -> torch.Tensor:
    """``[B]`` the first scored position of each row of ``labels`` ``[B, L]`` (0 when none)."""
    scored = labels != -100
    return torch.where(scored.any(dim=1), scored.int().argmax(dim=1), torch.zeros_like(labels[:, 0]))


class UniformBlockDiffusionObjective(Objective):
    """The uniform-noise block diffusion loss; see the module docstring."""

    name: ClassVar[str] = "uniform-block-diffusion"
    config_class: ClassVar[type[UniformBlockDiffusionConfig]] = UniformBlockDiffusionConfig

    def __init__(self, config: UniformBlockDiffusionConfig | None = None) -> None:
        self.config = config if config is not None else UniformBlockDiffusionConfig()

    def loss(self, model: torch.nn.Module, batch: Batch, family: ModelFamily | None = None, *,
             generator: torch.Generator | None = None) -> LossOutput:
        from transformers import DynamicCache

        x0, labels = batch["input_ids"], batch["labels"]  # [B, L]
        attention = batch.get("attention_mask")
        attention = torch.ones_like(x0, dtype=torch.bool) if attention is None else attention.bool()
        config = model_config(model)
        width = getattr(config, "canvas_length", None)
        text = config.get_text_config() if config is not None else None
        if width is None or text is None:
            raise ValueError("uniform-block-diffusion trains encoder-cache + canvas models (config.canvas_length, "
                             "e.g. DiffusionGemma); pick another objective for this model")
        batch_size, length = x0.shape
        window = getattr(text, "sliding_window", None)
        if window is not None and length > window:
            raise ValueError(f"sequences of {length} tokens exceed the model's sliding window of {window}, which the "
                             f"encoder cache keeps; train with --max-length {window} or less")
        kernel, device = UniformKernel(text.vocab_size), x0.device
        starts = answer_starts(labels)  # [B]
        canvases = -(-int((length - starts).max()) // width)
        times = sample_times((batch_size, canvases), self.config.eps, device, generator)  # [B, K]
        alphas = self.config.schedule.alpha(times)  # [B, K]
        with_sc = torch.rand(batch_size, device=device, generator=generator) < self.config.self_conditioning  # [B]
        cache = DynamicCache(config=text)
        encoder_inputs = {"input_ids": x0, "attention_mask": attention.long(),
                          "position_ids": torch.arange(length, device=device)[None]}
        total, count = x0.new_zeros((), dtype=torch.float32), 0
        for k in range(canvases):
            index = starts[:, None] + k * width + torch.arange(width, device=device)  # [B, C]
            inside = index < length
            clipped = index.clamp(max=length - 1)
            targets = torch.where(inside, labels.gather(1, clipped), -100)  # [B, C]
            if not bool((targets != -100).any()):
                continue
            noisy = kernel.corrupt(x0.gather(1, clipped), alphas[:, k:k + 1], generator=generator).tokens
            visible = attention & (torch.arange(length, device=device)[None] < index[:, :1])  # [B, L]
            canvas = {"cache": cache, "decoder_input_ids": noisy, "decoder_position_ids": index,
                      "decoder_attention_mask": torch.cat([visible, torch.ones_like(inside)], dim=1)}
            logits = logits_of(model(**encoder_inputs, **canvas))  # [B, C, V]
            encoder_inputs = {"input_ids": None}  # the cache holds x_0 from now on
            if bool(with_sc.any()):
                conditioned = logits_of(model(input_ids=None, **canvas, self_conditioning_logits=logits.detach(),
                                              self_conditioning_mask=with_sc))
                logits = torch.where(with_sc[:, None, None], conditioned, logits)
            nll = torch.nn.functional.cross_entropy(logits.float().transpose(1, 2), targets, ignore_index=-100,
                                                    reduction="sum")
            total, count = total + nll, count + int((targets != -100).sum())
        if count == 0:
            zero = sum(p.sum() * 0 for p in model.parameters() if p.requires_grad)
            return LossOutput(zero, {"num_tokens": 0.0})
        loss = total / count
        return LossOutput(loss, {"ce": loss.detach(), "num_tokens": float(count)})
