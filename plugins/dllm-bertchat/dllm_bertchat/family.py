"""The BERT-chat family description (pure data: importing it imports neither torch nor transformers)."""

from __future__ import annotations

from dllm_core.family import ModelFamily

BERTCHAT = ModelFamily(
    name="bertchat",
    description="BERT-chat: a BERT-style masked LM instruction-tuned with masked diffusion, sampled by MDLM",
    model_types=("modernbert", "bert", "roberta", "distilbert"),
    config_class=None,  # transformers' own classes
    model_class="transformers:AutoModelForMaskedLM",
    logit_shift=False,
    supports_kv_cache=False,
    supports_logits_to_keep=False,
    presets={"tiny": {}},
    default_objective="masked-diffusion",
    default_generator="mdlm",
    generator_defaults={"steps": 128, "max_new_tokens": 128, "block_size": 32},
    eval_model_name="bertchat",
)
