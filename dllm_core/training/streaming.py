"""``--streaming``: pretraining blocks read, tokenized and packed while training runs.

For pretraining sets too large to tokenize up front: the source is opened with ``datasets``'
``streaming=True`` (a local text/JSON/parquet/CSV file or a Hugging Face dataset) and documents
are packed as :func:`dllm_core.data.processing.pack_pretraining` packs them (each followed by
EOS, cut into ``block_size`` blocks, BOS first with ``prepend_bos``), lazily. The length is
unknown, so a streaming run needs ``--max-steps``; it has no test split.

Documents are read from ``--text-field`` and checked as in a non-streaming run
(:func:`dllm_core.data.records.check_record`): a bad record is an error naming the source, its
row there (counted before the shuffle; for a source of several files, in the order the files
are read) and the field, or is skipped and counted with ``--on-bad-record skip``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from dllm_core.data.processing import IGNORE_INDEX
from dllm_core.data.records import BadRecordError, RecordRules, check_record
from dllm_core.data.spec import parse_dataset_spec
from dllm_core.errors import DllmError

if TYPE_CHECKING:
    from datasets import IterableDataset

SHUFFLE_BUFFER = 10_000  # documents held for the approximate shuffle of a stream
ROW = "__dllm_row__"  # the column numbering the stream's records before the shuffle


def open_stream(spec: str, seed: int) -> IterableDataset:
    """The train documents of a one-part dataset spec, as a shuffled stream."""
    from datasets import load_dataset

    from dllm_core.data.sources import FILE_BUILDERS, resolve_part

    parts = parse_dataset_spec(spec).parts
    if len(parts) != 1:
        raise DllmError(f"--streaming reads one source; '{spec}' has {len(parts)} parts: pass one")
    resolved = resolve_part(parts[0])
    part = resolved.part
    if part.train is not None or part.test is not None:
        raise DllmError("--streaming reads the whole source: drop train:N/test:M (use --max-steps)")
    if resolved.kind == "file":
        source = str(Path(part.source).expanduser())
        stream = load_dataset(FILE_BUILDERS[Path(source).suffix.lower()], data_files=source,
                              split="train", streaming=True)
    elif resolved.kind == "hub":
        stream = load_dataset(part.source, part.name, split=part.split or "train", streaming=True)
    else:
        raise DllmError(f"--streaming reads a data file or a Hugging Face dataset; {part.source} is a "
                        f"{resolved.kind}: drop --streaming for it")
    numbered = stream.map(lambda _, row: {ROW: row}, with_indices=True)
    return numbered.shuffle(seed=part.seed or seed, buffer_size=SHUFFLE_BUFFER)


def packed_blocks(documents: Iterable[dict[str, Any]], tokenizer: Any, block_size: int, prepend_bos: bool,
                  rules: RecordRules = RecordRules(mode="pt"), source: str = "the stream") -> Iterator[dict[str, list[int]]]:
    """``{"input_ids", "labels"}`` blocks of ``block_size`` tokens from a stream of documents
    (each one's ``rules.text_field``); a bad record names ``source`` and its row there (the
    document's :data:`ROW`, else its place in ``documents``)."""
    head = [tokenizer.bos_token_id] if prepend_bos else []
    size = block_size - len(head)  # text tokens per block
    buffer: list[int] = []
    for index, document in enumerate(documents):
        try:
            check_record(document, f"{source} row {document.get(ROW, index)}", rules)
        except BadRecordError:
            if rules.on_bad_record == "error":
                raise
            continue
        text = document[rules.text_field]
        buffer += tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        while len(buffer) >= size:
            block, buffer = buffer[:size], buffer[size:]
            yield {"input_ids": head + block, "labels": [IGNORE_INDEX] * len(head) + block}


def streaming_pretraining(spec: str, tokenizer: Any, block_size: int, prepend_bos: bool, seed: int,
                          rules: RecordRules = RecordRules(mode="pt")) -> IterableDataset:
    """A lazy ``IterableDataset`` of packed pretraining blocks for ``spec`` (documents in
    ``rules.text_field``, bad records handled as ``rules.on_bad_record`` says)."""
    from datasets import IterableDataset

    if tokenizer.eos_token_id is None:
        raise DllmError("the tokenizer has no EOS token to separate documents; set tokenizer.eos_token")
    if prepend_bos and tokenizer.bos_token_id is None:
        raise DllmError("this family starts blocks with BOS and the tokenizer has none; set tokenizer.bos_token")
    documents = open_stream(spec, seed)
    return IterableDataset.from_generator(
        packed_blocks,
        gen_kwargs={"documents": documents, "tokenizer": tokenizer, "block_size": block_size,
                    "prepend_bos": prepend_bos, "rules": replace(rules, mode="pt"),
                    "source": parse_dataset_spec(spec).parts[0].source},
    )
