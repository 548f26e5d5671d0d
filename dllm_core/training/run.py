"""The registry-driven training run behind ``dllm train``.

Path of data (docs/architecture.md): the registry resolves the family -> model from a size preset
or ``from_pretrained`` and the tokenizer -> dataset spec -> SFT or pretraining processing and the
padding collator -> :class:`DiffusionTrainer` with the objective and schedule -> the final
checkpoint (``save_pretrained`` files + ``dllm.json``) written atomically into the output folder,
with ``loss_curve.png`` and ``log_history.json`` beside it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dllm_core.checkpoint import (
    DLLM_JSON,
    CheckpointInfo,
    honour_umask,
    load_model,
    load_tokenizer,
    locate_checkpoint,
    replace_checkpoint_files,
    resolve_family,
)
from dllm_core.dataclass_options import to_json
from dllm_core.errors import DllmError, unknown_name_error
from dllm_core.family import ModelFamily
from dllm_core.model_config import max_positions, preset_config
from dllm_core.registry import get_registry, load_reference
from dllm_core.special_tokens import SpecialTokens, adapt_tokenizer, resolve_special_tokens
from dllm_core.training.adapters import add_lora, four_bit_config
from dllm_core.training.run_config import TrainRunConfig
from dllm_core.training.run_record import (
    RUN_RECORD,
    ResumePlan,
    checkpoint_steps,
    plan_resume,
    run_settings,
    write_run_record,
)

FINAL_STAGING = ".final-staging"
TRAINING_ARGS_FILE = "training_args.bin"  # a pickle the Trainer adds; not part of a dllm checkpoint
#: files of the output folder that are the run's, not the final checkpoint's
RUN_FILES = (RUN_RECORD, "log_history.json")


@dataclass
class TrainRunResult:
    """What a run produced (:func:`dllm_core.training.report.print_result` shows it)."""

    checkpoint: Path
    train_metrics: dict[str, float]
    eval_metrics: dict[str, float]
    processes: int = 1  # how many processes trained together
    main_process: bool = True  # False in the other processes of a multi-process run
    chat: bool = False  # trained on conversations (SFT): prompts go through the chat template


def resolve_run_family(config: TrainRunConfig) -> ModelFamily:
    """The family named by ``--family``, or the one of ``--model``'s checkpoint."""
    families = get_registry().families
    if config.model is None and config.family is None:
        raise DllmError("say which model to train: --family NAME --preset PRESET, or --model PATH")
    if config.model is not None:
        family = resolve_family(config.model)
        if config.family is not None and config.family != family.name:
            raise DllmError(f"--family {config.family} does not match {config.model}, which is a "
                            f"{family.name} checkpoint; drop --family or pick the matching one")
        return family
    return families.get(config.family)


def build_tokenizer(config: TrainRunConfig, family: ModelFamily) -> Any:
    """The checkpoint's tokenizer, or the project's char tokenizer for a from-scratch preset."""
    if config.model is not None:
        tokenizer = load_tokenizer(config.model, family)
    else:
        from dllm_core.data.tokenizer import build_char_tokenizer

        tokenizer = build_char_tokenizer()
    return adapt_tokenizer(tokenizer, family)


def build_model(config: TrainRunConfig, family: ModelFamily, tokenizer: Any) -> Any:
    if config.model is not None:
        model = load_model(config.model, family, **four_bit_loading(config))
        lora = config.lora_options
        if lora is not None:
            model = add_lora(model, lora, quantized=config.load_in_4bit,
                             gradient_checkpointing=config.gradient_checkpointing)
        return model
    if family.model_builder is not None:
        return load_reference(family.model_builder)(config.preset or "tiny", tokenizer, backbone=config.backbone)
    if config.backbone is not None:
        raise DllmError(f"--backbone is for families that wrap another family's model; {family.name} does not")
    model_class = load_reference(family.model_class or "transformers:AutoModelForMaskedLM")
    model_config = preset_config(family, config.preset or "tiny", tokenizer)
    if hasattr(model_class, "from_config"):
        return model_class.from_config(model_config)
    return model_class(model_config)


def four_bit_loading(config: TrainRunConfig) -> dict[str, Any]:
    """``from_pretrained`` options for ``--load-in-4bit``: NF4 weights on this process's device."""
    if not config.load_in_4bit:
        return {}
    from accelerate import PartialState

    return {"quantization_config": four_bit_config(config.bf16), "device_map": {"": PartialState().device}}


