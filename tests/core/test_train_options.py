"""``dllm train``'s options, declared once on ``TrainRunConfig`` and ``LaunchOptions``: the flags and
their help, parsing a command line, the JSON that launched processes read, and ``--weighting``."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from dllm_core.cli.main import build_parser, main
from dllm_core.dataclass_options import (
    add_options,
    from_json,
    from_namespace,
    option,
    option_flag,
    option_spec,
    to_json,
)
from dllm_core.errors import DllmError
from dllm_core.family import ModelFamily
from dllm_core.training.adapters import LoraOptions
from dllm_core.training.launcher import LaunchOptions
from dllm_core.training.run import build_objective, check_weighting
from dllm_core.training.run_config import TrainRunConfig

#: the flags users' commands have (names must never change)
EXISTING_FLAGS = {
    "--family", "--preset", "--backbone", "--model", "--data", "--mode", "--max-length", "--sft-padding",
    "--objective", "--schedule", "--weighting", "--objective-option", "--output-dir", "--max-steps",
    "--num-train-epochs", "--batch-size", "--gradient-accumulation-steps", "--learning-rate", "--weight-decay",
    "--warmup-ratio", "--lr-scheduler-type", "--logging-steps", "--save-steps", "--eval-steps", "--seed", "--bf16",
    "--gradient-checkpointing", "--report-to", "--resume", "--no-progress", "--save-total-limit", "--streaming",
    "--lora", "--lora-r", "--lora-alpha", "--lora-dropout", "--lora-target-modules", "--lora-modules-to-save",
    "--load-in-4bit", "--accelerate-config", "--num-processes", "--num-machines", "--machine-rank",
    "--main-process-ip", "--main-process-port",
}


def parse_train(*argv: str) -> tuple[TrainRunConfig, LaunchOptions]:
    args = build_parser("train").parse_args(["train", *argv])
    return from_namespace(TrainRunConfig, args), from_namespace(LaunchOptions, args)


def test_every_field_is_one_documented_flag_that_help_lists(capsys):
    flags: dict[str, str] = {}
    for cls in (TrainRunConfig, LaunchOptions):
        for field in dataclasses.fields(cls):
            assert option_spec(field).help.strip(), f"{cls.__name__}.{field.name} has no help"
            assert option_flag(field) not in flags, f"{field.name} and {flags[option_flag(field)]} share a flag"
            flags[option_flag(field)] = field.name
    assert EXISTING_FLAGS <= set(flags)
    assert flags["--no-progress"] == "disable_progress_bar" and flags["--objective-option"] == "objective_options"
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    listed = re.findall(r"^  (--[a-z0-9-]+)", capsys.readouterr().out, flags=re.MULTILINE)
    assert sorted(listed) == sorted(flags)


def test_defaults_are_those_of_the_dataclasses():
    config, launch = parse_train("--data", "sudoku4", "--output-dir", "out")
    assert config == TrainRunConfig(data="sudoku4", output_dir=Path("out"))
    assert launch == LaunchOptions() and not launch.wanted()
    assert config.lora_options is None
    assert (config.mode, config.max_length, config.learning_rate, config.lora_target_modules) == (
        "sft", 256, 1e-3, ["all-linear"])


def test_a_realistic_command_line_gives_the_expected_config():
    config, launch = parse_train(
        "--model", "runs/base", "--data", "chat.jsonl", "--mode", "pt", "--max-length", "512", "--sft-padding", "eos",
        "--weighting", "cart", "--objective-option", "cart_p=0.5", "--objective-option", "note=plain text",
        "--objective-option", "ids=[1, 2]", "--output-dir", "runs/sft", "--max-steps", "100",
        "--learning-rate", "2e-4", "--bf16", "--no-progress", "--save-steps", "50", "--generator-default", "steps=64",
        "--lora", "--lora-r", "8", "--lora-alpha", "16", "--lora-target-modules", "q_proj, v_proj",
        "--accelerate-config", "zero2", "--num-processes", "2",
    )
    assert config == TrainRunConfig(
        model="runs/base", data="chat.jsonl", mode="pt", max_length=512, sft_padding="eos", weighting="cart",
        objective_options={"cart_p": 0.5, "note": "plain text", "ids": [1, 2]}, output_dir=Path("runs/sft"),
        max_steps=100, learning_rate=2e-4, bf16=True, disable_progress_bar=True, save_steps=50,
        generator_defaults={"steps": 64}, lora=True, lora_r=8, lora_alpha=16.0,
        lora_target_modules=["q_proj", "v_proj"],
    )
    assert config.lora_options == LoraOptions(rank=8, alpha=16.0, dropout=0.05, target_modules=["q_proj", "v_proj"],
                                              modules_to_save=[])
    assert launch == LaunchOptions("zero2", num_processes=2) and launch.wanted()


def test_list_options_repeat_and_replace_their_default():
    config, _ = parse_train("--data", "d", "--output-dir", "o", "--mode", "grpo", "--reward", "sudoku4",
                            "--reward", "format, my_rewards.py:length", "--lora-target-modules", "q_proj",
                            "--lora-target-modules", "v_proj")
    assert config.reward == ["sudoku4", "format", "my_rewards.py:length"]  # every use counts, in order
    assert config.lora_target_modules == ["q_proj", "v_proj"]  # the default all-linear is replaced, not kept
    assert TrainRunConfig(data="d", output_dir=Path("o")).lora_target_modules == ["all-linear"]  # default untouched


def test_load_in_4bit_implies_the_default_adapter():
    config, _ = parse_train("--model", "m", "--data", "d.jsonl", "--output-dir", "o", "--load-in-4bit")
    assert config.lora_options == LoraOptions(rank=16, alpha=32.0, dropout=0.05, target_modules=["all-linear"],
                                              modules_to_save=[])


@pytest.mark.parametrize("argv, message", [
    (("--objective-option", "cart_p"), "argument --objective-option: 'cart_p' is not KEY=VALUE"),
    (("--mode", "chat"), "argument --mode: invalid choice: 'chat'"),
])
def test_bad_values_are_one_line(argv, message, capsys):
    assert main(["train", "--data", "d", "--output-dir", "o", *argv]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


def test_config_round_trips_through_json(tmp_path):
    config = TrainRunConfig(
        family="llada", preset="tiny", backbone=None, model=None, data="sudoku4[train:8,test:2]", mode="pt",
        max_length=64, sft_padding="eos", text_field="body", on_bad_record="skip", streaming=True,
        objective="masked-diffusion", schedule="cosine",
        weighting="uniform", time_sampling="stratified", random_length_ratio=0.01,
        objective_options={"cart_p": 0.5, "source": "prompt", "nested": {"ids": [1, 2]}},
        output_dir=tmp_path / "run", max_steps=7, num_train_epochs=2.5, batch_size=3, gradient_accumulation_steps=2,
        learning_rate=3e-4, weight_decay=0.1, warmup_ratio=0.05, lr_scheduler_type="cosine", logging_steps=1,
        save_steps=2, save_total_limit=1, eval_steps=None, seed=7, bf16=True, gradient_checkpointing=True,
        report_to="tensorboard", resume=True, disable_progress_bar=True, generator_defaults={"steps": 8},
        lora=True, lora_r=4, lora_alpha=8.0, lora_dropout=0.0, lora_target_modules=["q_proj", "v_proj"],
        lora_modules_to_save=["ln_f"], load_in_4bit=True,
        reward=["format", "m:f"], num_generations=8, num_iterations=2, epsilon=0.1, beta=0.0, p_mask_prompt=0.3,
        logp_estimator="trajectory", trajectory_shrinkage=2,
        temperature=0.7, sync_ref_steps=5,
    )
    defaults = TrainRunConfig(data="x", output_dir=Path("x"))
    unchanged = {f.name for f in dataclasses.fields(config) if getattr(config, f.name) == getattr(defaults, f.name)}
    assert unchanged == {"backbone", "model", "eval_steps"}  # the None kind; every other field is set
    restored = from_json(TrainRunConfig, to_json(config))
    assert restored == config and isinstance(restored.output_dir, Path)
    assert isinstance(restored.num_train_epochs, float) and restored.eval_steps is None
    launch = LaunchOptions("fsdp2", num_processes=4, num_machines=2, machine_rank=1, main_process_ip="10.0.0.1",
                           main_process_port=29500)
    assert from_json(LaunchOptions, to_json(launch)) == launch


class ThirdPartyConfig:
    weightings: ClassVar[tuple[str, ...]] = ("focal", "schedule")


class ThirdPartyObjective:
    name = "third-party"
    config_class = ThirdPartyConfig


class NoWeightingObjective:
    name = "no-weighting"
    config_class = object


def test_unknown_weighting_is_one_line_naming_the_objectives_weightings():
    family = ModelFamily(name="toy")  # default objective: masked-diffusion
    with pytest.raises(DllmError) as error:
        build_objective(TrainRunConfig(data="sudoku4", output_dir=Path("unused"), weighting="elbo"), family)
    message = str(error.value)
    assert "\n" not in message
    assert "--weighting for objective masked-diffusion 'elbo'" in message
    assert "Known: cart, schedule, uniform." in message
    with pytest.raises(DllmError, match=r"block-diffusion 'cart'.*Known: schedule, uniform\."):
        build_objective(TrainRunConfig(data="sudoku4", output_dir=Path("unused"), objective="block-diffusion",
                                       weighting="cart"), family)
    check_weighting(ThirdPartyObjective, "focal")  # an objective's config declares its own weightings
    with pytest.raises(DllmError, match="Known: focal, schedule"):
        check_weighting(ThirdPartyObjective, "cart")
    with pytest.raises(DllmError, match="no-weighting has no loss weighting to choose"):
        check_weighting(NoWeightingObjective, "schedule")


def test_the_training_worker_imports_no_cli():
    code = ("import sys, dllm_core.training.worker as w, dllm_core.training.run, dllm_core.training.report\n"
            "sys.exit(3 if [m for m in sys.modules if m.startswith('dllm_core.cli')] else 0)")
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def test_option_types_the_command_line_cannot_read_are_refused():
    @dataclass
    class SetByDefault:
        on: bool = option(True, help="a flag could never turn it off")

    @dataclass
    class Undocumented:
        size: int = 3

    @dataclass
    class Pair:
        inner: tuple[int, int] = option((1, 2), help="no reading for tuples")

    for cls, message in [(SetByDefault, "must default to False"), (Undocumented, "no command-line help"),
                         (Pair, "cannot read")]:
        with pytest.raises(TypeError, match=message):
            add_options(build_parser(None), cls)


def test_values_read_as_json_else_text() -> None:
    @dataclass
    class Options:
        values: dict[str, Any] = option(default_factory=dict, help="KEY=VALUE pairs")

    parser = build_parser(None)
    add_options(parser, Options)
    args = parser.parse_args(["--values", "a=1", "--values", "b=true", "--values", "c={oops", "--values", "d="])
    assert from_namespace(Options, args) == Options({"a": 1, "b": True, "c": "{oops", "d": ""})


def test_time_sampling_and_random_length_flags_reach_the_objective():
    config, _ = parse_train("--data", "d", "--output-dir", "o", "--mode", "pt", "--time-sampling", "low-discrepancy",
                            "--random-length-ratio", "0.01")
    assert (config.time_sampling, config.random_length_ratio) == ("low-discrepancy", 0.01)
    assert config.objective_flag_options() == {"time_sampling": "low-discrepancy", "random_length_ratio": 0.01}
    config.check()
    family = ModelFamily(name="toy")  # default objective: masked-diffusion
    objective = build_objective(config, family)
    assert (objective.config.time_sampling, objective.config.random_length_ratio) == ("low-discrepancy", 0.01)
    defaults = build_objective(TrainRunConfig(data="d", output_dir=Path("o")), family).config
    assert (defaults.time_sampling, defaults.random_length_ratio) == ("iid", 0.0)
    assert parse_train("--data", "d", "--output-dir", "o")[0].objective_flag_options() == {}


@pytest.mark.parametrize("options, message", [
    (dict(time_sampling="antithetic"), "objective masked-diffusion: time_sampling must be one of"),
    (dict(objective_options={"eps": 0}), r"objective masked-diffusion: eps must lie in \(0, 1\)"),
    (dict(mode="pt", random_length_ratio=2.0), "random_length_ratio is a probability"),
])
def test_bad_objective_values_are_one_line_errors(options, message):
    config = TrainRunConfig(data="d", output_dir=Path("o"), **options)
    with pytest.raises(DllmError, match=message) as error:
        build_objective(config, ModelFamily(name="toy"))
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("options, message", [
    (dict(random_length_ratio=0.01), "--random-length-ratio cuts pretraining blocks.*--mode pt"),
    (dict(mode="pt", time_sampling="stratified", objective_options={"time_sampling": "iid"}),
     "--time-sampling stratified and --objective-option time_sampling=iid disagree"),
])
def test_contradicting_objective_flags_are_refused_before_loading(options, message):
    with pytest.raises(DllmError, match=message):
        TrainRunConfig(data="sudoku4", output_dir=Path("o"), **options).check()
