"""The app under uvicorn in a background thread, on 127.0.0.1 and a free port (notebooks,
benchmarks, tests): ``with BackgroundServer(app) as server: httpx.get(server.url + "/health")``."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any


class BackgroundServer:
    """Serves ``app`` from a daemon thread between ``__enter__`` and ``__exit__``."""

    def __init__(self, app: Any, host: str = "127.0.0.1", start_timeout: float = 30.0):
        import uvicorn

        with socket.socket() as probe:
            probe.bind((host, 0))
            self.port = probe.getsockname()[1]
        self.host = host
        self.start_timeout = start_timeout
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="dllm-serve", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self) -> "BackgroundServer":
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"the server on {self.url} did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: Any) -> None:
        """Stop as Ctrl-C does: requests in flight finish first."""
        self.server.should_exit = True
        self.thread.join()