def check_context(config: TrainRunConfig, model_config: Any) -> None:
    """Examples are at most ``max_length`` tokens (longer SFT ones are cut, PT blocks have that
    size), so ``max_length`` must fit the model's positions (e.g. BERT's 512)."""
    limit = max_positions(model_config)
    if limit is not None and config.max_length > limit:
        raise DllmError(f"--max-length {config.max_length} exceeds the model's context of {limit} "
                        f"tokens; pass --max-length {limit} or less")


def build_objective(config: TrainRunConfig, family: ModelFamily) -> Any:
    """The registered objective with the schedule, the weighting and the other options of its config.

    The objective is ``--objective``, else the one the base checkpoint (``--model``) was trained
    with, else the family's default. Options, later ones winning: the family's
    ``objective_defaults`` for it, the base checkpoint's values of the objective's
    ``checkpoint_options`` (e.g. the block size its weights were trained with), the flags, then
    ``--objective-option``.
    """
    registry = get_registry()
    base = base_objective(config)
    name = config.objective or base.get("name") or family.default_objective
    objective_class = registry.objectives.get(name)
    options: dict[str, Any] = dict(family.objective_defaults.get(objective_class.name, {}))
    if base.get("name") == objective_class.name:
        options.update({key: base[key] for key in objective_class.checkpoint_options if key in base})
    if config.schedule is not None:
        options["schedule"] = registry.schedules.get(config.schedule)()
    if config.weighting is not None:
        check_weighting(objective_class, config.weighting)
        options["weighting"] = config.weighting
    options.update(config.objective_flag_options())
    options.update(config.objective_options)
    try:
        return objective_class(objective_class.config_class(**options))
    except (TypeError, ValueError) as exc:
        raise DllmError(f"objective {objective_class.name}: {exc}") from None


def base_objective(config: TrainRunConfig) -> dict[str, Any]:
    """The ``objective`` section of the base checkpoint's ``dllm.json`` (empty without one)."""
    if config.model is None or not Path(config.model).is_dir():
        return {}
    info = CheckpointInfo.read(Path(config.model))
    return dict(info.objective) if info is not None else {}


def check_weighting(objective_class: Any, weighting: str) -> None:
    """``--weighting`` must name a loss weighting the objective implements: one listed by the
    ``weightings`` class attribute of its ``config_class`` (a config without one has none to choose,
    so a third-party objective declares its own)."""
    allowed = getattr(objective_class.config_class, "weightings", ())
    if weighting in allowed:
        return
    if allowed:
        fix = "Pick one of those, or leave --weighting out for the objective's default."
    else:
        fix = f"Objective {objective_class.name} has no loss weighting to choose: leave --weighting out."
    raise unknown_name_error(f"--weighting for objective {objective_class.name}", weighting, allowed, fix)


def build_datasets(config: TrainRunConfig, tokenizer: Any, family: ModelFamily) -> tuple[Any, Any | None]:
    """Tokenized train and (optional) test datasets for the run's mode.

    A family with shifted logits (Dream) predicts token i from position i - 1, so its examples
    start with a BOS that gives the first real token a source (``prepend_bos``). With
    ``streaming`` the train set is packed lazily (:mod:`dllm_core.training.streaming`).
    """
    from dllm_core.data.processing import PTConfig, SFTConfig, pack_pretraining, tokenize_sft
    from dllm_core.data.records import RecordRules
    from dllm_core.data.spec import load_dataset_spec

    rules = RecordRules(config.text_field, config.on_bad_record, config.mode)
    if config.streaming:
        from dllm_core.training.streaming import streaming_pretraining

        return streaming_pretraining(config.data, tokenizer, config.max_length, family.logit_shift, config.seed,
                                     rules), None
    splits = load_dataset_spec(config.data, rules)

    def process(split: Any) -> Any:
        if config.mode == "pt":
            dataset, _ = pack_pretraining(split, tokenizer, PTConfig(
                block_size=config.max_length, text_field=config.text_field, prepend_bos=family.logit_shift,
                on_bad_record=config.on_bad_record))
        else:
            dataset, _ = tokenize_sft(split, tokenizer, SFTConfig(
                max_length=config.max_length, prepend_bos=family.logit_shift, on_bad_record=config.on_bad_record))
        return dataset

    if "train" not in splits or len(splits["train"]) == 0:
        raise DllmError(f"--data {config.data} gives no training rows; ask for some with train:N (N at least 1)")
    train = process(splits["train"])
    test = process(splits["test"]) if "test" in splits else None
    return train, test


