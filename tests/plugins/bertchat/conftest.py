"""A tiny BERT checkpoint as BERT ships: WordPiece with [MASK]/[SEP], no chat template, no EOS."""

from __future__ import annotations

from pathlib import Path

import pytest

DIGITS = [str(d) for d in range(10)]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "system", "user", "assistant", "what", "is",
         ":", "?", "+", *DIGITS, *(f"##{d}" for d in DIGITS)]
CONTEXT = 64  # max_position_embeddings of the tiny BERT


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A random 1-layer ``BertForMaskedLM`` with a 64-token context, saved with its tokenizer."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import BertConfig, BertForMaskedLM, PreTrainedTokenizerFast

    backend = Tokenizer(models.WordPiece({w: i for i, w in enumerate(VOCAB)}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]",
                                        cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=CONTEXT, pad_token_id=0)
    folder = tmp_path_factory.mktemp("tiny-bert")
    BertForMaskedLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
