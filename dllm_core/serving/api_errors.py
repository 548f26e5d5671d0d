"""OpenAI-style errors: ``{"error": {"message", "type", "param", "code"}}`` with the right status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dllm_core.errors import DllmError

#: HTTP status -> OpenAI error ``type``
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
               413: "invalid_request_error", 429: "rate_limit_error", 500: "server_error",
               503: "server_error"}


@dataclass
class ApiError(Exception):
    """An HTTP error with a message naming the problem and the fix.

    Attributes:
        status: HTTP status code.
        message: one line for the client.
        param: the request field at fault, if one is.
        code: a machine-readable code (``"context_length_exceeded"``, ``"queue_full"``, ...).
        headers: extra response headers (``Retry-After`` on 429).
    """

    status: int
    message: str
    param: str | None = None
    code: str | None = None
    headers: dict[str, str] | None = None

    def __str__(self) -> str:
        return self.message

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": ERROR_TYPES.get(self.status, "server_error"),
                          "param": self.param, "code": self.code}}


def generation_error(exc: Exception) -> ApiError:
    """Settings the generator refuses are the client's error (400); anything else is ours (500)."""
    if isinstance(exc, (DllmError, ValueError)):
        return ApiError(400, f"the generator refused these settings: {exc}", param="dllm")
    return ApiError(500, f"generation failed ({type(exc).__name__}: {exc}); the server goes on serving",
                    code="generation_failed")
