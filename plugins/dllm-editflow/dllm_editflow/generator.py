"""The ``editflow`` generator: Edit Flows tau-leaping behind the core's generator contract.

It is not a masked-diffusion preset: it runs its own loop over token rows of any lengths
(:func:`dllm_editflow.sampler.sample`). Besides its parameters
(:class:`~dllm_editflow.sampler.EditFlowSamplingConfig`) it reads from the checkpoint's
``dllm.json`` the x_0 source the model was trained with (the objective section) and its kappa
schedule (the schedule section: the model's rates are relative to the schedule's w(t),
:mod:`dllm_editflow.sampler`). ``dllm sample --show-edits`` prints each row's insertions,
deletions and substitutions in colour and ``--save-animation out.gif`` (or ``.html``) animates
them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from dllm_core.api import (
    CheckpointInfo,
    CliOption,
    DllmError,
    Generation,
    Generator,
    InferenceSession,
    ParameterRoles,
    schedule_from_config,
)
from dllm_editflow.sampler import EditFlowSamplingConfig


class EditFlowGenerator(Generator):
    """Edit Flows tau-leaping from x_0 (see the module doc)."""

    name = "editflow"
    description = "Edit Flows tau-leaping: insertions, deletions and substitutions from x_0"
    params_class = EditFlowSamplingConfig
    roles = ParameterRoles(length="max_new_tokens", steps="steps")
    ragged_rows = True
    cli_options = (
        CliOption("--show-edits", "print each step's insertions, deletions and substitutions in colour"),
        CliOption("--save-animation", "write the edits as a .gif or .html", type=Path, metavar="PATH"),
    )

    def checkpoint_defaults(self, info: CheckpointInfo | None) -> dict[str, Any]:
        """The training x_0 source and kappa schedule recorded in ``dllm.json``."""
        values: dict[str, Any] = {}
        if info is not None and "source" in info.objective:
            values["source"] = info.objective["source"]
        if info is not None and info.schedule:  # the model's rates are relative to this kappa(t)
            values["schedule"] = schedule_from_config(info.schedule)
        return values

    def complete(self, session: InferenceSession, prompts: Sequence[Sequence[int]], params: Any, *,
                 seed: int = 0, callback: Any = None, options: Mapping[str, Any] | None = None) -> Generation:
        """Sample an answer per prompt (row b uses seed ``seed + b``); ``callback`` is not called:
        edit steps are recorded as histories instead (``--show-edits``)."""
        from dllm_editflow.sampler import sample

        options = options or {}
        record = bool(options.get("show_edits") or options.get("save_animation"))
        output = sample(session.model, prompts, params, seeds=seed, record_history=record)
        rows = [sequence[start:] for sequence, start in zip(output.sequences, output.prompt_lengths)]
        return Generation(rows, output.nfe, output.histories)

    def show_row(self, session: InferenceSession, generation: Generation, row: int,
                 options: Mapping[str, Any]) -> None:
        """``--show-edits``: print row ``row``'s edits, step by step, in colour."""
        from dllm_editflow.view import show_history

        if options.get("show_edits"):
            show_history(self._histories(generation)[row], session.tokenizer)

    def finish(self, session: InferenceSession, generation: Generation, options: Mapping[str, Any]) -> list[str]:
        """``--save-animation PATH``: write every row's edits as a ``.gif`` or ``.html``."""
        from dllm_editflow.view import save_animation

        path = options.get("save_animation")
        if path is None:
            return []
        return [f"animation: {save_animation(self._histories(generation), session.tokenizer, Path(path))}"]

    @staticmethod
    def _histories(generation: Generation) -> list[Any]:
        if generation.traces is None:
            raise DllmError("no edit history was recorded; pass --show-edits or --save-animation")
        return generation.traces


EDITFLOW = EditFlowGenerator()
