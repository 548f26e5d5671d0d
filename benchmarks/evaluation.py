"""Our lm-eval evaluation against a one-request-at-a-time baseline, on the demo checkpoint.

Two bundled tasks, each run through ``lm_eval.simple_evaluate`` twice on the same checkpoint, in
the same process:

* ``dllm_sudoku4_mc`` (log-likelihood, multiple choice): LLaDA's protocol (``mc_num`` draws
  stratified in groups of ``mc_batch_size``, the iterative greedy check);
* ``dllm_sudoku4`` (generation): the checkpoint's generator with its saved settings.

"ours" is dllm's adapter (``DiffusionLM``): likelihood requests and their draws packed into
shared forwards, greedy checks of all requests stepped together, generation batched across
requests. The baseline, :class:`OneRequestAtATime` below, answers what ZHZisZZ/dllm's and LLaDA's
harnesses answer, the way they do it: one request at a time (its draws in forwards of
``mc_batch_size`` rows, then one forward per greedy step; one prompt per ``generate`` call). Both
use the same per-request mask draws and the same generator, so the scores must agree; the
script prints them side by side with the throughput (requests per second) and the speed-up.

    python benchmarks/evaluation.py --quick          # about 3 CPU-minutes (9 wall-minutes at load 12)
    python benchmarks/evaluation.py --checkpoint runs/demo --mc-docs 25 --gen-docs 64

Without a checkpoint at ``--checkpoint`` a small one is trained first with the demo's recipe
(``dllm_llada.demo``) and fewer steps. Goals: >= 5x the baseline's throughput on the likelihood
task, >= 3x on the generation task.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from lm_eval.api.instance import Instance
from lm_eval.api.model import TemplateLM

from dllm_core.evaluation.generation_plan import cut_at_stop_strings, plan_generation
from dllm_core.evaluation.loglikelihood import ElboConfig, draw_masks
from dllm_core.objectives.model_io import logits_of
from dllm_core.session import InferenceSession, content_seed

SEED = 1234  # the adapter's default run seed: the same mask draws in both arms


class OneRequestAtATime(TemplateLM):
    """The baseline harness: every request alone, as ZHZisZZ/dllm's and LLaDA's evaluations do."""

    def __init__(self, checkpoint: Path, mc_num: int, mc_batch_size: int) -> None:
        super().__init__()
        self.session = InferenceSession.load(checkpoint)
        self.model, self.tokenizer, self.special = self.session.model, self.session.tokenizer, self.session.special
        self.mc_num, self.mc_batch_size = mc_num, mc_batch_size
        self.forwards = 0

    @property
    def eot_token_id(self) -> int:
        return self.special.eos_token_id

    @property
    def prefix_token_id(self) -> int:
        return self.special.bos_token_id

    def tok_encode(self, string: str, add_special_tokens: bool | None = None, **kwargs: Any) -> list[int]:
        return self.session.encode(string, add_special_tokens)

    def apply_chat_template(self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        return self.tokenizer.apply_chat_template(chat_history, tokenize=False,
                                                  add_generation_prompt=add_generation_prompt)

    @property
    def tokenizer_name(self) -> str:
        return "baseline"

    def _logits(self, tokens: torch.Tensor) -> torch.Tensor:
        self.forwards += 1
        return logits_of(self.model(tokens)).float()  # [R, L, V]

    @torch.no_grad()
    def _loglikelihood(self, context: list[int], continuation: list[int]) -> float:
        """LLaDA's ``get_loglikelihood``: ``mc_num / mc_batch_size`` forwards of this request alone."""
        sequence = torch.tensor(context + continuation)  # [L]
        start = len(context)
        generator = torch.Generator().manual_seed(content_seed(SEED, context, continuation))
        config = ElboConfig(mask_token_id=self.special.mask_token_id, mc_num=self.mc_num, batch_size=self.mc_batch_size)
        masked, weight = draw_masks(start, len(sequence), config, generator)  # [mc_num, n] each
        total = 0.0
        for first in range(0, self.mc_num, self.mc_batch_size):
            rows = masked[first:first + self.mc_batch_size]  # [R, n]
            tokens = sequence.repeat(len(rows), 1)  # [R, L]
            tokens[:, start:] = tokens[:, start:].masked_fill(rows, self.special.mask_token_id)
            logits = self._logits(tokens)[:, start:]  # [R, n, V]
            ce = F.cross_entropy(logits.transpose(1, 2), sequence[start:].expand(len(rows), -1), reduction="none")
            total += (ce * rows * weight[first:first + self.mc_batch_size]).sum().item()
        return -total / self.mc_num

    @torch.no_grad()
    def _greedy(self, context: list[int], continuation: list[int]) -> bool:
        """LLaDA's ``suffix_greedy_prediction``: one forward per continuation token."""
        mask = self.special.mask_token_id
        sequence = torch.tensor(context + [mask] * len(continuation))
        for _ in continuation:
            probabilities = torch.softmax(self._logits(sequence[None])[0], dim=-1)  # [L, V]
            confidence, token = probabilities.max(dim=-1)  # [L] each
            confidence[sequence != mask] = -1.0
            position = int(confidence.argmax())
            sequence[position] = token[position]
        return sequence[len(context):].tolist() == continuation

    def _loglikelihood_tokens(self, requests: list[Any], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        return [(self._loglikelihood(context, continuation), self._greedy(context, continuation))
                for _, context, continuation in requests]

    def loglikelihood_rolling(self, requests: list[Instance], disable_tqdm: bool = False) -> list[float]:
        raise NotImplementedError("the benchmark has no perplexity task")

    def generate_until(self, requests: list[Instance], disable_tqdm: bool = False) -> list[str]:
        """One prompt per ``generate`` call, with the adapter's mapping of ``gen_kwargs``."""
        answers = []
        for request in requests:
            prompt, gen_kwargs = request.args
            plan = plan_generation(self.session.generator, self.session.defaults, {}, gen_kwargs)
            params = self.session.params(values=plan.params)
            [completion] = self.session.generate([self.tok_encode(prompt)], params, seed=SEED, cut_prompts=True)
            self.forwards += completion.nfe
            answers.append(cut_at_stop_strings(self.session.decode(completion.token_ids[:plan.max_new_tokens]),
                                               plan.until))
        return answers


@dataclass
class Arm:
    """One evaluation of one task."""

    score: float
    seconds: float
    requests: int
    forwards: int

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds


def run(lm: Any, task: str, limit: int, metric: str, manager: Any) -> Arm:
    import lm_eval

    forwards_before = getattr(lm, "forwards", 0)
    began = time.perf_counter()
    results = lm_eval.simple_evaluate(model=lm, tasks=[task], limit=limit, task_manager=manager,
                                      apply_chat_template=True, log_samples=False)
    seconds = time.perf_counter() - began
    requests = limit * (4 if task.endswith("_mc") else 1)
    if hasattr(lm, "speed"):
        forwards = lm.speed[task].forwards
    else:
        forwards = lm.forwards - forwards_before
    return Arm(results["results"][task][f"{metric},none"], seconds, requests, forwards)


def ensure_checkpoint(path: Path, steps: int) -> Path:
    """``path`` if it holds a checkpoint, else a small one trained there with the demo's recipe."""
    if (path / "config.json").is_file():
        return path
    from dllm_llada import demo

    print(f"no checkpoint at {path}: training one with the demo's recipe for {steps} steps")
    demo.train(demo.DemoConfig(output_dir=path, max_steps=steps))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=Path("runs/demo"))
    parser.add_argument("--train-steps", type=int, default=300, help="steps when a checkpoint must be trained")
    parser.add_argument("--quick", action="store_true", help="4 + 16 documents, 32 draws")
    parser.add_argument("--mc-docs", type=int, default=16, help="multiple-choice documents (4 requests each)")
    parser.add_argument("--gen-docs", type=int, default=64, help="generation documents")
    parser.add_argument("--mc-num", type=int, default=128, help="Monte-Carlo draws per request (LLaDA: 128)")
    parser.add_argument("--mc-batch-size", type=int, default=32, help="draws per group / baseline forward (LLaDA: 32)")
    parser.add_argument("--batch-size", type=int, default=64, help="our generation batch")
    parser.add_argument("--forward-tokens", type=int, default=32768, help="our padded tokens per likelihood forward")
    args = parser.parse_args()
    if args.quick:
        args.mc_docs, args.gen_docs, args.mc_num = 4, 16, 32
    torch.manual_seed(0)
    from lm_eval.api.registry import get_model
    from lm_eval.tasks import TaskManager

    from dllm_core.evaluation.bundled import TASKS_DIR
    from dllm_core.evaluation.registration import register_lm_eval_models

    checkpoint = ensure_checkpoint(args.checkpoint, args.train_steps)
    register_lm_eval_models()
    manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=False)
    ours = get_model("llada")(pretrained=str(checkpoint), mc_num=args.mc_num, mc_batch_size=args.mc_batch_size,
                              forward_tokens=args.forward_tokens, batch_size=args.batch_size, seed=SEED)
    baseline = OneRequestAtATime(checkpoint, args.mc_num, args.mc_batch_size)
    print(f"checkpoint {checkpoint}; generator {ours.session.generator.name} {ours.session.defaults}; "
          f"mc_num {args.mc_num} in groups of {args.mc_batch_size}, iterative greedy check; "
          f"torch threads {torch.get_num_threads()}")
    rows = []
    for task, limit, metric, goal in (("dllm_sudoku4_mc", args.mc_docs, "acc", 5.0),
                                      ("dllm_sudoku4", args.gen_docs, "solved", 3.0)):
        base = run(baseline, task, limit, metric, manager)
        mine = run(ours, task, limit, metric, manager)
        rows.append((task, limit, base, mine, goal))
    print()
    print("| task | docs | score baseline | score ours | req/s baseline | req/s ours | forwards baseline "
          "| forwards ours | speed-up | goal |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for task, limit, base, mine, goal in rows:
        speedup = mine.throughput / base.throughput
        print(f"| {task} | {limit} | {base.score:.3f} | {mine.score:.3f} | {base.throughput:.2f} | "
              f"{mine.throughput:.2f} | {base.forwards} | {mine.forwards} | {speedup:.1f}x | "
              f">= {goal:.0f}x {'met' if speedup >= goal else 'NOT met'} |")
    print()
    from dllm_core.evaluation.speed import speed_table

    print(speed_table({task: meter.summary() for task, meter in ours.speed.items()}))


if __name__ == "__main__":
    main()
