"""End to end on the tiny Dream preset: BOS-prefixed data -> train (CART, sft and pt) ->
checkpoint -> reload -> sample, and Dream's ``generation_config.json`` defaults."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dllm_core.data.processing import IGNORE_INDEX, PTConfig, SFTConfig, pack_pretraining, tokenize_sft
from dllm_core.data.tokenizer import build_char_tokenizer
from dllm_core.errors import DllmError
from dllm_core.registry import get_registry
from dllm_core.session import InferenceSession, generation_config_defaults
from dllm_core.training.run import run_training
from dllm_core.training.run_config import TrainRunConfig

DLLM = [sys.executable, "-m", "dllm_core.cli.main"]


def test_prepend_bos_gives_every_example_a_bos_source():
    tokenizer = build_char_tokenizer()
    bos = tokenizer.bos_token_id
    docs = [{"text": "abc"}, {"text": "de"}]  # abc<eos>de<eos>: 7 text tokens
    data, _ = pack_pretraining(docs, tokenizer, PTConfig(block_size=4, prepend_bos=True))
    assert [row[0] for row in data["input_ids"]] == [bos, bos] and len(data) == 2  # 3 text tokens each
    assert tokenizer.decode(data["input_ids"][1], skip_special_tokens=False) == "<|bos|><|endoftext|>de"
    assert all(labels[0] == IGNORE_INDEX and labels[1:] == ids[1:]
               for ids, labels in zip(data["input_ids"], data["labels"]))
    with pytest.raises(DllmError, match="block_size must be at least 2"):
        pack_pretraining(docs, tokenizer, PTConfig(block_size=1, prepend_bos=True))

    no_bos = build_char_tokenizer()
    no_bos.chat_template = "{% for m in messages %}{{ m['content'] + eos_token }}{% endfor %}"
    data, _ = tokenize_sft([{"prompt": "1+1=", "answer": "2"}], no_bos, SFTConfig(prepend_bos=True))
    assert data[0]["input_ids"][0] == bos and data[0]["labels"][0] == IGNORE_INDEX
    # a template that already starts with BOS gets no second one
    data, _ = tokenize_sft([{"prompt": "1+1=", "answer": "2"}], tokenizer, SFTConfig(prepend_bos=True))
    assert data[0]["input_ids"][:2] != [bos, bos] and data[0]["input_ids"][0] == bos


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("run") / "dream-sft"
    config = TrainRunConfig(data="sudoku4[train:64,test:8]", output_dir=output, family="dream",
                            preset="tiny", weighting="cart", max_steps=4, batch_size=8, logging_steps=2,
                            disable_progress_bar=True)
    result = run_training(config)
    assert result.eval_metrics["eval_loss"] > 0
    return output


def test_checkpoint_records_dream_defaults_and_cart(checkpoint):
    info = json.loads((checkpoint / "dllm.json").read_text())
    assert info["family"] == "dream" and info["extra"]["mode"] == "sft"
    assert info["objective"]["weighting"] == "cart" and info["objective"]["cart_p"] == 0.3
    assert info["generator"] == {"preset": "dream", "steps": 128, "max_new_tokens": 128, "alg": "entropy"}
    config = json.loads((checkpoint / "config.json").read_text())
    assert config["model_type"] == "Dream" and config["bos_token_id"] == build_char_tokenizer().bos_token_id


def test_reload_gives_identical_logits_through_auto_class_and_sampler(checkpoint, torch_threads):
    from transformers import AutoModel

    import dllm_dream.modeling_dream as modeling

    modeling.register_with_transformers()
    auto = AutoModel.from_pretrained(checkpoint).eval()
    sampler = InferenceSession.load(checkpoint)
    assert type(auto) is type(sampler.model) is modeling.DreamModel and sampler.generator.name == "dream"
    ids = torch.tensor([sampler.encode("<|bos|>1234\n3412\n", add_special_tokens=False)])
    with torch.no_grad():  # one thread: the sampler's LM head is column-major (load_for_inference)
        torch.testing.assert_close(auto(ids).logits, sampler.model(ids).logits, rtol=0, atol=0)


def test_dllm_sample_on_the_trained_checkpoint(checkpoint):
    result = subprocess.run([*DLLM, "sample", str(checkpoint), "--prompt", "1200\\n3400\\n",
                             "--gen-length", "8", "--steps", "4"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "### completion" in result.stdout and "(nfe 4)" in result.stdout


def test_pretraining_mode_trains_on_bos_prefixed_blocks(tmp_path):
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps({"text": f"doc {i} " + "abc" * 20}) + "\n" for i in range(16)))
    result = run_training(TrainRunConfig(data=str(source), output_dir=tmp_path / "pt", family="dream",
                                         preset="tiny", mode="pt", max_length=32, max_steps=2,
                                         batch_size=4, logging_steps=1, disable_progress_bar=True))
    assert result.train_metrics["train_loss"] > 0
    assert json.loads((tmp_path / "pt" / "dllm.json").read_text())["extra"]["mode"] == "pt"


def test_generation_config_json_supplies_defaults_when_dllm_json_has_none(checkpoint, tmp_path):
    hub_like = tmp_path / "hub"
    shutil.copytree(checkpoint, hub_like)
    info = json.loads((hub_like / "dllm.json").read_text())
    info["generator"] = {"preset": "dream"}  # no parameters
    (hub_like / "dllm.json").write_text(json.dumps(info))
    (hub_like / "generation_config.json").write_text(json.dumps({
        "alg": "maskgit_plus", "alg_temp": 0.0, "steps": 6, "max_new_tokens": 6, "temperature": 0.2,
        "top_p": 0.95, "top_k": None, "eps": 0.001, "bos_token_id": 2, "transformers_version": "4.46.2"}))
    expected = {"alg": "maskgit_plus", "alg_temp": 0.0, "steps": 6, "max_new_tokens": 6,
                "temperature": 0.2, "top_p": 0.95, "eps": 0.001}
    assert generation_config_defaults(hub_like, get_registry().generators.get("dream")) == expected
    sampler = InferenceSession.load(hub_like)
    assert sampler.defaults == expected  # over the family's steps/max_new_tokens/alg
    parameters = sampler.params(roles={"steps": 3})
    assert parameters.steps == 3 and parameters.alg == "maskgit_plus" and parameters.top_p == 0.95
    completion = sampler.complete(["12"], sampler.params(), seed=0)[0]
    assert completion.nfe == 6

    # dllm.json parameters rank above generation_config.json
    assert InferenceSession.load(checkpoint).defaults["steps"] == 128
    (hub_like / "generation_config.json").write_text("{broken")
    with pytest.raises(DllmError, match="generation_config.json"):
        InferenceSession.load(hub_like)
