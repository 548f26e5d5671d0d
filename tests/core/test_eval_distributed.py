"""Rank, world size and the collectives lm-eval's evaluator calls, in two real CPU processes
started the way ``torchrun`` / ``accelerate launch`` start them (environment variables)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import torch

from dllm_core import distributed

WORKER = """
import json, torch
from dllm_core import distributed
info = distributed.ProcessInfo.from_accelerate()
sizes = distributed.all_gather(torch.tensor(info.rank + 5), info.world_size)  # lm-eval's shard sizes
gathered = distributed.gather_object({"rank": info.rank}, info.rank, info.world_size)
distributed.barrier(info.world_size)
print(json.dumps([info.rank, info.world_size, info.device, sizes.tolist(), gathered]))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_launched_processes_see_their_rank_and_gather():
    port = str(free_port())
    workers = []
    for rank in range(2):
        env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port, "WORLD_SIZE": "2",
               "RANK": str(rank), "LOCAL_RANK": str(rank), "CUDA_VISIBLE_DEVICES": ""}
        workers.append(subprocess.Popen([sys.executable, "-c", WORKER], env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True))
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], [err[-2000:] for _, err in outputs]
    first, second = (json.loads(out.strip().splitlines()[-1]) for out, _ in outputs)
    assert first == [0, 2, "cpu", [5, 6], [{"rank": 0}, {"rank": 1}]]
    assert second == [1, 2, "cpu", [5, 6], None]


def test_a_single_process_needs_no_process_group():
    info = distributed.ProcessInfo.from_accelerate()
    assert (info.rank, info.world_size) == (0, 1)
    tensor = torch.tensor(3)
    assert distributed.all_gather(tensor, 1) is tensor
    assert distributed.gather_object({"a": 1}, 0, 1) == [{"a": 1}]
    distributed.barrier(1)
