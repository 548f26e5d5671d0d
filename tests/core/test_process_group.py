"""dllm_core.distributed: leaving a joined group (a no-op without one), a single process's set-up,
and a module that imports torch only when a function needs it."""

import subprocess
import sys

import torch
import torch.distributed as dist

from dllm_core.distributed import ProcessGroup, configure_process_group, leave_process_group


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


def test_a_single_process_needs_no_set_up(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert configure_process_group() == ProcessGroup(False, "single")
    assert not dist.is_initialized()


def test_importing_the_module_imports_no_torch():
    code = "import sys, dllm_core.distributed; sys.exit(3 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0
