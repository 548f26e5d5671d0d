"""``dllm serve CKPT``: an OpenAI-compatible server with a live denoising web chat.

Needs the ``serve`` extra (``pip install 'dllm-core[serve]'``: FastAPI, uvicorn,
prometheus_client). Binds 127.0.0.1 unless ``--host`` says otherwise; with ``--api-key`` (or
``DLLM_API_KEY``) every route but ``/health`` and the page's static files needs
``Authorization: Bearer KEY``. Ctrl-C stops accepting connections, lets the requests in flight
finish, then exits. See docs/serving.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
from pathlib import Path

from dllm_core.errors import DllmError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="checkpoint or LoRA adapter folder")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--api-key", default=os.environ.get("DLLM_API_KEY"),
                        help="require 'Authorization: Bearer KEY' (default: $DLLM_API_KEY, else no key; prefer the "
                             "variable, which other users cannot read in the process list)")
    parser.add_argument("--max-batch", type=int, default=16, help="most answers generated in one batch")
    parser.add_argument("--max-queue", type=int, default=256, help="most answers waiting; beyond it 429")
    parser.add_argument("--max-body", type=int, default=1 << 20, help="largest request body in bytes; beyond it 413")
    parser.add_argument("--batch-wait-ms", type=float, default=10.0,
                        help="how long an idle server waits for more requests before starting a batch")
    parser.add_argument("--model-id", help="the model name clients send (default: the checkpoint folder's name)")
    parser.add_argument("--generator", "--preset", dest="generator",
                        help="default generator (default: the checkpoint's); requests may pick another")
    parser.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cpu)")
    parser.add_argument("--dtype", help="float32, bfloat16 or float16 (default: the checkpoint's)")


def run(args: argparse.Namespace) -> int:
    missing = [name for name in ("fastapi", "uvicorn", "prometheus_client") if importlib.util.find_spec(name) is None]
    if missing:
        raise DllmError(f"dllm serve needs {', '.join(missing)}; install them with pip install 'dllm-core[serve]'")
    for option in ("max_batch", "max_queue", "max_body"):
        if getattr(args, option) < 1:
            raise DllmError(f"--{option.replace('_', '-')} must be at least 1")
    if args.max_queue < args.max_batch:
        raise DllmError(f"--max-queue ({args.max_queue}) must be at least --max-batch ({args.max_batch})")
    if args.batch_wait_ms < 0:
        raise DllmError("--batch-wait-ms must be 0 or more")
    if args.api_key is not None and not args.api_key.strip():
        raise DllmError("--api-key is empty; pass a non-empty key or leave the option out")
    import uvicorn

    from dllm_core.serving.app import ServerConfig, create_app
    from dllm_core.session import InferenceSession, plan_session

    plan = plan_session(args.checkpoint, args.generator)
    session = InferenceSession.load(plan, device=args.device, dtype=args.dtype)
    config = ServerConfig(model_id=args.model_id or plan.path.name, api_key=args.api_key,
                          max_batch=args.max_batch, max_queue=args.max_queue, max_body=args.max_body,
                          batch_wait=args.batch_wait_ms / 1000)
    print(f"dllm serve: {config.model_id} ({session.family.name}, generator {session.generator.name}) on "
          f"http://{args.host}:{args.port}/ (web chat at /, OpenAI API at /v1)"
          f"{', API key required' if args.api_key else ''}", flush=True)
    uvicorn.run(create_app(session, config), host=args.host, port=args.port, log_level="info")
    return 0
