"""leave_process_group: destroys a joined group, and is a no-op without one."""

import torch
import torch.distributed as dist

from dllm_core.process_group import leave_process_group


def test_leaves_a_joined_group_and_then_does_nothing(tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    assert dist.is_initialized()
    leave_process_group()
    assert not dist.is_initialized()
    leave_process_group()  # no group: nothing to do, no error
    assert not dist.is_initialized()


def test_without_a_group_it_is_a_no_op():
    assert torch.distributed.is_available()
    assert not dist.is_initialized()
    leave_process_group()
    assert not dist.is_initialized()
