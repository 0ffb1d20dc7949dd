"""What every mail transport shares: the welcome message, the `Mailer` interface, and the never-raise rule.

Mail is a courtesy, not part of signup: the caller runs `send_welcome` as a background task after the response
has gone out, so a transport must swallow every failure, log one warning that says why (without secrets) and
report `False`. The blocking SDKs (SendGrid's, smtplib) run in a worker thread so the event loop never waits.
"""

from __future__ import annotations

import asyncio
import html
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("asahi.notify")

_REASON_LIMIT = 300


class Mailer(Protocol):
    async def send_welcome(self, to: str, org_name: str) -> bool:
        """Send the welcome email; `True` only when the transport accepted it. Never raises."""
        ...

    async def send_notice(self, to: str, subject: str, text: str) -> bool:
        """Send a plain notice (a budget alert); the same never-raise rule."""
        ...


@dataclass(frozen=True, slots=True)
class WelcomeEmail:
    """A message as every transport sends it; `build` renders the welcome email, once, so every transport sends
    the same words."""

    sender: str
    to: str
    subject: str
    text: str
    html: str

    @classmethod
    def build(cls, sender: str, to: str, org_name: str) -> WelcomeEmail:
        # An org name is user input: keep it on one line so it can never forge a header.
        name = " ".join(org_name.split()) or "your organisation"
        paragraphs = (
            "Your organisation is ready. Point your OpenAI or Anthropic SDK at your Asahi base URL with the "
            "API key shown at signup, and every response will tell you what it cost and what Asahi saved.",
            "The key was shown only once; if you lost it, an admin of your organisation can create a new "
            "one.",
        )
        text = "\n\n".join((f"Welcome to Asahi, {name}!", *paragraphs)) + "\n"
        body = "".join(
            f"<p>{part}</p>"
            for part in (f"Welcome to Asahi, <strong>{html.escape(name)}</strong>!", *paragraphs)
        )
        return cls(sender=sender, to=to.strip(), subject=f"Welcome to Asahi, {name}", text=text, html=body)


def recipient_domain(address: str) -> str:
    """Logs name the recipient's domain only: enough to debug delivery, no personal address in the logs."""
    return address.rpartition("@")[2] or "?"


class ThreadedMailer(ABC):
    """A transport with a synchronous client: deliver in a worker thread, turn any failure into `False`."""

    transport: str

    def __init__(self, sender: str, secrets: tuple[str | None, ...] = ()) -> None:
        self._sender = sender
        self._secrets = tuple(s for s in secrets if s)

    async def send_welcome(self, to: str, org_name: str) -> bool:
        try:
            email = WelcomeEmail.build(self._sender, to, org_name)
            await asyncio.to_thread(self._deliver, email)
        except Exception as exc:  # noqa: BLE001  # the contract: mail trouble never reaches the caller
            log.warning("welcome email via %s to @%s failed: %s",
                        self.transport, recipient_domain(to), self._redact(self._reason(exc)))
            return False
        log.info("welcome email sent via %s to @%s", self.transport, recipient_domain(to))
        return True

    async def send_notice(self, to: str, subject: str, text: str) -> bool:
        subject = " ".join(subject.split())  # one line: user input in a subject must not forge a header
        email = WelcomeEmail(self._sender, to.strip(), subject, text, f"<p>{html.escape(text)}</p>")
        try:
            await asyncio.to_thread(self._deliver, email)
        except Exception as exc:  # noqa: BLE001  # the contract: mail trouble never reaches the caller
            log.warning("notice via %s to @%s failed: %s",
                        self.transport, recipient_domain(to), self._redact(self._reason(exc)))
            return False
        return True

    @abstractmethod
    def _deliver(self, email: WelcomeEmail) -> None:
        """Hand `email` to the transport (runs in a worker thread); raise on any failure."""

    def _reason(self, exc: Exception) -> str:
        return f"{type(exc).__name__}: {exc}"

    def _redact(self, reason: str) -> str:
        """Belt and braces: a server that echoes a credential back must not put it in our logs."""
        for secret in self._secrets:
            reason = reason.replace(secret, "***")
        return reason[:_REASON_LIMIT]


class NullMailer:
    """No mail transport configured: signup works, the welcome email is skipped with one info line."""

    async def send_welcome(self, to: str, org_name: str) -> bool:
        log.info("welcome email skipped: set SENDGRID_API_KEY or SMTP_HOST to send it")
        return False

    async def send_notice(self, to: str, subject: str, text: str) -> bool:
        log.info("notice email skipped (no mail transport): %s", " ".join(subject.split()))
        return False
