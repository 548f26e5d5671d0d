"""``DiffusionLM``: the lm-eval model for every dllm family.

``lm_eval --model llada --model_args pretrained=PATH,mc_num=64,steps=256`` (or ``dllm eval
PATH``) builds one from ``--model_args`` (:mod:`dllm_core.evaluation.settings`):

* the checkpoint loads into an :class:`~dllm_core.session.InferenceSession`, exactly as for
  ``dllm sample`` (same generator choice, defaults, encoding and seeding), so a prompt gets the
  same tokens through both;
* ``generate_until``: requests are grouped by their ``gen_kwargs``
  (:mod:`~dllm_core.evaluation.generation_plan`) and run through the session ``batch_size`` at
  a time, longest prompts first, with the checkpoint's generator (any registered one, Edit Flows
  included). Each answer is cut at the first EOS / end-of-turn token, capped at
  ``max_gen_toks`` tokens, decoded, and cut before the first ``until`` string.
* ``loglikelihood`` (families whose models give a masked-diffusion bound): the Monte-Carlo ELBO and the greedy check,
  with the block-diffusion bound for checkpoints trained with blocks (:func:`likelihood_blocks`)
  (:mod:`~dllm_core.evaluation.loglikelihood`), all requests of a task packed into shared
  forwards (:mod:`~dllm_core.evaluation.scoring`); the masks of a request are seeded from the
  request itself, so its score does not depend on packing or on which process ran it.
* ``loglikelihood_rolling``: the sum of the ELBOs of lm-eval's disjoint rolling windows, each
  window ``max_length`` tokens at most.
* speed: requests are answered task by task and each task's wall time, forward calls and tokens
  are recorded (:mod:`~dllm_core.evaluation.speed`); :meth:`DiffusionLM.get_model_info` puts
  them, with the generator and likelihood settings, into the results' ``config``.
* chat templates: ``apply_chat_template`` renders with the tokenizer's template (the family's
  when the tokenizer has none); a prompt that already starts with the BOS text gets no second
  BOS.
* several processes (``accelerate launch``): rank and world size come from accelerate and
  lm-eval gives each process its shard.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import replace
from typing import Any, ClassVar

import torch
from lm_eval.api.instance import Instance
from lm_eval.api.model import TemplateLM
from lm_eval.utils import get_rolling_token_windows, make_disjoint_window
from tqdm import tqdm

from dllm_core.distributed import ProcessInfo, all_gather, barrier, gather_object
from dllm_core.errors import DllmError
from dllm_core.evaluation.generation_plan import cut_at_stop_strings, plan_generation
from dllm_core.evaluation.loglikelihood import ElboConfig
from dllm_core.evaluation.models import lm_eval_name
from dllm_core.evaluation.scoring import ScoreRequest, greedy_checks, score_requests
from dllm_core.evaluation.speed import TaskSpeed
from dllm_core.evaluation.settings import ADAPTER_KEYS, settings_from_model_args
from dllm_core.registry import get_registry
from dllm_core.session import InferenceSession, content_seed, plan_session

logger = logging.getLogger(__name__)


class DiffusionLM(TemplateLM):
    """lm-eval ``LM`` over a dllm checkpoint of any family (see the module doc).

    Subclasses pinned to one family (``family_name``) are built by
    :mod:`dllm_core.evaluation.models`; they refuse checkpoints of another family.
    """

    family_name: ClassVar[str | None] = None

    def __init__(self, pretrained: str | None = None, **model_args: Any) -> None:
        super().__init__()
        settings = settings_from_model_args({"pretrained": pretrained, **model_args})
        plan = plan_session(settings.pretrained, settings.generator, settings.generator_params)
        if settings.cfg_scale is not None and "cfg_scale" in plan.generator.parameter_names():
            params = {"cfg_scale": settings.cfg_scale, **settings.generator_params}
            settings = replace(settings, generator_params=params)
        self.settings = replace(settings, pretrained=plan.path)
        family = plan.family
        if self.family_name is not None and family.name != self.family_name:
            raise DllmError(f"model '{self.family_name}' cannot evaluate {self.settings.pretrained}, which is a "
                            f"{family.name} checkpoint; use --model {lm_eval_name(family)}.")
        process = ProcessInfo.from_accelerate()
        self._rank, self._world_size = process.rank, process.world_size
        device = self.settings.device if process.world_size == 1 and self.settings.device else process.device
        if device.startswith("cuda") and not torch.cuda.is_available():  # lm-eval's CLI asks for cuda:0
            logger.warning("device %s was asked for but CUDA is not available; using the CPU", device)
            device = "cpu"
        self._device = torch.device(device)
        self.session = InferenceSession.load(plan, dtype=self.settings.dtype, device=device, merge_adapter=True,
                                             max_length=self.settings.max_length)
        try:  # unknown keys fail here, not mid-run
            self.session.params(values=self.settings.generator_params)
        except DllmError as exc:
            raise DllmError(f"model_args: {exc} Adapter keys: {', '.join(ADAPTER_KEYS)}.") from None
        self.family, self.model, self.tokenizer = family, self.session.model, self.session.tokenizer
        self.special = self.session.special
        self._elbo = ElboConfig(
            mask_token_id=self.special.mask_token_id,
            mc_num=self.settings.mc_num,
            batch_size=self.settings.mc_batch_size,
            logit_shift=family.logit_shift,
            slice_logits=family.supports_logits_to_keep,
            cfg_scale=self.settings.cfg_scale or 0.0,
            forward_tokens=self.settings.forward_tokens,
            pad_token_id=self.special.pad_token_id if self.special.pad_token_id is not None else 0,
            **likelihood_blocks(family, plan.info),
        )
        if self._elbo.block_size is not None and self._elbo.cfg_scale > 0:
            raise DllmError("model_args: cfg_scale is not supported with the block-diffusion bound of this "
                            "checkpoint; drop cfg_scale for its likelihood tasks.")
        self._warned: set[str] = set()
        self.speed: dict[str, TaskSpeed] = {}
        self._meter = TaskSpeed()

    # -- facts lm-eval reads ----------------------------------------------------------------
    @property
    def eot_token_id(self) -> int:
        if self.special.eos_token_id is None:
            raise DllmError(f"{self.settings.pretrained} has no EOS token, which lm-eval needs; set eos_token_id "
                            "in config.json or the tokenizer.")
        return self.special.eos_token_id

    @property
    def prefix_token_id(self) -> int:
        """Conditioning token of an empty context: BOS, else EOS."""
        bos = self.special.bos_token_id
        return bos if bos is not None else self.eot_token_id

    @property
    def max_length(self) -> int:
        return self.session.max_length

    @property
    def tokenizer_name(self) -> str:
        return str(self.tokenizer.name_or_path).replace("/", "__")

    def get_model_info(self) -> dict[str, Any]:
        """Recorded in the results' ``config``: the settings and each task's speed so far."""
        return {
            "dllm_family": self.family.name,
            "generator": self.session.generator.name,
            "generator_params": {**self.session.defaults, **self.settings.generator_params},
            "batch_size": self.settings.batch_size,
            "likelihood": {"mc_num": self.settings.mc_num, "mc_batch_size": self.settings.mc_batch_size,
                           "cfg_scale": self._elbo.cfg_scale, "greedy_check": self.settings.greedy_check,
                           "forward_tokens": self.settings.forward_tokens, "block_size": self._elbo.block_size},
            "max_length": self.max_length,
            "speed": {task: meter.summary() for task, meter in self.speed.items()},
        }

    def _by_task(self, requests: list[Instance], answer: Any) -> list[Any]:
        """``answer(part)`` on the requests of each task in turn, timed into :attr:`speed`; the
        answers in the order of ``requests``."""
        groups: dict[str, list[int]] = {}
        for index, request in enumerate(requests):
            groups.setdefault(str(request.task_name), []).append(index)
        results: list[Any] = [None] * len(requests)
        for task, indices in groups.items():
            self._meter = self.speed.setdefault(task, TaskSpeed())
            began = time.perf_counter()
            answers = answer([requests[i] for i in indices])
            self._meter.add(len(indices), time.perf_counter() - began, 0, 0)
            for i, value in zip(indices, answers):
                results[i] = value
        return results

    # -- text <-> tokens ---------------------------------------------------------------------
    def tok_encode(self, string: str, add_special_tokens: bool | None = None, **kwargs: Any) -> list[int]:
        """Token ids of ``string`` (:meth:`InferenceSession.encode`)."""
        return self.session.encode(string, add_special_tokens)

    def apply_chat_template(self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        return self.tokenizer.apply_chat_template(
            chat_history, tokenize=False, add_generation_prompt=add_generation_prompt,
            continue_final_message=not add_generation_prompt,
        )

    # -- likelihoods -------------------------------------------------------------------------
    def _fit(self, context: list[int], continuation: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Tensors of the request, the context cut on the left to fit ``max_length``."""
        if len(continuation) > self.max_length:
            raise DllmError(f"a continuation of {len(continuation)} tokens exceeds max_length={self.max_length}; "
                            "raise max_length in model_args.")
        room = self.max_length - len(continuation)
        context = context[len(context) - room:] if len(context) > room else context
        return (torch.tensor(context, dtype=torch.long, device=self.device),
                torch.tensor(continuation, dtype=torch.long, device=self.device))

    def _score_request(self, context: list[int], continuation: list[int]) -> ScoreRequest:
        """The request's tensors, its masks seeded from the request itself."""
        generator = torch.Generator().manual_seed(content_seed(self.settings.seed, context, continuation))
        return ScoreRequest(*self._fit(context, continuation), generator=generator)

    def _log_likelihoods(self, pairs: list[tuple[list[int], list[int]]], greedy_check: str
                         ) -> tuple[list[float], list[bool]]:
        """Packed ELBOs and greedy flags of ``(context, continuation)`` pairs; an empty
        continuation has log-likelihood 0 and is greedy."""
        scored = [index for index, (_, continuation) in enumerate(pairs) if continuation]
        requests = [self._score_request(*pairs[index]) for index in scored]
        values = score_requests(self.model, requests, self._elbo)
        greedy = greedy_checks(self.model, requests, self._elbo, greedy_check)
        self._meter.add(0, 0.0, values.forwards + greedy.forwards, sum(len(r.continuation) for r in requests))
        likelihoods, flags = [0.0] * len(pairs), [True] * len(pairs)
        for index, value, flag in zip(scored, values.values, greedy.values):
            likelihoods[index], flags[index] = -value, flag
        return likelihoods, flags

    def loglikelihood(self, requests: list[Instance], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        return self._by_task(requests, lambda part: super(DiffusionLM, self).loglikelihood(part, disable_tqdm))

    def _loglikelihood_tokens(self, requests: list[tuple[tuple[str, str], list[int], list[int]]],
                              disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        self._check_likelihood()
        results: list[tuple[float, bool]] = []
        chunk = 256  # requests packed together (their draws are drawn up front)
        for first in tqdm(range(0, len(requests), chunk), disable=disable_tqdm or self.rank != 0,
                          desc="loglikelihood"):
            part = requests[first:first + chunk]
            likelihoods, flags = self._log_likelihoods([(context, continuation) for _, context, continuation in part],
                                                       self.settings.greedy_check)
            for (pair, _, _), result in zip(part, zip(likelihoods, flags)):
                self.cache_hook.add_partial("loglikelihood", pair, result)
                results.append(result)
        return results

    def loglikelihood_rolling(self, requests: list[Instance], disable_tqdm: bool = False) -> list[float]:
        self._check_likelihood()
        return self._by_task(requests, self._rolling)

    def _rolling(self, requests: list[Instance]) -> list[float]:
        results = []
        for (text,) in [request.args for request in requests]:
            tokens = self.tok_encode(text, add_special_tokens=False)
            windows = get_rolling_token_windows(tokens, self.prefix_token_id, self.max_length - 1, context_len=1)
            likelihoods, _ = self._log_likelihoods([make_disjoint_window(window) for window in windows], "off")
            total = sum(likelihoods)
            self.cache_hook.add_partial("loglikelihood_rolling", (text,), total)
            results.append(total)
        return results

    def _check_likelihood(self) -> None:
        if not self.family.masked_likelihood:
            raise DllmError(f"{self.family.name} models give no masked-diffusion likelihood bound, so "
                            "log-likelihood tasks cannot score them; evaluate generation tasks "
                            "(output_type generate_until) instead.")

    # -- generation --------------------------------------------------------------------------
    def generate_until(self, requests: list[Instance], disable_tqdm: bool = False) -> list[str]:
        progress = tqdm(total=len(requests), disable=disable_tqdm or self.rank != 0, desc="generate_until")
        results = self._by_task(requests, lambda part: self._generate(part, progress))
        progress.close()
        return results

    def _generate(self, requests: list[Instance], progress: Any) -> list[str]:
        """Answers of one task's requests, grouped by ``gen_kwargs`` and batched by the session."""
        groups: dict[str, list[int]] = {}
        for index, request in enumerate(requests):
            groups.setdefault(json.dumps(request.args[1], sort_keys=True, default=str), []).append(index)
        results: list[str] = [""] * len(requests)
        session = self.session
        for indices in groups.values():
            plan = plan_generation(session.generator, session.defaults, self.settings.generator_params,
                                   requests[indices[0]].args[1])
            self._warn_ignored(plan.ignored)
            params = session.params(values=plan.params)
            prompts = [self.tok_encode(requests[i].args[0]) for i in indices]
            completions = session.generate(prompts, params, seed=self.settings.seed,
                                           batch_size=self.settings.batch_size, cut_prompts=True)
            batches = {id(completion.generation): completion.nfe for completion in completions}
            generated = 0
            for i, completion in zip(indices, completions):
                kept = completion.token_ids[:plan.max_new_tokens]
                generated += len(kept)
                results[i] = cut_at_stop_strings(session.decode(kept), plan.until)
                self.cache_hook.add_partial("generate_until", requests[i].args, results[i])
            self._meter.add(0, 0.0, sum(batches.values()), generated,
                            request_forwards=sum(completion.nfe for completion in completions))
            progress.update(len(indices))
        return results

    def _warn_ignored(self, keys: tuple[str, ...]) -> None:
        for key in keys:
            if key not in self._warned:
                self._warned.add(key)
                logger.warning("generator '%s' has no parameter '%s'; ignoring that generation setting",
                               self.session.generator.name, key)

    # -- several processes -------------------------------------------------------------------
    def all_gather(self, tensor: torch.Tensor) -> torch.Tensor:
        return all_gather(tensor, self.world_size)

    def gather_object(self, obj: Any, dst: int = 0) -> list[Any] | None:
        return gather_object(obj, self.rank, self.world_size, dst)

    def barrier(self) -> None:
        barrier(self.world_size)


def likelihood_blocks(family: Any, info: Any) -> dict[str, Any]:
    """``ElboConfig``'s block settings for a checkpoint: ``{"block_size": None}`` (the masked-
    diffusion bound) unless it was trained with an objective that has blocks, then its
    ``block_size`` and ``answer_starts_block`` (``dllm.json``'s objective, else the family's
    default objective, its ``objective_defaults``, then the objective's own defaults)."""
    objective = dict(info.objective) if info is not None and info.objective else {"name": family.default_objective}
    objective_class = get_registry().objectives.get(objective.get("name", family.default_objective))
    fields = {field.name: field for field in dataclasses.fields(objective_class.config_class)}
    if "block_size" not in fields:
        return {"block_size": None}
    if family.logit_shift:
        raise DllmError(f"{family.name} models shift their logits, which the block-diffusion bound does not "
                        "support; evaluate generation tasks only, or retrain with the masked-diffusion objective")
    defaults = family.objective_defaults.get(objective_class.name, {})
    settings = {}
    for key in ("block_size", "answer_starts_block"):
        if key in fields:
            settings[key] = objective.get(key, defaults.get(key, fields[key].default))
    settings["block_size"] = int(settings["block_size"])
    return settings
