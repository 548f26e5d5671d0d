"""What ``dllm train --mode grpo`` checks before anything loads (no torch)."""

from __future__ import annotations

from typing import Any

from dllm_core.errors import DllmError
from dllm_core.rl.rewards import default_rewards, resolve_reward


def check_grpo_options(config: Any) -> None:
    """Ranges of the GRPO options, options that do not combine, and every reward resolvable."""
    counts = {"num_generations": config.num_generations, "num_iterations": config.num_iterations,
              "sync_ref_steps": config.sync_ref_steps, "trajectory_shrinkage": config.trajectory_shrinkage}
    for name, value in counts.items():
        if value is not None and value < 1:
            raise DllmError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if config.num_generations < 2:
        raise DllmError("--num-generations must be at least 2: advantages compare completions of one prompt")
    if not 0 < config.epsilon < 1 or not config.beta >= 0 or not config.temperature >= 0:
        raise DllmError(f"--epsilon must be in (0, 1), --beta and --temperature 0 or more; got {config.epsilon}, "
                        f"{config.beta} and {config.temperature}")
    if not 0 <= config.p_mask_prompt <= 1:
        raise DllmError(f"--p-mask-prompt must be in [0, 1], got {config.p_mask_prompt}")
    if config.sync_ref_steps is not None and (config.lora or config.load_in_4bit):
        raise DllmError("--sync-ref-steps refreshes a copied reference model; a LoRA run's reference is its base "
                        "model with the adapter off: drop --sync-ref-steps")
    for name in list(config.reward) or default_rewards(config.data):
        resolve_reward(name)
