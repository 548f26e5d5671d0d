"""The A2D family's tokenizer adapter: ZHZisZZ/dllm's Qwen/Llama tokenizer settings.

* End of turn: the first of :data:`END_OF_TURN_TOKENS` the vocabulary has (Qwen's ChatML
  ``<|im_end|>``, Llama 3's ``<|eot_id|>``) becomes ``tokenizer.eot_token_id``.
* Qwen3's chat template renders a thinking block unless ``enable_thinking`` is false; ZHZisZZ/dllm
  defaults it to false (the empty ``<think></think>`` is written), so a template that reads
  ``enable_thinking`` gets :data:`THINKING_OFF_BY_DEFAULT` in front: the flag is false unless a
  caller passes it. The change is part of the template, so it is saved with the tokenizer.
"""

from __future__ import annotations

from typing import Any

END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>")
THINKING_OFF_BY_DEFAULT = "{%- if enable_thinking is not defined %}{%- set enable_thinking = false %}{%- endif %}"


def adapt_tokenizer(tokenizer: Any) -> None:
    """Name the end-of-turn token and default Qwen3's ``enable_thinking`` to false, in place."""
    vocab = tokenizer.get_vocab()
    end_of_turn = next((token for token in END_OF_TURN_TOKENS if token in vocab), None)
    if end_of_turn is not None:
        tokenizer.eot_token_id = vocab[end_of_turn]
    template = getattr(tokenizer, "chat_template", None)
    if isinstance(template, str) and "enable_thinking" in template and not template.startswith(THINKING_OFF_BY_DEFAULT):
        tokenizer.chat_template = THINKING_OFF_BY_DEFAULT + template
