"""Evaluation of a tiny trained LLaDA checkpoint: ``dllm eval``, the lm-eval command line, the
adapter's generation and likelihood paths, and a LoRA adapter folder — all offline."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from lm_eval.api.instance import Instance

import dllm_core.generation.api
from dllm_core.checkpoint import CheckpointInfo, load_model, load_tokenizer, save_checkpoint
from dllm_core.evaluation import evaluate_checkpoint
from dllm_core.evaluation.lm_adapter import DiffusionLM
from dllm_core.evaluation.registration import register_lm_eval_models
from dllm_core.generation import GenerationOutput
from dllm_core.data.tokenizer import build_char_tokenizer
from dllm_core.errors import DllmError
from dllm_core.registry import get_registry
from dllm_llada.configuration_llada import LLaDAConfig
from dllm_llada.family import PRESETS
from dllm_llada.modeling_llada import LLaDAModelLM

SUDOKU = get_registry().tasks.get("sudoku4")()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A randomly initialised LLaDA, smaller than the tiny preset, with the character tokenizer;
    its dllm.json asks for a quarter step per generated token."""
    torch.manual_seed(0)
    tokenizer = build_char_tokenizer()
    config = LLaDAConfig(**{
        **PRESETS["tiny"], "d_model": 32, "n_heads": 2, "n_kv_heads": 2, "n_layers": 2, "mlp_hidden_size": 64,
        "vocab_size": len(tokenizer), "mask_token_id": tokenizer.mask_token_id,
        "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id,
    })
    info = CheckpointInfo(family="llada", generator={"preset": "llada", "steps": 4, "gen_length": 16,
                                                     "block_length": 8})
    return save_checkpoint(LLaDAModelLM(config), tokenizer, tmp_path_factory.mktemp("eval") / "tiny", info)


@pytest.fixture(scope="module")
def llada_lm(checkpoint) -> DiffusionLM:
    from lm_eval.api.registry import get_model

    register_lm_eval_models()
    return get_model("llada")(pretrained=str(checkpoint), mc_num=8, batch_size=4)


def assert_metric_is_the_checkers_mean(metric: float, samples: list[dict]) -> None:
    verdicts = [SUDOKU.check(sample["doc"]["prompt"], sample["filtered_resps"][0]) for sample in samples]
    assert [sample["solved"] for sample in samples] == [float(v) for v in verdicts]
    assert metric == pytest.approx(sum(verdicts) / len(verdicts))


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_dllm_eval_runs_a_bundled_task_offline(checkpoint, tmp_path):
    out = tmp_path / "results"
    result = subprocess.run(
        [sys.executable, "-m", "dllm_core.cli.main", "eval", str(checkpoint), "--tasks", "dllm_sudoku4",
         "--limit", "4", "--batch-size", "2", "--model-args", "mc_num=4", "--output-path", str(out)],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "|dllm_sudoku4|" in result.stdout.replace(" ", "") and "solved" in result.stdout
    results = json.loads((out / "results.json").read_text())
    samples = read_jsonl(out / "samples_dllm_sudoku4.jsonl")
    assert len(samples) == 4 and results["config"]["dllm_family"] == "llada"
    assert all(s["arguments"][0][0].startswith("<|bos|><|user|>") for s in samples)  # chat form, as trained
    assert_metric_is_the_checkers_mean(results["results"]["dllm_sudoku4"]["solved,none"], samples)
    markdown = (out / "results.md").read_text().replace(" ", "")
    assert "|solved|" in markdown and "|task|requests|walls|tokens/s|NFE/request|tokens/forward|" in markdown
    speed = results["config"]["speed"]["dllm_sudoku4"]
    generated = sum(len(s["resps"][0][0]) for s in samples)  # characters >= tokens kept before `until`
    assert speed["requests"] == 4 and speed["wall_s"] > 0 and 0 < speed["tokens"] and speed["nfe"] >= 1
    assert speed["nfe_per_request"] >= speed["nfe"] / 4 and generated <= speed["tokens"] <= 4 * 32
    assert speed["tokens_per_forward"] == pytest.approx(speed["tokens"] / speed["nfe"], abs=1e-3)
    assert results["config"]["generator_params"]["steps"] and "settings:generator=llada" in markdown


def test_lm_eval_command_line_finds_dllm_models_and_tasks(checkpoint, tmp_path):
    """With an --include_path of its own, the bundled tasks are still found; speed is reported."""
    from dllm_core.evaluation.bundled import TASKS_DIR

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "my_sudoku.yaml").write_text(f"include: {TASKS_DIR / 'dllm_sudoku4.yaml'}\ntask: my_sudoku\n")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "dllm_core.evaluation", "--model", "llada",
         "--model_args", f"pretrained={checkpoint},mc_num=4", "--tasks", "dllm_sudoku4,my_sudoku", "--limit", "3",
         "--batch_size", "3", "--apply_chat_template", "--log_samples", "--output_path", str(out),
         "--include_path", str(mine)],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    [results_file] = out.rglob("results_*.json")
    [samples_file] = out.rglob("samples_dllm_sudoku4_*.jsonl")
    results = json.loads(results_file.read_text())
    assert_metric_is_the_checkers_mean(results["results"]["dllm_sudoku4"]["solved,none"], read_jsonl(samples_file))
    assert "my_sudoku" in results["results"]
    assert set(results["config"]["speed"]) == {"dllm_sudoku4", "my_sudoku"}
    assert "|dllm_sudoku4|3|" in result.stdout.replace(" ", "") and "tokens/s" in result.stdout


