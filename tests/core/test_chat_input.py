"""``dllm chat`` reads a message over several lines: a sudoku grid pasted between fences,
continued with a trailing backslash, or written with ``\\n`` escapes, all give the same text."""

from __future__ import annotations

import pytest

from dllm_core.cli.chat_command import read_message

GRID = "1200\n3400\n0000\n4321"


def typed(*lines: str):
    """A stand-in for ``input``: returns ``lines`` in order, records the prompts shown."""
    queue, shown = list(lines), []

    def read(prompt: str) -> str:
        shown.append(prompt)
        if not queue:
            raise EOFError
        return queue.pop(0)

    return read, shown


@pytest.mark.parametrize("lines", [
    ('"""', "1200", "3400", "0000", "4321", '"""'),
    ("1200\\", "3400\\", "0000\\", "4321"),
    ("1200\\n3400\\n0000\\n4321",),
], ids=["fenced block", "trailing backslash", "escapes"])
def test_a_grid_over_several_lines_is_one_message(lines):
    read, shown = typed(*lines, "next message")
    assert read_message(read) == GRID
    assert shown[0] == "you> " and all(prompt == "... " for prompt in shown[1:])
    assert read_message(read) == "next message"  # the next message starts after the grid


def test_a_fenced_block_keeps_its_lines_as_typed():
    read, _ = typed('"""', "x\\n = 1  ", "", "end\\", '"""')
    assert read_message(read) == "x\\n = 1  \n\nend\\"


def test_end_of_input_inside_a_message_ends_the_chat():
    read, _ = typed('"""', "1200")
    with pytest.raises(EOFError):
        read_message(read)
