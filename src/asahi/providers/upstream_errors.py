"""Turn an upstream HTTP failure into a `ProviderError` the resilience layer can act on.

Both SDK adapters funnel through here so OpenAI, Anthropic and compatible servers classify failures the same
way. `status` on the result is what Asahi should answer its own client with, not the upstream's: an upstream
401 means Asahi's provider key is wrong, which the caller (holding a valid Asahi key) must not mistake for its
own authentication failure, so it becomes a 502.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

from asahi.errors import ProviderError

# upstream status -> (status Asahi answers with, code, retryable). Retryable follows the providers' own SDK
# policy: timeouts, conflicts, rate limits and server-side failures may succeed on another attempt.
_BY_STATUS: dict[int, tuple[int, str, bool]] = {
    400: (400, "provider_bad_request", False),
    401: (502, "provider_authentication_failed", False),
    403: (502, "provider_permission_denied", False),
    404: (404, "provider_not_found", False),
    408: (504, "provider_timeout", True),
    409: (502, "provider_conflict", True),
    413: (413, "provider_request_too_large", False),
    422: (400, "provider_unprocessable", False),
    429: (429, "provider_rate_limited", True),
    503: (503, "provider_unavailable", True),
    529: (503, "provider_overloaded", True),
}


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `retry-after` as seconds or an HTTP date."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def status_error(provider: str, status: int, message: str, headers: Mapping[str, str]) -> ProviderError:
    if status in _BY_STATUS:
        answer, code, retryable = _BY_STATUS[status]
    elif status >= 500:
        answer, code, retryable = 502, "provider_error", True
    else:
        answer, code, retryable = 502, "provider_error", False
    return ProviderError(
        answer,
        code,
        f"{provider} answered {status}: {message}",
        provider=provider,
        retry_after=parse_retry_after(headers),
        retryable=retryable,
    )


def timeout_error(provider: str) -> ProviderError:
    return ProviderError(504, "provider_timeout", f"{provider} did not answer in time.", provider=provider,
                         retryable=True)


def connection_error(provider: str, message: str) -> ProviderError:
    return ProviderError(502, "provider_connection_error", f"Could not reach {provider}: {message}",
                         provider=provider, retryable=True)
