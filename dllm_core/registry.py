"""Entry-point discovery, the pluggy manager and the typed lazy registries.

Plugins are modules named by entry points in the ``dllm`` group. They are scanned once per
process (:func:`get_registry`) and each is loaded in isolation:

* ``DLLM_PLUGINS=a,b`` limits loading to those plugins (entry-point or distribution names),
  applied before anything is imported; the core's built-ins always load;
* plugins load in a fixed order: the core's built-ins, then the others by when their
  distribution was installed (oldest first; the bundled families are installed with the core),
  then by name, so a clash resolves the same way on every run;
* a plugin whose distribution requires another ``dllm-core`` version (read from its metadata
  before import), that fails to import, whose hooks raise, that registers a name already
  taken, or a family claiming a ``model_type`` another family claims, is reported (both
  plugins and versions, and the reason) and skipped: none of its registrations land, and the
  earlier plugin keeps the name (``DLLM_PLUGINS`` selects the other instead);
* ``DLLM_STRICT_PLUGINS=1`` turns those reports into :class:`PluginError`.

Registries hold lazy ``"module:Name"`` references and import them on first :meth:`get`.
This module imports neither torch nor transformers.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable, Iterable, Iterator

__all__ = [
    "DllmError", "Entry", "PluginError", "PluginHost", "PluginInfo", "Registry", "UnknownNameError",
    "did_you_mean", "get_registry", "load_reference", "reset_registry", "unknown_name_error",
]

import pluggy

from dllm_core import __version__, hookspecs
from dllm_core.errors import DllmError, PluginError, UnknownNameError, did_you_mean, unknown_name_error
from dllm_core.family import ModelFamily

ENTRY_POINT_GROUP = "dllm"
CORE_DISTRIBUTION = "dllm-core"
CORE_PLUGIN = "core"

#: registry kind -> the registration hook that fills it
REGISTRATION_HOOKS: dict[str, str] = {
    "families": "dllm_register_families",
    "schedules": "dllm_register_schedules",
    "objectives": "dllm_register_objectives",
    "generators": "dllm_register_generators",
    "engine_parts": "dllm_register_engine_parts",
    "tasks": "dllm_register_tasks",
    "suites": "dllm_register_suites",
    "rewards": "dllm_register_rewards",
    "commands": "dllm_register_commands",
}


def load_reference(reference: str) -> Any:
    """Import ``"package.module:Attr.sub"`` (or a whole ``"package.module"``) and return it."""
    module_name, _, attr_path = reference.partition(":")
    if not module_name:
        raise DllmError(f"bad reference '{reference}': expected 'package.module:Name'.")
    obj: Any = importlib.import_module(module_name)
    for part in attr_path.split(".") if attr_path else ():
        obj = getattr(obj, part)
    return obj


@dataclass
class Entry:
    """One registered name: where it comes from and what it points to."""

    kind: str
    name: str
    target: Any  # a "module:Name" string (lazy) or the object itself
    plugin: str
    metadata: dict[str, Any] = field(default_factory=dict)
    _resolved: Any = None
    _is_resolved: bool = False

    def resolve(self) -> Any:
        """Import the target on first use and cache it."""
        if not self._is_resolved:
            target = self.target
            self._resolved = load_reference(target) if isinstance(target, str) else target
            self._is_resolved = True
        return self._resolved


class Registry:
    """The entries of one kind (families, schedules, ...), keyed by name."""

    def __init__(self, kind: str, failed: Callable[[], list["PluginInfo"]] = list) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}
        self._failed = failed

    @property
    def singular(self) -> str:
        return {"families": "family"}.get(self.kind, self.kind.rstrip("s"))

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries[name] for name in self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def entry(self, name: str) -> Entry:
        """The entry for ``name``; unknown names raise with a "did you mean" suggestion."""
        try:
            return self._entries[name]
        except KeyError:
            raise unknown_name_error(self.singular, name, self._entries, self._hint()) from None

    def _hint(self) -> str:
        failed = "; ".join(f"{p.describe()}: {p.error}" for p in self._failed())
        hint = "Run `dllm plugins` to see what each installed plugin registers."
        return f"{hint} Plugins that failed to load: {failed}." if failed else hint

    def get(self, name: str) -> Any:
        """The registered object for ``name`` (imported on first use)."""
        return self.entry(name).resolve()

    def _add(self, entry: Entry) -> None:
        self._entries[entry.name] = entry


class FamilyRegistry(Registry):
    """Families, with lookup by Hugging Face ``model_type``."""

    def get(self, name: str) -> ModelFamily:
        return super().get(name)

    def for_model_type(self, model_type: str) -> ModelFamily:
        """The family claiming ``config.model_type == model_type`` (case-insensitive)."""
        wanted = model_type.lower()
        for entry in self:
            family: ModelFamily = entry.resolve()
            if wanted in (t.lower() for t in family.model_types):
                return family
        claimed = [t for entry in self for t in entry.resolve().model_types]
        raise unknown_name_error(
            "model_type", model_type, claimed,
            "Install the plugin that provides this model family (usually named dllm-<family>). " + self._hint(),
        )


class GeneratorRegistry(Registry):
    """Generators: every entry must be a :class:`~dllm_core.generation.contract.Generator`.

    Lazy references are checked when first resolved, objects when registered; anything else
    (an engine part, a function) is refused with the plugin that registered it named.
    """

    def get(self, name: str) -> Any:
        entry = self.entry(name)
        return check_generator(entry.resolve(), name, entry.plugin)


def check_generator(obj: Any, name: str, plugin: str) -> Any:
    """``obj`` when it is a ``Generator``; else a :class:`PluginError` naming ``plugin``."""
    from dllm_core.generation.contract import Generator

    if not isinstance(obj, Generator):
        raise PluginError(
            f"generator '{name}' of plugin '{plugin}' is a {type(obj).__name__}, not a "
            "dllm_core.api.Generator; register parts of generators with dllm_register_engine_parts"
        )
    return obj


@dataclass
class PluginInfo:
    """What ``dllm plugins`` reports for one plugin."""

    name: str
    distribution: str | None
    version: str | None
    module: str
    status: str = "ok"  # "ok" | "error"
    error: str | None = None
    registered: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "status": self.status,
            "error": self.error,
            "registered": self.registered,
        }

    def describe(self) -> str:
        """``plugin 'x' (dist 1.0)`` for messages."""
        origin = f"{self.distribution} {self.version}" if self.distribution else "no distribution"
        return f"plugin '{self.name}' ({origin})"


#: registry kinds whose entries need more than name lookup
REGISTRY_CLASSES: dict[str, type[Registry]] = {"families": FamilyRegistry, "generators": GeneratorRegistry}


class _Staging:
    """Collects one plugin's registrations so that a failing plugin lands nothing."""

    def __init__(self, host: "PluginHost", plugin: str, info: PluginInfo | None = None) -> None:
        self.host = host
        self.plugin = plugin
        self.info = info  # the plugin's own origin, for messages
        self.entries: list[Entry] = []

    def register_callback(self, kind: str) -> Callable[..., None]:
        def register(name: Any, target: Any = None, **meta: Any) -> None:
            if kind == "families":
                family = name if isinstance(name, ModelFamily) else target
                if not isinstance(family, ModelFamily):
                    raise TypeError("register() for families takes a dllm_core.family.ModelFamily")
                name, target, meta = family.name, family, {**family.metadata(), **meta}
                self._check_model_types(family)
            if not isinstance(name, str) or not name:
                raise TypeError(f"{kind} names must be non-empty strings, got {name!r}")
            if target is None:
                raise TypeError(f"register({name!r}) needs a target ('module:Name' or an object)")
            self._check_free(kind, name)
            if kind == "generators" and not isinstance(target, str):
                check_generator(target, name, self.plugin)
            self.entries.append(Entry(kind, name, target, self.plugin, dict(meta)))

        return register

    def _check_free(self, kind: str, name: str) -> None:
        registry = self.host.registries[kind]
        taken_by = registry._entries[name].plugin if name in registry else None
        if taken_by is None and any(e.kind == kind and e.name == name for e in self.entries):
            taken_by = self.plugin
        if taken_by is not None:
            raise PluginError(
                f"{self.singular(kind)} name '{name}' is already registered by plugin "
                f"'{taken_by}'{self._origin(taken_by)}; plugin '{self.plugin}' registers it again"
                f"{self._origin(self.plugin)}{self._choice()}"
            )

    def _check_model_types(self, family: ModelFamily) -> None:
        """A ``model_type`` belongs to one family: the one registered first keeps it."""
        claimed = {t.lower() for t in family.model_types}
        earlier = [(entry.resolve(), entry.plugin) for entry in self.host.families]
        earlier += [(entry.target, self.plugin) for entry in self.entries if entry.kind == "families"]
        for other, plugin in earlier:
            shared = sorted(claimed & {t.lower() for t in other.model_types})
            if shared and other.name != family.name:
                raise PluginError(
                    f"family '{family.name}' of plugin '{self.plugin}'{self._origin(self.plugin)} claims "
                    f"model_type '{shared[0]}', which family '{other.name}' of plugin '{plugin}'"
                    f"{self._origin(plugin)} already claims{self._choice()}"
                )

    def _origin(self, plugin: str) -> str:
        """`` (dist version)`` of a loaded plugin, for messages."""
        infos = [self.info] if plugin == self.plugin else [p for p in self.host.plugins if p.name == plugin]
        info = infos[0] if infos else None
        return f" ({info.distribution} {info.version})" if info is not None and info.distribution else ""

    def _choice(self) -> str:
        return (f"; plugin '{self.plugin}' is skipped. Uninstall one of them, or set DLLM_PLUGINS="
                f"{self.plugin} to use it instead")

    @staticmethod
    def singular(kind: str) -> str:
        return {"families": "family"}.get(kind, kind.rstrip("s"))


