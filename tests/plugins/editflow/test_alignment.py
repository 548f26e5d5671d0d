"""The batched minimum edit distance alignment against brute force on small cases."""

from __future__ import annotations

import itertools
import random
from functools import cache

import torch

from dllm_editflow.alignment import BLANK, align


def brute_force_distance(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """Least cost over every alignment, by exhaustive recursion (no table)."""

    @cache
    def best(i: int, j: int) -> int:
        if i == len(a) and j == len(b):
            return 0
        options = []
        if i < len(a) and j < len(b):
            options.append(best(i + 1, j + 1) + (a[i] != b[j]))
        if i < len(a):
            options.append(best(i + 1, j) + 1)
        if j < len(b):
            options.append(best(i, j + 1) + 1)
        return min(options)

    return best(0, 0)


def strip(row: torch.Tensor) -> list[int]:
    return [int(x) for x in row if x != BLANK]


def test_alignment_is_minimal_and_recovers_both_sequences() -> None:
    rng = random.Random(0)
    pairs = [((), ()), ((1,), ()), ((), (2, 3)), ((1, 2, 3), (1, 2, 3)), ((1, 2, 3), (3, 2, 1))]
    pairs += [(tuple(rng.randrange(3) for _ in range(rng.randint(0, 6))),
               tuple(rng.randrange(3) for _ in range(rng.randint(0, 6)))) for _ in range(60)]
    alignment = align([torch.tensor(a, dtype=torch.long) for a, _ in pairs],
                      [torch.tensor(b, dtype=torch.long) for _, b in pairs])
    for k, (a, b) in enumerate(pairs):
        z0, z1 = alignment.z0[k][alignment.valid[k]], alignment.z1[k][alignment.valid[k]]
        assert strip(z0) == list(a) and strip(z1) == list(b)
        assert not bool(((z0 == BLANK) & (z1 == BLANK)).any()), "a column of two blanks"
        cost = int((z0 != z1).sum())
        assert cost == int(alignment.distance[k]) == brute_force_distance(a, b), (a, b)
        assert not bool(alignment.valid[k, len(z0):].any()) and bool((alignment.z0[k, len(z0):] == BLANK).all())


def test_every_pair_over_a_small_alphabet() -> None:
    words = [w for n in range(4) for w in itertools.product((5, 6), repeat=n)]
    pairs = list(itertools.product(words, words))
    alignment = align([torch.tensor(a, dtype=torch.long) for a, _ in pairs],
                      [torch.tensor(b, dtype=torch.long) for _, b in pairs])
    expected = torch.tensor([brute_force_distance(a, b) for a, b in pairs])
    assert torch.equal(alignment.distance, expected)
    assert torch.equal(((alignment.z0 != alignment.z1) & alignment.valid).sum(dim=1), expected)
