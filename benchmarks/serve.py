"""``dllm serve`` throughput and latency: concurrent clients vs the same requests one at a time.

Run from the repository root (CPU is fine; under 3 minutes on the demo's tiny LLaDA):

    .venv/bin/python benchmarks/serve.py runs/demo          # the checkpoint `make demo` leaves
    .venv/bin/python benchmarks/serve.py                    # no checkpoint: trains a tiny one (seconds)
    .venv/bin/python benchmarks/serve.py runs/demo --threads 1   # or 2; --device cuda on a GPU

In one process the checkpoint is served by the real app under uvicorn on 127.0.0.1 (a free
port) and driven by ``httpx`` clients in threads, with chat requests for 4x4 sudoku puzzles (32 distinct),
greedy decoding and the demo's plain setting (``llada``, 20 answer tokens, 20 steps, one block):
step-level batching (requests join the running batch at the next step, finished rows leave at
once). The machine's load average is printed before and after (a shared CPU skews the numbers).

1. The same 16 requests one at a time, then from 16 concurrent clients (``--rounds`` times,
   alternating): wall time, answer tokens per second, the ratio (and the median ratio), and a
   check that every answer equals the session's answer for the same prompt and settings alone
   (what ``dllm sample --chat --prompt P`` prints).
2. For 1, 4, 16 and 64 clients, each sending ``--per-client`` requests back to back: p50 / p95
   latency per request and the total answer tokens per second.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

SETTINGS = {"max_tokens": 20, "dllm": {"steps": 20, "block_length": 20}}


def tiny_checkpoint(folder: Path) -> Path:
    from dllm_core.training.run import run_training
    from dllm_core.training.run_config import TrainRunConfig

    output = folder / "tiny"
    run_training(TrainRunConfig(data="sudoku4[train:64,test:8]", output_dir=output, family="llada", preset="tiny",
                                max_steps=2, batch_size=8, logging_steps=2, disable_progress_bar=True))
    return output


def run_clients(url: str, prompts: list[str], clients: int) -> tuple[float, list[float], list[dict]]:
    """Send ``prompts`` from ``clients`` threads; ``(wall seconds, latencies, bodies in order)``."""

    def ask(prompt: str) -> tuple[float, dict]:
        start = time.perf_counter()
        response = httpx.post(f"{url}/v1/chat/completions", timeout=600,
                              json={"messages": [{"role": "user", "content": prompt}], **SETTINGS})
        response.raise_for_status()
        return time.perf_counter() - start, response.json()

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        results = list(pool.map(ask, prompts))
    return time.perf_counter() - start, [r[0] for r in results], [r[1] for r in results]


def tokens_of(bodies: list[dict]) -> int:
    return sum(body["usage"]["completion_tokens"] for body in bodies)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", nargs="?", type=Path, help="checkpoint folder (default: train a tiny one)")
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--per-client", type=int, default=2, help="requests each client sends in part 2")
    parser.add_argument("--rounds", type=int, default=1, help="serial/concurrent rounds in part 1 (median ratio)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (1 steadies numbers on a busy shared CPU)")
    parser.add_argument("--device", help="where the model runs (default: CPU), e.g. cuda")
    args = parser.parse_args()

    import torch

    from dllm_core.serving.app import ServerConfig, create_app
    from dllm_core.serving.background import BackgroundServer
    from dllm_core.session import InferenceSession

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}, load average before: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as scratch:
        checkpoint = args.checkpoint or tiny_checkpoint(Path(scratch))
        session = InferenceSession.load(checkpoint, device=args.device)
        app = create_app(session, ServerConfig(model_id="bench", max_batch=args.max_batch, max_queue=4096))
        prompts = [f"{a}{b}{c}0\n0000\n00{c}{a}\n{b}000" for a in range(1, 5) for b in range(1, 5) for c in (1, 3)]
        with BackgroundServer(app) as server:
            run_clients(server.url, prompts[:2], 1)  # warm-up
            ratios = []
            for _ in range(args.rounds):  # alternate, so a load change on a shared machine hits both
                serial_wall, _, serial = run_clients(server.url, prompts[:16], 1)
                parallel_wall, _, parallel = run_clients(server.url, prompts[:16], 16)
                serial_rate, parallel_rate = tokens_of(serial) / serial_wall, tokens_of(parallel) / parallel_wall
                ratios.append(parallel_rate / serial_rate)
                print(f"16 requests one at a time : {serial_wall:7.2f} s  {serial_rate:8.1f} tokens/s")
                print(f"16 concurrent clients     : {parallel_wall:7.2f} s  {parallel_rate:8.1f} tokens/s  "
                      f"({ratios[-1]:.1f}x)")
            params = session.params(roles={"length": 20, "steps": 20, "block": 20})
            alone = [session.complete([p], params, chat=True)[0].text for p in prompts[:16]]
            same = all(body["choices"][0]["message"]["content"] == want
                       for bodies in (serial, parallel) for body, want in zip(bodies, alone))
            print(f"checkpoint: {checkpoint} ({session.family.name}, {session.generator.name}) on {session.device}, "
                  f"{SETTINGS['max_tokens']} tokens, {SETTINGS['dllm']['steps']} steps, greedy")
            print(f"throughput ratio, median of {args.rounds} round(s): {statistics.median(ratios):.1f}x")
            print(f"answers identical to dllm sample (alone, same seed and settings): {same}")
            print()
            print(f"{'clients':>7} {'requests':>8} {'p50 s':>8} {'p95 s':>8} {'tokens/s':>9}")
            for clients in (1, 4, 16, 64):
                batch = (prompts * 8)[: clients * args.per_client]
                wall, latencies, bodies = run_clients(server.url, batch, clients)
                cuts = statistics.quantiles(latencies, n=20) if len(latencies) > 1 else latencies * 19
                print(f"{clients:>7} {len(batch):>8} {statistics.median(latencies):8.3f} {cuts[18]:8.3f} "
                      f"{tokens_of(bodies) / wall:9.1f}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
