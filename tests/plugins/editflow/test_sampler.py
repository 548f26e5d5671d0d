"""Tau-leaping: a batch samples like its rows one by one, prompts stay, histories replay the run,
and the rates' units match the time grid (exact rates finish every edit by t = 1)."""

from __future__ import annotations

from types import SimpleNamespace

import torch

from dllm_core.data.tokenizer import build_char_tokenizer
from dllm_editflow.builder import build_from_preset
from dllm_editflow.modeling import DELETE, INSERT, EditFlowOutput
from dllm_editflow.sampler import EditFlowSamplingConfig, sample
from dllm_editflow.view import save_animation


def make_model():
    torch.manual_seed(0)
    tokenizer = build_char_tokenizer()
    model = build_from_preset("tiny", tokenizer, backbone="llada").eval()
    with torch.no_grad():  # lively rates, so that every kind of edit happens
        model.rate_head.bias.fill_(1.0)
    return model, tokenizer


PROMPTS = [[2, 6, 10, 11, 12, 1, 7], [2, 7], [2, 6, 13, 14, 15, 16, 17, 18, 1, 7]]


def test_batch_equals_row_by_row_and_protects_prompts() -> None:
    model, _ = make_model()
    config = EditFlowSamplingConfig(steps=12, source="masks[length:4]")
    together = sample(model, PROMPTS, config, seeds=[5, 6, 7], record_history=True)
    for b, prompt in enumerate(PROMPTS):
        alone = sample(model, [prompt], config, seeds=[5 + b])
        assert alone.sequences[0] == together.sequences[b]
        assert together.sequences[b][: len(prompt)] == prompt
    totals = [h.totals() for h in together.histories]
    assert all(sum(t[k] for t in totals) > 0 for k in ("insert", "delete", "substitute")), totals
    for b, history in enumerate(together.histories):
        assert history.initial == [model.config.mask_token_id] * 4
        assert history.prompt + history.final == together.sequences[b]


def test_region_length_cap_and_animation(tmp_path) -> None:
    model, tokenizer = make_model()
    out = sample(model, PROMPTS, EditFlowSamplingConfig(steps=12, max_new_tokens=3), seeds=0, record_history=True)
    assert all(len(seq) - start <= 3 for seq, start in zip(out.sequences, out.prompt_lengths))
    for suffix in (".gif", ".html"):
        path = save_animation(out.histories, tokenizer, tmp_path / f"edits{suffix}")
        assert path.stat().st_size > 0
    from PIL import Image

    assert Image.open(tmp_path / "edits.gif").n_frames >= 3


class DeleteEveryX(torch.nn.Module):
    """The exact relative rates of "delete every x, then end with EOS" from x_0 = the prompt.

    An edit that surely remains has r = 1 (lambda = w(t) r): r_del = 1 on each x of the row,
    r_ins = 1 after its last token while the row has no EOS, and Q_ins puts all mass on EOS.
    """

    X, EOS, BOS, VOCAB = 5, 1, 2, 8

    def __init__(self) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(()))  # the sampler reads the device from it
        self.config = SimpleNamespace(bos_token_id=self.BOS, pad_token_id=0, max_position_embeddings=None,
                                      special_token_ids=[self.BOS, self.EOS], mask_token_id=None)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, t: torch.Tensor) -> EditFlowOutput:
        batch, width = input_ids.shape
        rates = torch.zeros(batch, width, 3)
        rates[..., DELETE] = (input_ids == self.X).float()
        last = attention_mask.sum(dim=1) - 1  # [B]
        open_rows = ~((input_ids == self.EOS) & attention_mask.bool()).any(dim=1)
        rates[torch.arange(batch), last, INSERT] = open_rows.float()
        insert_logits = torch.full((batch, width, self.VOCAB), -1e4)
        insert_logits[..., self.EOS] = 0.0
        return EditFlowOutput(rates=rates, insert_logits=insert_logits,
                              substitute_logits=torch.zeros(batch, width, self.VOCAB))


def test_exact_rates_finish_every_edit_on_any_grid() -> None:
    model = DeleteEveryX()
    x = DeleteEveryX.X
    prompts = [[2, 3, x, 4], [2, x, x, 6, x], [2, 7, 3]]
    answers = [[3, 4, 1], [6, 1], [7, 3, 1]]
    for steps in (1, 3, 16):
        out = sample(model, prompts, EditFlowSamplingConfig(steps=steps, source="prompt"), seeds=list(range(10, 13)))
        regions = [row[start:] for row, start in zip(out.sequences, out.prompt_lengths)]
        assert regions == answers, steps
