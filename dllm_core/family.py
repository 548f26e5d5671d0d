"""The ``ModelFamily`` description a plugin registers for each model family.

A family tells the core everything it needs to train, sample and evaluate a model without
importing the plugin's model code up front: the Hugging Face ``model_type``s it claims, where
its config/model classes live (lazy ``"module:Name"`` references), its special tokens, whether
its logits are shifted by one position (Dream), which generation-engine features its models
support, its size presets and its default objective and generator settings.

This module imports neither torch nor transformers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class ModelFamily:
    """One model family (e.g. ``llada``).

    Attributes:
        name: registry name of the family (``dllm train --family NAME``).
        description: one line shown by ``dllm plugins``.
        model_types: Hugging Face ``config.model_type`` values this family loads.
        config_class: lazy ``"module:Name"`` of the transformers ``PretrainedConfig`` subclass,
            or ``None`` when transformers' own classes are used.
        model_class: lazy ``"module:Name"`` of the masked-LM model class, or ``None``.
        register_auto: lazy ``"module:function"`` that registers the config/model classes with
            transformers' ``AutoConfig``/``AutoModel*`` (called before the first load), or ``None``.
        special_tokens: the family's special token strings by role (``mask``, ``eos``, ``eot``
            for end of turn, ``bos``, ``pad``), used when a checkpoint's config and tokenizer do
            not give the id themselves (see :mod:`dllm_core.special_tokens`).
        chat_template: a jinja chat template used when the tokenizer has none.
        tokenizer_adapter: lazy ``"module:function"`` called as ``function(tokenizer)`` after the
            chat template fallback, to adapt a checkpoint's tokenizer in place (e.g. name an
            end-of-answer token), or ``None``. See :func:`dllm_core.special_tokens.adapt_tokenizer`.
        logit_shift: ``True`` when position ``i`` is predicted from the output at ``i - 1``.
        supports_kv_cache: models accept ``past_key_values``/``use_cache`` (prefix/dual cache).
        supports_logits_to_keep: models accept ``logits_to_keep`` (LM-head slicing).
        presets: size presets for training from scratch: name -> config keyword arguments.
        model_builder: lazy ``"module:function"`` for families whose model wraps another
            family's (a *backbone*), called as ``function(preset, tokenizer, backbone=NAME)``
            to build the model trained from scratch (``dllm train --backbone NAME``); ``None``:
            ``model_class`` built from this family's own preset config.
        sft_padding: how SFT batches pad shorter answers: ``"ignore"`` (pad tokens, label -100,
            attention 0) or ``"eos"`` (LLaDA's recipe, arXiv 2502.09992 section 2.3: pad with EOS,
            attend to it and train on it, so the model learns to end an answer inside a longer
            canvas).
        default_objective: registry name of the default training objective.
        default_generator: registry name of the default generator.
        generator_defaults: default parameters of that generator.
        fast_generator: registry name of the family's fast generator (e.g. one with a KV cache and
            a confidence threshold), used instead of the default generator when a user asks for a
            setting (``--use-cache``, ``--threshold``) that only the fast one takes; ``None``: the
            default generator is the fast one too.
        masked_likelihood: the models give a masked-diffusion likelihood bound, which ``dllm eval``
            uses for log-likelihood tasks; ``False`` (e.g. Edit Flows): such tasks are refused.
        eval_model_name: lm-eval model name for this family.
        ar_converter: lazy ``"module:function"`` that turns an autoregressive checkpoint into one
            of this family (``dllm convert --from-ar``), called as ``function(request)`` with a
            :class:`dllm_core.conversion.ConvertRequest` and returning a
            :class:`dllm_core.conversion.ConvertResult`; ``None``: the family converts nothing.
        objective_defaults: per objective name, config options this family's models train with
            unless told otherwise (e.g. ``{"block-diffusion": {"block_size": 32}}``).
    """

    name: str
    description: str = ""
    model_types: tuple[str, ...] = ()
    config_class: str | None = None
    model_class: str | None = None
    register_auto: str | None = None
    special_tokens: Mapping[str, str] = field(default_factory=dict)
    chat_template: str | None = None
    tokenizer_adapter: str | None = None
    logit_shift: bool = False
    supports_kv_cache: bool = False
    supports_logits_to_keep: bool = False
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    model_builder: str | None = None
    sft_padding: str = "ignore"
    default_objective: str = "masked-diffusion"
    default_generator: str = "mdlm"
    generator_defaults: Mapping[str, Any] = field(default_factory=dict)
    fast_generator: str | None = None
    masked_likelihood: bool = True
    eval_model_name: str | None = None
    ar_converter: str | None = None
    objective_defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """The JSON-friendly facts ``dllm plugins`` shows, without importing anything."""
        return {
            "description": self.description,
            "model_types": list(self.model_types),
            "presets": sorted(self.presets),
        }
