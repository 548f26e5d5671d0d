"""The ``dllm`` command line: a thin argparse front over commands found in the registry."""
