"""Data plumbing: dataset specs, built-in tasks, SFT/PT processing, collators, tokenizers.

* :mod:`dllm_core.data.spec` parses ``name_or_path[train:N,test:M]+other`` and loads it;
* :mod:`dllm_core.data.sources` tells what each part's source is and picks its rows;
* :mod:`dllm_core.data.tasks` generates the built-in tasks (sudoku, countdown, addition);
* :mod:`dllm_core.data.records` validates records and turns them into chat conversations;
* :mod:`dllm_core.data.processing` tokenizes SFT conversations and packs PT text;
* :mod:`dllm_core.data.collators` pads batches;
* :mod:`dllm_core.data.tokenizer` builds the character-level tokenizer of the tiny presets.

Importing this package (or ``spec``, ``sources``, ``records``, ``tasks``) imports neither torch nor
transformers nor datasets; they are imported when data is actually loaded or processed.
"""
