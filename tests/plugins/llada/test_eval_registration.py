"""lm-eval model registration of the installed families (needs the plugins: llada, dream, ...)."""

from __future__ import annotations

import pytest

from dllm_core.errors import DllmError


# -- lm-eval registration --------------------------------------------------------------------
def test_families_register_after_lm_evals_own_models():
    from lm_eval.api.registry import get_model

    from dllm_core.evaluation.lm_adapter import DiffusionLM
    from dllm_core.evaluation.registration import register_lm_eval_models

    names = register_lm_eval_models()
    assert {"llada", "dream", "bertchat", "editflow"} <= set(names)
    assert register_lm_eval_models() == names  # idempotent
    assert get_model("hf").__name__ == "HFLM"  # lm-eval's built-ins still resolve
    llada = get_model("llada")
    assert issubclass(llada, DiffusionLM) and llada.family_name == "llada"
    assert get_model("dream").family_name == "dream"


def test_lm_eval_name_clash_is_reported(monkeypatch):
    from lm_eval.api.registry import model_registry

    from dllm_core.evaluation import registration
    from dllm_core.evaluation.models import lm_eval_name

    def clashing_name(family):
        return "dummy" if family.name == "dream" else lm_eval_name(family)  # lm-eval's own "dummy" model

    monkeypatch.setattr(registration, "lm_eval_name", clashing_name)
    assert "dummy" in model_registry
    with pytest.raises(DllmError, match="lm-eval already has a model named 'dummy'"):
        registration.register_lm_eval_models()


def test_entry_point_targets_resolve_lazily():
    from dllm_core.evaluation import models

    assert models.llada is models.model_class("llada") and models.llada.__module__ == "dllm_core.evaluation.models"
    with pytest.raises(AttributeError, match="no installed dllm family"):
        models.no_such_family  # noqa: B018
