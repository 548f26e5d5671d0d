"""Named benchmark suites: the tasks and settings the LLaDA and Dream papers report.

``dllm eval CKPT --suite standard`` runs every task of the suite with its few-shot count and
generation length in one command (lm-eval's task data needs the network). Sources:

* ``standard`` - the LLaDA-8B-Base protocol: the official ``eval_llada.sh`` of ML-GSAI/LLaDA
  (arXiv 2502.09992, Table 1 and Appendix B.6). Likelihood benchmarks with the shots the script
  passes (MMLU 5, ARC-C 0, HellaSwag 0, WinoGrande 5, PIQA 0, TruthfulQA 0, GPQA 5; the script
  uses ``mc_num=128``); generation benchmarks with lm-eval's default shots as the script runs
  them (GSM8K 5, Minerva MATH 4, BBH 3, HumanEval 0, MBPP 3) and 1024 generated tokens. MMLU-Pro
  is not in the LLaDA-Base script; it runs with lm-eval's default (5-shot CoT) and 1024 tokens.
* ``instruct`` - the Dream-v0-Instruct-7B protocol: ``eval_instruct/eval.sh`` of DreamLM/Dream
  (arXiv 2508.15487), chat template on, with its shots and ``max_new_tokens`` per task.

Suites are registered like other parts (hook ``dllm_register_suites``), so plugins can add
their own. Pure data: importing this module imports nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass

from dllm_core.errors import DllmError
from dllm_core.registry import get_registry


@dataclass(frozen=True)
class SuiteTask:
    """One benchmark of a suite.

    Attributes:
        task: lm-eval task or group name.
        num_fewshot: shots; ``None`` keeps the task's own default.
        max_gen_toks: generation length for generative tasks (``None``: the task's).
        runs_code: the metric executes model-written code (needs ``--confirm-run-unsafe-code``).
    """

    task: str
    num_fewshot: int | None = None
    max_gen_toks: int | None = None
    runs_code: bool = False


@dataclass(frozen=True)
class Suite:
    """A named list of benchmarks with the settings of the paper they come from."""

    name: str
    description: str
    source: str
    tasks: tuple[SuiteTask, ...]
    apply_chat_template: bool = False


STANDARD = Suite(
    name="standard",
    description="LLaDA-8B-Base protocol: likelihood and generation benchmarks of the LLaDA paper",
    source="ML-GSAI/LLaDA eval_llada.sh; arXiv 2502.09992 Table 1, Appendix B.6",
    tasks=(
        SuiteTask("mmlu", num_fewshot=5),
        SuiteTask("arc_challenge", num_fewshot=0),
        SuiteTask("hellaswag", num_fewshot=0),
        SuiteTask("winogrande", num_fewshot=5),
        SuiteTask("piqa", num_fewshot=0),
        SuiteTask("truthfulqa_mc2", num_fewshot=0),
        SuiteTask("gpqa_main_n_shot", num_fewshot=5),
        SuiteTask("gsm8k", max_gen_toks=1024),
        SuiteTask("minerva_math", max_gen_toks=1024),
        SuiteTask("bbh", max_gen_toks=1024),
        SuiteTask("humaneval", max_gen_toks=1024, runs_code=True),
        SuiteTask("mbpp", max_gen_toks=1024, runs_code=True),
        SuiteTask("mmlu_pro", max_gen_toks=1024),
    ),
)

INSTRUCT = Suite(
    name="instruct",
    description="Dream-v0-Instruct-7B protocol: chat-template generation benchmarks of the Dream paper",
    source="DreamLM/Dream eval_instruct/eval.sh; arXiv 2508.15487",
    tasks=(
        SuiteTask("mmlu_generative", num_fewshot=4, max_gen_toks=128),
        SuiteTask("mmlu_pro", num_fewshot=4, max_gen_toks=128),
        SuiteTask("gsm8k_cot", num_fewshot=0, max_gen_toks=256),
        SuiteTask("minerva_math", num_fewshot=0, max_gen_toks=512),
        SuiteTask("gpqa_main_n_shot", num_fewshot=5),
        SuiteTask("humaneval_instruct", num_fewshot=0, max_gen_toks=768, runs_code=True),
        SuiteTask("mbpp_instruct", num_fewshot=0, max_gen_toks=1024, runs_code=True),
        SuiteTask("ifeval", num_fewshot=0, max_gen_toks=1280),
    ),
    apply_chat_template=True,
)



def get_suite(name: str) -> Suite:
    """The registered suite called ``name`` (the core's or a plugin's); unknown names suggest one."""
    suite = get_registry().suites.get(name)
    if not isinstance(suite, Suite):
        raise DllmError(f"suite '{name}' is a {type(suite).__name__}, not a dllm_core.evaluation.suites.Suite")
    return suite