def test_metric_counts_every_answer_the_checker_accepts(checkpoint, monkeypatch):
    def answer_even_docs(self, requests, disable_tqdm=False):
        return [r.doc["answer"] if r.doc_id % 2 == 0 else "1234\n1234\n1234\n1234" for r in requests]

    monkeypatch.setattr(DiffusionLM, "generate_until", answer_even_docs)
    results = evaluate_checkpoint(checkpoint, ["dllm_sudoku4"], limit=5, model_args={"mc_num": 2})
    assert results["results"]["dllm_sudoku4"]["solved,none"] == pytest.approx(3 / 5)
    assert_metric_is_the_checkers_mean(3 / 5, results["samples"]["dllm_sudoku4"])


class ScriptedGenerate:
    """Replaces ``generate``: fills each row's generated region with scripted tokens, records calls
    (the preset's name and its parameters flattened into the call's keywords)."""

    def __init__(self, answers: list[list[int]]) -> None:
        self.answers, self.calls = answers, []

    def __call__(self, model, input_ids, **kwargs):
        params = dataclasses.asdict(kwargs.pop("params"))
        self.calls.append({"input_ids": input_ids, **kwargs, **params, "preset": kwargs["preset"].name})
        length = params["gen_length"]
        region = torch.tensor([(answer + [0] * length)[:length] for answer in self.answers])
        return GenerationOutput(sequences=torch.cat([input_ids, region], dim=1), nfe=1)


def test_generate_until_cuts_answers_and_maps_gen_kwargs(llada_lm, monkeypatch):
    tokenizer, eos = llada_lm.tokenizer, llada_lm.special.eos_token_id
    encode = lambda text: tokenizer.encode(text, add_special_tokens=False)  # noqa: E731
    scripted = ScriptedGenerate([encode("42") + [eos] + encode("junk"), encode("7\n\nQ: more text")])
    monkeypatch.setattr(dllm_core.generation.api, "generate", scripted)
    gen_kwargs = {"until": ["\n\n"], "max_gen_toks": 20, "do_sample": False}
    requests = [Instance("generate_until", {}, ("1+41=", gen_kwargs), 0),
                Instance("generate_until", {}, ("3+4=", gen_kwargs), 1)]
    assert llada_lm.generate_until(requests) == ["42", "7"]
    [call] = scripted.calls
    assert call["preset"] == "llada" and call["stop_at_eos"] and call["eos_token_id"] == eos
    # 20 tokens: blocks of 8 -> 24 positions in 3 blocks; a quarter step per token -> 6 steps
    assert (call["gen_length"], call["block_length"], call["steps"], call["temperature"]) == (24, 8, 6, 0.0)
    assert call["attention_mask"].tolist() == [[1] * 5, [0] + [1] * 4]  # left padding, longest first
    assert call["input_ids"][1, 0].item() == llada_lm.special.pad_token_id


