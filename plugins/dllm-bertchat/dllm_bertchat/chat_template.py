"""The BERT-chat tokenizer adapter: a chat template made of the tokenizer's own tokens.

A BERT-style tokenizer (WordPiece, RoBERTa BPE, ModernBERT's) usually ships no chat template
and no EOS token. The family uses the tokenizer's own mask token (``[MASK]``, ``<mask>``) and,
when the tokenizer has no template of its own, renders a conversation with plain words that
are in every such vocabulary plus the tokenizer's separator as the end-of-answer marker::

    [CLS]user: What is 12+30?[SEP]assistant: 42[SEP]

The generation prompt is ``assistant:``. :func:`adapt_tokenizer` makes the separator the EOS
token (the sampler stops there, SFT ends each answer with it), and for a tokenizer that has
BOS/EOS but no CLS/SEP (the project's char tokenizer of the ``tiny`` preset) names those as
CLS/SEP, so a from-config ModernBERT gets every special id it expects.
"""

from __future__ import annotations

from typing import Any

from dllm_core.api import DllmError

#: the words that open each turn; the template writes ``role + ": "``
ROLE_WORDS = ("system", "user", "assistant")

CHAT_TEMPLATE = (
    "{{ cls_token }}"
    "{% for message in messages %}"
    "{{ message['role'] + ': ' + message['content'] + sep_token }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'assistant:' }}{% endif %}"
)


def adapt_tokenizer(tokenizer: Any) -> None:
    """Give ``tokenizer`` what BERT-chat needs, in place (see the module docstring).

    Raises a :class:`DllmError` when the tokenizer has no mask token, no separator/EOS to end an
    answer, or (with :data:`CHAT_TEMPLATE`) cannot spell a role word without its unknown token.
    """
    if tokenizer.mask_token is None:
        raise DllmError("the tokenizer has no mask token ([MASK]); BERT-chat needs a masked-LM tokenizer")
    if tokenizer.sep_token is None:
        tokenizer.sep_token = tokenizer.eos_token
    if tokenizer.cls_token is None:
        tokenizer.cls_token = tokenizer.bos_token
    if tokenizer.eos_token is None:
        tokenizer.eos_token = tokenizer.sep_token
    if tokenizer.eos_token is None:
        raise DllmError("the tokenizer has neither a separator ([SEP]) nor an EOS token to end an answer")
    if tokenizer.chat_template == CHAT_TEMPLATE:
        _check_role_words(tokenizer)


def _check_role_words(tokenizer: Any) -> None:
    if tokenizer.cls_token is None:
        raise DllmError("the tokenizer has neither a CLS nor a BOS token to open a chat")
    unknown = tokenizer.unk_token_id
    for word in ROLE_WORDS:
        if unknown is not None and unknown in tokenizer(f"{word}:", add_special_tokens=False)["input_ids"]:
            raise DllmError(f"the tokenizer cannot spell the chat role marker '{word}:' (it becomes "
                            f"{tokenizer.unk_token}); give the tokenizer a chat_template of its own")
