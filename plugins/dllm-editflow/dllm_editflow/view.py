"""Showing edit histories: coloured terminal lines, and GIF or HTML animations.

Colours: insertions green, deletions red and struck through, substitutions yellow (the old token
struck through in red before the new one). Only steps that changed something are shown.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Sequence

from dllm_core.api import DllmError
from dllm_editflow.history import Cell, EditHistory, EditStep

NEWLINE_GLYPH = "⏎"
COLOURS = {"keep": "#d0d0d0", "insert": "#3fb950", "delete": "#f85149", "substitute": "#d29922"}
BACKGROUND = "#0d1117"


def piece(tokenizer: Any, token: int) -> str:
    """One token as display text (a newline as ``⏎``)."""
    return tokenizer.decode([token]).replace("\n", NEWLINE_GLYPH)


def _segments(tokenizer: Any, cells: Sequence[Cell]) -> list[tuple[str, str, bool]]:
    """``(text, kind, struck)`` runs of a step, the old token of a substitution included."""
    out: list[tuple[str, str, bool]] = []
    for cell in cells:
        if cell.kind == "substitute" and cell.old is not None:
            out.append((piece(tokenizer, cell.old), "delete", True))
        out.append((piece(tokenizer, cell.token), cell.kind, cell.kind == "delete"))
    return out


def _changed(step: EditStep) -> bool:
    return any(cell.kind != "keep" for cell in step.cells)


def show_history(history: EditHistory, tokenizer: Any, console: Any = None) -> None:
    """Print each step that changed the region, then the totals."""
    from rich.console import Console
    from rich.text import Text

    console = console or Console()
    styles = {"keep": "", "insert": "bold green", "delete": "red strike", "substitute": "bold yellow"}
    start = Text("x0      ", style="cyan")
    start.append("".join(piece(tokenizer, token) for token in history.initial) or "(empty)", style="dim")
    console.print(start)
    for step in history.steps:
        if not _changed(step):
            continue
        line = Text(f"t={step.t:.3f} ", style="cyan")
        for text, kind, struck in _segments(tokenizer, step.cells):
            line.append(text, style="red strike" if struck else styles[kind])
        console.print(line)
    totals = history.totals()
    console.print(f"[green]{totals['insert']} insertions[/green], [red]{totals['delete']} deletions[/red], "
                  f"[yellow]{totals['substitute']} substitutions[/yellow]")


def _frames(histories: Sequence[EditHistory]) -> list[tuple[float, list[list[Cell]]]]:
    """Animation frames: x_0, then every step where some row changed, then the final regions."""
    first = [[Cell(token, "keep") for token in h.initial] for h in histories]
    frames = [(0.0, first)]
    for index in range(max((len(h.steps) for h in histories), default=0)):
        steps = [h.steps[index] if index < len(h.steps) else None for h in histories]
        if any(step is not None and _changed(step) for step in steps):
            t = next(step.t for step in steps if step is not None)
            frames.append((t, [step.cells if step is not None else [] for step in steps]))
    frames.append((1.0, [[Cell(token, "keep") for token in h.final] for h in histories]))
    return frames


def save_animation(histories: Sequence[EditHistory], tokenizer: Any, path: Path | str) -> Path:
    """Write the edits of every row as an animated ``.gif`` or a self-contained ``.html``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".html"):
        raise DllmError(f"--save-animation writes .gif or .html files, not {path.name}")
    frames = _frames(histories)
    prompts = [tokenizer.decode(h.prompt, skip_special_tokens=True) for h in histories]
    if suffix == ".gif":
        _write_gif(frames, prompts, tokenizer, path)
    else:
        _write_html(frames, prompts, tokenizer, path)
    return path


def _write_gif(frames: list[tuple[float, list[list[Cell]]]], prompts: list[str], tokenizer: Any,
               path: Path, columns: int = 48) -> None:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=16)
    cell_w, line_h = 11, 22
    lines_per_row = [max(1, max(-(-len(_segments(tokenizer, cells[row])) // columns)
                                for _, cells in frames)) for row in range(len(prompts))]
    height = 30 + sum(line_h * (2 + n) for n in lines_per_row)
    width = 20 + cell_w * columns
    images = []
    for t, cells in frames:
        image = Image.new("RGB", (width, height), BACKGROUND)
        draw = ImageDraw.Draw(image)
        draw.text((10, 6), f"t = {t:.2f}", fill="#58a6ff", font=font)
        y = 30
        for row, prompt in enumerate(prompts):
            draw.text((10, y), prompt.replace("\n", NEWLINE_GLYPH)[:columns], fill="#8b949e", font=font)
            y += line_h
            for index, (text, kind, struck) in enumerate(_segments(tokenizer, cells[row])):
                x = 10 + cell_w * (index % columns)
                top = y + line_h * (index // columns)
                colour = COLOURS["delete" if struck else kind]
                draw.text((x, top), text[:1] if text else " ", fill=colour, font=font)
                if struck:
                    draw.line((x, top + 10, x + cell_w - 2, top + 10), fill=colour, width=2)
            y += line_h * (lines_per_row[row] + 1)
        images.append(image)
    durations = [700] + [350] * (len(images) - 2) + [2000] if len(images) > 1 else [2000]
    images[0].save(path, save_all=True, append_images=images[1:], duration=durations, loop=0)


def _write_html(frames: list[tuple[float, list[list[Cell]]]], prompts: list[str], tokenizer: Any,
                path: Path) -> None:
    def frame_html(t: float, cells: list[list[Cell]]) -> str:
        rows = []
        for prompt, row in zip(prompts, cells):
            spans = "".join(
                f'<span style="color:{COLOURS["delete" if struck else kind]};'
                f'{"text-decoration:line-through;" if struck else ""}">{html.escape(text)}</span>'
                for text, kind, struck in _segments(tokenizer, row)
            )
            rows.append(f'<div class="prompt">{html.escape(prompt)}</div><div class="row">{spans}</div>')
        return f'<div class="frame"><div class="time">t = {t:.2f}</div>{"".join(rows)}</div>'

    body = "\n".join(frame_html(t, cells) for t, cells in frames)
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Edit Flows sampling</title>
<style>
body {{ background:{BACKGROUND}; color:#c9d1d9; font-family:monospace; font-size:18px; }}
.frame {{ display:none; }} .time {{ color:#58a6ff; margin:8px 0; }}
.prompt {{ color:#8b949e; margin-top:10px; white-space:pre-wrap; }} .row {{ white-space:pre-wrap; }}
</style></head><body>
{body}
<script>
const frames = document.querySelectorAll('.frame');
let index = 0;
function show() {{
  frames.forEach((f, i) => f.style.display = i === index ? 'block' : 'none');
  const wait = index === frames.length - 1 ? 2000 : 400;
  index = (index + 1) % frames.length;
  setTimeout(show, wait);
}}
show();
</script></body></html>
"""
    path.write_text(page, encoding="utf-8")
