"""The BERT-chat family description (pure data: importing it imports neither torch nor transformers)."""

from __future__ import annotations

from dllm_core.api import ModelFamily

from dllm_bertchat.chat_template import CHAT_TEMPLATE

#: ``tiny``: a from-config ModernBERT for CPU runs, sized to the project's char tokenizer by
#: ``dllm train`` (vocabulary and the pad/BOS=CLS/EOS=SEP/mask ids come from the tokenizer)
TINY = {
    "model_type": "modernbert",
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "global_attn_every_n_layers": 2,  # layers 0, 2, ... attend globally, the others locally
    "local_attention": 64,  # sliding-window width of the local layers
    "max_position_embeddings": 8192,  # ModernBERT's context (rotary positions: no weights)
}

BERTCHAT = ModelFamily(
    name="bertchat",
    description="BERT-chat: a BERT-style masked LM instruction-tuned with masked diffusion, sampled by MDLM",
    model_types=("modernbert", "bert", "roberta", "distilbert"),
    config_class=None,  # transformers' own classes
    model_class="transformers:AutoModelForMaskedLM",
    chat_template=CHAT_TEMPLATE,
    tokenizer_adapter="dllm_bertchat.chat_template:adapt_tokenizer",
    logit_shift=False,
    supports_kv_cache=False,
    supports_logits_to_keep=False,
    presets={"tiny": TINY},
    default_objective="masked-diffusion",
    default_generator="mdlm",
    generator_defaults={"steps": 128, "max_new_tokens": 128, "block_size": 32},
    eval_model_name="bertchat",
)
