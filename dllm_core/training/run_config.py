"""``TrainRunConfig``: every decision of a ``dllm train`` run, each declared once.

Each field is both an option of ``dllm train`` (its help, group and, where needed, flag live in
the field's metadata; its type says how the value is read: :mod:`dllm_core.dataclass_options`)
and what :func:`~dllm_core.training.run.run_training` reads, in this process or, through
``to_json`` / ``from_json``, in every process of a launched run. Importing this module is cheap:
no torch, no transformers (``dllm train --help`` builds its parser from it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from dllm_core.data.records import OnBadRecord
from dllm_core.data.spec import check_dataset_spec
from dllm_core.dataclass_options import option
from dllm_core.errors import DllmError
from dllm_core.registry import get_registry
from dllm_core.training.adapters import LoraOptions, check_adapter_extras

Mode = Literal["sft", "pt", "grpo"]
SftPadding = Literal["ignore", "eos"]
LogpEstimator = Literal["d1", "coupled", "trajectory"]

#: the groups of ``dllm train --help``
MODEL, DATA, OBJECTIVE, RUN = "model", "data", "objective", "run"
LORA = "LoRA and 4-bit (pip install 'dllm-core[lora,quant]')"
GRPO = "diffu-GRPO (--mode grpo; docs/rl.md)"


@dataclass(kw_only=True)
class TrainRunConfig:
    """Everything ``dllm train`` decides; the defaults train the tiny preset on a CPU."""

    family: str | None = option(None, group=MODEL, help="model family (dllm list families); implied by --model")
    preset: str | None = option(None, group=MODEL, help="size preset to train from scratch (e.g. tiny)")
    backbone: str | None = option(
        None, group=MODEL, help="for a family that wraps another family's model: the family whose size "
                                "preset it wraps (dllm list families)")
    model: str | None = option(
        None, group=MODEL, help="checkpoint folder or Hugging Face hub id to fine-tune (or a LoRA adapter folder)")

    data: str = option(group=DATA, help="dataset spec, e.g. 'sudoku4[train:20000,test:200]'")
    mode: Mode = option("sft", group=DATA, help="sft: chat turns, prompt never masked; pt: packed text blocks; "
                                                "grpo: reinforcement learning with rewards (docs/rl.md)")
    max_length: int = option(256, group=DATA, help="SFT: longest example in tokens; PT: block size")
    sft_padding: SftPadding | None = option(
        None, group=DATA, help="SFT: pad shorter answers with ignored pad tokens (ignore), or with EOS that "
                               "is attended to and trained on (eos); default: the family's")
    text_field: str = option("text", group=DATA, help="--mode pt: the field of each record that holds its document")
    on_bad_record: OnBadRecord = option(
        "error", group=DATA, help="a record that is no valid example: stop with an error naming its file, line and "
                                  "field (error), or drop and count it (skip)")
    streaming: bool = option(
        False, group=DATA, help="--mode pt: read, tokenize and pack the data while training (needs --max-steps)")

    objective: str | None = option(None, group=OBJECTIVE, help="objective name (default: the family's)")
    schedule: str | None = option(
        None, group=OBJECTIVE, help="noise schedule name (dllm list schedules); default: the objective's")
    weighting: str | None = option(
        None, group=OBJECTIVE, help="loss weighting, one of the objective's (`dllm list objectives NAME`): e.g. "
                                    "schedule (its w(t), the default), uniform (1) or cart")
    time_sampling: str | None = option(
        None, group=OBJECTIVE, metavar="KIND", help="how a batch's diffusion times are drawn: iid, low-discrepancy (one uniform "
                                    "shifted by i/B, as MDLM describes) or stratified (one draw in each 1/B "
                                    "interval, MDLM's code); default: the objective's (iid)")
    random_length_ratio: float | None = option(
        None, group=OBJECTIVE, metavar="P", help="--mode pt: chance that a batch is cut to one random length, uniform in "
                                    "[1, --max-length] (arXiv 2502.09992's pre-training uses 0.01); default: the objective's (0)")
    objective_options: dict[str, Any] = option(
        default_factory=dict, group=OBJECTIVE, flag="--objective-option",
        help="another field of the objective's config, e.g. source=prompt (VALUE is read as "
             "JSON when it parses, else as text; repeatable)")

    output_dir: Path = option(group=RUN, help="folder of the final checkpoint (and of checkpoint-N folders)")
    max_steps: int = option(-1, group=RUN, help="optimizer steps; -1: as many as --num-train-epochs take")
    num_train_epochs: float = option(1.0, group=RUN, help="passes over the train split, when --max-steps is -1")
    batch_size: int = option(16, group=RUN, help="per-device batch size")
    gradient_accumulation_steps: int = option(1, group=RUN, help="micro-batches per optimizer step")
    learning_rate: float = option(1e-3, group=RUN, help="peak learning rate")
    weight_decay: float = option(0.0, group=RUN, help="AdamW weight decay")
    warmup_ratio: float = option(0.0, group=RUN, help="share of the steps that warm the learning rate up")
    lr_scheduler_type: str = option(
        "linear", group=RUN, help="learning-rate schedule of transformers: linear, cosine, constant_with_warmup, ...")
    logging_steps: int = option(10, group=RUN, help="log the loss every N steps")
    save_steps: int | None = option(None, group=RUN, help="also keep Trainer checkpoints every N steps")
    save_total_limit: int | None = option(None, group=RUN, help="keep only the newest N checkpoint-N folders")
    eval_steps: int | None = option(None, group=RUN, help="evaluate every N steps (default: at the end)")
    seed: int = option(42, group=RUN, help="seed of the initial weights, the data order and the noise")
    bf16: bool = option(False, group=RUN, help="train in bfloat16 mixed precision")
    gradient_checkpointing: bool = option(
        False, group=RUN, help="recompute activations in the backward pass to save memory")
    report_to: str = option("none", group=RUN, help="where to log metrics: none, tensorboard, wandb, ...")
    resume: bool = option(False, group=RUN, help="continue from the newest checkpoint-N in --output-dir")
    disable_progress_bar: bool = option(False, group=RUN, flag="--no-progress", help="hide the progress bar")
    generator_defaults: dict[str, Any] = option(
        default_factory=dict, group=RUN, flag="--generator-default",
        help="a sampling default written into the checkpoint's dllm.json, e.g. steps=64 (VALUE as for "
             "--objective-option; repeatable)")

    lora: bool = option(False, group=LORA, help="train a LoRA adapter of --model instead of all weights")
    lora_r: int = option(16, group=LORA, help="adapter rank")
    lora_alpha: float = option(32.0, group=LORA, help="the update is scaled by alpha / r")
    lora_dropout: float = option(0.05, group=LORA, help="dropout on the adapter's input")
    lora_target_modules: list[str] = option(
        default_factory=lambda: ["all-linear"], group=LORA, help="comma-separated module names, or all-linear")
    lora_modules_to_save: list[str] = option(
        default_factory=list, group=LORA, help="comma-separated modules trained in full and saved with the adapter")
    load_in_4bit: bool = option(
        False, group=LORA, help="load --model in 4-bit NF4 (double quantisation) and train a LoRA adapter (QLoRA)")

    reward: list[str] = option(
        default_factory=list, group=GRPO, help="comma-separated reward functions: names from `dllm list rewards`, "
                                               "module:function or path.py:function; default: the task's checker")
    num_generations: int = option(4, group=GRPO, help="completions sampled per prompt (the group)")
    num_iterations: int = option(1, group=GRPO, help="optimizer steps on each batch of completions (mu)")
    epsilon: float = option(0.2, group=GRPO, help="clip range of the probability ratio")
    beta: float = option(0.04, group=GRPO, help="weight of the KL to the reference model (0: no reference)")
    p_mask_prompt: float = option(0.15, group=GRPO, help="chance each prompt token is masked when scoring")
    logp_estimator: LogpEstimator = option(
        "d1", group=GRPO, help="log-probabilities from the all-masked answer (d1), from two complementary "
                               "partial masks (coupled) or from the canvases the sampler committed each "
                               "token from (trajectory; docs/rl.md)")
    trajectory_shrinkage: int = option(
        4, group=GRPO, help="--logp-estimator trajectory: sampler steps scored by one canvas (TraceRL's "
                            "shrinkage; 1 scores every step's canvas)")
    temperature: float = option(0.9, group=GRPO, help="sampling temperature of the completions")
    sync_ref_steps: int | None = option(
        None, group=GRPO, help="copy the trained weights into the reference model every N steps (default never)")

    @property
    def lora_options(self) -> LoraOptions | None:
        """The adapter asked for with ``lora`` (implied by ``load_in_4bit``), else ``None``."""
        if not (self.lora or self.load_in_4bit):
            return None
        return LoraOptions(rank=self.lora_r, alpha=self.lora_alpha, dropout=self.lora_dropout,
                           target_modules=list(self.lora_target_modules),
                           modules_to_save=list(self.lora_modules_to_save))

    def check_ranges(self) -> None:
        """Counts, sizes and rates that must be positive (``--max-steps``: -1 or positive)."""
        counts = {"max_length": self.max_length, "batch_size": self.batch_size, "logging_steps": self.logging_steps,
                  "gradient_accumulation_steps": self.gradient_accumulation_steps, "save_steps": self.save_steps,
                  "save_total_limit": self.save_total_limit, "eval_steps": self.eval_steps, "lora_r": self.lora_r}
        for name, value in counts.items():
            if value is not None and value < 1:
                raise DllmError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        if self.max_steps == 0 or self.max_steps < -1:
            raise DllmError(f"--max-steps must be a positive number of steps (or -1: as many as --num-train-epochs "
                            f"take), got {self.max_steps}")
        rates = {"learning_rate": self.learning_rate, "num_train_epochs": self.num_train_epochs}
        for name, rate in rates.items():
            if not rate > 0:  # NaN included
                raise DllmError(f"--{name.replace('_', '-')} must be greater than 0, got {rate}")
        if not 0 <= self.warmup_ratio < 1 or not self.weight_decay >= 0:
            raise DllmError(f"--warmup-ratio must be in [0, 1) and --weight-decay 0 or more; got "
                            f"{self.warmup_ratio} and {self.weight_decay}")

    def objective_flag_options(self) -> dict[str, Any]:
        """The fields of the objective's config that have their own flag (``--time-sampling``,
        ``--random-length-ratio``), those given; the objective is built from these, then
        ``--objective-option`` (which :meth:`check` keeps from contradicting them)."""
        given = {"time_sampling": self.time_sampling, "random_length_ratio": self.random_length_ratio}
        return {name: value for name, value in given.items() if value is not None}

    def check(self) -> None:
        """What can be checked before anything loads: values out of range, options that exclude
        or need each other, the family name, the data spec and the optional packages LoRA and
        4-bit need."""
        self.check_ranges()
        if self.preset and self.model:
            raise DllmError("--preset trains from scratch and --model fine-tunes: give one of them")
        if (self.lora or self.load_in_4bit) and self.model is None:
            raise DllmError("--lora and --load-in-4bit adapt a trained checkpoint: pass --model PATH")
        if self.streaming and (self.mode != "pt" or self.max_steps <= 0):
            raise DllmError("--streaming packs pretraining text of unknown length: use it with --mode pt --max-steps N")
        if self.random_length_ratio and self.mode != "pt":
            raise DllmError("--random-length-ratio cuts pretraining blocks (arXiv 2502.09992's recipe) and would cut SFT answers: "
                            "use it with --mode pt")
        for name, value in self.objective_flag_options().items():
            if name in self.objective_options and self.objective_options[name] != value:
                flag = "--" + name.replace("_", "-")
                raise DllmError(f"{flag} {value} and --objective-option {name}={self.objective_options[name]} "
                                f"disagree: give one of them")
        if self.family is not None:
            get_registry().families.get(self.family)
        spec = check_dataset_spec(self.data)  # task names and paths too, before datasets/torch load
        if all(part.train == 0 for part in spec.parts):
            raise DllmError(f"--data {self.data} gives no training rows; ask for some with train:N (N at least 1)")
        check_adapter_extras(self.lora_options, self.load_in_4bit)
        if self.mode == "grpo":
            from dllm_core.rl.settings import check_grpo_options

            check_grpo_options(self)
