"""End to end on the tiny LLaDA preset: train -> checkpoint -> reload -> sample -> chat."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from support.terminal import TerminalSession

from dllm_core.training.run import run_training
from dllm_core.training.run_config import TrainRunConfig

DLLM = [sys.executable, "-m", "dllm_core.cli.main"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("run") / "tiny"
    config = TrainRunConfig(data="sudoku4[train:128,test:16]", output_dir=output, family="llada",
                            preset="tiny", max_steps=6, batch_size=8, logging_steps=2,
                            disable_progress_bar=True)
    result = run_training(config)
    assert result.eval_metrics["eval_nll_bound"] > 0
    return output


def test_checkpoint_folder_is_complete(checkpoint):
    names = {p.name for p in checkpoint.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "dllm.json", "loss_curve.png"} <= names
    assert not [n for n in names if n.startswith(".")], "temporary staging folders were left behind"
    info = json.loads((checkpoint / "dllm.json").read_text())
    assert info["family"] == "llada" and info["objective"]["name"] == "masked-diffusion"
    assert info["schedule"] == {"name": "linear"} and info["generator"]["preset"] == "llada"
    assert info["extra"]["sft_padding"] == "eos"  # LLaDA SFT trains on EOS padding
    history = json.loads((checkpoint / "log_history.json").read_text())
    assert [row["step"] for row in history if "loss" in row] == [2, 4, 6]


def test_reload_gives_identical_logits_through_auto_class_and_sampler(checkpoint, torch_threads):
    from transformers import AutoModelForMaskedLM

    import dllm_llada.modeling_llada as modeling
    from dllm_core.session import InferenceSession

    modeling.register_with_transformers()
    auto = AutoModelForMaskedLM.from_pretrained(checkpoint).eval()
    sampler = InferenceSession.load(checkpoint)
    assert type(auto) is type(sampler.model) is modeling.LLaDAModelLM
    ids = torch.tensor([sampler.encode("1234\n3412\n", add_special_tokens=False)])
    with torch.no_grad():  # one thread: the sampler's LM head is column-major (load_for_inference)
        torch.testing.assert_close(auto(ids).logits, sampler.model(ids).logits, rtol=0, atol=0)


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*DLLM, *args], capture_output=True, text=True, timeout=300)


def test_dllm_sample_prints_a_completion_of_the_asked_length(checkpoint):
    result = _run("sample", str(checkpoint), "--prompt", "1200\\n3400\\n0000\\n4321",
                  "--gen-length", "8", "--steps", "8", "--block-length", "8", "--show-denoising")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "### completion" in result.stdout and "(nfe 8)" in result.stdout
    assert result.stdout.count("step ") == 8  # one frame per forward call


def test_dllm_sample_fast_settings_and_prompts_file(checkpoint, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("1200\\n3400\\n0000\\n4321\n0000\\n0000\\n1234\\n3412\n")
    result = _run("sample", str(checkpoint), "--prompts-file", str(prompts), "--gen-length", "16",
                  "--steps", "16", "--block-length", "8", "--use-cache", "dual", "--threshold", "0.9")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("### completion") == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (("train", "--family", "lada", "--preset", "tiny", "--data", "sudoku4", "--output-dir", "x"),
         "unknown family 'lada'. Did you mean 'llada'?"),
        (("train", "--family", "llada", "--preset", "huge", "--data", "sudoku4[train:8]", "--output-dir", "x"),
         "unknown llada preset 'huge'"),
        (("train", "--family", "llada", "--preset", "tiny", "--data", "sudoku4[train:8", "--output-dir", "x"),
         "unclosed '[' in dataset spec"),
    ],
)
def test_bad_train_input_is_one_line_exit_2_and_writes_nothing(args, message, tmp_path):
    result = subprocess.run([*DLLM, *args], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_prompt_longer_than_the_context_is_a_clear_error(checkpoint):
    result = _run("sample", str(checkpoint), "--prompt", "1" * 1100, "--gen-length", "8", "--steps", "8",
                  "--block-length", "8")
    assert result.returncode == 2
    assert "exceeds the model's context of 1024" in result.stderr


def test_checkpoint_without_mask_token_is_a_clear_error(checkpoint, tmp_path):
    broken = tmp_path / "nomask"
    broken.mkdir()
    for path in checkpoint.iterdir():
        if path.is_file() and path.name not in {"dllm.json"}:
            (broken / path.name).write_bytes(path.read_bytes())
    config = json.loads((broken / "config.json").read_text())
    config["mask_token_id"] = None
    (broken / "config.json").write_text(json.dumps(config))
    tokenizer_config = json.loads((broken / "tokenizer_config.json").read_text())
    tokenizer_config.pop("mask_token", None)
    (broken / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    tokenizer = json.loads((broken / "tokenizer.json").read_text())
    tokenizer["added_tokens"] = [t for t in tokenizer["added_tokens"] if t["content"] != "<|mdm_mask|>"]
    tokenizer["model"]["vocab"].pop("<|mdm_mask|>", None)
    (broken / "tokenizer.json").write_text(json.dumps(tokenizer))
    result = _run("sample", str(broken), "--prompt", "12")
    assert result.returncode == 2, result.stderr[-2000:]
    assert "has no mask token" in result.stderr and "Fix:" in result.stderr


def test_dllm_chat_two_turns_through_a_pseudo_terminal(checkpoint):
    command = [*DLLM, "chat", str(checkpoint), "--gen-length", "8", "--steps", "8", "--block-length", "8"]
    with TerminalSession(command) as chat:
        assert b"/reset" in chat.expect(b"you> ")
        chat.send("1200")
        assert b"dllm> " in chat.expect(b"you> ")
        chat.send("/reset")
        assert b"conversation cleared" in chat.expect(b"you> ")
        for line in ('"""', "3400", "0000"):  # a pasted block: one message of two lines
            chat.send(line)
            chat.expect(b"... ")
        chat.send('"""')
        assert b"dllm> " in chat.expect(b"you> ")
        chat.send("/quit")
        assert chat.wait() == 0


def test_a_lora_adapter_folder_samples_like_its_merged_model(checkpoint, tmp_path):
    from peft import LoraConfig, get_peft_model

    from dllm_core.checkpoint import load_model, resolve_family
    from dllm_core.session import InferenceSession

    base = load_model(checkpoint)
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                                 init_lora_weights=False))
    adapter = tmp_path / "adapter"
    peft_model.save_pretrained(adapter)
    assert resolve_family(adapter).name == "llada"
    merged = peft_model.merge_and_unload().eval()
    sampler = InferenceSession.load(adapter)
    ids = torch.tensor([sampler.encode("1234\n3412\n", add_special_tokens=False)])
    with torch.no_grad():
        torch.testing.assert_close(sampler.model(ids).logits, merged(ids).logits, rtol=1e-5, atol=1e-5)
        assert not torch.allclose(sampler.model(ids).logits, load_model(checkpoint)(ids).logits)
    [completion] = sampler.complete(["1200\n3400\n0000\n4321"], sampler.params(roles={'length': 8, 'steps': 8, 'block': 8}), chat=True)
    assert completion.nfe == 8
