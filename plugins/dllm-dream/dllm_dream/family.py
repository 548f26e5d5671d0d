"""The Dream family description (pure data: importing it imports neither torch nor transformers)."""

from __future__ import annotations

from dllm_core.family import ModelFamily

#: Qwen-style turns, as in Dream-org/Dream-v0-Instruct-7B's tokenizer
DREAM_CHAT_TEMPLATE = (
    "{% if messages[0]['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

DREAM = ModelFamily(
    name="dream",
    description="Dream: Qwen2-style diffusion LM predicting token i from position i-1 (Dream-org/Dream-v0-*)",
    model_types=("Dream",),
    config_class="dllm_dream.configuration_dream:DreamConfig",
    model_class="dllm_dream.modeling_dream:DreamModel",
    register_auto="dllm_dream.modeling_dream:register_with_transformers",
    logit_shift=True,
    supports_kv_cache=True,
    supports_logits_to_keep=True,
    special_tokens={"mask": "<|mask|>", "eos": "<|endoftext|>", "eot": "<|im_end|>",
                    "bos": "<|beginoftext|>"},
    chat_template=DREAM_CHAT_TEMPLATE,
    presets={"tiny": {}, "7b": {}},
    default_objective="masked-diffusion",
    default_generator="dream",
    generator_defaults={"steps": 128, "max_new_tokens": 128, "alg": "entropy"},
    eval_model_name="dream",
)
