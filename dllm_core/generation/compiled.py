"""``torch.compile`` of a model's denoising step, compiled once per model and setting.

The generation option ``compile`` names either a ``torch.compile`` mode (``"default"``,
``"reduce-overhead"``: CUDA graphs, ``"max-autotune"``, ``"max-autotune-no-cudagraphs"``; the
inductor backend) or a backend (``"inductor"``, ``"aot_eager"``, ``"eager"``, ``"cudagraphs"``;
its default mode). The model is compiled with ``dynamic=False``: every distinct input shape
gets its own graph, which is why the loop only sends it calls of fixed shapes (static shapes,
see :mod:`dllm_core.generation.runner`).

The compiled function is kept beside the model in a weak-keyed table, never installed on it:
``model(...)`` and ``model.forward`` stay the eager ones for training, evaluation and every
other caller. It reaches the model through a weak reference, so the table does not keep the
model (nor its graphs) alive. Dynamo keeps one graph per input shape and per model, up to
:data:`RECOMPILE_LIMIT` (the prefix cache has one shape per block, times the batch sizes).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, Callable

#: ``torch.compile`` modes (the inductor backend)
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
#: graphs Dynamo may keep for the step (its default, 8, is less than a prefix cache's blocks)
RECOMPILE_LIMIT = 64

_COMPILED: weakref.WeakKeyDictionary[Any, dict[CompileSetting, Callable[..., Any]]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class CompileSetting:
    """``torch.compile(model, backend=backend, mode=mode, dynamic=False)``."""

    backend: str = "inductor"
    mode: str | None = None

    @property
    def cuda_graphs(self) -> bool:
        """Whether the compiled calls replay CUDA graphs."""
        return self.mode == "reduce-overhead" or self.backend == "cudagraphs"

    @classmethod
    def parse(cls, value: str) -> CompileSetting:
        """A mode name -> that mode on inductor; a backend name -> that backend; else an error
        listing both."""
        if value in COMPILE_MODES:
            return cls("inductor", value)
        import torch._dynamo

        backends = torch._dynamo.list_backends(exclude_tags=())
        if value in backends:
            return cls(value, None)
        raise ValueError(f"compile={value!r} is neither a torch.compile mode ({', '.join(COMPILE_MODES)}) "
                         f"nor a backend ({', '.join(sorted(backends))})")


def compiled_model(model: Any, setting: CompileSetting) -> Callable[..., Any]:
    """``model``'s compiled call for ``setting``: made on the first call, the same one after."""
    per_model = _COMPILED.setdefault(model, {})
    if setting not in per_model:
        per_model[setting] = _compile(weakref.ref(model), setting)
    return per_model[setting]


def _compile(model: weakref.ref, setting: CompileSetting) -> Callable[..., Any]:
    import torch

    def call(*args: Any, **kwargs: Any) -> Any:
        return model()(*args, **kwargs)

    compiled = torch.compile(call, backend=setting.backend, mode=setting.mode, dynamic=False)

    def step(*args: Any, **kwargs: Any) -> Any:
        if setting.cuda_graphs:  # each call's outputs are used up before the next call
            torch.compiler.cudagraph_mark_step_begin()
        with torch._dynamo.config.patch(recompile_limit=RECOMPILE_LIMIT):
            return compiled(*args, **kwargs)

    return step
