"""This repository's own test fixtures (not shipped: plugin authors get :mod:`dllm_core.testing`).

Importable from every test folder as ``support`` (``pythonpath`` in pyproject.toml):

* :mod:`support.golden` — the golden reference data at ``$DLLM_GOLDEN_DIR`` or ``../shared/golden``;
* :mod:`support.golden_run` — run a golden case through its preset and check it against the reference;
* :mod:`support.terminal` — drive an interactive command (``dllm chat``) through a pseudo-terminal.
"""
