"""Reinforcement learning for diffusion LMs: diffu-GRPO (d1, arXiv 2504.12216) with verifiable rewards.

* :mod:`~dllm_core.rl.rewards` -- the reward-function protocol, the built-in rewards (every task's
  checker, a format reward), user functions (``module:function`` / ``path.py:function``) and
  scoring that turns a failing reward into a NaN for that sample, never an exception;
* :mod:`~dllm_core.rl.advantages` -- group-relative advantages;
* :mod:`~dllm_core.rl.logprobs` -- per-token log-probabilities of a completion in one forward;
* :mod:`~dllm_core.rl.objective` -- the clipped-ratio objective with the k3 KL penalty;
* :mod:`~dllm_core.rl.trainer` -- ``GRPOTrainer``: sampling, rewards and updates on the
  ``DiffusionTrainer``; :mod:`~dllm_core.rl.report` -- the reward curve.

Importing this package is cheap; the torch modules import torch.
"""
