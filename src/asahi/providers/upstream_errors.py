"""Turn an upstream failure into a `ProviderError` the resilience layer can act on and a tenant may see.

Every adapter funnels through here, so OpenAI, Anthropic and compatible servers classify failures the same way.
`status` on the result is what Asahi answers its own client with, not the upstream's: an upstream 401 means
Asahi's provider key is wrong, which the caller (holding a valid Asahi key) must not mistake for its own
authentication failure, so it becomes a 502.

What the provider said goes to the operator's log (keys and account ids masked), never to the tenant: it can
describe the operator's account ("Incorrect API key provided: sk-…", quota, organisation). Tenants get the status,
a stable code and a fixed message. Only errors about the tenant's own request (400, 404, 413, 422) pass the
provider's explanation on, masked, since that is what lets the caller fix its request.
"""

from __future__ import annotations

import email.utils
import logging
import re
import time
from collections.abc import Mapping

from asahi.errors import ProviderError

log = logging.getLogger(__name__)


class InvalidResponse(ValueError):
    """An upstream body or event that does not follow its protocol."""


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
_MESSAGES = {
    "provider_authentication_failed": "the provider refused Asahi's credentials.",
    "provider_permission_denied": "the provider refused Asahi's account access to this model or feature.",
    "provider_timeout": "the provider did not answer in time.",
    "provider_conflict": "the provider reported a conflict; try again.",
    "provider_rate_limited": "the provider is rate limiting Asahi's account; retry later.",
    "provider_unavailable": "the provider is temporarily unavailable.",
    "provider_overloaded": "the provider is overloaded; retry later.",
    "provider_error": "the provider failed to answer.",
    "provider_connection_error": "Asahi could not reach the provider.",
    "provider_invalid_response": "the provider's answer was not valid for its protocol.",
}
_REQUEST_ERRORS = frozenset({400, 404, 413, 422})
# Secrets and account identifiers providers quote back: API keys (sk-…, sk-ant-…), organisation and project ids,
# and any long token-like run of characters.
_SECRET = re.compile(r"\b(?:sk-[\w-]{4,}|(?:org|proj|user)-[\w-]{6,}|[A-Za-z0-9_\-]{32,})\b")


def mask(text: str) -> str:
    return _SECRET.sub(lambda m: m.group(0)[:4] + "…", text)


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


def _error(provider: str, status: int, code: str, detail: str, *, retryable: bool, retry_after: float | None = None,
           passed_on: bool = False) -> ProviderError:
    detail = mask(detail)
    log.warning("%s failed: %s", provider, detail, extra={"provider": provider, "code": code})
    message = f"{provider}: " + (f"the provider rejected the request: {detail}" if passed_on else _MESSAGES[code])
    return ProviderError(status, code, message, provider=provider, retry_after=retry_after, retryable=retryable,
                         detail=detail)


def status_error(provider: str, status: int, detail: str, headers: Mapping[str, str]) -> ProviderError:
    answer, code, retryable = _BY_STATUS.get(status, (502, "provider_error", status >= 500))
    return _error(provider, answer, code, f"answered {status}: {detail}", retryable=retryable,
                  retry_after=parse_retry_after(headers), passed_on=status in _REQUEST_ERRORS)


def timeout_error(provider: str) -> ProviderError:
    return _error(provider, 504, "provider_timeout", "no answer in time", retryable=True)


def connection_error(provider: str, detail: str) -> ProviderError:
    return _error(provider, 502, "provider_connection_error", detail, retryable=True)


def invalid_response(provider: str, detail: str) -> ProviderError:
    """A 200 whose body is not what the protocol promises: never billed as an answer."""
    return _error(provider, 502, "provider_invalid_response", detail, retryable=True)
