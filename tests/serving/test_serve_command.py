"""``dllm serve`` as a process: binds 127.0.0.1, needs the key, keeps it out of its logs, and
Ctrl-C lets the request in flight finish before it exits cleanly."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import httpx

DLLM = [sys.executable, "-m", "dllm_core.cli.main"]
KEY = "cli-secret-5d2c"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1][-2000:]
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError("dllm serve did not come up")


def test_serve_needs_the_key_and_ctrl_c_drains_the_request_in_flight(checkpoint):
    port = free_port()
    process = subprocess.Popen([*DLLM, "serve", str(checkpoint), "--port", str(port), "--api-key", KEY],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        assert httpx.get(f"{url}/v1/models").status_code == 401
        body = {"prompt": "12", "max_tokens": 64, "stream": True, "dllm": {"steps": 64, "block_length": 8}}
        with httpx.stream("POST", f"{url}/v1/completions", json=body, timeout=120,
                          headers={"Authorization": f"Bearer {KEY}"}) as response:
            lines = response.iter_lines()
            first = next(line for line in lines if line.startswith("data: "))  # generation has started
            process.send_signal(signal.SIGINT)
            rest = [line for line in lines if line.startswith("data: ")]
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert response.status_code == 200 and first
    assert rest[-1] == "data: [DONE]"  # the request in flight finished after Ctrl-C
    assert any('"finish_reason": "length"' in line for line in rest)
    assert process.returncode == 0, err[-2000:]
    assert f"http://127.0.0.1:{port}/" in out
    assert KEY not in out + err


def test_bad_serve_options_exit_2_with_one_line(checkpoint):
    result = subprocess.run([*DLLM, "serve", str(checkpoint), "--max-batch", "0"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2 and "--max-batch must be at least 1" in result.stderr
