"""The denoising view: the canvas after each step, masks dimmed, new tokens highlighted.

A :class:`StepRecorder` is passed as the generator's per-step ``callback``; :func:`replay`
prints what it recorded with rich, one frame per forward call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

MASK_GLYPH = "░"
NEWLINE_GLYPH = "⏎"  # keeps one frame on one terminal line


@dataclass
class StepRecorder:
    """Collects ``(tokens [B, L], committed [B, L])`` after every generation step."""

    frames: list[tuple[Any, Any]] = field(default_factory=list)

    def __call__(self, info: Any) -> None:
        self.frames.append((info.tokens.detach().clone().cpu(), info.committed.detach().clone().cpu()))


def render_row(tokenizer: Any, tokens: list[int], committed: list[bool], mask_id: int) -> Any:
    """One canvas row as rich Text: masks as ``░``, this step's tokens in bold green."""
    from rich.text import Text

    text = Text()
    for token, new in zip(tokens, committed):
        if token == mask_id:
            text.append(MASK_GLYPH, style="dim")
        else:
            piece = tokenizer.decode([token]).replace("\n", NEWLINE_GLYPH)
            text.append(piece, style="bold green" if new else "")
    return text


def replay(recorder: StepRecorder, tokenizer: Any, mask_id: int, row: int = 0, start: int = 0,
           delay: float = 0.05, console: Any = None) -> None:
    """Print each recorded step of ``row`` from position ``start`` (the generated region)."""
    from rich.console import Console

    console = console or Console()
    for step, (tokens, committed) in enumerate(recorder.frames, start=1):
        line = render_row(tokenizer, tokens[row, start:].tolist(), committed[row, start:].tolist(), mask_id)
        console.print(f"[cyan]step {step:>3}[/cyan] ", line, sep="")
        if delay:
            time.sleep(delay)
