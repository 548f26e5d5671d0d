"""``DiffusionTrainer``: a ``transformers.Trainer`` whose loss comes from an :class:`Objective`.

Everything else is the stock Trainer (accelerate, gradient accumulation, checkpoints and resume,
peft/LoRA, DeepSpeed, FSDP, logging), which is the point: the trainer does not know which
objective it runs. What it changes:

* ``compute_loss`` returns ``objective.loss(model, batch, family).loss``. The objective
  normalises per micro-batch, so the Trainer divides by the gradient accumulation steps
  (``model_accepts_loss_kwargs = False``); ``num_items_in_batch`` is not used.
* Training noise (the objective's ``t`` and mask) comes from a generator seeded with
  ``args.seed`` and the global index of the micro-batch, ``(step * accumulation + i) * processes
  + rank``: the index of the same rows whether a global batch is spread over processes or over
  accumulation steps. So N processes give the loss curve of one process accumulating N
  micro-batches, and a resumed run draws the noise an uninterrupted one would have drawn.
* Checkpoints (``checkpoint-N``) are written under a temporary name, ``.checkpoint-N.partial``,
  and renamed once every process has written its part: a killed run never leaves a
  half-written ``checkpoint-N``. With a ``run_id`` each one records it
  (:mod:`dllm_core.training.run_record`), so ``--resume`` continues only its own run, and
  ``save_total_limit`` keeps the newest ones of this run (other runs' folders are left alone).
  Their files get the permissions the umask allows.
* Evaluation scores each batch with the objective under a generator seeded with
  ``args.seed`` at the start of every evaluation (the same noise each time, the training RNG
  untouched) and adds ``eval_nll_bound`` / ``eval_ppl_bound``: the token-weighted average of
  the objective's ``nll_bound`` and its exponential. No logits are returned: predictions on
  noised inputs mean nothing to generic ``compute_metrics``.
* ``remove_unused_columns`` keeps, besides what the model's ``forward`` takes, every column
  the objective reads (``labels``, ``mask_token_id``, ...).
* ``floating_point_ops`` is transformers' estimate, ``6 x tokens x non-embedding parameters``,
  with the parameter count taken once per model: the stock method walks every module of the
  model at every step, about 1% of a small model's step on a CPU.
* Plugins' ``dllm_trainer_callbacks`` hooks are asked for callbacks once, at construction,
  with ``{"family", "objective", "output_dir", "args"}``; they are added to the run, each
  guarded so that a hook or callback that raises is one error naming its plugin
  (:mod:`dllm_core.training.plugin_callbacks`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from transformers import Trainer
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
from transformers.trainer_utils import EvalLoopOutput

from dllm_core.checkpoint import honour_umask
from dllm_core.objectives.base import LossOutput, Objective
from dllm_core.registry import get_registry
from dllm_core.training.bound_metrics import NllBoundAccumulator
from dllm_core.training.plugin_callbacks import PluginCallback
from dllm_core.training.run_record import checkpoint_steps, read_run_id, write_run_id

if TYPE_CHECKING:
    from torch.utils.data import DataLoader
    from transformers import TrainingArguments

    from dllm_core.family import ModelFamily


class DiffusionTrainer(Trainer):
    """``DiffusionTrainer(model, args, objective=..., family=..., **trainer_kwargs)``.

    ``trainer_kwargs`` are those of ``transformers.Trainer`` (datasets, collator, callbacks,
    processing_class, ...), except ``compute_loss_func``: the objective is the loss. ``run_id``
    marks this run's ``checkpoint-N`` folders (``None``: unmarked).
    """

    # The objective's loss is a per-micro-batch mean: let training_step divide by the GA steps.
    loss_is_scaled_for_ga = False

    def __init__(
        self,
        model: torch.nn.Module | None = None,
        args: TrainingArguments | None = None,
        *,
        objective: Objective,
        family: ModelFamily | None = None,
        run_id: str | None = None,
        **trainer_kwargs: Any,
    ) -> None:
        if trainer_kwargs.get("compute_loss_func") is not None:
            raise ValueError("DiffusionTrainer takes its loss from `objective`; drop compute_loss_func")
        self.objective = objective
        self.family = family
        self.run_id = run_id
        self._noise_generator: torch.Generator | None = None  # set for each training micro-batch and evaluation
        self._micro_batch = (-1, 0)  # (global step, micro-batches of it seen): the noise index
        self._eval_bound = NllBoundAccumulator()
        self._parameter_count: tuple[int, int] | None = None  # (id of the model counted, its count)
        super().__init__(model=model, args=args, **trainer_kwargs)
        # Same effect as loss_is_scaled_for_ga on transformers versions without that attribute.
        self.model_accepts_loss_kwargs = False
        context = {
            "family": family,
            "objective": objective,
            "output_dir": self.args.output_dir,
            "args": self.args,
        }
        for plugin, callback in get_registry().trainer_callbacks(context):
            self.add_callback(PluginCallback(plugin, callback))

    # -- training ------------------------------------------------------------------------------
    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, LossOutput]:
        """The objective's loss; with ``return_outputs`` also its :class:`LossOutput`."""
        output = self.objective.loss(model, inputs, self.family, generator=self._noise_generator)
        return (output.loss, output) if return_outputs else output.loss

    def training_step(self, model: torch.nn.Module, inputs: dict[str, Any], *args: Any, **kwargs: Any) -> torch.Tensor:
        """The stock step, with the noise generator of this micro-batch (see the module doc)."""
        self._noise_generator = torch.Generator(device=self.args.device).manual_seed(self._noise_seed())
        try:
            return super().training_step(model, inputs, *args, **kwargs)
        finally:
            self._noise_generator = None

    def floating_point_ops(self, inputs: dict[str, Any]) -> int:
        """``6 x input tokens x non-embedding parameters`` (the stock estimate), counted once."""
        tokens = inputs.get(getattr(self.model, "main_input_name", "input_ids"))
        return 0 if tokens is None else self.token_flops(tokens.numel())

    def token_flops(self, tokens: int) -> int:
        """``6 x tokens x non-embedding parameters``: a forward and backward over ``tokens``."""
        if not hasattr(self.model, "num_parameters"):
            return 0
        if self._parameter_count is None or self._parameter_count[0] != id(self.model):
            self._parameter_count = (id(self.model), self.model.num_parameters(exclude_embeddings=True))
        return 6 * tokens * self._parameter_count[1]

    def _noise_seed(self) -> int:
        step, seen = self._micro_batch
        seen = seen if step == self.state.global_step else 0
        self._micro_batch = (self.state.global_step, seen + 1)
        local = self.state.global_step * self.args.gradient_accumulation_steps + seen
        index = local * self.args.world_size + self.args.process_index
        return (self.args.seed * 1_000_003 + index) % (2**63)

    def _save_checkpoint(self, model: torch.nn.Module, trial: Any) -> None:
        """The stock checkpoint, written to ``.checkpoint-N.partial`` and renamed when complete."""
        run_dir = Path(self._get_output_dir(trial=trial))
        name = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        staging = run_dir / f".{name}.partial"
        if self.args.should_save:
            shutil.rmtree(staging, ignore_errors=True)
        self.accelerator.wait_for_everyone()
        self._get_output_dir = lambda trial=None: str(staging)  # the stock code writes staging/name
        try:
            super()._save_checkpoint(model, trial)
        finally:
            del self._get_output_dir
        self.accelerator.wait_for_everyone()
        if self.args.should_save:
            if self.run_id is not None:
                write_run_id(staging / name, self.run_id)
            honour_umask(staging / name)
            shutil.rmtree(run_dir / name, ignore_errors=True)
            os.replace(staging / name, run_dir / name)
            staging.rmdir()
            self._keep_newest_checkpoints(run_dir)
        self.accelerator.wait_for_everyone()

    def _keep_newest_checkpoints(self, run_dir: Path) -> None:
        limit = self.args.save_total_limit
        if not limit:
            return
        own = [folder for _, folder in checkpoint_steps(run_dir)
               if self.run_id is None or read_run_id(folder) == self.run_id]
        for folder in own[:-limit]:
            shutil.rmtree(folder, ignore_errors=True)

    def _set_signature_columns_if_needed(self) -> None:
        if self._signature_columns is None:
            super()._set_signature_columns_if_needed()
            columns = [*self._signature_columns, *self.objective.batch_keys]
            self._signature_columns = list(dict.fromkeys(columns))

    # -- evaluation ----------------------------------------------------------------------------
    def evaluation_loop(
        self,
        dataloader: DataLoader,
        description: str,
        prediction_loss_only: bool | None = None,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "eval",
    ) -> EvalLoopOutput:
        """The stock loop, with seeded noise and the NLL-bound metrics added."""
        self._noise_generator = torch.Generator(device=self.args.device).manual_seed(self.args.seed)
        self._eval_bound = NllBoundAccumulator()
        try:
            output = super().evaluation_loop(
                dataloader, description, prediction_loss_only, ignore_keys, metric_key_prefix
            )
        finally:
            self._noise_generator = None
        output.metrics.update(self._eval_bound.summary(self.accelerator, metric_key_prefix))
        return output

    def prediction_step(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        prediction_loss_only: bool,
        ignore_keys: list[str] | None = None,
    ) -> tuple[torch.Tensor, None, None]:
        """Score one batch with the objective: ``(loss, None, None)``."""
        inputs = self._prepare_inputs(inputs)
        with torch.no_grad(), self.compute_loss_context_manager():
            loss, output = self.compute_loss(model, inputs, return_outputs=True)
        self._eval_bound.add(output.metrics)
        return loss.detach(), None, None
