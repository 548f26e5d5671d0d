"""The dllm-editflow plugin passes the registry-level conformance suite plugin authors use."""

from dllm_core.testing.plugins import PluginConformanceTests


class TestPluginConformance(PluginConformanceTests):
    plugin_name = "editflow"
