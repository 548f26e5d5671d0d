"""The batched minimum edit distance alignment against brute force on small cases: least distance,
then fewest substitutions."""

from __future__ import annotations

import itertools
import random
from functools import cache

import torch

from dllm_editflow.alignment import BLANK, align


def brute_force_cost(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, int]:
    """(least edit distance, fewest substitutions at that distance) over every alignment, by
    exhaustive recursion (no table)."""

    @cache
    def best(i: int, j: int) -> tuple[int, int]:
        if i == len(a) and j == len(b):
            return 0, 0
        options = []
        if i < len(a) and j < len(b):
            distance, substitutions = best(i + 1, j + 1)
            options.append((distance + (a[i] != b[j]), substitutions + (a[i] != b[j])))
        if i < len(a):
            distance, substitutions = best(i + 1, j)
            options.append((distance + 1, substitutions))
        if j < len(b):
            distance, substitutions = best(i, j + 1)
            options.append((distance + 1, substitutions))
        return min(options)

    return best(0, 0)


def substitutions(z0: torch.Tensor, z1: torch.Tensor) -> int:
    return int(((z0 != z1) & (z0 != BLANK) & (z1 != BLANK)).sum())


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
        distance, fewest = brute_force_cost(a, b)
        assert cost == int(alignment.distance[k]) == distance, (a, b)
        assert substitutions(z0, z1) == fewest, (a, b, z0, z1)
        assert not bool(alignment.valid[k, len(z0):].any()) and bool((alignment.z0[k, len(z0):] == BLANK).all())


def test_every_pair_over_a_small_alphabet() -> None:
    words = [w for n in range(4) for w in itertools.product((5, 6), repeat=n)]
    pairs = list(itertools.product(words, words))
    alignment = align([torch.tensor(a, dtype=torch.long) for a, _ in pairs],
                      [torch.tensor(b, dtype=torch.long) for _, b in pairs])
    expected = torch.tensor([brute_force_cost(a, b) for a, b in pairs])  # [N, 2]
    assert torch.equal(alignment.distance, expected[:, 0])
    assert torch.equal(((alignment.z0 != alignment.z1) & alignment.valid).sum(dim=1), expected[:, 0])
    assert [substitutions(alignment.z0[k], alignment.z1[k]) for k in range(len(pairs))] == expected[:, 1].tolist()


def test_deleted_and_added_tokens_are_not_shifted_into_substitutions() -> None:
    """"xxa" -> "a$" is 3 edits as "drop x, drop x, keep a, add $" or as "x -> a, x -> $, drop a";
    the alignment keeps the a in place."""
    x, a, end = 7, 5, 1
    alignment = align([torch.tensor([x, x, a]), torch.tensor([a, 6, x, 8])],
                      [torch.tensor([a, end]), torch.tensor([a, 6, 8, end])])
    columns = [(z0[valid].tolist(), z1[valid].tolist()) for z0, z1, valid in zip(alignment.z0, alignment.z1, alignment.valid)]
    assert columns[0] == ([x, x, a, BLANK], [BLANK, BLANK, a, end])
    assert columns[1] == ([a, 6, x, 8, BLANK], [a, 6, BLANK, 8, end])
