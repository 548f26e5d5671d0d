"""The LLaDA family description (pure data: importing it imports neither torch nor transformers)."""

from __future__ import annotations

from dllm_core.family import ModelFamily

#: Llama-3-style turns, as in GSAI-ML/LLaDA-8B-Instruct's tokenizer
LLADA_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "<|start_header_id|>{{ message['role'] }}<|end_header_id|>\n\n{{ message['content'] }}<|eot_id|>"
    "{% endfor %}{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)

LLADA = ModelFamily(
    name="llada",
    description="LLaDA: bidirectional Llama-style masked diffusion LM (GSAI-ML/LLaDA-8B-*)",
    model_types=("llada",),
    config_class="dllm_llada.configuration_llada:LLaDAConfig",
    model_class="dllm_llada.modeling_llada:LLaDAModelLM",
    register_auto="dllm_llada.modeling_llada:register_with_transformers",
    logit_shift=False,
    supports_kv_cache=True,
    supports_logits_to_keep=True,
    special_tokens={"mask": "<|mdm_mask|>", "eos": "<|endoftext|>", "eot": "<|eot_id|>",
                    "bos": "<|startoftext|>"},
    chat_template=LLADA_CHAT_TEMPLATE,
    presets={"tiny": {}, "1b": {}, "8b": {}},
    default_objective="masked-diffusion",
    default_generator="llada",
    generator_defaults={"steps": 128, "gen_length": 128, "block_length": 32},
    eval_model_name="llada",
)
