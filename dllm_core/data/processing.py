"""Tokenize records for training: SFT conversations with label masks, PT text packed in blocks.

SFT (:func:`tokenize_sft`): each record becomes a conversation (:mod:`dllm_core.data.records`)
rendered with the tokenizer's chat template. Only assistant turns carry labels; every other
token (system, user, role markers, the generation prompt) gets label ``-100``. Segments are cut
at the rendered text of each prefix of the conversation, so the prompt tokens are exactly what
``apply_chat_template(..., add_generation_prompt=True)`` gives at inference. The conversation
ends with EOS (labelled) unless the template already put it there. Over-long conversations are
cut on the right (``truncation="right"``; one left with no labelled token is dropped) or dropped
whole (``"drop"``).

PT (:func:`pack_pretraining`): each record's text is tokenized and followed by EOS, documents are
concatenated and cut into ``block_size`` blocks; the last, shorter remainder is dropped. Every
token is labelled.

BOS (``prepend_bos``, for families whose logits are shifted one position, e.g. Dream): every SFT
example starts with BOS (added, with label -100, unless the chat template already put it first)
and every PT block is BOS followed by ``block_size - 1`` text tokens, BOS labelled -100; the
shifted model predicts the first real token from the BOS position.

Both return a ``datasets.Dataset`` with ``input_ids`` and ``labels`` columns, and the counts of
what was kept, cut, dropped or skipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Literal, Mapping

from dllm_core.data.records import BadRecordError, Message, OnBadRecord, conversation_of
from dllm_core.errors import DllmError

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedTokenizerBase

IGNORE_INDEX = -100
_CHUNK = 1000  # records tokenized per batch call

logger = logging.getLogger(__name__)


@dataclass
class SFTConfig:
    """How conversations become training examples."""

    max_length: int = 1024  # longest example, in tokens
    truncation: Literal["right", "drop"] = "right"  # cut over-long examples, or drop them
    add_eos: bool = True  # end each example with EOS when the chat template does not
    prepend_bos: bool = False  # start each example with BOS (label -100) when the template does not
    on_bad_record: OnBadRecord = "error"  # raise on a bad record, or skip and count it


@dataclass
class PTConfig:
    """How raw text becomes fixed-length pretraining blocks."""

    block_size: int = 512  # tokens per block
    text_field: str = "text"  # the record field holding the document
    prepend_bos: bool = False  # each block = BOS (label -100) + block_size - 1 text tokens
    on_bad_record: OnBadRecord = "error"  # raise on a bad record, or skip and count it


@dataclass
class ProcessingStats:
    """What processing did with the records it read."""

    records: int = 0  # records read
    examples: int = 0  # examples (SFT) or blocks (PT) produced
    skipped_bad: int = 0  # bad records skipped (on_bad_record="skip")
    truncated: int = 0  # SFT examples cut to max_length
    dropped_too_long: int = 0  # SFT examples over max_length dropped (truncation="drop")
    dropped_unlabelled: int = 0  # SFT examples whose labels were all cut away


def tokenize_sft(records: Iterable[Mapping[str, Any]], tokenizer: PreTrainedTokenizerBase,
                 config: SFTConfig | None = None) -> tuple[Dataset, ProcessingStats]:
    """Tokenize conversations (``messages``, or ``prompt``/``answer``) with prompt labels -100."""
    from datasets import Dataset

    config = config or SFTConfig()
    _check_choice("truncation", config.truncation, ("right", "drop"))
    _check_choice("on_bad_record", config.on_bad_record, ("error", "skip"))
    if config.add_eos and tokenizer.eos_token_id is None:
        raise DllmError("the tokenizer has no EOS token; set tokenizer.eos_token or pass add_eos=False.")
    _check_bos(tokenizer, config.prepend_bos)
    if not tokenizer.chat_template:
        raise DllmError(
            "the tokenizer has no chat template, which SFT needs; set tokenizer.chat_template "
            "(the model family's tokenizer adapter usually provides one)."
        )
    stats = ProcessingStats()
    columns: dict[str, list[list[int]]] = {"input_ids": [], "labels": []}
    for chunk in _chunks(_valid(records, conversation_of, config.on_bad_record, stats)):
        segments = [chat_segments(messages, tokenizer, index) for index, messages in chunk]
        texts = [text for record in segments for text, _ in record]
        encoded = iter(tokenizer(texts, add_special_tokens=False)["input_ids"]) if texts else iter(())
        for record in segments:
            input_ids: list[int] = []
            labels: list[int] = []
            for _, labelled in record:
                ids = next(encoded)
                input_ids.extend(ids)
                labels.extend(ids if labelled else [IGNORE_INDEX] * len(ids))
            if config.prepend_bos and input_ids[:1] != [tokenizer.bos_token_id]:
                input_ids.insert(0, tokenizer.bos_token_id)
                labels.insert(0, IGNORE_INDEX)
            if config.add_eos and input_ids[-1:] != [tokenizer.eos_token_id]:
                input_ids.append(tokenizer.eos_token_id)
                labels.append(tokenizer.eos_token_id)
            if len(input_ids) > config.max_length:
                if config.truncation == "drop":
                    stats.dropped_too_long += 1
                    continue
                input_ids, labels = input_ids[:config.max_length], labels[:config.max_length]
                stats.truncated += 1
                if all(label == IGNORE_INDEX for label in labels):
                    stats.dropped_unlabelled += 1
                    continue
            columns["input_ids"].append(input_ids)
            columns["labels"].append(labels)
    stats.examples = len(columns["input_ids"])
    _log(stats)
    return Dataset.from_dict(columns), stats


def chat_segments(messages: list[Message], tokenizer: PreTrainedTokenizerBase,
                  index: int = 0) -> list[tuple[str, bool]]:
    """The rendered conversation, up to its last assistant turn, as ``(text, is_assistant)``
    pieces in order.

    The piece before each assistant turn ends with the generation prompt; the assistant piece is
    what the template adds for that turn. ``index`` names the record in errors.
    """
    segments: list[tuple[str, bool]] = []
    done = ""
    for turn, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        prompt = _render(tokenizer, messages[:turn], True)
        full = _render(tokenizer, messages[:turn + 1], False)
        if not prompt.startswith(done) or not full.startswith(prompt):
            raise DllmError(
                f"record {index}: the chat template does not render a conversation's prefixes as "
                "prefixes of it, so prompt and answer tokens cannot be told apart; use a template "
                "whose earlier turns do not change when turns are added."
            )
        segments += [(prompt[len(done):], False), (full[len(prompt):], True)]
        done = full
    return segments


def pack_pretraining(records: Iterable[Mapping[str, Any]], tokenizer: PreTrainedTokenizerBase,
                     config: PTConfig | None = None) -> tuple[Dataset, ProcessingStats]:
    """Tokenize documents, put EOS after each, and pack them into ``block_size`` blocks."""
    from datasets import Dataset

    config = config or PTConfig()
    _check_choice("on_bad_record", config.on_bad_record, ("error", "skip"))
    head = [tokenizer.bos_token_id] if config.prepend_bos else []
    if config.block_size < 1 + len(head):
        raise DllmError(f"block_size must be at least {1 + len(head)}, got {config.block_size}.")
    if tokenizer.eos_token_id is None:
        raise DllmError("the tokenizer has no EOS token to separate documents; set tokenizer.eos_token.")
    _check_bos(tokenizer, config.prepend_bos)
    text_size = config.block_size - len(head)  # text tokens per block

    def text_of(record: Any, index: int) -> str:
        text = record.get(config.text_field) if isinstance(record, Mapping) else None
        if not isinstance(text, str):
            raise BadRecordError(
                f"record {index} has no string field '{config.text_field}'. Fix the data, set "
                "--text-field (text_field in Python), or pass --on-bad-record skip (on_bad_record='skip') to skip "
                "(and count) such records."
            )
        return text

    stats = ProcessingStats()
    blocks: list[list[int]] = []
    buffer: list[int] = []
    for chunk in _chunks(_valid(records, text_of, config.on_bad_record, stats)):
        for ids in tokenizer([text for _, text in chunk], add_special_tokens=False)["input_ids"]:
            buffer.extend(ids)
            buffer.append(tokenizer.eos_token_id)
        whole = len(buffer) - len(buffer) % text_size
        blocks += [buffer[start:start + text_size] for start in range(0, whole, text_size)]
        buffer = buffer[whole:]
    stats.examples = len(blocks)
    _log(stats)
    columns = {"input_ids": [head + block for block in blocks],
               "labels": [[IGNORE_INDEX] * len(head) + block for block in blocks]}
    return Dataset.from_dict(columns), stats


def _render(tokenizer: PreTrainedTokenizerBase, messages: list[Message], generation_prompt: bool) -> str:
    if not messages:
        return ""
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def _valid(records: Iterable[Any], convert: Callable[[Any, int], Any], on_bad_record: OnBadRecord,
           stats: ProcessingStats) -> Iterator[tuple[int, Any]]:
    """``(index, convert(record, index))`` for each good record; bad ones raise or are counted."""
    for index, record in enumerate(records):
        stats.records += 1
        try:
            yield index, convert(record, index)
        except BadRecordError:
            if on_bad_record == "error":
                raise
            stats.skipped_bad += 1


def _chunks(items: Iterator[tuple[int, Any]]) -> Iterator[list[tuple[int, Any]]]:
    chunk: list[tuple[int, Any]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == _CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _check_bos(tokenizer: PreTrainedTokenizerBase, prepend_bos: bool) -> None:
    if prepend_bos and tokenizer.bos_token_id is None:
        raise DllmError("prepend_bos needs a BOS token and the tokenizer has none; set tokenizer.bos_token "
                        "(dllm convert adds the family's).")


def _check_choice(option: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise DllmError(f"{option} must be one of {choices}, got {value!r}.")


def _log(stats: ProcessingStats) -> None:
    if stats.skipped_bad or stats.truncated or stats.dropped_too_long or stats.dropped_unlabelled:
        logger.warning("data processing: %s", stats)
