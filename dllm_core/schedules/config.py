"""The root of every schedule: a registry name and a JSON round trip of its parameters.

A schedule is a frozen dataclass whose fields are its parameters. Its config is
``{"name": <registry name>, **fields}``, e.g. ``{"name": "polynomial", "exponent": 2.0}``;
:func:`schedule_from_config` turns such a dict back into an object, finding the class through
the registry so that schedules from plugins round-trip too.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, ClassVar, Mapping, TypeVar

S = TypeVar("S", bound="Schedule")


class Schedule:
    """Registry name plus config/JSON round trip; subclasses are frozen dataclasses."""

    #: the name this class is registered under (``dllm list schedules``)
    name: ClassVar[str] = ""

    def to_config(self) -> dict[str, Any]:
        """``{"name": ..., **parameters}``, JSON-serialisable."""
        return {"name": self.name, **dataclasses.asdict(self)}  # type: ignore[call-overload]

    def to_json(self) -> str:
        """The config as a JSON string (keys sorted)."""
        return json.dumps(self.to_config(), sort_keys=True)

    @classmethod
    def from_config(cls: type[S], config: Mapping[str, Any]) -> S:
        """Rebuild from :meth:`to_config` output; a missing ``name`` means this class."""
        params = dict(config)
        name = params.pop("name", cls.name)
        if name != cls.name:
            raise ValueError(
                f"config names schedule '{name}' but {cls.__name__} is '{cls.name}'; "
                "use dllm_core.schedules.schedule_from_config to resolve any name"
            )
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {unknown} for schedule '{cls.name}'; known: {sorted(known)}"
            )
        return cls(**params)

    @classmethod
    def from_json(cls: type[S], text: str) -> S:
        """Rebuild from :meth:`to_json` output."""
        return cls.from_config(json.loads(text))


def schedule_from_config(config: Mapping[str, Any] | str) -> Schedule:
    """Build any registered schedule from its config dict (or its JSON string).

    The class is found through the registry by ``config["name"]``, so unknown names raise the
    registry's "did you mean" error.
    """
    if isinstance(config, str):
        config = json.loads(config)
    if "name" not in config:
        raise ValueError(f"a schedule config needs a 'name' key, got {dict(config)}")
    from dllm_core.registry import get_registry

    cls = get_registry().schedules.get(config["name"])
    return cls.from_config(config)
