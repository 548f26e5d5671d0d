"""Conformance suite for a family model's generation contract (docs/architecture.md).

Subclass one per model class (the subclass name must start with ``Test`` for pytest)::

    from dllm_core.testing.model_contract import ModelContractTests

    class TestMyModelContract(ModelContractTests):
        def make_model(self):
            return MyModel.from_pretrained(path).eval()  # float32

        def make_inputs(self):
            # left-padded rows, as a generation engine passes them
            return {"input_ids": ids, "attention_mask": mask, "position_ids": positions}

The checks, all against the model's own full forward on ``make_inputs()``:

* ``logits_to_keep`` (0, k, index tensor, slice) selects exactly those positions;
* a recording ``DynamicCache`` changes nothing, and ``use_cache=True`` starts one;
* prefix cache: keys/values of the first P positions plus a forward of the rest (explicit or
  default positions) reproduce the full logits there;
* dual cache: a cache holding the whole canvas, with a block's slots overwritten in place by a
  forward of only that block, reproduces the full logits of the block;
* a 2D padding mask equals the 4D bool and 4D additive masks it stands for, and tokens at
  padded positions do not reach the others;
* ``labels`` give the masked-LM loss, ``return_dict=False`` a tuple;
* ``save_pretrained`` -> ``from_pretrained`` (safetensors) gives identical logits, no key left over;
* gradient checkpointing (on ``GradientCheckpointingLayer`` layers) recomputes a layer in
  backward and gives the same gradients;
* bf16 weights run in bf16 and stay close to float32.
"""

from __future__ import annotations

from typing import Any, ClassVar, Optional

import pytest
import torch
import torch.nn.functional as F
from transformers import PreTrainedModel
from transformers.cache_utils import DynamicCache
from transformers.modeling_layers import GradientCheckpointingLayer

from dllm_core.modeling import CACHE_FIELD


class CanvasCache:
    """A minimal cache with the transformers ``update`` protocol, for the dual-cache check.

    The first forward records every layer's keys/values [B, H_kv, L, D]; once ``write_at`` is
    set to a slice of positions, ``update`` writes the new keys/values there in place and
    returns the whole canvas.
    """

    def __init__(self) -> None:
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []
        self.write_at: Optional[slice] = None

    def update(self, keys, values, layer_idx, *args, **kwargs):
        if self.write_at is None:
            self.keys.append(keys)
            self.values.append(values)
        else:
            self.keys[layer_idx][:, :, self.write_at] = keys
            self.values[layer_idx][:, :, self.write_at] = values
        return self.keys[layer_idx], self.values[layer_idx]

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.keys[layer_idx].shape[-2] if self.keys else 0


