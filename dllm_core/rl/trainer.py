"""``GRPOTrainer``: diffu-GRPO on the :class:`~dllm_core.training.trainer.DiffusionTrainer`.

One optimizer step on a micro-batch of B prompt rows (the data loader's batch):

1. every ``num_iterations`` steps (mu, d1's inner iterations) a *rollout*: each prompt is put
   through the chat template and answered G = ``num_generations`` times by the checkpoint's
   generator (:meth:`InferenceSession.generate`, the same path as ``dllm sample``) at
   ``temperature``; the N = B * G answers are scored by the reward functions
   (:func:`~dllm_core.rl.rewards.score_rewards`: a failing reward drops that sample, never the
   run), and get group-relative advantages (:mod:`~dllm_core.rl.advantages`). For mu > 1 the
   log-probabilities of the sampling policy are computed then, one per inner iteration, each with
   that iteration's prompt mask;
2. the loss of :mod:`~dllm_core.rl.objective` on the rollout: log-probabilities in one forward
   (:mod:`~dllm_core.rl.logprobs`: d1's all-masked answer, ``logp_estimator="coupled"``, or
   ``"trajectory"``, which reads the canvases of the rollout's recorded commit order), with the
   masks of the inner iteration (the same masks for the current, old and reference model), KL to
   the reference model when ``beta`` is not 0.

The prompts the loader yields during the mu - 1 reuse steps of a rollout are skipped. The
reference model is the starting model: for a LoRA run the base with the adapter disabled,
otherwise a frozen copy, refreshed from the trained weights every ``sync_ref_steps`` steps when
set. Per logged step: mean reward per function and in total, reward std within groups, KL, clip
fraction, completion length (scored tokens), and failed reward samples.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

import torch

from dllm_core.errors import DllmError
from dllm_core.generation.commit_order import CommitOrder
from dllm_core.objectives.model_io import unwrap_model
from dllm_core.rl.advantages import group_advantages
from dllm_core.rl.logprobs import completion_logprobs, completion_mask, scoring_copies
from dllm_core.rl.objective import grpo_loss
from dllm_core.rl.rewards import NamedReward, score_rewards
from dllm_core.training.trainer import DiffusionTrainer

#: data-row fields that hold the prompt (everything else reaches the reward functions)
PROMPT_FIELDS = ("prompt", "messages")


@dataclass
class GRPOSettings:
    """The diffu-GRPO knobs (d1's defaults where it has them)."""

    rewards: list[NamedReward]
    num_generations: int = 4  # G: completions per prompt
    num_iterations: int = 1  # mu: optimizer steps per rollout
    epsilon: float = 0.2  # clip range of the ratio
    beta: float = 0.04  # KL coefficient (0: no reference model)
    p_mask_prompt: float = 0.15  # chance each prompt token is masked in the log-prob forward
    logp_estimator: str = "d1"  # "d1" (all-masked answer), "coupled" (complementary masks) or "trajectory"
    trajectory_shrinkage: int = 4  # trajectory estimator: sampler steps per scored canvas
    temperature: float = 0.9  # sampling temperature of the rollouts
    sync_ref_steps: int | None = None  # copy the trained weights into the reference every N steps
    scale_rewards: bool = True  # divide advantages by the group's reward std
    sampling: dict[str, Any] = field(default_factory=dict)  # the generator's parameters (defaults)


@dataclass
class Rollout:
    """Sampled completions of one micro-batch and what the loss needs of them (N = B * G)."""

    prompt_ids: torch.Tensor  # [N, P] left-padded
    prompt_mask: torch.Tensor  # [N, P]
    completion_ids: torch.Tensor  # [N, T]
    completion_mask: torch.Tensor  # [N, T] scored tokens (0 for samples left out)
    advantages: torch.Tensor  # [N]
    seed: int  # prompt masks: iteration i uses seed + i
    commit_steps: torch.Tensor | None = None  # [N, T] sampler step of each token (trajectory estimator)
    old_logps: list[torch.Tensor] = field(default_factory=list)  # per iteration [N, T]; empty for mu == 1


def record_prompt(record: Mapping[str, Any]) -> tuple[list[dict[str, str]], str, dict[str, Any]]:
    """A data row as (chat messages to answer, the prompt text for rewards, the other fields).

    A ``prompt``/``answer`` row is one user turn; a ``messages`` row is answered after its
    messages up to (not including) the last assistant turn, whose content becomes ``answer``."""
    columns = {key: value for key, value in record.items() if key not in PROMPT_FIELDS}
    if record.get("prompt") is not None:
        return [{"role": "user", "content": str(record["prompt"])}], str(record["prompt"]), columns
    messages = list(record.get("messages") or [])
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=len(messages))
    if last < len(messages):
        columns.setdefault("answer", messages[last]["content"])
    turns = messages[:last]
    user = [m["content"] for m in turns if m["role"] == "user"]
    return turns, (user[-1] if user else ""), columns


