"""The dllm-a2d plugin: registry conformance, the family's settings and its tokenizer adapter."""

from __future__ import annotations

from dllm_core.registry import get_registry
from dllm_core.special_tokens import adapt_tokenizer, resolve_special_tokens
from dllm_core.testing.plugins import PluginConformanceTests
from dllm_a2d.tokenizer import THINKING_OFF_BY_DEFAULT, adapt_tokenizer as adapt_a2d_tokenizer


class TestPluginConformance(PluginConformanceTests):
    plugin_name = "a2d"


def test_family_claims_the_a2d_model_types_and_block_diffusion():
    registry = get_registry()
    family = registry.families.get("a2d")
    for model_type in ("a2d-qwen3", "a2d-qwen2", "a2d-llama"):
        assert registry.families.for_model_type(model_type) is family
    assert family.default_objective in registry.objectives  # the core's block-diffusion objective
    assert registry.objectives.get(family.default_objective).name == "block-diffusion"
    assert family.default_generator == "bd3lm" and family.generator_defaults["block_size"] == 32
    assert family.supports_kv_cache and family.supports_logits_to_keep and not family.logit_shift
    assert family.ar_converter == "dllm_a2d.convert:convert_from_ar"


QWEN3_LIKE_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{% endif %}{% endif %}"
)


def test_adapter_names_end_of_turn_and_turns_thinking_off_by_default(chatml_tokenizer):
    family = get_registry().families.get("a2d")
    chatml_tokenizer.chat_template = QWEN3_LIKE_TEMPLATE
    chatml_tokenizer.add_special_tokens({"mask_token": "<|mask|>"})
    adapt_tokenizer(chatml_tokenizer, family)
    adapt_tokenizer(chatml_tokenizer, family)  # idempotent: the default is put in front once
    assert chatml_tokenizer.chat_template.count(THINKING_OFF_BY_DEFAULT) == 1
    chat = [{"role": "user", "content": "hi"}]
    prompt = chatml_tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")  # ZHZisZZ/dllm's default
    thinking = chatml_tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True,
                                                    enable_thinking=True)
    assert thinking.endswith("<|im_start|>assistant\n")
    special = resolve_special_tokens(None, chatml_tokenizer, family)
    assert special.eot_token_id == chatml_tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert special.mask_token_id == chatml_tokenizer.convert_tokens_to_ids("<|mask|>")


def test_adapter_names_llama3_end_of_turn():
    class Llama3Vocabulary:  # what the adapter reads of a Llama 3 tokenizer
        chat_template = "{{ messages[0]['content'] }}"

        def get_vocab(self):
            return {"<|begin_of_text|>": 5, "<|eot_id|>": 7, "a": 0}

    tokenizer = Llama3Vocabulary()
    adapt_a2d_tokenizer(tokenizer)
    assert tokenizer.eot_token_id == 7
    assert tokenizer.chat_template == "{{ messages[0]['content'] }}"  # no enable_thinking: unchanged
