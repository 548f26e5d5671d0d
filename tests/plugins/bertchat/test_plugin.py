"""The dllm-bertchat plugin passes the registry-level conformance suite plugin authors use."""

from dllm_core.testing.plugins import PluginConformanceTests


class TestPluginConformance(PluginConformanceTests):
    plugin_name = "bertchat"


def test_claims_the_bert_style_model_types():
    from dllm_core.registry import get_registry

    families = get_registry().families
    for model_type in ("modernbert", "bert", "roberta", "distilbert"):
        assert families.for_model_type(model_type).name == "bertchat"
