"""dllm entry point of the ``dllm-bertchat`` distribution: the BERT-chat family and its bundled
chat-style SFT set (task ``bertchat-qa``)."""

from __future__ import annotations

from typing import Callable

from dllm_core.api import hookimpl
from dllm_bertchat.family import BERTCHAT


@hookimpl
def dllm_register_families(register: Callable[..., None]) -> None:
    register(BERTCHAT)


@hookimpl
def dllm_register_tasks(register: Callable[..., None]) -> None:
    register("bertchat-qa", "dllm_bertchat.chat_data:BertChatQATask",
             description="chat questions over addition, countdown and 4x4 sudoku")
