"""The character-level tokenizer of the tiny presets (no training data needed).

One token per character: digits, ASCII letters, ASCII punctuation, space, tab and newline
(anything else becomes ``<|unk|>``), after the special tokens, which keep fixed ids:

====  ==================  ===================================
id    token               role
====  ==================  ===================================
0     ``<|pad|>``         padding
1     ``<|endoftext|>``   EOS, also ends every chat turn
2     ``<|bos|>``         BOS, starts every chat
3     ``<|mdm_mask|>``    the diffusion mask
4     ``<|unk|>``         unknown character
5-7   ``<|system|>``, ``<|user|>``, ``<|assistant|>``  chat role markers
====  ==================  ===================================

Chat template: ``<|bos|>`` then, per turn, the role marker, the content and ``<|endoftext|>``;
the generation prompt is ``<|assistant|>``. So ``[user "12+3=", assistant "15"]`` renders as
``<|bos|><|user|>12+3=<|endoftext|><|assistant|>15<|endoftext|>``.
"""

from __future__ import annotations

import string
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

PAD, EOS, BOS, MASK, UNK = "<|pad|>", "<|endoftext|>", "<|bos|>", "<|mdm_mask|>", "<|unk|>"
ROLE_MARKERS = ("<|system|>", "<|user|>", "<|assistant|>")
SPECIAL_TOKENS = (PAD, EOS, BOS, MASK, UNK, *ROLE_MARKERS)
CHARACTERS = string.digits + string.ascii_letters + string.punctuation + " \t\n"

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + eos_token }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)


def build_char_tokenizer() -> PreTrainedTokenizerFast:
    """A character-level ``PreTrainedTokenizerFast`` with pad/eos/bos/mask/unk tokens and a
    chat template; it round-trips through ``save_pretrained``/``from_pretrained``."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {token: index for index, token in enumerate((*SPECIAL_TOKENS, *CHARACTERS))}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    backend.decoder = decoders.Fuse()  # join characters back without spaces
    backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token=PAD,
        eos_token=EOS,
        bos_token=BOS,
        mask_token=MASK,
        unk_token=UNK,
        additional_special_tokens=list(ROLE_MARKERS),
        chat_template=CHAT_TEMPLATE,
        clean_up_tokenization_spaces=False,
    )
