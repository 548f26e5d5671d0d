"""Drive an interactive command (``dllm chat``) through a pseudo-terminal in tests.

    with TerminalSession([sys.executable, "-m", "dllm_core.cli.main", "chat", ckpt]) as chat:
        chat.expect(b"you> ")
        chat.send("hello")
        assert b"dllm> " in chat.expect(b"you> ")
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from typing import Sequence


class TerminalSession:
    """A child process whose stdin, stdout and stderr are one pseudo-terminal."""

    def __init__(self, command: Sequence[str], timeout: float = 240) -> None:
        self.command = list(command)
        self.timeout = timeout

    def __enter__(self) -> "TerminalSession":
        self.controller, terminal = pty.openpty()
        self.process = subprocess.Popen(self.command, stdin=terminal, stdout=terminal, stderr=terminal)
        os.close(terminal)
        return self

    def expect(self, marker: bytes) -> bytes:
        """Read until ``marker`` appears; everything read so far is returned."""
        data = b""
        deadline = time.monotonic() + self.timeout
        while marker not in data:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"timed out waiting for {marker!r}; got {data[-500:]!r}"
            ready, _, _ = select.select([self.controller], [], [], remaining)
            if ready:
                chunk = os.read(self.controller, 4096)
                assert chunk, f"the process closed the terminal; got {data[-500:]!r}"
                data += chunk
        return data

    def send(self, line: str) -> None:
        os.write(self.controller, line.encode() + b"\n")

    def wait(self, timeout: float = 60) -> int:
        return self.process.wait(timeout=timeout)

    def __exit__(self, *exc_info: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
        os.close(self.controller)
