"""The ``editflow`` generator as ``dllm sample`` uses it: text in, text and edit histories out.

It is not a masked-diffusion preset: it runs its own loop over token rows
(:func:`dllm_editflow.sampler.sample`) and offers the three methods ``dllm sample`` calls on a
generator with its own loop: :meth:`EditFlowGenerator.complete`, ``show_edits`` and
``save_animation``. Defaults come from ``dllm.json``: the generator section, the x_0 source the
model was trained with (its objective section) and its kappa schedule (the schedule section: the
model's rates are relative to the schedule's w(t), :mod:`dllm_editflow.sampler`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from dllm_core.checkpoint import CheckpointInfo
from dllm_core.errors import DllmError
from dllm_core.sampling import Completion, Sampler
from dllm_editflow.history import EditHistory

#: generic ``dllm sample`` options -> our parameter names
OVERRIDES = {"steps": "steps", "temperature": "temperature", "gen_length": "max_new_tokens"}


@dataclass
class EditCompletion(Completion):
    """A completion with the edit history of its row (``None`` unless recorded)."""

    history: EditHistory | None = None


class EditFlowGenerator:
    """Edit Flows tau-leaping behind the ``dllm sample`` generator protocol."""

    name = "editflow"
    description = "Edit Flows tau-leaping: insertions, deletions and substitutions from x_0"

    def parameters(self) -> list[str]:
        from dllm_editflow.sampler import EditFlowSamplingConfig

        return [f.name for f in dataclasses.fields(EditFlowSamplingConfig)]

    def settings(self, sampler: Sampler, checkpoint: Path | None, overrides: dict[str, Any]) -> Any:
        """The sampling config: dllm.json's generator, training source and schedule, then ``overrides``."""
        from dllm_core.schedules.config import schedule_from_config
        from dllm_editflow.sampler import EditFlowSamplingConfig

        values = {key: value for key, value in sampler.defaults.items() if key in self.parameters()}
        info = CheckpointInfo.read(checkpoint) if checkpoint is not None else None
        if info is not None and "source" in info.objective:
            values.setdefault("source", info.objective["source"])
        if info is not None and info.schedule:  # the model's rates are relative to this kappa(t)
            values.setdefault("schedule", schedule_from_config(info.schedule))
        for key, value in overrides.items():
            if value is None:
                continue
            if key not in OVERRIDES:
                raise DllmError(f"the editflow generator has no --{key.replace('_', '-')}; "
                                f"it takes {', '.join('--' + k.replace('_', '-') for k in OVERRIDES)}")
            values[OVERRIDES[key]] = value
        try:
            return EditFlowSamplingConfig(**values)
        except (TypeError, ValueError) as exc:
            raise DllmError(f"editflow generator: {exc}") from None

    def complete(self, sampler: Sampler, prompts: Sequence[str], *, chat: bool = False,
                 overrides: dict[str, Any] | None = None, seed: int = 0, record_history: bool = False,
                 checkpoint: Path | None = None) -> list[EditCompletion]:
        """Sample an answer per prompt (row b uses seed ``seed + b``)."""
        from dllm_editflow.sampler import sample

        config = self.settings(sampler, checkpoint, overrides or {})
        texts = [sampler.render_chat([{"role": "user", "content": p}]) if chat else p for p in prompts]
        output = sample(sampler.model, sampler.encode(texts), config, seeds=seed, record_history=record_history)
        completions = []
        for index, (row, start) in enumerate(zip(output.sequences, output.prompt_lengths)):
            ids = sampler.answer_ids(row, start)
            history = output.histories[index] if output.histories is not None else None
            completions.append(EditCompletion(sampler.decode(ids), ids, output.nfe, start, history))
        return completions

    def show_edits(self, completions: Sequence[EditCompletion], tokenizer: Any, row: int) -> None:
        """Print row ``row``'s edits, step by step, in colour."""
        from dllm_editflow.view import show_history

        show_history(self._history(completions[row]), tokenizer)

    def save_animation(self, completions: Sequence[EditCompletion], tokenizer: Any, path: Path) -> Path:
        """Write every row's edits as a ``.gif`` or ``.html`` animation."""
        from dllm_editflow.view import save_animation

        return save_animation([self._history(c) for c in completions], tokenizer, path)

    @staticmethod
    def _history(completion: EditCompletion) -> EditHistory:
        if completion.history is None:
            raise DllmError("no edit history was recorded; pass record_history=True")
        return completion.history


EDITFLOW = EditFlowGenerator()
