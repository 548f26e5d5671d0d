"""lm-eval loads ``!function utils.NAME`` from this file beside the task YAMLs; the hooks live in
:mod:`dllm_core.evaluation.bundled`."""

from dllm_core.evaluation.bundled import load_dataset, load_multiple_choice_dataset, process_results

__all__ = ["load_dataset", "load_multiple_choice_dataset", "process_results"]
