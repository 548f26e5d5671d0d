"""DiffusionTrainer on a tiny bidirectional Llama: training, evaluation, resume, GA, peft, plugins."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

transformers = pytest.importorskip("transformers")

from transformers import LlamaConfig, LlamaForCausalLM, TrainerCallback, TrainingArguments  # noqa: E402

from dllm_core.objectives import MaskedDiffusionObjective  # noqa: E402
from dllm_core.errors import PluginError  # noqa: E402
from dllm_core.registry import get_registry  # noqa: E402
from dllm_core.training import DiffusionTrainer  # noqa: E402
from dllm_core.training.plugin_callbacks import PluginCallback  # noqa: E402

VOCAB, LENGTH, PAD, MASK = 12, 12, 10, 11
TEMPLATES = torch.tensor(
    [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8],
        [3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8],
        [1, 5, 1, 5, 1, 5, 2, 6, 2, 6, 2, 6],
    ]
)


class TemplateDataset(torch.utils.data.Dataset):
    """Rows drawn from four templates; two prompt tokens (label -100) and one padding token."""

    def __init__(self, size: int, seed: int) -> None:
        choice = torch.randint(0, len(TEMPLATES), (size,), generator=torch.Generator().manual_seed(seed))
        self.rows = TEMPLATES[choice]  # [N, L]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        ids = self.rows[index].clone()
        ids[-1] = PAD
        labels = ids.clone()
        labels[:2] = -100
        labels[-1] = -100
        attention_mask = torch.ones_like(ids)
        attention_mask[-1] = 0
        return {"input_ids": ids, "labels": labels, "attention_mask": attention_mask}


def tiny_model(seed: int = 0, mask_token_id: int | None = MASK) -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32, is_causal=False,
        pad_token_id=PAD, mask_token_id=mask_token_id,
    )
    torch.manual_seed(seed)
    return LlamaForCausalLM(config)


def training_args(output_dir: Path, **overrides) -> TrainingArguments:
    settings = dict(
        output_dir=str(output_dir), use_cpu=True, report_to="none", disable_tqdm=True, save_strategy="no",
        logging_steps=1, per_device_train_batch_size=8, per_device_eval_batch_size=8, learning_rate=1e-2,
        lr_scheduler_type="constant", max_steps=30, seed=0, dataloader_num_workers=0,
    )
    settings.update(overrides)
    return TrainingArguments(**settings)


def make_trainer(tmp_path: Path, model=None, objective=None, **overrides) -> DiffusionTrainer:
    return DiffusionTrainer(
        model if model is not None else tiny_model(),
        training_args(tmp_path, **overrides),
        objective=objective if objective is not None else MaskedDiffusionObjective(),
        train_dataset=TemplateDataset(256, seed=1),
        eval_dataset=TemplateDataset(32, seed=2),
    )


def logged_losses(trainer: DiffusionTrainer) -> list[float]:
    return [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]


def test_training_lowers_loss_and_eval_bound(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path, per_device_train_batch_size=16)
    before = trainer.evaluate()
    trainer.train()
    after = trainer.evaluate()
    losses = logged_losses(trainer)  # noisy: each step draws its own t and mask, weighted by 1/t
    assert len(losses) == 30
    assert sum(losses[-10:]) / 10 < 0.95 * sum(losses[:10]) / 10
    assert after["eval_nll_bound"] < 0.85 * before["eval_nll_bound"]  # the same noise before and after


def test_evaluate_reports_bound_metrics_reproducibly(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path)
    first = trainer.evaluate()
    torch.manual_seed(1234)  # the global RNG must not matter: evaluation has its own generator
    second = trainer.evaluate()
    assert first["eval_nll_bound"] == second["eval_nll_bound"]
    assert first["eval_ppl_bound"] == pytest.approx(torch.tensor(first["eval_nll_bound"]).exp().item())
    # default objective: loss == nll_bound per batch, and batches hold equal token counts
    assert first["eval_loss"] == pytest.approx(first["eval_nll_bound"], rel=1e-5)
    assert 0 < first["eval_nll_bound"] < 10


def test_resume_from_checkpoint_reproduces_uninterrupted_run(tmp_path: Path) -> None:
    full = make_trainer(tmp_path / "full", max_steps=6, save_strategy="steps", save_steps=3)
    full.train()
    checkpoint = tmp_path / "full" / "checkpoint-3"
    assert (checkpoint / "model.safetensors").exists() and (checkpoint / "trainer_state.json").exists()
    resumed = make_trainer(tmp_path / "resumed", model=tiny_model(seed=99), max_steps=6)
    resumed.train(resume_from_checkpoint=str(checkpoint))
    assert resumed.state.global_step == 6
    for (name, a), b in zip(full.model.named_parameters(), resumed.model.parameters()):
        torch.testing.assert_close(a, b, msg=f"parameter {name} differs after resume")


class RecordingObjective(MaskedDiffusionObjective):
    """Masked diffusion that remembers each micro-batch's loss and size."""

    def __init__(self) -> None:
        super().__init__()
        self.micro_losses: list[float] = []
        self.micro_sizes: list[int] = []

    def loss(self, model, batch, family=None, *, generator=None):
        output = super().loss(model, batch, family, generator=generator)
        self.micro_losses.append(output.loss.item())
        self.micro_sizes.append(batch["input_ids"].shape[0])
        return output


