"""Registry-level conformance checks that a plugin's own tests subclass.

Example (in a plugin's ``tests/test_plugin.py``)::

    from dllm_core.testing.plugins import PluginConformanceTests

    class TestMyPlugin(PluginConformanceTests):
        plugin_name = "my-plugin"          # the entry-point name in the ``dllm`` group

The checks: the plugin is installed and loads with status ``ok``; it registers something;
every registered target imports; every family is well formed; importing the plugin module
imports neither torch nor transformers (so ``dllm plugins`` stays fast).
"""

from __future__ import annotations

import subprocess
import sys
from typing import ClassVar

from dllm_core.family import ModelFamily
from dllm_core.registry import PluginInfo, get_registry, load_reference


class PluginConformanceTests:
    """Subclass with ``plugin_name`` set; pytest collects the ``test_*`` methods."""

    plugin_name: ClassVar[str] = ""

    def _info(self) -> PluginInfo:
        assert self.plugin_name, "set plugin_name to the plugin's entry-point name"
        return get_registry().plugin(self.plugin_name)

    def test_plugin_loads(self) -> None:
        info = self._info()
        assert info.status == "ok", f"{info.describe()} did not load: {info.error}"

    def test_plugin_registers_something(self) -> None:
        assert any(self._info().registered.values()), "the plugin registered nothing"

    def test_registered_targets_import(self) -> None:
        host = get_registry()
        for kind, names in self._info().registered.items():
            for name in names:
                target = host.registries[kind].get(name)
                assert target is not None, f"{kind} '{name}' resolved to None"

    def test_families_are_well_formed(self) -> None:
        host = get_registry()
        for name in self._info().registered.get("families", []):
            family = host.families.get(name)
            assert isinstance(family, ModelFamily)
            assert family.model_types, f"family '{name}' claims no Hugging Face model_type"
            for reference in (family.config_class, family.model_class, family.register_auto):
                if reference is not None:
                    assert load_reference(reference) is not None

    def test_plugin_import_is_light(self) -> None:
        module = self._info().module
        code = (
            f"import sys, importlib; importlib.import_module({module!r}); "
            "heavy = [m for m in ('torch', 'transformers') if m in sys.modules]; "
            "assert not heavy, heavy"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert result.returncode == 0, f"importing {module} pulled in heavy modules: {result.stderr[-500:]}"
