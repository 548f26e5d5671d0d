"""``DiffusionLM``: the lm-eval model for every dllm family.

``lm_eval --model llada --model_args pretrained=PATH,mc_num=64,steps=256`` (or ``dllm eval
PATH``) builds one from ``--model_args`` (:mod:`dllm_core.evaluation.settings`):

* ``generate_until``: requests are grouped by their ``gen_kwargs``
  (:mod:`~dllm_core.evaluation.generation_plan`), sorted by prompt length and run
  ``batch_size`` at a time through :func:`dllm_core.generation.generate` with the checkpoint's
  generator preset (sampling seeded from the batch's prompts). Each answer is cut at the first
  EOS / end-of-turn token, capped at ``max_gen_toks`` tokens, decoded, and cut before the first
  ``until`` string.
* ``loglikelihood``: the Monte-Carlo ELBO and the greedy check
  (:mod:`~dllm_core.evaluation.loglikelihood`); the masks of a request are seeded from the
  request itself, so its score does not depend on batching or on which process ran it.
* ``loglikelihood_rolling``: the sum of the ELBOs of lm-eval's disjoint rolling windows, each
  window ``max_length`` tokens at most.
* chat templates: ``apply_chat_template`` renders with the tokenizer's template (the family's
  when the tokenizer has none); a prompt that already starts with the BOS text gets no second
  BOS.
* several processes (``accelerate launch``): rank and world size come from accelerate and
  lm-eval gives each process its shard.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import replace
from typing import Any, ClassVar

import torch
from lm_eval.api.instance import Instance
from lm_eval.api.model import TemplateLM
from lm_eval.utils import get_rolling_token_windows, make_disjoint_window
from tqdm import tqdm

from dllm_core.checkpoint import locate_checkpoint, resolve_family
from dllm_core.evaluation import distributed
from dllm_core.evaluation.distributed import ProcessInfo
from dllm_core.evaluation.generation_plan import GenerationPlan, cut_at_stop_strings, plan_generation
from dllm_core.evaluation.loading import load_for_evaluation
from dllm_core.evaluation.loglikelihood import ElboConfig, is_greedy, negative_elbo
from dllm_core.evaluation.models import lm_eval_name
from dllm_core.evaluation.settings import settings_from_model_args
from dllm_core.errors import DllmError
from dllm_core.sampling import ROW_LIST_PRESETS

logger = logging.getLogger(__name__)


def request_seed(seed: int, *token_lists: list[int]) -> int:
    """A 63-bit seed from the run seed and the tokens of a request (or of a batch of prompts)."""
    digest = hashlib.blake2b(json.dumps([seed, *token_lists]).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


class DiffusionLM(TemplateLM):
    """lm-eval ``LM`` over a dllm checkpoint of any family (see the module doc).

    Subclasses pinned to one family (``family_name``) are built by
    :mod:`dllm_core.evaluation.models`; they refuse checkpoints of another family.
    """

    family_name: ClassVar[str | None] = None

    def __init__(self, pretrained: str | None = None, **model_args: Any) -> None:
        super().__init__()
        settings = settings_from_model_args({"pretrained": pretrained, **model_args})
        self.settings = replace(settings, pretrained=locate_checkpoint(settings.pretrained))
        family = resolve_family(self.settings.pretrained)
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
        loaded = load_for_evaluation(self.settings, family, device)
        self.family, self.model, self.tokenizer = loaded.family, loaded.model, loaded.tokenizer
        self.special, self.generator_choice = loaded.special, loaded.generator
        self._max_length = loaded.max_length
        self._elbo = ElboConfig(
            mask_token_id=self.special.mask_token_id,
            mc_num=self.settings.mc_num,
            batch_size=self.settings.batch_size,
            logit_shift=family.logit_shift,
            slice_logits=family.supports_logits_to_keep,
        )
        self._warned: set[str] = set()

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
        return self._max_length

    @property
    def tokenizer_name(self) -> str:
        return str(self.tokenizer.name_or_path).replace("/", "__")

    def get_model_info(self) -> dict[str, Any]:
        """Recorded in the results' ``config``."""
        choice = self.generator_choice
        return {
            "dllm_family": self.family.name,
            "generator": choice.preset,
            "generator_params": {**choice.defaults, **choice.overrides},
            "mc_num": self.settings.mc_num,
            "max_length": self.max_length,
        }

    # -- text <-> tokens ---------------------------------------------------------------------
    def tok_encode(self, string: str, add_special_tokens: bool | None = None, **kwargs: Any) -> list[int]:
        """Token ids of ``string``; special tokens are added unless it already starts with BOS."""
        if add_special_tokens is None:
            bos = self.tokenizer.bos_token
            add_special_tokens = not (bos and string.startswith(bos))
        return self.tokenizer.encode(string, add_special_tokens=add_special_tokens)

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

    def _log_likelihood(self, context: list[int], continuation: list[int]) -> float:
        if not continuation:
            return 0.0
        generator = torch.Generator().manual_seed(request_seed(self.settings.seed, context, continuation))
        return -negative_elbo(self.model, *self._fit(context, continuation), self._elbo, generator)

    def _loglikelihood_tokens(self, requests: list[tuple[tuple[str, str], list[int], list[int]]],
                              disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        results = []
        for pair, context, continuation in tqdm(requests, disable=disable_tqdm or self.rank != 0,
                                                desc="loglikelihood"):
            greedy = not continuation or is_greedy(self.model, *self._fit(context, continuation), self._elbo)
            result = (self._log_likelihood(context, continuation), greedy)
            self.cache_hook.add_partial("loglikelihood", pair, result)
            results.append(result)
        return results

    def loglikelihood_rolling(self, requests: list[Instance], disable_tqdm: bool = False) -> list[float]:
        results = []
        for (text,) in tqdm([request.args for request in requests], disable=disable_tqdm or self.rank != 0,
                            desc="loglikelihood_rolling"):
            tokens = self.tok_encode(text, add_special_tokens=False)
            windows = get_rolling_token_windows(tokens, self.prefix_token_id, self.max_length - 1, context_len=1)
            total = sum(self._log_likelihood(*make_disjoint_window(window)) for window in windows)
            self.cache_hook.add_partial("loglikelihood_rolling", (text,), total)
            results.append(total)
        return results

    # -- generation --------------------------------------------------------------------------
    def generate_until(self, requests: list[Instance], disable_tqdm: bool = False) -> list[str]:
        groups: dict[str, list[int]] = {}
        for index, request in enumerate(requests):
            groups.setdefault(json.dumps(request.args[1], sort_keys=True, default=str), []).append(index)
        results: list[str] = [""] * len(requests)
        progress = tqdm(total=len(requests), disable=disable_tqdm or self.rank != 0, desc="generate_until")
        choice = self.generator_choice
        for indices in groups.values():
            plan = plan_generation(choice.accepted, choice.defaults, choice.overrides, requests[indices[0]].args[1])
            self._warn_ignored(plan.ignored)
            prompts = {i: self.tok_encode(requests[i].args[0]) for i in indices}
            ordered = sorted(indices, key=lambda i: -len(prompts[i]))
            for first in range(0, len(ordered), self.settings.batch_size):
                batch = ordered[first:first + self.settings.batch_size]
                for i, text in zip(batch, self._generate([prompts[i] for i in batch], plan)):
                    results[i] = text
                    self.cache_hook.add_partial("generate_until", requests[i].args, text)
                progress.update(len(batch))
        progress.close()
        return results

    def _warn_ignored(self, keys: tuple[str, ...]) -> None:
        for key in keys:
            if key not in self._warned:
                self._warned.add(key)
                logger.warning("generator '%s' has no parameter '%s'; ignoring that generation setting",
                               self.generator_choice.preset, key)

    def _generate(self, prompts: list[list[int]], plan: GenerationPlan) -> list[str]:
        """Answers to ``prompts`` (each cut on the left so prompt plus answer fit ``max_length``)."""
        from dllm_core.generation import generate

        room = max(self.max_length - (plan.length or 0), 1)
        prompts = [prompt[-room:] for prompt in prompts]
        preset = self.generator_choice.preset
        rows = preset in ROW_LIST_PRESETS  # a list of rows, each padded after its own prompt
        width = max(len(prompt) for prompt in prompts)
        if rows:
            input_ids: Any = [torch.tensor(prompt, device=self.device) for prompt in prompts]
            attention_mask = None
        else:
            pad = self.special.pad_token_id if self.special.pad_token_id is not None else self.eot_token_id
            input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=self.device)
            attention_mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts],
                                          device=self.device)
        eos = self.special.eos_token_id
        try:
            sampling = torch.Generator(device=self.device).manual_seed(request_seed(self.settings.seed, *prompts))
            output = generate(self.model, input_ids, preset=preset, attention_mask=attention_mask,
                              family=self.family, generator=sampling, stop_at_eos=eos is not None,
                              eos_token_id=eos, **plan.params)
        except ValueError as exc:
            raise DllmError(f"generator '{preset}' rejected its settings {plan.params}: {exc}") from None
        answers = []
        for row, prompt in zip(output.sequences.tolist(), prompts):
            start = len(prompt) if rows else width
            end = start + plan.length if plan.length is not None else len(row)
            answers.append(self._answer_text(row[start:end], plan))
        return answers

    def _answer_text(self, generated: list[int], plan: GenerationPlan) -> str:
        """Cut at the first stop token, cap at ``max_new_tokens``, decode, cut at stop strings."""
        stops = set(self.special.stop_token_ids())
        end = next((index for index, token in enumerate(generated) if token in stops), len(generated))
        if plan.max_new_tokens is not None:
            end = min(end, plan.max_new_tokens)
        text = self.tokenizer.decode(generated[:end], skip_special_tokens=True)
        return cut_at_stop_strings(text, plan.until)

    # -- several processes -------------------------------------------------------------------
    def all_gather(self, tensor: torch.Tensor) -> torch.Tensor:
        return distributed.all_gather(tensor, self.world_size)

    def gather_object(self, obj: Any, dst: int = 0) -> list[Any] | None:
        return distributed.gather_object(obj, self.rank, self.world_size, dst)

    def barrier(self) -> None:
        distributed.barrier(self.world_size)
