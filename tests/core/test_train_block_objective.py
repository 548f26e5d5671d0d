"""What a block-diffusion run records and inherits: the objective a fine-tuning run takes from the
base checkpoint's ``dllm.json`` (and the family's ``objective_defaults``), and the generator and
block size a trained checkpoint's ``dllm.json`` names, so sampling needs no flags."""

from __future__ import annotations

import json
from pathlib import Path

from dllm_core.checkpoint import CheckpointInfo
from dllm_core.family import ModelFamily
from dllm_core.training.run import build_objective, checkpoint_info
from dllm_core.training.run_config import TrainRunConfig

LLADA_LIKE = ModelFamily(name="toy", default_generator="llada",
                         generator_defaults={"steps": 64, "gen_length": 64, "block_length": 32})
BLOCK_NATIVE = ModelFamily(name="toy-block", default_objective="block-diffusion", default_generator="bd3lm",
                           objective_defaults={"block-diffusion": {"block_size": 32}},
                           generator_defaults={"steps": 128, "max_new_tokens": 128, "block_size": 32})


def _base(tmp_path: Path, objective: dict) -> str:
    CheckpointInfo(family="toy", objective=objective).write(tmp_path)
    return str(tmp_path)


def test_fine_tuning_keeps_the_base_checkpoints_objective_and_block_size(tmp_path):
    model = _base(tmp_path, {"name": "block-diffusion", "block_size": 8, "eps": 0.01})
    objective = build_objective(TrainRunConfig(data="d", output_dir=Path("o"), model=model), LLADA_LIKE)
    assert objective.name == "block-diffusion" and objective.config.block_size == 8
    assert objective.config.eps == 1e-3  # only the options the weights were shaped by carry over
    flagged = TrainRunConfig(data="d", output_dir=Path("o"), model=model, objective_options={"block_size": 16})
    assert build_objective(flagged, LLADA_LIKE).config.block_size == 16


def test_a_family_default_block_size_applies_to_a_fresh_run():
    objective = build_objective(TrainRunConfig(data="d", output_dir=Path("o")), BLOCK_NATIVE)
    assert objective.name == "block-diffusion" and objective.config.block_size == 32
    assert build_objective(TrainRunConfig(data="d", output_dir=Path("o")), LLADA_LIKE).name == "masked-diffusion"


def test_block_trained_checkpoint_names_the_block_generator_and_its_block_size(tmp_path):
    config = TrainRunConfig(data="d", output_dir=Path("o"), objective="block-diffusion",
                            objective_options={"block_size": 4})
    info = checkpoint_info(config, LLADA_LIKE, build_objective(config, LLADA_LIKE))
    assert info.generator == {"preset": "bd3lm", "steps": 64, "max_new_tokens": 64, "block_size": 4}
    assert info.objective["name"] == "block-diffusion" and info.objective["block_size"] == 4
    masked = TrainRunConfig(data="d", output_dir=Path("o"))
    plain = checkpoint_info(masked, LLADA_LIKE, build_objective(masked, LLADA_LIKE))
    assert plain.generator == {"preset": "llada", "steps": 64, "gen_length": 64, "block_length": 32}


def test_a_block_native_family_keeps_its_generator_at_the_trained_block_size():
    config = TrainRunConfig(data="d", output_dir=Path("o"), objective_options={"block_size": 16},
                            generator_defaults={"steps": 32})
    info = checkpoint_info(config, BLOCK_NATIVE, build_objective(config, BLOCK_NATIVE))
    assert info.generator == {"preset": "bd3lm", "steps": 32, "max_new_tokens": 128, "block_size": 16}
    assert json.loads(json.dumps(info.generator)) == info.generator
