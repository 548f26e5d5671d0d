"""One model call per denoising step: cache policy, guidance, LM-head slicing and logit shift.

The loop asks for the logits of canvas positions ``[klo, khi)`` (the span of the current
block's masked positions) while the block spans ``[lo, hi)``. The runner decides which query
tokens to feed and which outputs to project:

* no cache, or the first step of a block: the whole canvas ``[0, L)`` (with a cache this call
  records every layer's keys/values);
* prefix cache, later steps: the canvas from the block on, ``[qs, L)``, over the cached
  keys/values of ``[0, qs)``;
* dual cache, later steps: the block only, ``[qs, hi)``, written into the cached canvas.

With a logit shift (Dream) position ``p`` reads the output at ``p - 1`` (position 0 its own),
so the outputs ``[klo - 1, khi - 1)`` are needed and a cached step starts its queries at
``qs = min(lo, klo - 1)``; otherwise ``qs = lo``. Only the needed outputs go through the LM
head when the model takes ``logits_to_keep``.

The LM head runs on a multiple of :data:`HEAD_ROW_MULTIPLE` rows (the last kept output repeated):
CPU matrix products of other small row counts (1-3 rows; on some thread counts also 5-7 and
9-11) take another kernel, or another split between threads, whose results differ from the same
rows of a larger product in the last bits, and the references project every position.

Static shapes (``static_shapes``, implied by ``compile``): every call of a block has the same
shapes and the model call reads nothing back to the host, so ``torch.compile(dynamic=False)``
and CUDA graphs apply to it. The cached queries are ``[lo - shift, L)`` (prefix) or
``[lo - shift, hi)`` (dual) whatever the step, the LM head runs over every query output (the
references' own full head; the loop then takes the columns it needs), the dual cache returns
copies instead of writing in place (:class:`~dllm_core.generation.cache.DiffusionCache`), and
an attention mask that hides nothing is dropped once, here (a model would check it in every
call: a host read; a padded batch keeps its mask and that read). With ``compile`` every call
but the cache records goes through the model compiled once per model
(:mod:`~dllm_core.generation.compiled`); the records run eagerly, since their keys/values must
outlive the next call (CUDA graphs reuse their output memory).

Classifier-free guidance runs one call of batch ``2B``: the canvas, then its unconditional copy,
in which every position *given* at the start is replaced by the mask id, and combines

    logits = uncond + (scale + 1) * (cond - uncond).

The given positions are the attended (attention mask 1) positions that were not masks at the
start, except those holding one of ``cfg_keep_tokens``: the prompt, not the padding (dllm's
MDLM sampler; LLaDA's also masks padding, which no attended position can see, so the logits are
the same).
"""

from __future__ import annotations

from typing import Any

import torch

from dllm_core.generation.cache import CacheMode, DiffusionCache
from dllm_core.generation.canvas import Canvas
from dllm_core.generation.capabilities import ModelCapabilities
from dllm_core.generation.compiled import CompileSetting, compiled_model


#: the LM head runs on a multiple of this many rows (see the module doc)
HEAD_ROW_MULTIPLE = 4