class ModelContractTests:
    """Subclass with ``make_model`` and ``make_inputs``; pytest collects the ``test_*`` methods."""

    #: logits of cached and uncached forwards agree to this (float32 summation order only;
    #: the golden checkpoints' logits reach |20|)
    atol: ClassVar[float] = 1e-4
    #: prefix length P and dual-cache block [start, end) used by the cache checks
    prefix_length: ClassVar[int] = 7
    block: ClassVar[tuple[int, int]] = (8, 13)

    def make_model(self) -> PreTrainedModel:
        raise NotImplementedError("return the float32 model under test, in eval mode")

    def make_inputs(self) -> dict[str, torch.Tensor]:
        raise NotImplementedError(
            "return input_ids, attention_mask (some rows left-padded) and position_ids, all [B, L]"
        )

    def _logits(self, model: PreTrainedModel, **kwargs: Any) -> torch.Tensor:
        with torch.no_grad():
            return model(**kwargs).logits

    @pytest.mark.parametrize(
        "keep, positions",
        [
            (None, slice(None)),
            (0, slice(None)),
            (3, slice(-3, None)),
            (torch.tensor([0, 5, 2]), [0, 5, 2]),
            (slice(2, 9), slice(2, 9)),
        ],
        ids=["none", "zero", "last3", "index", "slice"],
    )
    def test_logits_to_keep_selects_positions(self, keep, positions) -> None:
        model, inputs = self.make_model(), self.make_inputs()
        expected = self._logits(model, **inputs)[:, positions]
        kept = self._logits(model, **inputs, logits_to_keep=keep)
        assert kept.shape == expected.shape
        torch.testing.assert_close(kept, expected, atol=self.atol, rtol=0)

    def test_recording_cache_changes_nothing(self) -> None:
        model, inputs = self.make_model(), self.make_inputs()
        L = inputs["input_ids"].shape[1]
        cache = DynamicCache()
        with torch.no_grad():
            out = model(**inputs, past_key_values=cache, use_cache=True)
        assert getattr(out, CACHE_FIELD) is cache and cache.get_seq_length() == L
        torch.testing.assert_close(out.logits, self._logits(model, **inputs), atol=self.atol, rtol=0)
        with torch.no_grad():
            started = getattr(model(**inputs, use_cache=True), CACHE_FIELD)
        assert isinstance(started, DynamicCache) and started.get_seq_length() == L

    def test_prefix_cache_reproduces_full_forward(self) -> None:
        model, inputs = self.make_model(), self.make_inputs()
        P = self.prefix_length
        cache = DynamicCache()
        full = self._logits(model, **inputs, past_key_values=cache)
        cache.crop(P - full.shape[1])  # drop the last L - P positions
        suffix = self._logits(
            model,
            input_ids=inputs["input_ids"][:, P:],
            position_ids=inputs["position_ids"][:, P:],
            attention_mask=inputs["attention_mask"],  # covers all L keys
            past_key_values=cache,
        )
        torch.testing.assert_close(suffix, full[:, P:], atol=self.atol, rtol=0)

    def test_prefix_cache_default_positions_follow_the_prefix(self) -> None:
        model, ids = self.make_model(), self.make_inputs()["input_ids"]
        P = self.prefix_length
        cache = DynamicCache()
        full = self._logits(model, input_ids=ids, past_key_values=cache)
        cache.crop(P - full.shape[1])
        suffix = self._logits(model, input_ids=ids[:, P:], past_key_values=cache)
        torch.testing.assert_close(suffix, full[:, P:], atol=self.atol, rtol=0)

    def test_dual_cache_overwrites_block_in_place(self) -> None:
        model, inputs = self.make_model(), self.make_inputs()
        s, e = self.block
        cache = CanvasCache()
        full = self._logits(model, **inputs, past_key_values=cache)
        recorded = [k[:, :, s:e].clone() for k in cache.keys]
        for keys, values in zip(cache.keys, cache.values):  # stale slots the block must replace
            keys[:, :, s:e] = 0.0
            values[:, :, s:e] = 0.0
        cache.write_at = slice(s, e)
        block = self._logits(
            model,
            input_ids=inputs["input_ids"][:, s:e],
            position_ids=inputs["position_ids"][:, s:e],
            attention_mask=inputs["attention_mask"],
            past_key_values=cache,
        )
        torch.testing.assert_close(block, full[:, s:e], atol=self.atol, rtol=0)
        for before, keys in zip(recorded, cache.keys):
            torch.testing.assert_close(keys[:, :, s:e], before, atol=self.atol, rtol=0)

    def test_4d_masks_match_2d_padding_mask(self) -> None:
        model, inputs = self.make_model(), self.make_inputs()
        mask = inputs["attention_mask"]
        assert not bool(mask.all()), "make_inputs() must left-pad at least one row"
        expected = self._logits(model, **inputs)
        keys = mask.bool()[:, None, None, :]  # [B, 1, 1, L]
        additive = (~keys).float() * torch.finfo(torch.float32).min
        for four_d in (keys.expand(-1, 1, mask.shape[1], -1), additive):
            got = self._logits(model, **{**inputs, "attention_mask": four_d})
            torch.testing.assert_close(got, expected, atol=self.atol, rtol=0)

    def test_padded_tokens_do_not_leak(self) -> None:
        model, inputs = self.make_model(), self.make_inputs()
        pad = inputs["attention_mask"] == 0
        changed = inputs["input_ids"].clone()
        changed[pad] = (changed[pad] + 1) % model.config.vocab_size
        before = self._logits(model, **inputs)
        after = self._logits(model, **{**inputs, "input_ids": changed})
        torch.testing.assert_close(after[~pad], before[~pad], atol=self.atol, rtol=0)

    def test_labels_give_masked_lm_loss(self) -> None:
        model, inputs = self.make_model(), self.make_inputs()
        ids = inputs["input_ids"]
        labels = torch.full_like(ids, -100)
        labels[:, 1::3] = ids[:, 1::3]
        with torch.no_grad():
            out = model(**inputs, labels=labels)
        scored = labels != -100
        expected = F.cross_entropy(out.logits[scored], labels[scored])
        torch.testing.assert_close(out.loss, expected, atol=1e-5, rtol=1e-5)
        with torch.no_grad():
            loss, logits = model(**inputs, labels=labels, return_dict=False)
        torch.testing.assert_close(loss, out.loss, atol=0, rtol=0)
        torch.testing.assert_close(logits, out.logits, atol=0, rtol=0)

    def test_save_pretrained_round_trip(self, tmp_path) -> None:
        model, inputs = self.make_model(), self.make_inputs()
        model.save_pretrained(tmp_path)
        assert (tmp_path / "model.safetensors").is_file()
        loaded, info = type(model).from_pretrained(tmp_path, output_loading_info=True)
        assert not info["missing_keys"] and not info["unexpected_keys"]
        torch.testing.assert_close(
            self._logits(loaded.eval(), **inputs), self._logits(model, **inputs), atol=0, rtol=0
        )

    def _gradients(self, model: PreTrainedModel, inputs: dict[str, torch.Tensor]) -> dict:
        model.train()
        model.zero_grad()
        model(**inputs).logits.float().square().mean().backward()
        return {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}

    def test_gradient_checkpointing_recomputes_and_matches(self) -> None:
        model, inputs = self.make_model(), self.make_inputs()
        assert model.supports_gradient_checkpointing
        expected = self._gradients(model, inputs)
        layer = next(m for m in model.modules() if isinstance(m, GradientCheckpointingLayer))
        calls = []
        next(layer.children()).register_forward_hook(lambda *args: calls.append(1))
        # transformers 5 renamed gradient_checkpointing_enable to activation_checkpointing_enable
        enable = getattr(model, "activation_checkpointing_enable", None)
        (enable or model.gradient_checkpointing_enable)()
        got = self._gradients(model, inputs)
        assert len(calls) == 2, "the checkpointed layer was not recomputed in backward"
        assert got.keys() == expected.keys()
        for name, grad in expected.items():
            torch.testing.assert_close(got[name], grad, atol=1e-5, rtol=1e-4, msg=name)

    def test_bf16_runs_in_bf16_close_to_float32(self) -> None:
        model, inputs = self.make_model(), self.make_inputs()
        reference = self._logits(model, **inputs)
        low = self._logits(model.to(torch.bfloat16), **inputs)
        assert low.dtype == torch.bfloat16 and bool(torch.isfinite(low).all())
        real = inputs["attention_mask"].bool()
        diff = (low.float() - reference).abs()[real]
        assert diff.mean() < 0.05 * reference[real].std()
        agree = (low.argmax(-1) == reference.argmax(-1))[real].float().mean()
        assert agree > 0.9
