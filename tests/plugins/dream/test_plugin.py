"""The dllm-dream plugin passes the registry-level conformance suite plugin authors use."""

from dllm_core.testing.plugins import PluginConformanceTests


class TestPluginConformance(PluginConformanceTests):
    plugin_name = "dream"


def test_dream_declares_the_one_position_logit_shift():
    from dllm_core.registry import get_registry

    dream = get_registry().families.for_model_type("Dream")
    assert dream.name == "dream" and dream.logit_shift
