"""Minimum edit distance alignment of token sequences, batched in torch.

Edit Flows (arXiv 2506.09018, section 3.2) couples a source x_0 and a target x_1 through an
alignment: two equal-length sequences z_0, z_1 over the vocabulary plus a blank ``BLANK`` such
that removing the blanks gives back x_0 and x_1. Column i is

* a match or substitution when z_0^i and z_1^i are both tokens,
* a deletion when z_1^i is blank (z_0^i is removed),
* an insertion when z_0^i is blank (z_1^i is added).

We take an alignment of least cost (substitution, insertion and deletion cost 1; a match 0), so
the number of columns with z_0^i != z_1^i is the Levenshtein distance d(x_0, x_1), and among
those the one with the fewest substitutions. The second rule matters for learning: with
n = |x_0| and m = |x_1|, an alignment with M matches and S substitutions costs n + m - 2M - S,
so at equal cost each extra match replaces two substitutions. "xxa" -> "a<eos>" costs 3 both as
"delete x, delete x, keep a, insert <eos>" and as "x -> a, x -> <eos>, delete a"; the first is
the edit a task means (a local rule: drop every x), the second a chain of shifts whose every
step depends on distant tokens, which a model learns far more slowly.

Both rules at once are one cost: gap (insertion or deletion) C and substitution C + 1 with
C = n + m + 1 > any number of substitutions, so cost = C d + S and d = cost // C.

The table D[i, j] (least cost of x_0[:i] against x_1[:j]) is filled one row of x_0 at a time for
all pairs of the batch at once. Within a row, the left-neighbour term D[i, j-1] + C is a running
minimum: with T[j] = min(D[i-1, j] + C, D[i-1, j-1] + (C + 1) [x_0^i != x_1^j]),

    D[i, j] = min_{k <= j} (T[k] + C (j - k)) = C j + cummin_k (T[k] - C k),

so a row costs a handful of vectorised operations and a batch of pairs of lengths <= (n, m)
costs O(n) tensor operations. The backtrace walks all pairs at once too (n + m steps), taking
among the optimal moves a match, else a deletion, else an insertion, else a substitution.
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


def levenshtein_tables(a: torch.Tensor, b: torch.Tensor, gap: int = 1, substitution: int = 1) -> torch.Tensor:
    """The least-cost tables of the pairs ``(a[k], b[k])`` over their full padded widths.

    ``a [B, n]``, ``b [B, m]`` -> ``D [B, n + 1, m + 1]`` with D[k, i, j] the least cost of
    aligning ``a[k, :i]`` with ``b[k, :j]`` (an insertion or deletion costs ``gap``, a
    substitution ``substitution``; the defaults give the Levenshtein distance). Read each pair at
    its own lengths: ``D[k, len_a[k], len_b[k]]`` (padding columns only ever extend a prefix, so
    the entries inside each pair's lengths are exact).
    """
    batch, n = a.shape
    m = b.shape[1]
    cols = gap * torch.arange(m + 1, device=a.device)  # [m + 1], C j
    table = torch.empty((batch, n + 1, m + 1), dtype=torch.long, device=a.device)
    table[:, 0] = cols
    for i in range(1, n + 1):
        previous = table[:, i - 1]  # [B, m + 1]
        differs = substitution * (a[:, i - 1 : i] != b).long()  # [B, m]
        through = torch.empty_like(previous)
        through[:, 0] = previous[:, 0] + gap  # D[i, 0] = C i
        through[:, 1:] = torch.minimum(previous[:, 1:] + gap, previous[:, :-1] + differs)
        table[:, i] = torch.cummin(through - cols, dim=1).values + cols
    return table


def align(sources: Sequence[torch.Tensor], targets: Sequence[torch.Tensor]) -> Alignment:
    """Align each ``sources[k]`` (x_0) with ``targets[k]`` (x_1) at minimum edit distance, and
    with the fewest substitutions among those.

    Rows may have any lengths, including 0. Tensors land on the device of the first source.
    """
    if len(sources) != len(targets):
        raise ValueError(f"got {len(sources)} sources for {len(targets)} targets")
    device = sources[0].device if len(sources) and isinstance(sources[0], torch.Tensor) else torch.device("cpu")
    a, len_a = _pad(sources, device)  # [B, n]
    b, len_b = _pad(targets, device)  # [B, m]
    batch = a.shape[0]
    gap = a.shape[1] + b.shape[1] + 1  # C
    table = levenshtein_tables(a, b, gap, gap + 1)  # [B, n + 1, m + 1], C d + S
    rows = torch.arange(batch, device=device)
    distance = table[rows, len_a, len_b] // gap  # [B]

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
        both = (i > 0) & (j > 0)
        diagonal = table[rows, (i - 1).clamp(min=0), (j - 1).clamp(min=0)]
        up = table[rows, (i - 1).clamp(min=0), j] + gap
        left = table[rows, i, (j - 1).clamp(min=0)] + gap
        use_match = active & both & (token_a == token_b) & (here == diagonal)
        use_delete = active & ~use_match & (i > 0) & (here == up)
        use_insert = active & ~use_match & ~use_delete & (j > 0) & (here == left)
        use_substitute = active & ~use_match & ~use_delete & ~use_insert  # here == diagonal + C + 1
        use_diagonal = use_match | use_substitute
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
