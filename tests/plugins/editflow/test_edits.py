"""Noising lists exactly the edits that turn x_t into x_1; applying edits moves tokens right."""

from __future__ import annotations

import torch

from dllm_editflow.alignment import align
from dllm_editflow.edits import Edits, apply_edits, noise


def replay(row: list[int], prompt_length: int, edits: Edits, b: int) -> list[int]:
    """Apply one row's edits by hand (several insertions after one position kept in order)."""
    deleted = {int(j) for r, j in edits.delete.tolist() if r == b}
    substituted = {int(j): int(a) for r, j, a in edits.substitute.tolist() if r == b}
    out = list(row[:prompt_length])
    inserted: dict[int, list[int]] = {}
    for r, j, a in edits.insert.tolist():
        if r == b:
            inserted.setdefault(j, []).append(a)
    out += inserted.get(prompt_length - 1, [])
    for j in range(prompt_length, len(row)):
        if j not in deleted:
            out.append(substituted.get(j, row[j]))
        out += inserted.get(j, [])
    return out


def test_remaining_edits_turn_x_t_into_x_1() -> None:
    torch.manual_seed(0)
    for trial in range(20):
        batch = 5
        prompts = [torch.randint(10, 20, (int(torch.randint(1, 4, ())),)) for _ in range(batch)]
        sources = [torch.randint(0, 4, (int(torch.randint(0, 7, ())),)) for _ in range(batch)]
        targets = [torch.randint(0, 4, (int(torch.randint(0, 7, ())),)) for _ in range(batch)]
        alignment = align(sources, targets)
        keep = torch.rand(alignment.z0.shape) < trial / 19
        noised = noise(prompts, alignment, keep, pad_token_id=99)
        for b in range(batch):
            length = int(noised.attention_mask[b].sum())
            row = noised.input_ids[b, :length].tolist()
            p = len(prompts[b])
            assert row[:p] == prompts[b].tolist()
            assert noised.editable[b].nonzero().flatten().tolist() == list(range(p, length))
            assert noised.insertable[b].nonzero().flatten().tolist() == list(range(p - 1, length))
            assert replay(row, p, noised.edits, b) == prompts[b].tolist() + targets[b].tolist()
        edits = noised.edits
        if trial == 0:  # kappa = 0: x_t = x_0, every edit of the alignment remains
            assert len(edits.insert) + len(edits.delete) + len(edits.substitute) == int(alignment.distance.sum())
        if trial == 19:  # kappa = 1: x_t = x_1, nothing left
            assert len(edits.insert) + len(edits.delete) + len(edits.substitute) == 0


def test_apply_edits_on_rows_of_different_lengths() -> None:
    ids = torch.tensor([[1, 2, 3, 4], [5, 6, 0, 0]])
    lengths = torch.tensor([4, 2])
    edits = Edits(insert=torch.tensor([[0, 0, 9], [1, 1, 8]]), delete=torch.tensor([[0, 2]]),
                  substitute=torch.tensor([[1, 0, 7]]))
    out, new_lengths = apply_edits(ids, lengths, edits, pad_token_id=0)
    assert new_lengths.tolist() == [4, 3]
    assert out[0].tolist() == [1, 9, 2, 4] and out[1, :3].tolist() == [7, 6, 8]
