"""The launcher's decisions, without training: configs, the accelerate command, errors."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from scale_runs import environment

from dllm_core.errors import DllmError
from dllm_core.training.adapters import check_adapter_extras
from dllm_core.training.launcher import (
    LaunchOptions,
    check_extras,
    config_names,
    inside_launcher,
    launch_command,
    read_accelerate_config,
    resolve_accelerate_config,
)

EXPECTED = {"cpu": "MULTI_GPU", "ddp": "MULTI_GPU", "zero1": "DEEPSPEED", "zero2": "DEEPSPEED",
            "zero3": "DEEPSPEED", "fsdp2": "FSDP"}
REPO = Path(__file__).resolve().parents[2]


def test_shipped_configs_resolve_and_are_what_their_names_say():
    assert config_names() == sorted(EXPECTED)
    for name, distributed_type in EXPECTED.items():
        config = read_accelerate_config(resolve_accelerate_config(name))
        assert config["distributed_type"] == distributed_type, name
        if distributed_type == "DEEPSPEED":
            assert config["deepspeed_config"]["zero_stage"] == int(name[-1])
    assert read_accelerate_config(resolve_accelerate_config("cpu"))["use_cpu"] is True
    assert read_accelerate_config(resolve_accelerate_config("zero3"))["deepspeed_config"]["zero3_save_16bit_model"]
    fsdp = read_accelerate_config(resolve_accelerate_config("fsdp"))  # the alias is FSDP2
    assert fsdp["fsdp_config"]["fsdp_version"] == 2
    assert fsdp["fsdp_config"]["fsdp_state_dict_type"] == "FULL_STATE_DICT"


def test_repository_scripts_folder_holds_the_shipped_configs():
    assert sorted(p.stem for p in (REPO / "scripts" / "accelerate").glob("*.yaml")) == sorted(EXPECTED)


def test_any_accelerate_yaml_path_is_accepted(tmp_path):
    own = tmp_path / "mine.yaml"
    own.write_text(yaml.safe_dump({"distributed_type": "MULTI_GPU", "num_processes": 4}))
    assert resolve_accelerate_config(str(own)) == own.resolve()
    with pytest.raises(DllmError, match="does not exist"):
        resolve_accelerate_config(str(tmp_path / "missing.yaml"))
    (tmp_path / "bad.yaml").write_text("just: text\n")
    with pytest.raises(DllmError, match="not an accelerate config"):
        read_accelerate_config(tmp_path / "bad.yaml")


def test_launch_command_passes_the_rendezvous_options():
    options = LaunchOptions("zero2", num_processes=16, num_machines=2, machine_rank=1,
                            main_process_ip="10.0.0.1", main_process_port=29400)
    command = launch_command(options, Path("/cfg/zero2.yaml"), ["run.json"])
    assert command[:3] == [sys.executable, "-m", "accelerate.commands.launch"]
    text = " ".join(command)
    assert ("--config_file /cfg/zero2.yaml --num_processes 16 --num_machines 2 --machine_rank 1 "
            "--main_process_ip 10.0.0.1 --main_process_port 29400 -m dllm_core.training.worker run.json") in text
    assert options.wanted() and LaunchOptions(num_processes=2).wanted() and not LaunchOptions().wanted()
    assert not LaunchOptions(num_processes=1).wanted()
    assert inside_launcher({"LOCAL_RANK": "0"}) and not inside_launcher({})


def test_missing_extras_name_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("deepspeed", "peft", "bitsandbytes") else real(name, *a))
    with pytest.raises(DllmError, match=r"pip install 'dllm-core\[deepspeed\]'"):
        check_extras({"distributed_type": "DEEPSPEED"})
    check_extras({"distributed_type": "FSDP"})
    with pytest.raises(DllmError, match=r"--lora needs peft.*pip install 'dllm-core\[lora\]'"):
        check_adapter_extras(object(), load_in_4bit=False)
    with pytest.raises(DllmError, match=r"--load-in-4bit needs bitsandbytes.*pip install 'dllm-core\[quant\]'"):
        check_adapter_extras(None, load_in_4bit=True)


def _cli(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd,
                          env=environment(), timeout=120)


TRAIN = ("'train', '--family', 'llada', '--preset', 'tiny', '--data', 'sudoku4[train:8]', "
         "'--output-dir', 'out', ")


@pytest.mark.parametrize(
    "hide, extra_args, message",
    [
        ("", "'--accelerate-config', 'zero4'", "unknown accelerate config 'zero4'. Did you mean"),
        ("", "'--accelerate-config', 'my.yaml'", "accelerate config file my.yaml does not exist"),
        ("deepspeed", "'--accelerate-config', 'zero3', '--num-processes', '2'",
         "needs deepspeed, which is not installed: pip install 'dllm-core[deepspeed]'"),
        ("peft", "'--lora', '--model', 'base'", "--lora needs peft, which is not installed: "
                                                "pip install 'dllm-core[lora]'"),
        ("bitsandbytes", "'--load-in-4bit', '--model', 'base'",
         "--load-in-4bit needs bitsandbytes, which is not installed: pip install 'dllm-core[quant]'"),
        ("", "'--lora'", "--lora and --load-in-4bit adapt a trained checkpoint: pass --model PATH"),
        ("", "'--streaming'", "--streaming packs pretraining text of unknown length"),
        ("", "'--num-machines', '2', '--num-processes', '4'", "--num-machines > 1 needs --main-process-ip"),
    ],
)
def test_bad_scale_input_is_one_line_exit_2_and_starts_nothing(hide, extra_args, message, tmp_path):
    args = TRAIN + extra_args
    if "--model" in args:
        args = args.replace("'--family', 'llada', '--preset', 'tiny', ", "")
    code = (f"import sys; sys.modules[{hide!r}] = None\n" if hide else "import sys\n") + (
        f"from dllm_core.cli.main import main; sys.exit(main([{args}]))")
    result = _cli(code, tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
