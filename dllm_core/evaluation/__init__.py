"""Evaluation with lm-evaluation-harness: the LM adapter, lm-eval model lookup, bundled tasks.

* :func:`evaluate_checkpoint` (and ``dllm eval CKPT --tasks ...``) evaluates a checkpoint;
* :mod:`.lm_adapter`: ``DiffusionLM``, the ``lm_eval`` model of every family (generation through
  the generator, batched across requests; log-likelihood by the Monte-Carlo ELBO of
  :mod:`.loglikelihood`, packed across requests by :mod:`.scoring`; speed per task in
  :mod:`.speed`);
* :mod:`.models` / :mod:`.registration`: one lm-eval model name per family;
* :mod:`.bundled` and ``tasks/``: offline tasks ``dllm_sudoku4``, ``dllm_countdown``,
  ``dllm_addition`` and the multiple-choice ``dllm_sudoku4_mc``; :mod:`.suites`: the paper benchmark suites;
* ``python -m dllm_core.evaluation``: lm-eval's own command line with dllm's models and tasks.

Importing this package imports neither torch nor lm-eval.
"""

from dllm_core.evaluation.runner import EvalConfig, evaluate, evaluate_checkpoint

__all__ = ["EvalConfig", "evaluate", "evaluate_checkpoint"]
