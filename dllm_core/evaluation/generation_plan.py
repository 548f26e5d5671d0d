"""From lm-eval's per-request ``gen_kwargs`` to the keyword arguments of ``generate``.

Precedence, highest first: generator parameters given in ``--model_args`` (an explicit choice
for the whole run), then the request's ``gen_kwargs`` (the task's, or ``--gen_kwargs``), then the
session's defaults (``dllm.json``, ``generation_config.json``, the family).

``gen_kwargs`` keys:

* ``until``: stop strings; the answer is cut before the first one (:func:`cut_at_stop_strings`).
* ``max_gen_toks``: the generation length. It sets the generator's length parameter (the one
  its ``roles`` name: ``gen_length``, ``max_new_tokens``, ...); when it has a block parameter
  the block shrinks to the length if longer and the length rounds up to a whole
  number of blocks, and ``steps`` keeps the defaults' steps per token, rounded up to a multiple of
  the number of blocks. The decoded answer keeps at most ``max_gen_toks`` tokens.
* ``do_sample: false``: temperature 0 (greedy choice of tokens).
* any other key the generator accepts (``temperature``, ``top_p``, ``steps``, ``alg``, ...) is
  passed through; keys it does not accept are reported back as ignored.

Pure Python.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from dllm_core.generation.contract import Generator


@dataclass(frozen=True)
class GenerationPlan:
    """How to run and post-process one group of requests sharing their ``gen_kwargs``.

    Attributes:
        params: the generator's parameter values (before the session fills the mask id).
        until: stop strings; the answer ends before the first one.
        max_new_tokens: most generated tokens kept in the answer (``None``: all).
        ignored: ``gen_kwargs`` keys the generator does not accept.
    """

    params: dict[str, Any]
    until: tuple[str, ...] = ()
    max_new_tokens: int | None = None
    ignored: tuple[str, ...] = ()


def _fit_length(params: dict[str, Any], generator: Generator, explicit: frozenset[str], tokens: int) -> None:
    """Set the length parameter to hold ``tokens`` (see the module doc), in place."""
    length_name, block_name, steps_name = generator.roles.length, generator.roles.block, generator.roles.steps
    base_length = params.get(length_name)
    base_steps = params.get(steps_name) if steps_name else None
    block = params.get(block_name) if block_name else None
    length = tokens
    if block:
        if block_name not in explicit:
            block = min(block, tokens)
            params[block_name] = block
        length = math.ceil(tokens / block) * block
    params[length_name] = length
    if steps_name is None or steps_name in explicit or not base_steps or not base_length:
        return
    steps = math.ceil(base_steps * length / base_length)
    if block:
        blocks = length // block
        steps = math.ceil(steps / blocks) * blocks
    params[steps_name] = max(steps, 1)


def plan_generation(generator: Generator, defaults: Mapping[str, Any], overrides: Mapping[str, Any],
                    gen_kwargs: Mapping[str, Any]) -> GenerationPlan:
    """The :class:`GenerationPlan` for requests with ``gen_kwargs``.

    Args:
        generator: the generator (its parameter names and roles).
        defaults: its default settings (the session's).
        overrides: generator parameters given in ``--model_args``.
        gen_kwargs: the request's generation keyword arguments.
    """
    accepted = set(generator.parameter_names())
    params = {**defaults, **overrides}
    explicit = frozenset(overrides)
    request = dict(gen_kwargs)
    until = request.pop("until", None) or ()
    until = (until,) if isinstance(until, str) else tuple(until)
    max_gen_toks = request.pop("max_gen_toks", None)
    if request.pop("do_sample", None) is False:
        request["temperature"] = 0.0
    ignored = []
    for key, value in request.items():
        if key not in accepted:
            ignored.append(key)
        elif key not in explicit:
            params[key] = value
    length_name = generator.roles.length
    if max_gen_toks is not None and length_name is not None and length_name not in explicit:
        _fit_length(params, generator, explicit, int(max_gen_toks))
    max_new_tokens = None if max_gen_toks is None else int(max_gen_toks)
    return GenerationPlan(params, until, max_new_tokens, tuple(ignored))


def cut_at_stop_strings(text: str, until: tuple[str, ...]) -> str:
    """``text`` up to the earliest occurrence of any stop string (empty strings never stop)."""
    cuts = [index for index in (text.find(stop) for stop in until if stop) if index >= 0]
    return text[: min(cuts)] if cuts else text
