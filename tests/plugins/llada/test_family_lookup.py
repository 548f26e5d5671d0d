"""The generation engine finds installed families by model_type or by name."""

import types

from dllm_core.generation.capabilities import family_of


def test_family_of_finds_installed_families_by_model_type_and_name():
    llada = types.SimpleNamespace(config=types.SimpleNamespace(model_type="llada"))
    assert family_of(llada).name == "llada" and family_of(llada, "dream").name == "dream"
