"""``dllm train --mode grpo``: the run behind it, from the same pieces as the SFT run.

The family, model (``--model``, with ``--lora`` / ``--load-in-4bit`` as for SFT, or a preset),
tokenizer, objective (whose forward estimates log-probabilities) and training arguments come from
:mod:`dllm_core.training.run`; the data rows are kept as they are (prompts are encoded at rollout
time); the sampler is the checkpoint's generator with its defaults (``dllm.json``, then
``--generator-default``) at ``--temperature``; the rewards are ``--reward`` or, for a built-in
task, its checker. The final checkpoint is written like an SFT one, its ``dllm.json`` keeping the
generator settings the rollouts used, with ``loss_curve.png``, ``reward_curve.png`` and
``log_history.json`` beside it.
"""

from __future__ import annotations

import json
from typing import Any

from dllm_core.errors import DllmError
from dllm_core.family import ModelFamily
from dllm_core.rl.rewards import default_rewards, resolve_reward
from dllm_core.training.run_config import TrainRunConfig


def grpo_settings(config: TrainRunConfig) -> Any:
    """The :class:`~dllm_core.rl.trainer.GRPOSettings` of a run (rewards resolved)."""
    from dllm_core.rl.trainer import GRPOSettings

    names = list(config.reward) or default_rewards(config.data)
    return GRPOSettings(rewards=[resolve_reward(name) for name in names], num_generations=config.num_generations,
                        num_iterations=config.num_iterations, epsilon=config.epsilon, beta=config.beta,
                        p_mask_prompt=config.p_mask_prompt, logp_estimator=config.logp_estimator,
                        trajectory_shrinkage=config.trajectory_shrinkage, temperature=config.temperature,
                        sync_ref_steps=config.sync_ref_steps)


def sampling_session(config: TrainRunConfig, family: ModelFamily, objective: Any, model: Any, tokenizer: Any,
                     special: Any) -> Any:
    """An :class:`InferenceSession` over the model being trained, with the checkpoint's generator
    and defaults (a preset: the family's), then ``--generator-default``."""
    from pathlib import Path

    from dllm_core.registry import get_registry
    from dllm_core.session import InferenceSession, choose_generator, generator_defaults, model_max_length
    from dllm_core.session import checkpoint_info as read_info
    from dllm_core.training.run import trained_generator

    if config.model is not None:
        info = read_info(Path(config.model))
        generator = choose_generator(family, info, None, set())
        defaults = generator_defaults(Path(config.model), family, info, generator)
    else:
        saved = trained_generator(family, objective)
        generator = get_registry().generators.get(saved.pop("preset"))
        defaults = saved
    defaults.update(config.generator_defaults)
    return InferenceSession(model, tokenizer, special, family, generator, defaults,
                            model_max_length(model.config, tokenizer))


def run_grpo(config: TrainRunConfig) -> Any:
    """Train with diffu-GRPO and save; returns a :class:`~dllm_core.training.run.TrainRunResult`."""
    from dllm_core.rl.logprobs import check_objective
    from dllm_core.training.run import prepare_run

    family, objective = prepare_run(config)
    check_objective(objective, family)
    settings = grpo_settings(config)

    from transformers import set_seed

    from dllm_core.data.records import RecordRules
    from dllm_core.data.spec import load_dataset_spec
    from dllm_core.distributed import configure_process_group
    from dllm_core.rl.report import write_reward_curve
    from dllm_core.rl.trainer import GRPOTrainer, collate_records
    from dllm_core.special_tokens import resolve_special_tokens
    from dllm_core.training.report import write_loss_curve
    from dllm_core.training.run import (
        TrainRunResult, build_model, build_tokenizer, checkpoint_info, discard_partial_checkpoints,
        plan_run_resume, save_final, training_arguments,
    )
    from dllm_core.training.run_record import write_run_record

    run_settings_, plan = plan_run_resume(config)
    group = configure_process_group()
    tokenizer = build_tokenizer(config, family)
    special = resolve_special_tokens(tokenizer, tokenizer, family, source="the tokenizer")
    set_seed(config.seed)
    model = build_model(config, family, tokenizer)
    if getattr(model.config, "mask_token_id", None) is None:
        model.config.mask_token_id = special.mask_token_id
    session = sampling_session(config, family, objective, model, tokenizer, special)
    settings.sampling = sampling_values(session, config.temperature)
    train = load_dataset_spec(config.data, RecordRules(config.text_field, config.on_bad_record, mode="sft")).get("train")
    if train is None or len(train) == 0:
        raise DllmError(f"--data {config.data} gives no training prompts; ask for some with train:N")
    arguments = training_arguments(config, has_eval=False, configured_state=group.configured)
    main = arguments.process_index == 0
    if main:
        config.output_dir.mkdir(parents=True, exist_ok=True)
        discard_partial_checkpoints(config.output_dir)
        write_run_record(config.output_dir, plan.run_id, run_settings_)
    trainer = GRPOTrainer(model=model, args=arguments, objective=objective, family=family, train_dataset=train,
                          data_collator=collate_records, processing_class=tokenizer, run_id=plan.run_id,
                          session=session, settings=settings)
    output = trainer.train(resume_from_checkpoint=str(plan.checkpoint) if plan.checkpoint is not None else None)
    info = checkpoint_info(config, family, objective)
    info.generator = {"preset": session.generator.name, **{k: v for k, v in session.defaults.items()
                                                            if k != session.generator.roles.mask_id}}
    info.extra.update(processes=arguments.world_size, distributed=trainer.accelerator.distributed_type.value,
                      rewards=[reward.name for reward in settings.rewards])
    save_final(trainer, config.output_dir, info)
    history = trainer.state.log_history
    if main:
        (config.output_dir / "log_history.json").write_text(json.dumps(history, indent=1))
        write_loss_curve(history, config.output_dir / "loss_curve.png")
        write_reward_curve(history, config.output_dir / "reward_curve.png")
    return TrainRunResult(config.output_dir, dict(output.metrics), {}, processes=arguments.world_size,
                          main_process=main, chat=True)


def sampling_values(session: Any, temperature: float) -> dict[str, Any]:
    """The generator parameters a rollout sets: ``temperature`` (every built-in sampler has one)."""
    if "temperature" in session.generator.parameter_names():
        return {"temperature": temperature}
    if temperature:
        raise DllmError(f"generator {session.generator.name} has no temperature parameter; pass --temperature 0 "
                        "(the group's completions then differ only through the generator's own randomness)")
    return {}