def checkpoint_info(config: TrainRunConfig, family: ModelFamily, objective: Any) -> CheckpointInfo:
    objective_config = dataclasses.asdict(objective.config)
    objective_config["schedule"] = objective.config.schedule.to_config()
    return CheckpointInfo(
        family=family.name,
        objective={"name": objective.name, **objective_config},
        schedule=objective.config.schedule.to_config(),
        generator={**trained_generator(family, objective), **config.generator_defaults},
        extra={"mode": config.mode, "data": config.data, "preset": config.preset, "base_model": config.model,
               "sft_padding": sft_padding(config, family),
               **({"backbone_family": config.backbone} if config.backbone else {})},
    )


def trained_generator(family: ModelFamily, objective: Any) -> dict[str, Any]:
    """``dllm.json``'s generator section for a model of ``family`` trained with ``objective``.

    The family's default generator and settings, unless the objective is not the family's
    default and names its own generator (block diffusion: ``bd3lm``); then the family's
    settings carry over to that generator by role. A block size in the objective's config
    becomes the generator's block parameter, so sampling uses the blocks the model learned.
    """
    from dllm_core.session import carry_over

    generators = get_registry().generators
    default = generators.get(family.default_generator)
    name = family.default_generator
    settings = dict(family.generator_defaults)
    if objective.name != family.default_objective and objective.generator is not None:
        name = objective.generator
        settings = carry_over(settings, default, generators.get(name))
    block_parameter = generators.get(name).roles.block
    block_size = getattr(objective.config, "block_size", None)
    if block_parameter is not None and block_size is not None:
        settings[block_parameter] = block_size
    return {"preset": name, **settings}


def training_arguments(config: TrainRunConfig, has_eval: bool, configured_state: bool = False) -> Any:
    """``TrainingArguments`` for the run (transformers 4.57 and 5.x spell warmup differently).

    ``configured_state``: use the accelerate state that :func:`dllm_core.distributed.configure_process_group` set up.
    """
    import torch
    from transformers import TrainingArguments

    fields = {f.name for f in dataclasses.fields(TrainingArguments)}
    version_specific: dict[str, Any] = (
        {"warmup_ratio": config.warmup_ratio} if "warmup_ratio" in fields else {"warmup_steps": config.warmup_ratio}
    )
    if config.gradient_checkpointing:
        version_specific["gradient_checkpointing"] = True
        version_specific["gradient_checkpointing_kwargs"] = {"use_reentrant": False}
    if configured_state:
        version_specific["accelerator_config"] = {"use_configured_state": True}
    return TrainingArguments(
        **version_specific,
        output_dir=str(config.output_dir),
        max_steps=config.max_steps,
        num_train_epochs=config.num_train_epochs,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        learning_rate=config.learning_rate,
        weight_decay=config.weight_decay,
        lr_scheduler_type=config.lr_scheduler_type,
        logging_steps=config.logging_steps,
        save_strategy="steps" if config.save_steps else "no",
        save_steps=config.save_steps or 500,
        save_total_limit=config.save_total_limit,
        eval_strategy="steps" if has_eval and config.eval_steps else "no",
        eval_steps=config.eval_steps,
        seed=config.seed,
        data_seed=config.seed,
        bf16=config.bf16,
        report_to=[] if config.report_to == "none" else [config.report_to],
        disable_tqdm=config.disable_progress_bar,
        remove_unused_columns=False,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
    )


def discard_partial_checkpoints(output_dir: Path) -> None:
    """Remove what a killed run left half-written (``.checkpoint-N.partial``, ``.final-staging``)."""
    for path in [*output_dir.glob(".checkpoint-*.partial"), output_dir / FINAL_STAGING]:
        shutil.rmtree(path, ignore_errors=True)