def test_gradient_accumulation_averages_micro_batches(tmp_path: Path) -> None:
    objective = RecordingObjective()
    trainer = make_trainer(
        tmp_path, objective=objective, max_steps=3, gradient_accumulation_steps=2,
        per_device_train_batch_size=4,
    )
    trainer.train()
    assert trainer.state.global_step == 3
    assert objective.micro_sizes == [4] * 6
    pairs = zip(objective.micro_losses[0::2], objective.micro_losses[1::2])
    expected = [(a + b) / 2 for a, b in pairs]
    assert logged_losses(trainer) == pytest.approx(expected, rel=1e-5)


def test_plugin_callbacks_are_attached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Recorder(TrainerCallback):
        began = 0

        def on_train_begin(self, args, state, control, **kwargs):
            Recorder.began += 1

    recorder, contexts = Recorder(), []

    def trainer_callbacks(context):
        contexts.append(context)
        return [("recorder", recorder)]

    monkeypatch.setattr(get_registry(), "trainer_callbacks", trainer_callbacks)
    objective = MaskedDiffusionObjective()
    trainer = make_trainer(tmp_path, objective=objective, max_steps=1)
    assert [c.callback for c in trainer.callback_handler.callbacks if isinstance(c, PluginCallback)] == [recorder]
    (context,) = contexts
    assert context["objective"] is objective and context["family"] is None
    assert context["args"] is trainer.args and context["output_dir"] == str(tmp_path)
    trainer.train()
    assert Recorder.began == 1


def test_kept_columns_include_what_the_objective_reads(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    rows = [TemplateDataset(16, seed=3)[i] for i in range(16)]
    table = datasets.Dataset.from_dict(
        {
            "input_ids": [r["input_ids"].tolist() for r in rows],
            "labels": [r["labels"].tolist() for r in rows],
            "attention_mask": [r["attention_mask"].tolist() for r in rows],
            "mask_token_id": [MASK] * 16,  # the model's config has none: this column must survive
            "text": ["a string column the collator could not stack"] * 16,
        }
    )
    trainer = DiffusionTrainer(
        tiny_model(mask_token_id=None),
        training_args(tmp_path, max_steps=2, remove_unused_columns=True),
        objective=MaskedDiffusionObjective(),
        train_dataset=table,
    )
    trainer.train()
    assert trainer.state.global_step == 2
    assert "text" not in trainer._signature_columns
    assert {"labels", "mask_token_id"} <= set(trainer._signature_columns)


def test_compute_loss_func_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="compute_loss_func"):
        DiffusionTrainer(
            tiny_model(), training_args(tmp_path), objective=MaskedDiffusionObjective(),
            compute_loss_func=lambda outputs, labels, num_items_in_batch=None: outputs.loss,
        )


def test_lora_training_through_peft(tmp_path: Path) -> None:
    peft = pytest.importorskip("peft")
    lora = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    model = peft.get_peft_model(tiny_model(), lora)
    base_before = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" not in n}
    lora_before = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_B" in n}
    trainer = make_trainer(tmp_path, model=model, max_steps=3)
    trainer.train()  # mask_token_id comes from model.config through the peft wrapper
    for name, parameter in model.named_parameters():
        if name in base_before:
            assert torch.equal(parameter, base_before[name]), name
    assert any(not torch.equal(dict(model.named_parameters())[n], p) for n, p in lora_before.items())
    assert "eval_nll_bound" in trainer.evaluate()
    trainer.save_model(str(tmp_path / "adapter"))
    assert (tmp_path / "adapter" / "adapter_config.json").exists()


def test_a_plugin_callback_that_raises_is_one_error_naming_the_plugin(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            raise KeyError("loss_scale")

    monkeypatch.setattr(get_registry(), "trainer_callbacks", lambda context: [("acme", Broken())])
    trainer = make_trainer(tmp_path, objective=MaskedDiffusionObjective(), max_steps=2)
    with pytest.raises(PluginError, match=r"plugin 'acme' raised in Broken.on_step_end: KeyError: 'loss_scale'\. "
                                          r"Fix or uninstall the plugin, or leave it out with DLLM_PLUGINS"):
        trainer.train()
    assert trainer.state.global_step == 1  # the first step ran; the error stopped the run at its end


def test_a_trainer_callbacks_hook_that_raises_is_one_error_naming_the_plugin() -> None:
    from dllm_core.hookspecs import hookimpl
    from dllm_core.registry import PluginHost

    class Acme:
        @hookimpl
        def dllm_trainer_callbacks(self, context):
            raise RuntimeError("no GPU")

    host = PluginHost()
    host.manager.register(Acme(), name="acme")
    with pytest.raises(PluginError, match=r"plugin 'acme' raised in dllm_trainer_callbacks: RuntimeError: no GPU"):
        host.trainer_callbacks({})


def test_floating_point_ops_is_the_stock_estimate_with_the_parameter_count_taken_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trainer = make_trainer(tmp_path, max_steps=4)
    model = trainer.model
    expected = 6 * 8 * LENGTH * model.num_parameters(exclude_embeddings=True)  # batch 8 x 12 tokens
    batch = {"input_ids": torch.zeros(8, LENGTH, dtype=torch.long)}
    assert trainer.floating_point_ops(batch) == expected
    counts = []
    stock_count = type(model).num_parameters
    monkeypatch.setattr(type(model), "num_parameters",
                        lambda self, *a, **k: counts.append(1) or stock_count(self, *a, **k))
    trainer.train()
    assert trainer.state.total_flos == 4 * expected  # four steps of one batch each
    assert counts == []  # counted before training, never again per step
    assert trainer.floating_point_ops({"labels": batch["input_ids"]}) == 0  # no input ids: no estimate
