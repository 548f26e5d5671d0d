"""Special tokens of a checkpoint: mask, EOS, end of turn, BOS, pad.

Ids are taken, in this order, from the model config (``config.mask_token_id`` ...), from the
tokenizer's own special tokens (``tokenizer.mask_token_id`` ...), and from the family's known
token strings looked up in the tokenizer's vocabulary (e.g. LLaDA's ``<|mdm_mask|>``). A
checkpoint whose mask token cannot be resolved is an error: masked diffusion cannot run
without one.

:func:`adapt_tokenizer` is the family's tokenizer adapter, applied wherever a tokenizer is
loaded for training, sampling or evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dllm_core.family import ModelFamily
from dllm_core.errors import DllmError
from dllm_core.registry import load_reference

ROLES = ("mask", "eos", "eot", "bos", "pad")


@dataclass(frozen=True)
class SpecialTokens:
    """Resolved special token ids (``None`` where the checkpoint has none)."""

    mask_token_id: int
    eos_token_id: int | None = None
    eot_token_id: int | None = None
    bos_token_id: int | None = None
    pad_token_id: int | None = None

    def stop_token_ids(self) -> list[int]:
        """Ids that end an answer: EOS and end of turn."""
        return sorted({i for i in (self.eos_token_id, self.eot_token_id) if i is not None})


def _first_id(value: Any) -> int | None:
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    return int(value) if isinstance(value, int) else None


def _vocab_id(tokenizer: Any, token: str | None) -> int | None:
    if tokenizer is None or not token:
        return None
    vocab = tokenizer.get_vocab()
    return vocab.get(token)


def _resolve(role: str, config: Any, tokenizer: Any, family: ModelFamily | None) -> int | None:
    attribute = f"{role}_token_id"
    for candidate in (getattr(config, attribute, None), getattr(tokenizer, attribute, None)):
        token_id = _first_id(candidate)
        if token_id is not None:
            return token_id
    return _vocab_id(tokenizer, family.special_tokens.get(role) if family else None)


def resolve_special_tokens(config: Any, tokenizer: Any = None, family: ModelFamily | None = None,
                           source: str = "the checkpoint") -> SpecialTokens:
    """Resolve every role; a missing mask token raises a :class:`DllmError` naming the fix."""
    ids = {role: _resolve(role, config, tokenizer, family) for role in ROLES}
    if ids["mask"] is None:
        known = family.special_tokens.get("mask") if family else None
        hint = f" (the {family.name} family's mask token is {known!r})" if known else ""
        raise DllmError(
            f"{source} has no mask token: neither config.json's mask_token_id nor the tokenizer's "
            f"mask_token is set{hint}. Fix: set mask_token_id in config.json, or add one with "
            "tokenizer.add_special_tokens({'mask_token': '<|mask|>'}) and resize the embeddings"
        )
    if ids["pad"] is None:
        ids["pad"] = ids["eos"]
    return SpecialTokens(
        mask_token_id=ids["mask"], eos_token_id=ids["eos"], eot_token_id=ids["eot"],
        bos_token_id=ids["bos"], pad_token_id=ids["pad"],
    )


def adapt_tokenizer(tokenizer: Any, family: ModelFamily) -> Any:
    """``tokenizer`` with the family's chat template when it has none, then passed through the
    family's ``tokenizer_adapter`` (if any); adapted in place and returned."""
    if getattr(tokenizer, "chat_template", None) is None and family.chat_template is not None:
        tokenizer.chat_template = family.chat_template
    if family.tokenizer_adapter is not None:
        load_reference(family.tokenizer_adapter)(tokenizer)
    return tokenizer
