"""Plugins' trainer callbacks, each guarded so that a failure names the plugin that raised.

A third-party ``dllm_trainer_callbacks`` hook, or one of the callbacks it returns, that raises
mid-run would otherwise end ``dllm train`` in a traceback from inside the ``Trainer`` loop.
:class:`PluginCallback` forwards every ``on_*`` event of ``transformers.TrainerCallback`` to the
plugin's callback and turns an exception into one :class:`~dllm_core.errors.PluginError` line
naming the plugin, the event and the fix. Checkpoints already written stay where they are.
"""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback

from dllm_core.errors import PluginError
from dllm_core.registry import plugin_raised


class PluginCallback(TrainerCallback):
    """``callback`` of plugin ``plugin``, with its exceptions reported as the plugin's."""

    def __init__(self, plugin: str, callback: Any) -> None:
        self.plugin = plugin
        self.callback = callback

    def _forward(self, event: str, *args: Any, **kwargs: Any) -> Any:
        method = getattr(self.callback, event, None)
        if method is None:
            return None
        try:
            return method(*args, **kwargs)
        except PluginError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of third-party code is the plugin's
            raise plugin_raised(self.plugin, f"{type(self.callback).__name__}.{event}", exc) from exc


def _event(name: str) -> Any:
    def forward(self: PluginCallback, *args: Any, **kwargs: Any) -> Any:
        return self._forward(name, *args, **kwargs)

    forward.__name__ = name
    return forward


for _name in [name for name in vars(TrainerCallback) if name.startswith("on_")]:
    setattr(PluginCallback, _name, _event(_name))