class GRPOTrainer(DiffusionTrainer):
    """``GRPOTrainer(model, args, objective=..., family=..., session=..., settings=..., **kw)``.

    ``session`` is an :class:`~dllm_core.session.InferenceSession` over the trained model (its
    generator, defaults, tokenizer and special tokens); the data loader yields
    ``{"records": [row, ...]}`` (:func:`collate_records`).
    """

    def __init__(self, *args: Any, session: Any, settings: GRPOSettings, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session = session
        self.settings = settings
        self._rollouts: dict[int, Rollout] = {}  # micro-batch index within the step -> rollout
        self._micro = (-1, 0)
        self._metrics: dict[str, list[float]] = defaultdict(list)
        self._reference = self._make_reference() if settings.beta != 0 else None

    # -- reference model -------------------------------------------------------------------
    def _is_adapter(self) -> bool:
        return hasattr(unwrap_model(self.model), "disable_adapter")

    def _make_reference(self) -> torch.nn.Module | None:
        if self._is_adapter():
            return None  # the base model with the adapter disabled
        reference = copy.deepcopy(unwrap_model(self.model)).eval()
        reference.requires_grad_(False)
        return reference

    @contextlib.contextmanager
    def _reference_model(self, model: torch.nn.Module) -> Iterator[torch.nn.Module]:
        if self._reference is not None:
            yield self._reference
        else:
            with unwrap_model(model).disable_adapter():
                yield model

    def _sync_reference(self) -> None:
        every = self.settings.sync_ref_steps
        step = self.state.global_step
        if self._reference is not None and every and step and step % every == 0:
            self._reference.load_state_dict(unwrap_model(self.model).state_dict())

    # -- one step ----------------------------------------------------------------------------
    def training_step(self, model: torch.nn.Module, inputs: dict[str, Any], *args: Any, **kwargs: Any) -> torch.Tensor:
        """A rollout every ``num_iterations`` steps (module doc), then the stock step on it."""
        step, seen = self._micro
        seen = seen if step == self.state.global_step else 0
        self._micro = (self.state.global_step, seen + 1)
        iteration = self.state.global_step % self.settings.num_iterations
        if seen == 0:
            self._sync_reference()
        if iteration == 0 or seen not in self._rollouts:
            self._rollouts[seen] = self._rollout(model, inputs["records"], seen)
        rollout = self._rollouts[seen]
        batch = {"prompt_ids": rollout.prompt_ids, "prompt_mask": rollout.prompt_mask,
                 "completion_ids": rollout.completion_ids, "completion_mask": rollout.completion_mask,
                 "advantages": rollout.advantages, "mask_seed": rollout.seed + iteration,
                 "commit_steps": rollout.commit_steps,
                 "old_logps": rollout.old_logps[iteration] if rollout.old_logps else None}
        return super().training_step(model, batch, *args, **kwargs)

    def compute_loss(self, model: torch.nn.Module, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        """The diffu-GRPO loss of one rollout batch (:func:`~dllm_core.rl.objective.grpo_loss`)."""
        logps = self._logps(model, inputs, inputs["mask_seed"])  # [N, T]
        old = inputs["old_logps"] if inputs["old_logps"] is not None else logps.detach()
        ref = None
        if self.settings.beta != 0:
            with torch.no_grad(), self._reference_model(model) as reference:
                ref = self._logps(reference, inputs, inputs["mask_seed"])
        result = grpo_loss(logps, old, inputs["advantages"], inputs["completion_mask"],
                           epsilon=self.settings.epsilon, beta=self.settings.beta, ref_logps=ref)
        self._metrics["kl"].append(result.kl)
        self._metrics["clip_fraction"].append(result.clip_fraction)
        return (result.loss, result) if return_outputs else result.loss

    def _logps(self, model: torch.nn.Module, batch: Mapping[str, Any], seed: int) -> torch.Tensor:
        generator = torch.Generator(device=batch["prompt_ids"].device).manual_seed(seed % 2**63)
        return completion_logprobs(model, batch["prompt_ids"], batch["prompt_mask"], batch["completion_ids"],
                                   mask_id=self.session.special.mask_token_id,
                                   p_mask_prompt=self.settings.p_mask_prompt, family=self.family,
                                   objective=self.objective, generator=generator,
                                   estimator=self.settings.logp_estimator, commit_steps=batch["commit_steps"],
                                   shrinkage=self.settings.trajectory_shrinkage)

    def floating_point_ops(self, inputs: dict[str, Any]) -> int:
        """The stock estimate of the policy update of this micro-batch: ``6 x N x (P + T) x``
        non-embedding parameters over the rollout just used (``inputs`` holds records, not token
        ids; twice that for the coupled estimator's two halves, K times for the trajectory
        estimator's K canvases). Like the stock count it leaves out forwards without a backward:
        sampling, reference."""
        rollout = self._rollouts.get(self._micro[1] - 1)
        if rollout is None:
            return 0
        copies = scoring_copies(self.settings.logp_estimator, rollout.commit_steps, self.settings.trajectory_shrinkage)
        return self.token_flops(copies * (rollout.prompt_ids.numel() + rollout.completion_ids.numel()))

    # -- rollouts ----------------------------------------------------------------------------
    def _rollout(self, model: torch.nn.Module, records: Sequence[Mapping[str, Any]], micro: int) -> Rollout:
        settings, session = self.settings, self.session
        group = settings.num_generations
        parsed = [record_prompt(record) for record in records]
        rows = [session.encode(session.render_chat(messages)) for messages, _, _ in parsed]
        rows = [row for row in rows for _ in range(group)]  # [N] prompts, each G times in a row
        index = (self.state.global_step * self.args.gradient_accumulation_steps + micro) * self.args.world_size
        seed = (self.args.seed * 1_000_003 + index + self.args.process_index) % 2**62
        was_training = model.training
        model.eval()
        session.model = unwrap_model(model)
        order = CommitOrder() if settings.logp_estimator == "trajectory" else None
        try:
            completions = session.generate(rows, session.params(values=settings.sampling), seed=seed, callback=order)
        finally:
            model.train(was_training)
        prompt_ids, prompt_mask = session.pad_left(rows)
        width = max(len(c.generation.rows[c.row]) for c in completions)
        pad = session.special.pad_token_id if session.special.pad_token_id is not None else 0
        completion_ids = torch.full((len(rows), width), pad, dtype=torch.long, device=prompt_ids.device)
        scored = torch.zeros((len(rows), width), dtype=torch.bool, device=prompt_ids.device)
        for i, completion in enumerate(completions):
            tokens = completion.generation.rows[completion.row]
            completion_ids[i, :len(tokens)] = torch.tensor(tokens, dtype=torch.long)
            scored[i, :len(tokens)] = True
        scored &= completion_mask(completion_ids, session.special.stop_token_ids())
        scores = self._score([p for _, p, _ in parsed], [c for _, _, c in parsed], [c.text for c in completions])
        totals = torch.tensor(scores.totals(), dtype=torch.float32, device=prompt_ids.device)
        groups = group_advantages(totals, group, scale=settings.scale_rewards)
        scored &= groups.valid[:, None]
        self._metrics["reward_std"].append(float(groups.group_std.nanmean()))
        self._metrics["completion_length"].append(float(scored.sum(dim=1).float()[groups.valid].mean())
                                                  if bool(groups.valid.any()) else 0.0)
        rollout = Rollout(prompt_ids, prompt_mask, completion_ids, scored, groups.advantages, seed,
                          commit_steps=None if order is None else rollout_commit_steps(
                              order, completions, width, session.generator.name).to(prompt_ids.device))
        if settings.num_iterations > 1:
            with torch.no_grad():
                rollout.old_logps = [self._logps(model, vars(rollout), seed + i) for i in range(settings.num_iterations)]
        return rollout

    def _score(self, prompts: list[str], columns: list[dict[str, Any]], texts: list[str]) -> Any:
        group = self.settings.num_generations
        prompts = [p for p in prompts for _ in range(group)]
        keys = sorted({key for row in columns for key in row})
        repeated = {key: [row.get(key) for row in columns for _ in range(group)] for key in keys}
        scores = score_rewards(self.settings.rewards, prompts, texts, repeated)
        for name, values in scores.values.items():
            finite = [v for v in values if not math.isnan(v)]
            self._metrics[f"reward/{name}"].append(sum(finite) / len(finite) if finite else math.nan)
        finite = [v for v in scores.totals() if not math.isnan(v)]
        self._metrics["reward"].append(sum(finite) / len(finite) if finite else math.nan)
        self._metrics["reward_failures"].append(float(len({f.index for f in scores.failures})))
        return scores

    # -- logging -----------------------------------------------------------------------------
    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """The stock log, with the GRPO metrics averaged since the last training log."""
        if "loss" in logs and self._metrics:
            for name, values in self._metrics.items():
                finite = [v for v in values if not math.isnan(v)]
                if name == "reward_failures":
                    logs[name] = float(sum(finite))
                elif finite:
                    logs[name] = sum(finite) / len(finite)
            self._metrics.clear()
        super().log(logs, start_time)


def rollout_commit_steps(order: CommitOrder, completions: Sequence[Any], width: int, generator: str) -> torch.Tensor:
    """``[N, T]``: the sampler step that committed each completion token (-1: none), from the
    commit order of the one generation call that made ``completions``; a generator that does not
    commit tokens on a canvas (no ``answer_starts``, or no step callback) is refused."""
    steps = torch.full((len(completions), width), -1, dtype=torch.long)
    for i, completion in enumerate(completions):
        starts = completion.generation.answer_starts
        if starts is None or order.steps is None:
            raise DllmError(f"--logp-estimator trajectory needs a generator that commits tokens on a canvas and "
                            f"reports where answers start; generator '{generator}' does not: use "
                            "--logp-estimator d1 or coupled")
        length = len(completion.generation.rows[completion.row])
        steps[i, :length] = torch.tensor(order.answer_steps(completion.row, starts[completion.row], length))
    return steps


def collate_records(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The GRPO data collator: the rows as they are (prompts are encoded at rollout time)."""
    return {"records": list(rows)}