class CommandRegistrar:
    """The object passed to ``dllm_register_commands``: ``cli.add(name, target, help=...)``."""

    def __init__(self, register: Callable[..., None]) -> None:
        self._register = register

    def add(self, name: str, target: str, help: str = "") -> None:
        self._register(name, target, help=help)


def _strict() -> bool:
    return os.environ.get("DLLM_STRICT_PLUGINS", "").strip().lower() in {"1", "true", "yes", "on"}


def _selected_plugins() -> set[str] | None:
    raw = os.environ.get("DLLM_PLUGINS")
    if raw is None or not raw.strip():
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _distribution_of(ep: metadata.EntryPoint) -> tuple[str | None, str | None, Any]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None, None
    return dist.metadata["Name"], dist.version, dist


def plugin_raised(plugin: str, where: str, exc: BaseException) -> PluginError:
    """The one-line error for plugin ``plugin`` raising ``exc`` in ``where`` (a hook, a callback)."""
    return PluginError(f"plugin '{plugin}' raised in {where}: {type(exc).__name__}: {exc}. Fix or uninstall "
                       "the plugin, or leave it out with DLLM_PLUGINS (the plugins to load, comma-separated)")


def _installed_at(ep: metadata.EntryPoint) -> float:
    """When the entry point's distribution was installed (its ``METADATA``'s mtime; +inf unknown)."""
    dist = getattr(ep, "dist", None)
    for file in (dist.files or []) if dist is not None else []:
        if file.name == "METADATA" and file.parent.name.endswith(".dist-info"):
            try:
                return os.stat(dist.locate_file(file)).st_mtime
            except OSError:
                break
    return float("inf")


