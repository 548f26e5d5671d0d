"""Where a step's random draws sit: the frame that makes seeded runs match the references.

The references draw their randomness over everything a forward call returns, not over the
positions that can still change: LLaDA's ``generate`` draws Gumbel noise ``torch.rand_like``
over the whole ``[B, L, V]`` logits every step, its ``random`` remasking ``torch.rand((B, L))``,
Fast-dLLM over the ``[B, n, V]`` logits of its (possibly cached, shorter) call, and Dream samples
one token per masked position of the whole canvas, row-major, then draws positions from
``torch.multinomial`` over the full ``[B, L]`` confidences. torch's generator fills tensors in
order, so a draw over a window of those positions consumes different numbers than the
reference's draw over the full frame.

A :class:`DrawFrame` tells the token chooser, confidence score and commit rule of a step what
the reference drew over; they draw over the frame and cut out the step's window
``[window_start, window_start + W)``. Without a frame (a part used on its own) they draw over the
window itself.

A step looks only at the columns where some row still holds a candidate (``columns``: canvas
positions in increasing order, not necessarily contiguous), so the LM head, the softmax and the
confidences cover ``[B, n, V]`` instead of the block's ``[B, W, V]``; the frame cuts exactly
those columns out of what is drawn over the reference's frame, so the draws stay the
reference's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DrawFrame:
    """The canvas span a reference draws over in one forward call.

    Attributes:
        start, end: canvas positions ``[start, end)`` of the call's outputs (its query tokens).
        window_start: canvas position of the step's first window column (``start <= it``).
        candidates: ``[B, W]`` the window positions that may be committed (the masked ones).
        token_draws: how many times the reference draws the token noise in this call; all but
            the last draw are discarded (Fast-dLLM's prefix-cached steps draw twice).
        columns: ``[W]`` long, the canvas positions of the window's columns when they are not
            the contiguous ``[window_start, window_start + W)`` (``None``: contiguous).
    """

    start: int
    end: int
    window_start: int
    candidates: torch.Tensor
    token_draws: int = 1
    columns: torch.Tensor | None = None

    @property
    def width(self) -> int:
        """Number of positions ``n = end - start`` the reference draws for."""
        return self.end - self.start

    @property
    def _index(self) -> slice | torch.Tensor:
        """Where the window's columns sit in the frame's ``n`` positions."""
        if self.columns is not None:
            return self.columns - self.start
        offset = self.window_start - self.start
        return slice(offset, offset + self.candidates.shape[1])

    def cut(self, full: torch.Tensor) -> torch.Tensor:
        """The window ``[B, W, ...]`` of a tensor ``[B, n, ...]`` drawn over the frame."""
        return full[:, self._index]

    def embed(self, window: torch.Tensor, fill: float) -> torch.Tensor:
        """``[B, n]``: ``window [B, W]`` placed at its columns, ``fill`` everywhere else."""
        full = window.new_full((window.shape[0], self.width), fill)
        full[:, self._index] = window
        return full
