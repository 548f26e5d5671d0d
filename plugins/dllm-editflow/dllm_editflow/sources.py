"""Source distributions x_0 of the answer region, drawn from the prompt alone.

Training and sampling both start the region after the prompt from x_0 ~ p(x_0 | prompt), so a
source must not look at the target. A source spec is ``NAME`` or ``NAME[key:value,...]``:

* ``empty``: x_0 is empty; the flow only inserts (and may edit what it inserted);
* ``masks[length:N]``: N mask tokens (default 64) to substitute or delete, and insertions;
* ``prompt``: a copy of the prompt without special tokens (chat markers, BOS, EOS, ...; the ids
  in ``config.special_token_ids``): for tasks that edit their input (sort a list, fill a grid);
* any other NAME: the source registered as engine part ``editflow-x0/NAME`` by a plugin, or a
  ``"module:function"`` reference. A source is called as
  ``source(prompts, config=model_config, generator=generator, **options)`` with
  ``prompts`` a list of 1D long tensors and string options, and returns one 1D tensor per row.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Sequence

import torch

from dllm_core.api import DllmError, get_registry, load_reference

#: registry prefix of x_0 sources (``dllm_register_engine_parts``)
SOURCE_PREFIX = "editflow-x0/"
_SPEC = re.compile(r"^\s*([^\[\]\s]+)\s*(?:\[([^\]]*)\])?\s*$")

Source = Callable[..., list[torch.Tensor]]


def parse_source(spec: str) -> tuple[str, dict[str, str]]:
    """``"masks[length:16]"`` -> ``("masks", {"length": "16"})``."""
    match = _SPEC.match(spec)
    if match is None:
        raise DllmError(f"bad x0 source {spec!r}; expected NAME or NAME[key:value,...], e.g. masks[length:32]")
    name, inside = match.group(1), match.group(2) or ""
    options: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in inside.split(","))):
        key, colon, value = item.partition(":")
        if not colon or not key.strip():
            raise DllmError(f"bad option {item!r} in x0 source {spec!r}; write key:value")
        options[key.strip()] = value.strip()
    return name, options


def resolve_source(name: str) -> Source:
    """The source function called ``name``: a registered ``editflow-x0/NAME`` or a reference."""
    if ":" in name:
        return load_reference(name)
    parts = get_registry().engine_parts
    sources = [entry.removeprefix(SOURCE_PREFIX) for entry in parts.names() if entry.startswith(SOURCE_PREFIX)]
    if SOURCE_PREFIX + name not in parts:
        raise DllmError(f"unknown x0 source '{name}'; known: {', '.join(sorted(sources))}, or 'module:function'")
    return parts.get(SOURCE_PREFIX + name)


def draw_sources(spec: str, prompts: Sequence[torch.Tensor], config: Any,
                 generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """x_0 of the answer region of each row, per the source ``spec``."""
    name, options = parse_source(spec)
    rows = resolve_source(name)(prompts, config=config, generator=generator, **options)
    if len(rows) != len(prompts):
        raise DllmError(f"x0 source '{name}' returned {len(rows)} rows for {len(prompts)} prompts")
    return [row.to(device=prompt.device, dtype=torch.long) for row, prompt in zip(rows, prompts)]


def empty(prompts: Sequence[torch.Tensor], **_: Any) -> list[torch.Tensor]:
    """x_0 = nothing."""
    return [prompt.new_zeros(0) for prompt in prompts]


def masks(prompts: Sequence[torch.Tensor], *, config: Any, length: str = "64", **_: Any) -> list[torch.Tensor]:
    """x_0 = ``length`` mask tokens."""
    if config.mask_token_id is None:
        raise DllmError("the masks x0 source needs mask_token_id in the model config")
    return [prompt.new_full((int(length),), config.mask_token_id) for prompt in prompts]


def prompt(prompts: Sequence[torch.Tensor], *, config: Any, **_: Any) -> list[torch.Tensor]:
    """x_0 = the prompt's tokens that are not special tokens, in order."""
    special = torch.tensor(list(config.special_token_ids), dtype=torch.long)
    return [row[~torch.isin(row, special.to(row.device))] for row in prompts]
