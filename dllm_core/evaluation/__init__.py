"""Evaluation with lm-evaluation-harness: the LM adapter, lm-eval model lookup, bundled tasks.

* :func:`evaluate_checkpoint` (and ``dllm eval CKPT --tasks ...``) evaluates a checkpoint;
* :mod:`.lm_adapter`: ``DiffusionLM``, the ``lm_eval`` model of every family (generation through
  the generator, log-likelihood by the Monte-Carlo ELBO of :mod:`.loglikelihood`);
* :mod:`.models` / :mod:`.registration`: one lm-eval model name per family;
* :mod:`.bundled` and ``tasks/``: offline tasks ``dllm_sudoku4``, ``dllm_countdown``,
  ``dllm_addition``; :mod:`.suites`: the paper benchmark suites;
* ``python -m dllm_core.evaluation``: lm-eval's own command line with dllm's models and tasks.

Importing this package imports neither torch nor lm-eval.
"""

from dllm_core.evaluation.runner import EvalConfig, evaluate, evaluate_checkpoint

__all__ = ["EvalConfig", "evaluate", "evaluate_checkpoint"]
