"""Whether a job's answer can depend on the other rows of its batch.

The engine draws its random numbers over the whole batch (``[B, L, V]`` Gumbel noise, ``[B, L]``
random orders, ...) from one seeded ``torch.Generator``, laid out as the reference samplers draw
them, and :class:`~dllm_core.session.InferenceSession` seeds a batch with
``content_seed(seed, *prompts)``. A sampled answer therefore depends on which rows share its batch,
so the server batches together only jobs that draw no random number at all (greedy tokens,
deterministic commit order); each of those gives, row by row, the answer it gets alone. Every
other job runs as its own batch, seeded exactly as ``dllm sample`` seeds the same prompts.

Only the core's own generators (registered by the ``core`` entry point: the engine's presets)
are known; a plugin's generator is assumed to draw random numbers (never batched with others):
correct answers first, throughput second.
"""

from __future__ import annotations

from typing import Any

from dllm_core.registry import get_registry

#: the registering plugin of the core's own generators
CORE = "core"


def draws_random_numbers(generator_name: str, params: Any) -> bool:
    """True when a run of ``generator_name`` with ``params`` may draw a random number.

    Random draws of the core's presets: token sampling (``temperature > 0``), sampled commit
    positions (``alg_temp > 0``), random commit order (``remasking="random"``) and
    ``alg="origin"`` (each mask revealed with probability ``1 - s/t``).
    """
    entries = {entry.name: entry for entry in get_registry().generators}
    entry = entries.get(generator_name)
    if entry is None or entry.plugin != CORE:
        return True
    if (getattr(params, "temperature", 0) or 0) > 0 or (getattr(params, "alg_temp", 0) or 0) > 0:
        return True
    return getattr(params, "remasking", None) == "random" or getattr(params, "alg", None) == "origin"
