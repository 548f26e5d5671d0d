"""Edit Flows states as batches: the noised x_t with its remaining edits, and applying edits.

Rows are ``prompt ++ region``: the prompt (length P_b >= 1) is never edited, except that
insertions may go after its last token (position P_b - 1), which is how an empty region grows.

Noising (arXiv 2506.09018, eq. 12): given aligned z_0, z_1 ``[B, K]`` and a draw ``keep``,

    z_t^i = z_1^i if keep^i else z_0^i,     keep^i ~ Bernoulli(kappa(t)),

x_t = z_t without blanks, and the remaining edits are the columns with z_t^i != z_1^i:
an insertion of z_1^i after the last token of z_t before column i (blank z_t^i), a deletion of
z_t^i (blank z_1^i), or a substitution of z_t^i by z_1^i. Applying every remaining edit to x_t
at once gives x_1 (:func:`apply_edits`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from dllm_editflow.alignment import BLANK, Alignment


@dataclass
class Edits:
    """Edits at positions of a batch of rows ``[B, L]``, as flat index lists.

    Attributes:
        insert: ``[N_ins, 3]`` rows ``(b, j, token)``: insert ``token`` after position j.
        delete: ``[N_del, 2]`` rows ``(b, j)``: delete position j.
        substitute: ``[N_sub, 3]`` rows ``(b, j, token)``: replace position j by ``token``.
    """

    insert: torch.Tensor
    delete: torch.Tensor
    substitute: torch.Tensor


@dataclass
class NoisedBatch:
    """x_t behind its prompts, and what is left to do.

    Attributes:
        input_ids: ``[B, L]`` prompt ++ x_t, right-padded with ``pad_token_id``.
        attention_mask: ``[B, L]`` 1 on real tokens.
        prompt_lengths: ``[B]`` P_b.
        editable: ``[B, L]`` bool, the x_t positions (deletion and substitution allowed).
        insertable: ``[B, L]`` bool, the positions an insertion may follow (P_b - 1 and x_t).
        edits: the remaining edits from x_t to x_1.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    prompt_lengths: torch.Tensor
    editable: torch.Tensor
    insertable: torch.Tensor
    edits: Edits


def pad_rows(rows: Sequence[torch.Tensor], pad: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad 1D rows into ``[B, max len]``; also returns the lengths ``[B]``."""
    lengths = torch.tensor([len(row) for row in rows], dtype=torch.long, device=device)
    out = torch.full((len(rows), int(lengths.max()) if len(rows) else 0), pad, dtype=torch.long, device=device)
    for index, row in enumerate(rows):
        out[index, : len(row)] = row.to(device)
    return out, lengths


def region_masks(prompt_lengths: torch.Tensor, lengths: torch.Tensor, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(editable, insertable)`` ``[B, width]`` for rows of ``lengths`` behind ``prompt_lengths``."""
    positions = torch.arange(width, device=lengths.device)[None, :]  # [1, L]
    inside = positions < lengths[:, None]
    editable = inside & (positions >= prompt_lengths[:, None])
    insertable = inside & (positions >= prompt_lengths[:, None] - 1)
    return editable, insertable


def noise(prompts: Sequence[torch.Tensor], alignment: Alignment, keep: torch.Tensor, pad_token_id: int) -> NoisedBatch:
    """Build x_t from ``keep [B, K]`` (True: take z_1) and list the remaining edits."""
    device = alignment.z0.device
    z_t = torch.where(keep, alignment.z1, alignment.z0)
    z_t = torch.where(alignment.valid, z_t, BLANK)  # [B, K]
    present = z_t != BLANK  # [B, K]
    before = torch.cumsum(present.long(), dim=1) - present.long()  # tokens of x_t left of column i
    prompt_ids, prompt_lengths = pad_rows(prompts, pad_token_id, device)  # [B, Pmax], [B]
    lengths = prompt_lengths + present.sum(dim=1)  # [B]
    batch, width = len(prompts), int(lengths.max())
    input_ids = torch.full((batch, width), pad_token_id, dtype=torch.long, device=device)
    in_prompt = torch.arange(prompt_ids.shape[1], device=device)[None, :] < prompt_lengths[:, None]
    input_ids[:, : prompt_ids.shape[1]] = torch.where(in_prompt, prompt_ids, input_ids[:, : prompt_ids.shape[1]])
    position = prompt_lengths[:, None] + before  # [B, K] position in the row of column i's token
    rows, cols = present.nonzero(as_tuple=True)
    input_ids[rows, position[rows, cols]] = z_t[rows, cols]

    needed = alignment.valid & (z_t != alignment.z1)
    target_present = alignment.z1 != BLANK
    b, i = (needed & ~present).nonzero(as_tuple=True)
    insert = torch.stack([b, position[b, i] - 1, alignment.z1[b, i]], dim=1)
    b, i = (needed & present & ~target_present).nonzero(as_tuple=True)
    delete = torch.stack([b, position[b, i]], dim=1)
    b, i = (needed & present & target_present).nonzero(as_tuple=True)
    substitute = torch.stack([b, position[b, i], alignment.z1[b, i]], dim=1)

    attention_mask = (torch.arange(width, device=device)[None, :] < lengths[:, None]).long()
    editable, insertable = region_masks(prompt_lengths, lengths, width)
    return NoisedBatch(input_ids, attention_mask, prompt_lengths, editable, insertable,
                       Edits(insert, delete, substitute))


def apply_edits(input_ids: torch.Tensor, lengths: torch.Tensor, edits: Edits,
                pad_token_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply all ``edits`` to the rows at once; at most one insertion per position.

    ``input_ids [B, L]`` with ``lengths [B]`` -> the new ``[B, L']`` (right-padded) and lengths.
    Each position j emits its token (substituted, or nothing if deleted), then its insertion.
    """
    batch, width = input_ids.shape
    device = input_ids.device
    tokens = input_ids.clone()
    keeps = torch.arange(width, device=device)[None, :] < lengths[:, None]  # [B, L]
    if len(edits.substitute):
        tokens[edits.substitute[:, 0], edits.substitute[:, 1]] = edits.substitute[:, 2]
    if len(edits.delete):
        keeps[edits.delete[:, 0], edits.delete[:, 1]] = False
    inserted = torch.full_like(tokens, pad_token_id)
    inserts = torch.zeros_like(keeps)
    if len(edits.insert):
        inserted[edits.insert[:, 0], edits.insert[:, 1]] = edits.insert[:, 2]
        inserts[edits.insert[:, 0], edits.insert[:, 1]] = True
    slots = torch.stack([tokens, inserted], dim=2).reshape(batch, 2 * width)  # [B, 2L]
    active = torch.stack([keeps, inserts], dim=2).reshape(batch, 2 * width)
    new_lengths = active.sum(dim=1)
    out = torch.full((batch, int(new_lengths.max()) if batch else 0), pad_token_id, dtype=torch.long, device=device)
    rows, cols = active.nonzero(as_tuple=True)
    out[rows, (torch.cumsum(active.long(), dim=1) - 1)[rows, cols]] = slots[rows, cols]
    return out, new_lengths
