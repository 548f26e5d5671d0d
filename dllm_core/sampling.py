"""Text in, text out: a checkpoint's model, tokenizer and generator defaults in one object.

``Sampler.from_checkpoint(path)`` resolves the family (``dllm.json`` or ``config.json``), loads
the model and tokenizer (a LoRA adapter folder works too), resolves the special tokens and
takes the generator preset and its defaults from ``dllm.json``. When ``dllm.json`` gives no
parameters (e.g. an official hub checkpoint), the defaults are the family's, overridden by the
checkpoint's ``generation_config.json`` keys that the preset accepts (Dream ships ``steps``,
``alg``, ``temperature``, ...; see :func:`generation_config_defaults`). ``dllm sample``, ``dllm
chat`` and the demo all go through it.

Presets name their length parameters after their reference functions (LLaDA ``gen_length`` /
``block_length``; Dream and MDLM ``max_new_tokens``; MDLM ``block_size``);
:data:`PARAMETER_NAMES` maps the CLI's generic names onto them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from dllm_core.checkpoint import CheckpointInfo, load_for_inference, locate_checkpoint, resolve_family
from dllm_core.family import ModelFamily
from dllm_core.model_config import max_positions
from dllm_core.errors import DllmError
from dllm_core.registry import get_registry
from dllm_core.tokens import SpecialTokens

#: generic name -> {preset: that preset's own parameter name}; absent presets keep the generic name
PARAMETER_NAMES: dict[str, dict[str, str]] = {
    "gen_length": {"dream": "max_new_tokens", "mdlm": "max_new_tokens"},
    "block_length": {"mdlm": "block_size"},
    "mask_id": {"dream": "mask_token_id", "mdlm": "mask_token_id"},
}
#: presets whose prompts may be a list of variable-length rows (they pad on the right themselves)
ROW_LIST_PRESETS = {"mdlm"}
Message = dict[str, str]


def preset_parameters(preset: str, generic: dict[str, Any]) -> dict[str, Any]:
    """Rename generic parameters (``gen_length``, ``block_length``, ...) to ``preset``'s own."""
    return {PARAMETER_NAMES.get(name, {}).get(preset, name): value for name, value in generic.items()}


def generation_config_defaults(folder: Path, preset: str) -> dict[str, Any]:
    """The entries of ``folder/generation_config.json`` that ``preset`` takes as parameters.

    Keys the preset does not know (``bos_token_id``, ``transformers_version``, ...) and null
    values are left out; a folder without the file gives ``{}``, an unreadable file an error.
    """
    path = Path(folder) / "generation_config.json"
    if not path.is_file():
        return {}
    try:
        values = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DllmError(f"cannot read {path}: {exc}; fix or delete it") from None
    accepted = set(get_registry().generators.get(preset).parameters())
    return {key: value for key, value in values.items() if key in accepted and value is not None}


@dataclass
class Completion:
    """One generated answer."""

    text: str
    token_ids: list[int]
    nfe: int
    region_start: int  # where the generated region starts in the canvas row


