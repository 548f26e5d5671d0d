"""Conformance suites and helpers for testing dllm and third-party plugins.

* :mod:`dllm_core.testing.plugins` — registry-level checks a plugin's tests subclass;
* :mod:`dllm_core.testing.model_contract` — the model contract of the generation engine (cache, logits_to_keep, masks);
* :mod:`dllm_core.testing.schedules` — NoiseScheduleTests / EditScheduleTests for schedule authors;
* :mod:`dllm_core.testing.generation` — a toy model following the generation contract and
  conformance suites for transfer schedules, commit rules, token choosers and presets.

This repository's own fixtures (golden reference data, the terminal driver) live in ``tests/support``.
"""