def test_max_gen_toks_caps_the_answer(llada_lm, monkeypatch):
    digits = llada_lm.tokenizer.encode("1234567890123", add_special_tokens=False)
    scripted = ScriptedGenerate([digits])
    monkeypatch.setattr(dllm_core.generation.api, "generate", scripted)
    request = Instance("generate_until", {}, ("x", {"until": [], "max_gen_toks": 10}), 0)
    assert llada_lm.generate_until([request]) == ["1234567890"]
    assert scripted.calls[0]["gen_length"] == 16  # two whole blocks generated, ten tokens kept


def test_generation_through_the_real_generator(llada_lm):
    request = Instance("generate_until", {}, ("1200\n3400\n0000\n4321", {"until": [], "max_gen_toks": 8}), 0)
    [answer] = llada_lm.generate_until([request])
    assert isinstance(answer, str) and len(llada_lm.tokenizer.encode(answer, add_special_tokens=False)) <= 8


def test_loglikelihood_is_deterministic_per_request(llada_lm):
    pair = Instance("loglikelihood", {}, ("12+3=", "15"), 0)
    other = Instance("loglikelihood", {}, ("7+7=", "14"), 1)
    alone = llada_lm.loglikelihood([pair])
    together = llada_lm.loglikelihood([other, pair])
    assert together[1][0] == pytest.approx(alone[0][0], rel=1e-5) and together[1][1] == alone[0][1]
    assert alone[0][0] < 0
    [rolling] = llada_lm.loglikelihood_rolling([Instance("loglikelihood_rolling", {}, ("1234\n3412",), 0)])
    assert rolling < 0


def test_packed_adapter_scores_equal_the_one_request_reference(checkpoint):
    """Requests of different lengths packed into shared forwards, with CFG, score as the
    per-request reference (same seed, same draws); the iterative greedy check runs per request
    as LLaDA's loop does and CFG reaches the generator too."""
    from lm_eval.api.registry import get_model

    from dllm_core.evaluation.loglikelihood import negative_elbo
    from dllm_core.session import content_seed

    register_lm_eval_models()
    lm = get_model("llada")(pretrained=str(checkpoint), mc_num=8, mc_batch_size=4, cfg_scale=0.5, seed=7,
                            forward_tokens=512)
    pairs = [("1200\n3400\n", "4321"), ("12+3=", "15"), ("7+7=", "14"), ("4321\n", "1")]
    requests = [Instance("loglikelihood", {}, pair, i) for i, pair in enumerate(pairs)]
    scores = lm.loglikelihood(requests)
    reference = []
    for context, continuation in pairs:
        ctx, cont = lm._encode_pair(context, continuation)
        generator = torch.Generator().manual_seed(content_seed(7, ctx, cont))
        reference.append(-negative_elbo(lm.model, torch.tensor(ctx), torch.tensor(cont), lm._elbo, generator))
    assert [score for score, _ in scores] == pytest.approx(reference, rel=1e-5)
    assert lm.settings.generator_params["cfg_scale"] == 0.5
    speed = lm.get_model_info()["speed"]["None"]  # requests built by hand carry no task name
    assert speed["requests"] == 4 and speed["nfe"] < 4 * 2 + sum(len(c) for _, c in pairs)


