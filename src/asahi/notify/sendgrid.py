"""Welcome email through SendGrid's v3 Mail Send API with the official SDK.

The SDK is synchronous (urllib underneath), so delivery runs in a worker thread with a bounded timeout. The
host is overridable (`SENDGRID_BASE_URL`) for the EU region and for tests against a local fake.
"""

from __future__ import annotations

import json
from urllib.error import URLError

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Content, Email, Mail, To

from asahi.notify.base import ThreadedMailer, WelcomeEmail

DEFAULT_HOST = "https://api.sendgrid.com"
TIMEOUT_S = 10.0


class SendGridMailer(ThreadedMailer):
    transport = "sendgrid"

    def __init__(self, api_key: str, sender: str, host: str | None = None) -> None:
        super().__init__(sender, secrets=(api_key,))
        self._client = SendGridAPIClient(api_key=api_key, host=(host or DEFAULT_HOST).rstrip("/"))

    def _deliver(self, email: WelcomeEmail) -> None:
        message = Mail(from_email=Email(email.sender), to_emails=To(email.to), subject=email.subject)
        message.add_content(Content("text/plain", email.text))
        message.add_content(Content("text/html", email.html))
        # `client.mail.send.post` rather than `send()`: only it takes a timeout, and a hung socket must not
        # pin a worker thread forever. Non-2xx answers raise `HTTPError`.
        self._client.client.mail.send.post(request_body=message.get(), timeout=TIMEOUT_S)

    def _reason(self, exc: Exception) -> str:
        if isinstance(exc, HTTPError):
            return f"HTTP {exc.status_code}: {_error_messages(exc.body)}"
        if isinstance(exc, URLError):
            return f"cannot reach SendGrid ({exc.reason})"
        return super()._reason(exc)


def _error_messages(body: bytes | str | None) -> str:
    """SendGrid explains a refusal as `{"errors": [{"message", "field", "help"}]}`; keep message and field."""
    try:
        errors = json.loads(body or b"")["errors"]
        return "; ".join(
            f"{e.get('message')}" + (f" (field {e['field']})" if e.get("field") else "") for e in errors
        ) or "no error detail"
    except (ValueError, KeyError, TypeError, AttributeError):
        return "no error detail"
