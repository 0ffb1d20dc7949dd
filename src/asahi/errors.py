"""Errors that become clear 4xx/5xx responses; each surface renders them in its own wire shape."""

from __future__ import annotations

from typing import Any


class AsahiError(Exception):
    """An error with an HTTP status and a stable machine-readable code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.details = details or {}


class BadRequest(AsahiError):
    def __init__(self, message: str, code: str = "invalid_request", **details: Any) -> None:
        super().__init__(400, code, message, details=details)


class Unauthorized(AsahiError):
    def __init__(self, message: str = "A valid API key is required.", code: str = "invalid_api_key") -> None:
        super().__init__(401, code, message)


class Forbidden(AsahiError):
    def __init__(self, message: str, code: str = "forbidden") -> None:
        super().__init__(403, code, message)


class NotFound(AsahiError):
    def __init__(self, message: str, code: str = "not_found") -> None:
        super().__init__(404, code, message)


class Conflict(AsahiError):
    def __init__(self, message: str, code: str = "conflict") -> None:
        super().__init__(409, code, message)


class RateLimited(AsahiError):
    def __init__(self, message: str, retry_after: float, code: str = "rate_limited") -> None:
        super().__init__(429, code, message, headers={"retry-after": str(max(1, round(retry_after)))})


class ProviderError(AsahiError):
    """An upstream provider failed. `retryable` drives retries and fallback; `detail` is what the provider said,
    for the operator's log only (the message is what the tenant sees)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        provider: str,
        retry_after: float | None = None,
        retryable: bool = False,
        detail: str = "",
    ) -> None:
        headers = {"retry-after": str(max(1, round(retry_after)))} if retry_after else None
        super().__init__(status, code, message, headers=headers)
        self.provider = provider
        self.retry_after = retry_after
        self.retryable = retryable
        self.detail = detail