def head_rows(keep: slice | torch.Tensor, device: torch.device) -> tuple[slice | torch.Tensor, int]:
    """``(rows, n)``: the ``n`` output indices ``keep`` names, padded to a multiple of
    :data:`HEAD_ROW_MULTIPLE` by repeating the last one (``keep`` itself when ``n`` already is one)."""
    count = keep.stop - keep.start if isinstance(keep, slice) else keep.numel()
    padded = -(-max(count, 1) // HEAD_ROW_MULTIPLE) * HEAD_ROW_MULTIPLE
    if count == padded:
        return keep, count
    index = torch.arange(keep.start, keep.stop, device=device) if isinstance(keep, slice) else keep
    return torch.cat([index, index[-1:].expand(padded - count)]), count


class StepRunner:
    """Calls ``model`` for the steps of one generation and counts the calls (``nfe``)."""

    def __init__(
        self,
        model: Any,
        canvas: Canvas,
        capabilities: ModelCapabilities,
        *,
        mask_id: int,
        cache: CacheMode = "none",
        cfg_scale: float = 0.0,
        cfg_keep_tokens: tuple[int, ...] = (),
        slice_logits: bool = True,
        static_shapes: bool = False,
        compile: str | None = None,
    ):
        self.model = model
        self.mask_id = mask_id
        self.shift = int(capabilities.logit_shift)
        self.static = static_shapes or compile is not None
        #: what the steps call: the compiled model, or ``model``
        self.step_model = compiled_model(model, CompileSetting.parse(compile)) if compile else model
        self.slice_logits = slice_logits and capabilities.logits_to_keep and not self.static
        self.cache_mode: CacheMode = cache if capabilities.kv_cache else "none"
        self.cache = DiffusionCache() if self.cache_mode != "none" else None
        self.cfg_scale = cfg_scale
        copies = 2 if cfg_scale > 0 else 1
        self.given = _given(canvas, mask_id, cfg_keep_tokens)  # [B, L] positions the unconditional pass hides
        self.attention_mask = _repeat(canvas.attention_mask, copies)  # [B', L] or None
        if self.static:
            self.attention_mask = _hiding_mask(self.attention_mask)
        self.position_ids = _repeat(canvas.position_ids, copies)  # [B', L] or None
        self.nfe = 0
        #: canvas span ``[start, end)`` of the last call's query tokens (the outputs it computed)
        self.query = (0, canvas.tokens.shape[1])

    def logits(
        self,
        tokens: torch.Tensor,
        block: tuple[int, int],
        keep: tuple[int, int],
        block_start: bool,
        columns: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits ``[B, khi - klo, V]`` of positions ``keep = (klo, khi)`` of ``tokens [B, L]``.

        ``block = (lo, hi)`` is the current block's span; ``block_start`` marks its first step.
        ``columns`` ``[n]`` (long, increasing, within ``keep``): only those positions, logits
        ``[B, n, V]``; their outputs are gathered before the LM head when the model takes
        ``logits_to_keep``.
        """
        (lo, hi), (klo, khi) = block, keep
        first_out = max(klo - self.shift, 0)
        end_out = max(khi - self.shift, first_out + 1)
        if self.cache is None or block_start:
            query = (0, tokens.shape[1])
            if self.cache is not None:
                self.cache.record()
        elif self.cache_mode == "prefix":
            query = (self._cached_start(lo, first_out), tokens.shape[1])
            self.cache.prefix(query[0])
        else:
            query = (self._cached_start(lo, first_out), hi)
            positions = torch.arange(*query, device=tokens.device) if self.static else None
            self.cache.dual(*query, positions=positions)
        self.query = query
        if columns is not None:
            outputs = (columns - self.shift).clamp(min=0) - query[0]  # [n] output index of each column
            return self._forward(tokens, query, outputs)
        out = self._forward(tokens, query, slice(first_out - query[0], end_out - query[0]))
        if self.shift and klo == 0:
            out = torch.cat([out[:, :1], out], dim=1)[:, : khi - klo]
        return out

    def _cached_start(self, lo: int, first_out: int) -> int:
        """First query position of a cached step: the first output needed, at most ``lo``; with
        static shapes the block's (``lo - shift``) whatever the step needs."""
        return max(lo - self.shift, 0) if self.static else min(lo, first_out)

    def _forward(self, tokens: torch.Tensor, query: tuple[int, int], keep: slice | torch.Tensor) -> torch.Tensor:
        start, end = query
        input_ids = tokens[:, start:end]  # [B, q]
        if self.cfg_scale > 0:
            unconditional = input_ids.masked_fill(self.given[:, start:end], self.mask_id)
            input_ids = torch.cat([input_ids, unconditional], dim=0)  # [2B, q]
        kwargs: dict[str, Any] = {"attention_mask": self.attention_mask}
        if self.position_ids is not None:
            kwargs["position_ids"] = self.position_ids[:, start:end]
        elif (start, end) != (0, tokens.shape[1]):
            kwargs["position_ids"] = torch.arange(start, end, device=tokens.device).expand_as(input_ids)
        if self.cache is not None:
            kwargs.update(past_key_values=self.cache, use_cache=True)
        recording = self.cache is not None and self.cache.mode == "record"
        logits = kept_logits(self.model if recording else self.step_model, input_ids, keep, self.slice_logits,
                             **kwargs)  # [B', n_kept, V]
        self.nfe += 1
        if self.cfg_scale > 0:
            cond, uncond = logits.chunk(2, dim=0)
            logits = uncond + (self.cfg_scale + 1) * (cond - uncond)
        return logits


def kept_logits(model: Any, input_ids: torch.Tensor, keep: slice | torch.Tensor, slice_logits: bool,
                **kwargs: Any) -> torch.Tensor:
    """Logits ``[B, n, V]`` of the outputs ``keep`` of ``model(input_ids, **kwargs)``.

    With ``slice_logits`` the model runs its LM head on those outputs only (``logits_to_keep``,
    a multiple of :data:`HEAD_ROW_MULTIPLE` rows, see :func:`head_rows`); otherwise the full head's
    outputs are cut.
    """
    if slice_logits:
        kwargs["logits_to_keep"], kept = head_rows(keep, input_ids.device)
        return model(input_ids, **kwargs).logits[:, :kept]
    return model(input_ids, **kwargs).logits[:, keep]


def _given(canvas: Canvas, mask_id: int, keep_tokens: tuple[int, ...]) -> torch.Tensor:
    """``[B, L]`` the attended non-mask positions of the initial canvas, except ``keep_tokens``."""
    given = canvas.tokens != mask_id
    if canvas.attention_mask is not None:
        given &= canvas.attention_mask.bool()
    if keep_tokens:
        given &= ~torch.isin(canvas.tokens, torch.tensor(keep_tokens, device=canvas.tokens.device))
    return given


def _hiding_mask(attention_mask: torch.Tensor | None) -> torch.Tensor | None:
    """``attention_mask [B, L]`` (1 = attend), or ``None`` when it attends every key."""
    if attention_mask is None or bool(attention_mask.all()):
        return None
    return attention_mask


def _repeat(tensor: torch.Tensor | None, copies: int) -> torch.Tensor | None:
    return tensor if tensor is None or copies == 1 else tensor.repeat(copies, 1)
