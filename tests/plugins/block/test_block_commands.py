"""``dllm sample --generator bd3lm`` / ``--generator llada2`` end to end on a tiny LLaDA checkpoint
(a family with a cache and 4D masks): the session's roles, defaults and seeding reach the block
generators, ``--show-denoising`` replays their steps, and the answers equal a direct run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("dllm_llada", reason="the LLaDA model plugin (plugins/dllm-llada) is not installed")

from dllm_core.checkpoint import CheckpointInfo, save_checkpoint  # noqa: E402
from dllm_core.data.tokenizer import build_char_tokenizer  # noqa: E402
from dllm_core.session import InferenceSession  # noqa: E402
from dllm_llada.configuration_llada import LLaDAConfig  # noqa: E402
from dllm_llada.family import PRESETS  # noqa: E402
from dllm_llada.modeling_llada import LLaDAModelLM  # noqa: E402

DLLM = [sys.executable, "-m", "dllm_core.cli.main"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    tokenizer = build_char_tokenizer()
    config = LLaDAConfig(**{
        **PRESETS["tiny"], "d_model": 32, "n_heads": 2, "n_kv_heads": 2, "n_layers": 2, "mlp_hidden_size": 64,
        "vocab_size": len(tokenizer), "mask_token_id": tokenizer.mask_token_id,
        "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id,
    })
    info = CheckpointInfo(family="llada", generator={"preset": "llada", "steps": 4, "gen_length": 8, "block_length": 4})
    return save_checkpoint(LLaDAModelLM(config), tokenizer, tmp_path_factory.mktemp("block") / "tiny", info)


def _sample(checkpoint: Path, *args: str) -> str:
    result = subprocess.run([*DLLM, "sample", str(checkpoint), "--prompt", "12+30=", *args],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.parametrize("generator,values,nfe", [
    ("bd3lm", {}, 2 * (1 + 2)),  # two blocks, each a prefix call and two steps
    ("llada2", {"threshold": 0.9}, None),
])
def test_dllm_sample_runs_block_generators(checkpoint, generator, values, nfe):
    named = [arg for name, value in values.items() for arg in (f"--{name}", str(value))]
    out = _sample(checkpoint, "--generator", generator, "--gen-length", "8", "--block-length", "4", "--steps", "4",
                  "--show-denoising", *named)
    session = InferenceSession.load(checkpoint, generator=generator)
    expected = session.complete(["12+30="], session.params({"length": 8, "block": 4, "steps": 4}, values))[0]
    assert "step   1" in out  # --show-denoising replayed the steps
    assert f"### prompt 1 (nfe {expected.nfe})" in out and f"### completion\n{expected.text}\n" in out
    if nfe is not None:
        assert expected.nfe == nfe