def _core_requirement_problem(dist: Any) -> str | None:
    """Why ``dist`` cannot run with this ``dllm-core`` (``None`` when it can)."""
    if dist is None:
        return None
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    for line in dist.requires or []:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if canonicalize_name(requirement.name) != CORE_DISTRIBUTION:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        if requirement.specifier and not requirement.specifier.contains(__version__, prereleases=True):
            return (
                f"requires dllm-core{requirement.specifier} but dllm-core {__version__} is "
                f"installed; install a matching version of either package"
            )
    return None


class PluginHost:
    """Loads plugins into a pluggy manager and fills one registry per kind."""

    def __init__(self) -> None:
        self.manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.manager.add_hookspecs(hookspecs)
        self.registries: dict[str, Registry] = {
            kind: REGISTRY_CLASSES.get(kind, Registry)(kind, self.failed_plugins)
            for kind in REGISTRATION_HOOKS
        }
        self.plugins: list[PluginInfo] = []
        self._modules: dict[str, Any] = {}

    # -- discovery -------------------------------------------------------------------------
    def load_entry_points(self, entry_points: Iterable[metadata.EntryPoint] | None = None) -> None:
        """Load every plugin of the ``dllm`` group (the core's built-ins first)."""
        if entry_points is None:
            entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)
        eps = list(entry_points)
        core_eps = [ep for ep in eps if ep.name == CORE_PLUGIN]
        others = sorted((ep for ep in eps if ep.name != CORE_PLUGIN), key=lambda ep: (_installed_at(ep), ep.name))
        if not core_eps:  # running from a source tree without installed metadata
            self.load_module(CORE_PLUGIN, "dllm_core.builtins", CORE_DISTRIBUTION, __version__)
        selected = _selected_plugins()
        if selected is not None:
            self._check_selection(selected, others)
        for ep in core_eps[:1] + others:
            name, version, dist = _distribution_of(ep)
            if selected is not None and ep.name != CORE_PLUGIN and not (
                ep.name in selected or (name and name in selected)
            ):
                continue  # not selected: never imported, never listed
            problem = _core_requirement_problem(dist)
            if problem is not None:
                self._fail(PluginInfo(ep.name, name, version, ep.value), problem)
                continue
            self.load_module(ep.name, ep.value, name, version)

    def _check_selection(self, selected: set[str], eps: list[metadata.EntryPoint]) -> None:
        known = {ep.name for ep in eps} | {_distribution_of(ep)[0] for ep in eps} | {CORE_PLUGIN}
        known.discard(None)
        for wanted in sorted(selected - known):
            raise unknown_name_error(
                "plugin", wanted, known,
                "Fix DLLM_PLUGINS or install the plugin (`dllm plugins` lists installed ones).",
            )

    # -- loading ---------------------------------------------------------------------------
    def load_module(self, plugin: str, module_name: str, distribution: str | None,
                    version: str | None) -> PluginInfo:
        """Import one plugin module, run its registration hooks, and land them atomically."""
        info = PluginInfo(plugin, distribution, version, module_name)
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # noqa: BLE001 - any import failure isolates the plugin
            return self._fail(info, f"import failed: {type(exc).__name__}: {exc}")
        try:
            self.manager.register(module, name=plugin)
        except Exception as exc:  # noqa: BLE001 - bad hook signatures, duplicate names
            return self._fail(info, f"invalid hooks: {type(exc).__name__}: {exc}")
        staging = _Staging(self, plugin, info)
        try:
            for kind, hook_name in REGISTRATION_HOOKS.items():
                for impl in getattr(self.manager.hook, hook_name).get_hookimpls():
                    if impl.plugin_name != plugin:
                        continue
                    register = staging.register_callback(kind)
                    argument = CommandRegistrar(register) if kind == "commands" else register
                    impl.function(argument)
        except Exception as exc:  # noqa: BLE001 - the plugin's own code failed
            self.manager.unregister(name=plugin)
            return self._fail(info, f"{type(exc).__name__}: {exc}")
        for entry in staging.entries:
            self.registries[entry.kind]._add(entry)
            info.registered.setdefault(entry.kind, []).append(entry.name)
        self._modules[plugin] = module
        self.plugins.append(info)
        return info

    def _fail(self, info: PluginInfo, reason: str) -> PluginInfo:
        info.status, info.error = "error", reason
        self.plugins.append(info)
        if _strict():
            raise PluginError(
                f"{info.describe()} failed to load: {reason}. "
                "Fix or uninstall the plugin, or unset DLLM_STRICT_PLUGINS to skip it."
            )
        return info

    # -- queries ---------------------------------------------------------------------------
    def failed_plugins(self) -> list[PluginInfo]:
        return [p for p in self.plugins if p.status == "error"]

    def plugin(self, name: str) -> PluginInfo:
        for info in self.plugins:
            if name in (info.name, info.distribution):
                return info
        raise unknown_name_error("plugin", name, [p.name for p in self.plugins],
                                 "Run `dllm plugins` to list installed plugins.")

    def trainer_callbacks(self, context: dict[str, Any]) -> list[tuple[str, Any]]:
        """``(plugin, callback)`` for every trainer callback the loaded plugins give; a hook that
        raises is one :class:`PluginError` naming its plugin."""
        callbacks: list[tuple[str, Any]] = []
        for impl in self.manager.hook.dllm_trainer_callbacks.get_hookimpls():
            try:
                result = impl.function(context=context)
            except Exception as exc:  # noqa: BLE001 - any failure of a plugin's hook is the plugin's
                raise plugin_raised(impl.plugin_name, "dllm_trainer_callbacks", exc) from exc
            callbacks.extend((impl.plugin_name, callback) for callback in result or ())
        return callbacks

    @property
    def families(self) -> FamilyRegistry:
        return self.registries["families"]  # type: ignore[return-value]

    @property
    def schedules(self) -> Registry:
        return self.registries["schedules"]

    @property
    def objectives(self) -> Registry:
        return self.registries["objectives"]

    @property
    def generators(self) -> GeneratorRegistry:
        return self.registries["generators"]  # type: ignore[return-value]

    @property
    def engine_parts(self) -> Registry:
        return self.registries["engine_parts"]

    @property
    def tasks(self) -> Registry:
        return self.registries["tasks"]

    @property
    def suites(self) -> Registry:
        return self.registries["suites"]

    @property
    def rewards(self) -> Registry:
        return self.registries["rewards"]

    @property
    def commands(self) -> Registry:
        return self.registries["commands"]


_HOST: PluginHost | None = None


def get_registry() -> PluginHost:
    """The process-wide plugin host; entry points are scanned on the first call only."""
    global _HOST
    if _HOST is None:
        host = PluginHost()
        host.load_entry_points()
        _HOST = host
    return _HOST


def reset_registry() -> None:
    """Forget the scanned plugins (tests; the next :func:`get_registry` scans again)."""
    global _HOST
    _HOST = None
