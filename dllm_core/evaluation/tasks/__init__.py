"""The bundled lm-eval task configs (``dllm_*.yaml``) and the ``utils.py`` their ``!function``
tags load; :data:`dllm_core.evaluation.bundled.TASKS_DIR` is this folder."""
