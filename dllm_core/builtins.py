"""The core's own built-ins, registered through the same hooks as any plugin.

Entry point ``core`` in the ``dllm`` group of the ``dllm-core`` distribution. Every target is a
lazy ``"module:Name"`` reference: nothing heavy is imported here.
"""

from __future__ import annotations

from typing import Any, Callable

from dllm_core.hookspecs import hookimpl

Register = Callable[..., None]


@hookimpl
def dllm_register_commands(cli: Any) -> None:
    cli.add("plugins", "dllm_core.cli.plugins_command", help="List installed plugins and what they register.")
    cli.add("list", "dllm_core.cli.list_command", help="List registered names of one kind (families, schedules, ...).")
    cli.add("train", "dllm_core.cli.train_command", help="Train a diffusion LM from a preset or fine-tune a checkpoint.")
    cli.add("merge-lora", "dllm_core.cli.merge_lora_command",
            help="Merge a LoRA adapter into its base model: a full checkpoint.")
    cli.add("sample", "dllm_core.cli.sample_command", help="Generate completions from a checkpoint.")
    cli.add("chat", "dllm_core.cli.chat_command", help="Chat with a checkpoint in the terminal.")
    cli.add("eval", "dllm_core.cli.eval_command", help="Evaluate a checkpoint with lm-evaluation-harness.")
    cli.add("serve", "dllm_core.cli.serve_command", help="Serve a checkpoint: OpenAI-compatible API and web chat.")
    cli.add("new-plugin", "dllm_core.cli.new_plugin_command", help="Generate a new plugin package from the template.")
    cli.add("convert", "dllm_core.cli.convert_command",
            help="Adapt an autoregressive checkpoint into a diffusion model of a family that converts "
                 "(--family, or --objective: masked-diffusion by default).")


@hookimpl
def dllm_register_tasks(register: Register) -> None:
    register("sudoku4", "dllm_core.data.tasks.sudoku:Sudoku4Task", description="4x4 sudoku with a unique solution")
    register("sudoku9", "dllm_core.data.tasks.sudoku:Sudoku9Task", description="9x9 sudoku with a unique solution")
    register("countdown", "dllm_core.data.tasks.countdown:CountdownTask",
             description="reach a target from 3-5 numbers with + - * /")
    register("addition", "dllm_core.data.tasks.addition:AdditionTask", description="multi-digit addition")


@hookimpl
def dllm_register_rewards(register: Register) -> None:
    for task in ("sudoku4", "sudoku9", "countdown", "addition"):
        register(task, f"dllm_core.rl.rewards:{task.upper()}", description=f"1 when the {task} checker accepts the answer")
    register("format", "dllm_core.rl.rewards:format_reward",
             description="1 when the answer has the reference answer's layout (numbers, operators, lines)")
    register("sudoku-cells", "dllm_core.rl.rewards:sudoku_cells_reward",
             description="share of the blank cells filled as in the reference solution (d1's sudoku reward)")


@hookimpl
def dllm_register_schedules(register: Register) -> None:
    register("linear", "dllm_core.schedules.noise:LinearSchedule", description="alpha(t) = 1 - t (MDLM)")
    register("cosine", "dllm_core.schedules.noise:CosineSchedule", description="alpha(t) = 1 - cos(pi/2 (1 - t))")
    register("polynomial", "dllm_core.schedules.noise:PolynomialSchedule", description="alpha(t) = 1 - t^exponent")
    register("loglinear", "dllm_core.schedules.noise:LogLinearSchedule", description="MDLM's log-linear noise")


@hookimpl
def dllm_register_objectives(register: Register) -> None:
    register("masked-diffusion", "dllm_core.objectives.masked_diffusion:MaskedDiffusionObjective",
             description="masked diffusion ELBO (MDLM)")
    register("block-diffusion", "dllm_core.objectives.block_diffusion:BlockDiffusionObjective",
             description="BD3LM block diffusion")
    register("uniform-block-diffusion", "dllm_core.objectives.uniform_block_diffusion:UniformBlockDiffusionObjective",
             description="uniform-noise block diffusion, encoder cache + canvas denoiser (DiffusionGemma; our recipe)")


