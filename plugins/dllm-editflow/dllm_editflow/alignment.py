"""Minimum edit distance alignment of token sequences, batched in torch.

Edit Flows (arXiv 2506.09018, section 3.2) couples a source x_0 and a target x_1 through an
alignment: two equal-length sequences z_0, z_1 over the vocabulary plus a blank ``BLANK`` such
that removing the blanks gives back x_0 and x_1. Column i is

* a match or substitution when z_0^i and z_1^i are both tokens,
* a deletion when z_1^i is blank (z_0^i is removed),
* an insertion when z_0^i is blank (z_1^i is added).

We take an alignment of least cost (substitution, insertion and deletion cost 1; a match 0), so
the number of columns with z_0^i != z_1^i is the Levenshtein distance d(x_0, x_1).

The Levenshtein table D[i, j] = d(x_0[:i], x_1[:j]) is filled one row of x_0 at a time for all
pairs of the batch at once. Within a row, the left-neighbour term D[i, j-1] + 1 is a running
minimum: with T[j] = min(D[i-1, j] + 1, D[i-1, j-1] + [x_0^i != x_1^j]),

    D[i, j] = min_{k <= j} (T[k] + j - k) = j + cummin_k (T[k] - k),

so a row costs a handful of vectorised operations and a batch of pairs of lengths <= (n, m)
costs O(n) tensor operations. The backtrace walks all pairs at once too (n + m steps), preferring
a match or substitution, then a deletion, then an insertion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

#: the blank symbol of aligned sequences (never a token id)
BLANK = -1


@dataclass
class Alignment:
    """Aligned pairs, right-padded to the longest alignment of the batch.

    Attributes:
        z0: ``[B, K]`` source tokens or ``BLANK``; ``BLANK`` also on padding columns.
        z1: ``[B, K]`` target tokens or ``BLANK``; ``BLANK`` also on padding columns.
        valid: ``[B, K]`` bool, the columns of each row's alignment (False on padding).
        distance: ``[B]`` the edit distance of each pair (columns where z0 != z1).
    """

    z0: torch.Tensor
    z1: torch.Tensor
    valid: torch.Tensor
    distance: torch.Tensor


def _pad(rows: Sequence[torch.Tensor], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """``[B, n]`` right-padded with ``BLANK`` and the lengths ``[B]``."""
    lengths = torch.tensor([len(row) for row in rows], dtype=torch.long, device=device)
    width = int(lengths.max()) if len(rows) else 0
    out = torch.full((len(rows), width), BLANK, dtype=torch.long, device=device)
    for index, row in enumerate(rows):
        out[index, : len(row)] = torch.as_tensor(row, dtype=torch.long, device=device)
    return out, lengths


def levenshtein_tables(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The Levenshtein tables of the pairs ``(a[k], b[k])`` over their full padded widths.

    ``a [B, n]``, ``b [B, m]`` -> ``D [B, n + 1, m + 1]`` with D[k, i, j] = d(a[k, :i], b[k, :j]).
    Read each pair's distance at its own lengths: ``D[k, len_a[k], len_b[k]]`` (padding columns
    only ever extend a prefix, so the entries inside each pair's lengths are exact).
    """
    batch, n = a.shape
    m = b.shape[1]
    cols = torch.arange(m + 1, device=a.device)  # [m + 1]
    table = torch.empty((batch, n + 1, m + 1), dtype=torch.long, device=a.device)
    table[:, 0] = cols
    for i in range(1, n + 1):
        previous = table[:, i - 1]  # [B, m + 1]
        differs = (a[:, i - 1 : i] != b).long()  # [B, m]
        through = torch.empty_like(previous)
        through[:, 0] = previous[:, 0] + 1  # D[i, 0] = i
        through[:, 1:] = torch.minimum(previous[:, 1:] + 1, previous[:, :-1] + differs)
        table[:, i] = torch.cummin(through - cols, dim=1).values + cols
    return table


def align(sources: Sequence[torch.Tensor], targets: Sequence[torch.Tensor]) -> Alignment:
    """Align each ``sources[k]`` (x_0) with ``targets[k]`` (x_1) at minimum edit distance.

    Rows may have any lengths, including 0. Tensors land on the device of the first source.
    """
    if len(sources) != len(targets):
        raise ValueError(f"got {len(sources)} sources for {len(targets)} targets")
    device = sources[0].device if len(sources) and isinstance(sources[0], torch.Tensor) else torch.device("cpu")
    a, len_a = _pad(sources, device)  # [B, n]
    b, len_b = _pad(targets, device)  # [B, m]
    batch = a.shape[0]
    table = levenshtein_tables(a, b)  # [B, n + 1, m + 1]
    rows = torch.arange(batch, device=device)
    distance = table[rows, len_a, len_b]  # [B]

    # Backtrace from (len_a, len_b) to (0, 0), all rows together; columns come out reversed.
    steps = int((len_a + len_b).max()) if batch else 0
    z0 = torch.full((batch, steps), BLANK, dtype=torch.long, device=device)
    z1 = torch.full((batch, steps), BLANK, dtype=torch.long, device=device)
    i, j = len_a.clone(), len_b.clone()
    taken = torch.zeros(batch, dtype=torch.long, device=device)  # columns written per row
    a_pad = torch.cat([torch.full((batch, 1), BLANK, dtype=torch.long, device=device), a], dim=1)
    b_pad = torch.cat([torch.full((batch, 1), BLANK, dtype=torch.long, device=device), b], dim=1)
    for step in range(steps):
        active = (i > 0) | (j > 0)  # [B]
        here = table[rows, i, j]
        token_a = a_pad[rows, i]  # a[i - 1] (BLANK when i = 0)
        token_b = b_pad[rows, j]
        diagonal = table[rows, (i - 1).clamp(min=0), (j - 1).clamp(min=0)] + (token_a != token_b).long()
        up = table[rows, (i - 1).clamp(min=0), j] + 1
        use_diagonal = active & (i > 0) & (j > 0) & (here == diagonal)
        use_delete = active & ~use_diagonal & (i > 0) & (here == up)
        use_insert = active & ~use_diagonal & ~use_delete
        z0[:, step] = torch.where(use_diagonal | use_delete, token_a, BLANK)
        z1[:, step] = torch.where(use_diagonal | use_insert, token_b, BLANK)
        i = i - (use_diagonal | use_delete).long()
        j = j - (use_diagonal | use_insert).long()
        taken = taken + active.long()

    # Reverse each row's written prefix: column c of row k is step taken[k] - 1 - c.
    columns = torch.arange(steps, device=device)  # [K]
    valid = columns[None, :] < taken[:, None]  # [B, K]
    source_step = (taken[:, None] - 1 - columns[None, :]).clamp(min=0)  # [B, K]
    z0 = torch.where(valid, z0.gather(1, source_step), BLANK)
    z1 = torch.where(valid, z1.gather(1, source_step), BLANK)
    return Alignment(z0=z0, z1=z1, valid=valid, distance=distance)
