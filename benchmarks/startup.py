"""Start-up cost of the ``dllm`` CLI next to bare Python and a torch import.

Run: ``.venv/bin/python benchmarks/startup.py [--runs 7]``

Each command runs as a fresh subprocess of the same interpreter; the table shows the median
wall time and the ratio to ``python -c "import torch"``. ``dllm plugins`` scans entry points
and imports every plugin module, so it should cost a small fraction of a torch import.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "python -c 'import torch'": [sys.executable, "-c", "import torch"],
    "dllm --help": [sys.executable, "-m", "dllm_core.cli.main", "--help"],
    "dllm plugins": [sys.executable, "-m", "dllm_core.cli.main", "plugins"],
}


def median_seconds(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    for command in COMMANDS.values():  # warm the file cache
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = {name: median_seconds(command, args.runs) for name, command in COMMANDS.items()}
    torch_time = results["python -c 'import torch'"]
    print(f"{'command':<28}{'median s':>10}{'x torch import':>16}")
    for name, seconds in results.items():
        print(f"{name:<28}{seconds:>10.3f}{seconds / torch_time:>16.2f}")


if __name__ == "__main__":
    main()