def check_output_dir(output_dir: Path, flag: str = "--output-dir") -> None:
    """Before any work: ``output_dir`` (the value of ``flag``) is a folder this process can write
    to, or can be created.

    A probe file is written into it (or, while it does not exist, into the nearest folder above
    it) and removed, so a path under a file, a read-only folder or a full disk (that cannot take
    even a small file) fails at once; nothing is left behind."""
    existing = next(folder for folder in (output_dir, *output_dir.absolute().parents) if folder.exists())
    if not existing.is_dir():
        what = "is a file" if existing == output_dir else f"cannot be created: {existing} is a file"
        raise DllmError(f"{flag} {output_dir} {what}; pass a folder (new, or one of an earlier run)")
    probe = existing / f".dllm-write-probe-{os.getpid()}"
    try:
        probe.write_text("probe\n")
        probe.unlink()
    except OSError as exc:
        raise DllmError(f"cannot write into {flag} {output_dir} ({existing}: {exc.strerror or exc}); pick "
                        "a folder you can write to, on a disk with free space") from None


def save_final(trainer: Any, output_dir: Path, info: CheckpointInfo) -> None:
    """Write the final checkpoint into ``output_dir`` itself, replacing an earlier one as a whole.

    Every process calls it: ``trainer.save_model`` gathers sharded weights (ZeRO-3, FSDP) and
    the main process writes ``.final-staging`` (model or LoRA adapter, tokenizer, ``dllm.json``),
    then swaps it in with :func:`~dllm_core.checkpoint.replace_checkpoint_files`: the files of
    an earlier checkpoint there (an old adapter, say) go, and a process killed mid-swap leaves a
    folder that is refused instead of a mix. A save that fails while writing (a full disk)
    leaves the folder as it was and names the newest ``checkpoint-N`` to resume from.
    """
    main = trainer.is_world_process_zero()
    staging = output_dir / FINAL_STAGING
    if main:
        shutil.rmtree(staging, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    try:
        trainer.save_model(str(staging))
        if main:
            (staging / TRAINING_ARGS_FILE).unlink(missing_ok=True)
            info.write(staging)
            honour_umask(staging)
    except OSError as exc:
        if main:
            shutil.rmtree(staging, ignore_errors=True)
        raise DllmError(f"could not write the final checkpoint into {output_dir} ({exc.strerror or exc}); "
                        f"{last_good_checkpoint(output_dir)}. Free space or fix the permissions, then train "
                        "again with --resume") from None
    trainer.accelerator.wait_for_everyone()
    if main:
        replace_checkpoint_files(staging, output_dir, keep=RUN_FILES)
    trainer.accelerator.wait_for_everyone()


def check_resumable(checkpoint: Path) -> None:
    """Refuse a damaged ``checkpoint-N`` before the Trainer reads it: its ``trainer_state.json``
    must parse and each safetensors file must open (a valid header)."""
    from safetensors import SafetensorError, safe_open

    try:
        json.loads((checkpoint / "trainer_state.json").read_text())
        weights = sorted(checkpoint.glob("*.safetensors"))
        if not weights:
            raise OSError("it holds no .safetensors weights")
        for path in weights:
            with safe_open(str(path), "pt"):
                pass
    except (OSError, ValueError, SafetensorError) as exc:
        raise DllmError(f"--resume: {checkpoint} is damaged ({exc}); delete it to resume from an earlier "
                        "checkpoint-N, or drop --resume to start over") from None


def plan_run_resume(config: TrainRunConfig) -> tuple[dict[str, Any], ResumePlan]:
    """The run's recorded settings and where it starts (:func:`plan_resume`: with ``--resume``,
    this run's newest checkpoint, which must not be damaged: :func:`check_resumable`). Loads no
    weights, so a launched run checks it before any worker starts."""
    settings = run_settings(json.loads(to_json(config)))
    plan = plan_resume(config.output_dir, settings, config.resume)
    if plan.checkpoint is not None:
        check_resumable(plan.checkpoint)
    return settings, plan


def last_good_checkpoint(output_dir: Path) -> str:
    """Where the newest complete checkpoint of ``output_dir`` is, in words."""
    steps = checkpoint_steps(output_dir)
    if steps:
        return f"the newest checkpoint kept is {steps[-1][1]}"
    if (output_dir / DLLM_JSON).is_file():
        return f"the earlier checkpoint in {output_dir} is unchanged"
    return "no checkpoint of this run was kept (--save-steps N keeps checkpoint-N folders)"


def prepare_run(config: TrainRunConfig) -> tuple[ModelFamily, Any]:
    """The steps of a run that load no weights, so that a mistake shows before anything loads (and,
    for a launched run, before any process starts): the options are checked, a hub id in
    ``config.model`` is fetched (the field becomes the local folder), the family is resolved,
    the objective built, and the output folder probed (:func:`check_output_dir`).
    Returns the family and the objective."""
    config.check()
    if config.model is not None:
        config.model = str(locate_checkpoint(config.model).resolve())
    family = resolve_run_family(config)
    objective = build_objective(config, family)
    check_output_dir(config.output_dir)
    return family, objective


def run_training(config: TrainRunConfig) -> TrainRunResult:
    """Train, evaluate when there is a test split, and save; returns where and the metrics."""
    if config.mode == "grpo":
        from dllm_core.rl.run import run_grpo

        return run_grpo(config)
    family, objective = prepare_run(config)  # before the heavy imports: a mistake shows at once

    from transformers import set_seed

    from dllm_core.distributed import configure_process_group
    from dllm_core.training.report import write_loss_curve
    from dllm_core.training.trainer import DiffusionTrainer

    settings, plan = plan_run_resume(config)  # a run's own checkpoints only
    group = configure_process_group()
    tokenizer = build_tokenizer(config, family)
    special = resolve_special_tokens(tokenizer, tokenizer, family, source="the tokenizer")
    set_seed(config.seed)  # a preset's initial weights, the same in every process and every run
    model = build_model(config, family, tokenizer)
    model_special = resolve_special_tokens(model.config, tokenizer, family, source="the model")
    if getattr(model.config, "mask_token_id", None) is None:  # e.g. BERT: the mask is the tokenizer's
        model.config.mask_token_id = model_special.mask_token_id
    check_context(config, model.config)
    train, test = build_datasets(config, tokenizer, family)
    arguments = training_arguments(config, has_eval=test is not None, configured_state=group.configured)
    main = arguments.process_index == 0
    if main:
        config.output_dir.mkdir(parents=True, exist_ok=True)
        discard_partial_checkpoints(config.output_dir)
        write_run_record(config.output_dir, plan.run_id, settings)
        for note in plan.notes:
            print(f"dllm: {note}")
    trainer = DiffusionTrainer(
        model=model,
        args=arguments,
        objective=objective,
        family=family,
        train_dataset=train,
        eval_dataset=test,
        data_collator=build_collator(config, family, special),
        processing_class=tokenizer,
        run_id=plan.run_id,
    )
    resume = str(plan.checkpoint) if plan.checkpoint is not None else None
    train_output = trainer.train(resume_from_checkpoint=resume)
    eval_metrics = trainer.evaluate() if test is not None else {}
    info = checkpoint_info(config, family, objective)
    info.extra.update(processes=arguments.world_size, distributed=trainer.accelerator.distributed_type.value)
    save_final(trainer, config.output_dir, info)
    history = trainer.state.log_history
    if main:
        (config.output_dir / "log_history.json").write_text(json.dumps(history, indent=1))
        write_loss_curve(history, config.output_dir / "loss_curve.png")
    return TrainRunResult(config.output_dir, dict(train_output.metrics), dict(eval_metrics),
                          processes=arguments.world_size, main_process=main, chat=config.mode == "sft")


def sft_padding(config: TrainRunConfig, family: ModelFamily) -> str:
    """``--sft-padding``, else the family's: ``"ignore"`` or ``"eos"``."""
    padding = config.sft_padding or family.sft_padding
    if padding not in ("ignore", "eos"):
        raise DllmError(f"--sft-padding must be 'ignore' or 'eos', got {padding!r}")
    return padding


def build_collator(config: TrainRunConfig, family: ModelFamily, special: SpecialTokens) -> Any:
    """The padding collator; with SFT padding ``"eos"`` (``--sft-padding``, else the family's)
    shorter answers are padded with EOS that is attended to and trained on (LLaDA's recipe)."""
    from dllm_core.data.collators import PaddingCollator

    padding = sft_padding(config, family)
    if config.mode == "sft" and padding == "eos":
        if special.eos_token_id is None:
            raise DllmError("--sft-padding eos needs an EOS token; the tokenizer has none")
        return PaddingCollator(pad_token_id=special.eos_token_id, train_on_padding=True)
    return PaddingCollator(pad_token_id=_pad_id(special))


def _pad_id(special: SpecialTokens) -> int:
    if special.pad_token_id is None:
        raise DllmError("the tokenizer has neither a pad nor an EOS token; add one (tokenizer.pad_token = ...)")
    return special.pad_token_id
