"""The LM head's weight laid out column-major for decoding on the CPU.

A denoising step projects only a few outputs through the LM head,

    logits [n, V] = h [n, D] @ W^T,        W [V, D] (``nn.Linear`` / ``nn.Embedding`` weight),

and with V in the tens of thousands that product reads the whole weight for a handful of rows.
On the CPU (MKL, float32) it runs 10-35% faster when W's memory holds W^T [D, V] row by row
(strides ``(1, V)``; the kernel then reads it without transposing), measured at vocabularies of
32000 to 126464 with D 256 to 4096 and 4 to 128 rows; bfloat16 gains nothing. On one thread the
logits are bitwise those of the row-major weight for products of 4 rows or more; on several
threads MKL splits the two products differently for some row counts (on 2 threads: 5-7 and
9-11) and the last bits may differ. Against the references' product over every row, kept rows
of either layout are bitwise equal for the same row counts, which the generation runner keeps
to (:data:`~dllm_core.generation.runner.HEAD_ROW_MULTIPLE`; docs/speed.md).
Every golden case (108) passes with the golden models re-laid.

:func:`column_major_lm_head` re-lays the weight once, in place: same parameter object, shape,
values and dtype; only the strides change. Do it before an optimizer, DeepSpeed or FSDP takes
hold of the parameters (they keep views of the storage it replaces); ``load_for_inference`` does
it right after loading. ``save_pretrained`` writes contiguous tensors whatever the layout.
"""

from __future__ import annotations

from typing import Any

import torch


def column_major_lm_head(model: Any) -> bool:
    """Lay out ``model``'s output-embedding weight column-major (see the module doc).

    Applies to a plain float32 weight ``[V, D]`` on the CPU, stored row-major (the loaded
    layout); anything else (GPU, bfloat16, quantized, sharded, already column-major, no output
    embeddings) is left as it is. Returns whether the weight was re-laid.
    """
    get_head = getattr(model, "get_output_embeddings", None)
    head = get_head() if callable(get_head) else None
    weight = getattr(head, "weight", None)
    if not isinstance(weight, torch.nn.Parameter) or type(weight.data) is not torch.Tensor:
        return False
    if weight.device.type != "cpu" or weight.dtype != torch.float32 or weight.dim() != 2:
        return False
    if not weight.is_contiguous():
        return False
    with torch.no_grad():
        weight.data = weight.data.t().contiguous().t()  # [V, D], strides (1, V)
    return True