def test_bundled_multiple_choice_task_scores_by_the_packed_likelihoods(checkpoint):
    results = evaluate_checkpoint(checkpoint, ["dllm_sudoku4_mc"], limit=3,
                                  model_args={"mc_num": 4, "greedy_check": "off"})
    samples = results["samples"]["dllm_sudoku4_mc"]
    picked = [max(range(4), key=lambda i: s["resps"][i][0][0]) for s in samples]
    accuracy = sum(p == s["target"] for p, s in zip(picked, samples)) / 3
    assert results["results"]["dllm_sudoku4_mc"]["acc,none"] == pytest.approx(accuracy)
    speed = results["config"]["speed"]["dllm_sudoku4_mc"]
    assert speed["requests"] == 12 and speed["nfe"] < 12  # 48 draws of 12 requests in shared forwards
    assert results["config"]["likelihood"]["greedy_check"] == "off"


def test_fast_preset_with_dual_cache_and_threshold_through_model_args(checkpoint):
    from lm_eval.api.registry import get_model

    register_lm_eval_models()
    lm = get_model("llada")(pretrained=str(checkpoint), generator="fastdllm", use_cache="dual", threshold=0.9,
                            batch_size=3)
    prompts = ["1200\n3400\n0000\n4321", "12+3=", "4321\n1234\n2143\n3412\n0000"]  # lengths differ
    requests = [Instance("generate_until", {}, (p, {"until": ["\n\n"], "max_gen_toks": 8}), i)
                for i, p in enumerate(prompts)]
    answers = lm.generate_until(requests)
    info = lm.get_model_info()
    assert info["generator"] == "fastdllm" and info["generator_params"]["use_cache"] == "dual"
    assert len(answers) == 3 and all(isinstance(a, str) for a in answers)
    assert info["speed"]["None"]["requests"] == 3


def test_wrong_family_and_bad_generator_parameters_are_clear_errors(checkpoint):
    from lm_eval.api.registry import get_model

    register_lm_eval_models()
    with pytest.raises(DllmError, match="is a llada checkpoint; use --model llada"):
        get_model("dream")(pretrained=str(checkpoint))
    with pytest.raises(DllmError, match="model_args: generator 'llada' has no parameter 'stepz'. Did you mean "
                                        "'steps'.*Adapter keys: .*mc_num"):
        get_model("llada")(pretrained=str(checkpoint), stepz=4)


def test_lora_adapter_evaluates_as_its_merged_model(checkpoint, tmp_path):
    from lm_eval.api.registry import get_model
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    lora = get_peft_model(load_model(checkpoint), LoraConfig(r=4, target_modules=["q_proj", "v_proj"],
                                                             init_lora_weights=False))
    lora.save_pretrained(tmp_path / "adapter")
    assert json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())["base_model_name_or_path"]
    merged = tmp_path / "merged"
    save_checkpoint(lora.merge_and_unload(), load_tokenizer(checkpoint), merged, CheckpointInfo.read(checkpoint))
    register_lm_eval_models()
    request = [Instance("loglikelihood", {}, ("1200\n3400\n0000\n", "4321"), 0)]
    scores = {name: get_model("llada")(pretrained=str(path), mc_num=8, batch_size=8).loglikelihood(request)[0][0]
              for name, path in (("base", checkpoint), ("adapter", tmp_path / "adapter"), ("merged", merged))}
    assert scores["adapter"] == pytest.approx(scores["merged"], abs=1e-4)
    assert scores["adapter"] != pytest.approx(scores["base"], abs=1e-3)
    results = evaluate_checkpoint(tmp_path / "adapter", ["dllm_sudoku4"], limit=2, model_args={"mc_num": 2})
    assert_metric_is_the_checkers_mean(results["results"]["dllm_sudoku4"]["solved,none"],
                                       results["samples"]["dllm_sudoku4"])