@hookimpl
def dllm_register_generators(register: Register) -> None:
    register("llada", "dllm_core.generation.presets:LLADA", description="ML-GSAI/LLaDA generate")
    register("fastdllm", "dllm_core.generation.presets:FASTDLLM",
             description="Fast-dLLM LLaDA generate with prefix/dual cache, threshold, factor")
    register("dream", "dllm_core.generation.presets:DREAM",
             description="Dream diffusion_generate and Fast-dLLM's Dream variants")
    register("mdlm", "dllm_core.generation.presets:MDLM", description="dllm's MDLM sampler (BERT-chat)")
    register("bd3lm", "dllm_core.generation.presets:BD3LM",
             description="dllm BD3LM block diffusion over an exact KV cache (A2D)")
    register("llada2", "dllm_core.generation.presets:LLADA2",
             description="LLaDA2.0 generate: block diffusion, threshold commits, exact KV cache")


@hookimpl
def dllm_register_engine_parts(register: Register) -> None:
    """The parts the presets are composed of, for plugins that build their own loops."""
    parts = {
        "transfer/linear-split": ("transfer:LinearSplit", "LLaDA: n // S per step, remainder first"),
        "transfer/schedule-rounded": ("transfer:ScheduleRounded",
                                      "MDLM: counts from a noise schedule, round half even, zero steps dropped"),
        "transfer/dream-time-grid": ("transfer:DreamTimeGrid", "Dream: linspace(1, eps, S+1), float32-truncated counts"),
        "transfer/carry-over": ("transfer:CarryOverQuota", "Fast-dLLM Dream: per-step quota plus deferred tokens"),
        "transfer/until-done": ("transfer:UntilDone", "no count; the commit rule decides"),
        "commit/top-k": ("commit:TopKCommit", "most confident k (optionally sampled with a temperature)"),
        "commit/threshold": ("commit:ThresholdCommit", "best always, others when confidence >= threshold"),
        "commit/factor": ("commit:FactorCommit", "Fast-dLLM factor rule"),
        "commit/bernoulli": ("commit:BernoulliCommit", "Dream origin: reveal each mask with probability 1 - s/t"),
        "commit/first-masked": ("commit:FirstMaskedCommit", "first masked position of the block"),
        "confidence/probability": ("confidence:ProbabilityConfidence", "p(chosen token)"),
        "confidence/margin": ("confidence:MarginConfidence", "top-1 minus top-2 probability"),
        "confidence/neg-entropy": ("confidence:NegEntropyConfidence", "sum p log p"),
        "confidence/random": ("confidence:RandomConfidence", "uniform random order"),
        "tokens/gumbel": ("tokens:GumbelChooser", "greedy / float64 Gumbel-max, top-k/p"),
        "tokens/categorical": ("tokens:CategoricalChooser", "Dream sample_tokens"),
        "transfer/block-length-split": ("block_parts:BlockLengthSplit",
                                        "LLaDA2: block_length // S per step whatever the block's masks"),
        "commit/threshold-else-top-k": ("block_parts:ThresholdElseTopKCommit",
                                        "all above the threshold if at least k are, else the top k"),
        "tokens/softmax-sample": ("block_parts:SoftmaxSampleChooser",
                                  "LLaDA2: greedy, or multinomial from top-k then top-p filtered softmax"),
    }
    for name, (target, description) in parts.items():
        register(name, f"dllm_core.generation.{target}", description=description)


@hookimpl
def dllm_register_suites(register: Register) -> None:
    register("standard", "dllm_core.evaluation.suites:STANDARD",
             description="LLaDA-8B-Base protocol: likelihood and generation benchmarks of the LLaDA paper")
    register("instruct", "dllm_core.evaluation.suites:INSTRUCT",
             description="Dream-v0-Instruct-7B protocol: chat-template generation benchmarks of the Dream paper")