@dataclass
class Sampler:
    """A loaded checkpoint ready to generate text."""

    model: Any
    tokenizer: Any
    family: ModelFamily
    special: SpecialTokens
    preset: str
    defaults: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_checkpoint(cls, path: Path | str, *, preset: str | None = None, dtype: Any = None,
                        device: str | None = None) -> "Sampler":
        path = locate_checkpoint(path)
        family = resolve_family(path)
        info = CheckpointInfo.read(path)
        defaults = dict(info.generator) if info is not None else {}
        chosen = preset or defaults.pop("preset", None) or family.default_generator
        defaults.pop("preset", None)
        if not defaults:
            family_defaults = family.generator_defaults if chosen == family.default_generator else {}
            defaults = {**family_defaults, **generation_config_defaults(path, chosen)}
        model, tokenizer, special = load_for_inference(path, family, dtype=dtype, device=device)
        return cls(model, tokenizer, family, special, chosen, defaults)

    # -- prompts ---------------------------------------------------------------------------------
    def render_chat(self, messages: Sequence[Message]) -> str:
        """The chat template applied to ``messages``, ending with the assistant turn's opening."""
        if getattr(self.tokenizer, "chat_template", None) is None:
            raise DllmError(f"the {self.family.name} tokenizer has no chat template; use `dllm sample` "
                            "for plain prompts or save a tokenizer with a chat_template")
        return self.tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        return [self.tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]

    def _check_length(self, rows: Sequence[Sequence[int]], gen_length: int | None) -> None:
        limit = max_positions(self.model.config)
        longest = max(len(row) for row in rows)
        if limit is not None and gen_length is not None and longest + gen_length > limit:
            raise DllmError(
                f"prompt of {longest} tokens plus {gen_length} generated tokens exceeds the model's "
                f"context of {limit}; shorten the prompt or lower --gen-length"
            )

    def _batch(self, rows: Sequence[Sequence[int]]) -> tuple[Any, Any]:
        """Left-padded ``[B, Lp]`` ids and attention mask (pad id = the resolved pad token)."""
        import torch

        width = max(len(row) for row in rows)
        pad = self.special.pad_token_id if self.special.pad_token_id is not None else 0
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for index, row in enumerate(rows):
            if row:
                ids[index, width - len(row):] = torch.tensor(row, dtype=torch.long)
                mask[index, width - len(row):] = 1
        return ids.to(self.model.device), mask.to(self.model.device)

    # -- generation ------------------------------------------------------------------------------
    def parameters(self, overrides: dict[str, Any]) -> dict[str, Any]:
        """The preset's keyword arguments: defaults from dllm.json/family, then ``overrides``."""
        given = {key: value for key, value in overrides.items() if value is not None}
        merged = {**self.defaults, **preset_parameters(self.preset, given)}
        mask_name = PARAMETER_NAMES["mask_id"].get(self.preset, "mask_id")
        merged.setdefault(mask_name, self.special.mask_token_id)
        return merged

    def generate_ids(self, rows: Sequence[Sequence[int]], overrides: dict[str, Any] | None = None,
                     callback: Callable[[Any], None] | None = None, return_history: bool = False,
                     generator: Any = None) -> tuple[Any, list[int], int]:
        """Run the generator on token rows: ``(GenerationOutput, prompt widths, gen region start)``."""
        from dllm_core.generation import generate

        params = self.parameters(overrides or {})
        length_name = PARAMETER_NAMES["gen_length"].get(self.preset, "gen_length")
        self._check_length(rows, params.get(length_name))
        if self.preset in ROW_LIST_PRESETS:
            inputs, attention_mask = [list(row) for row in rows], None
            start = None  # each row's answer starts right after its own prompt
        else:
            inputs, attention_mask = self._batch(rows)
            start = inputs.shape[1]
        output = generate(self.model, inputs, preset=self.preset, attention_mask=attention_mask,
                          family=self.family, callback=callback, return_history=return_history,
                          generator=generator, eos_token_id=self.special.eos_token_id, **params)
        return output, [len(row) for row in rows], start

    def answer_ids(self, sequence: Sequence[int], region_start: int) -> list[int]:
        """The generated region of one row, cut at the first EOS / end-of-turn token."""
        answer = list(sequence[region_start:])
        stops = set(self.special.stop_token_ids())
        for position, token in enumerate(answer):
            if token in stops:
                return answer[:position]
        return answer

    def complete(self, prompts: Sequence[str], *, chat: bool = False, overrides: dict[str, Any] | None = None,
                 callback: Callable[[Any], None] | None = None, generator: Any = None) -> list[Completion]:
        """Generate an answer for each prompt (``chat``: as one user turn through the template)."""
        texts = [self.render_chat([{"role": "user", "content": p}]) if chat else p for p in prompts]
        rows = self.encode(texts)
        output, lengths, start = self.generate_ids(rows, overrides, callback=callback, generator=generator)
        completions = []
        for row, length in zip(output.sequences.tolist(), lengths):
            region_start = length if start is None else start
            ids = self.answer_ids(row, region_start)
            completions.append(Completion(self.decode(ids), ids, output.nfe, region_start))
        return completions

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)
