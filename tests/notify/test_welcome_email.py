"""The welcome email end to end: a real SMTP sink (aiosmtpd) and a protocol-faithful fake SendGrid.

Every failure path must come back as `False` plus one warning, never an exception and never a secret in logs,
because the signup handler fires `send_welcome` as a background task and nobody awaits its outcome.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from asahi.notify import WelcomeEmail, build_mailer
from asahi.notify.base import NullMailer
from asahi.notify.sendgrid import SendGridMailer
from asahi.notify.smtp import SmtpMailer
from asahi.settings import Settings, load_settings
from tests.fakes.sendgrid_server import FakeSendGrid

SENDER = "hello@asahi.example"
TO = "founder@acme.example"
API_KEY = "SG.test-secret-key-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def settings(**env: str) -> Settings:
    return load_settings({"ASAHI_FROM_EMAIL": SENDER, **env})


class Sink:
    """Keeps every message the SMTP server accepts; `delay` holds the DATA reply to prove we never block."""

    def __init__(self, delay: float = 0.0) -> None:
        self.envelopes: list[Envelope] = []
        self.delay = delay

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(self.delay)
        self.envelopes.append(envelope)
        return "250 OK"

    def message(self) -> Message:
        assert len(self.envelopes) == 1
        content = self.envelopes[0].content
        assert isinstance(content, bytes)
        return message_from_bytes(content)


def check_login(server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"mailer", b"s3cret-pass")
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd itself answers 535 on failure


def run_sink(sink: Sink, **kwargs: Any) -> Iterator[tuple[Sink, int]]:
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


@pytest.fixture
def smtp_sink() -> Iterator[tuple[Sink, int]]:
    yield from run_sink(Sink())


@pytest.fixture
def fake_sendgrid() -> Iterator[FakeSendGrid]:
    with FakeSendGrid(api_key=API_KEY) as fake:
        yield fake


def warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "asahi.notify"]


def test_welcome_content_escapes_org_name_and_stays_on_one_line() -> None:
    email = WelcomeEmail.build(SENDER, TO, "<b>Acme</b>\r\nBcc: victim@evil.example")
    assert "\n" not in email.subject and "\r" not in email.subject
    assert "&lt;b&gt;Acme&lt;/b&gt;" in email.html and "<b>Acme" not in email.html
    assert "<b>Acme</b> Bcc: victim@evil.example" in email.text


def test_transport_choice_follows_settings() -> None:
    assert isinstance(build_mailer(settings()), NullMailer)
    assert isinstance(build_mailer(settings(SMTP_HOST="127.0.0.1")), SmtpMailer)
    # SendGrid wins when both are configured: it is the transport the deployment guide documents.
    assert isinstance(build_mailer(settings(SMTP_HOST="127.0.0.1", SENDGRID_API_KEY=API_KEY)), SendGridMailer)


async def test_smtp_delivers_welcome(smtp_sink: tuple[Sink, int], caplog: pytest.LogCaptureFixture) -> None:
    sink, port = smtp_sink
    mailer = build_mailer(settings(SMTP_HOST="127.0.0.1", SMTP_PORT=str(port), SMTP_STARTTLS="false"))
    with caplog.at_level(logging.INFO, logger="asahi.notify"):
        assert await mailer.send_welcome(TO, "Acme\r\nBcc: victim@evil.example") is True
    envelope = sink.envelopes[0]
    assert (envelope.mail_from, envelope.rcpt_tos) == (SENDER, [TO])
    message = sink.message()
    assert message["From"] == SENDER and message["To"] == TO
    assert message["Subject"] == "Welcome to Asahi, Acme Bcc: victim@evil.example"
    assert message["Bcc"] is None
    parts = {p.get_content_type(): p.get_payload(decode=True) for p in message.walk() if not p.is_multipart()}
    assert set(parts) == {"text/plain", "text/html"}
    assert not warnings(caplog)


async def test_smtp_logs_in_when_username_given() -> None:
    for sink, port in run_sink(Sink(), authenticator=check_login, auth_require_tls=False):
        env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_STARTTLS": "false",
               "SMTP_USERNAME": "mailer", "SMTP_PASSWORD": "s3cret-pass"}
        assert await build_mailer(settings(**env)).send_welcome(TO, "Acme") is True
        assert len(sink.envelopes) == 1


async def test_smtp_wrong_password_warns_without_the_password(caplog: pytest.LogCaptureFixture) -> None:
    for sink, port in run_sink(Sink(), authenticator=check_login, auth_require_tls=False):
        env = {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_STARTTLS": "false",
               "SMTP_USERNAME": "mailer", "SMTP_PASSWORD": "wrong-pass"}
        assert await build_mailer(settings(**env)).send_welcome(TO, "Acme") is False
        assert not sink.envelopes
    [record] = warnings(caplog)
    assert "SMTPAuthenticationError" in record.getMessage() and "wrong-pass" not in caplog.text


async def test_smtp_connection_refused_returns_false(caplog: pytest.LogCaptureFixture) -> None:
    mailer = build_mailer(settings(SMTP_HOST="127.0.0.1", SMTP_PORT=str(free_port()), SMTP_STARTTLS="false"))
    assert await mailer.send_welcome(TO, "Acme") is False
    [record] = warnings(caplog)
    assert "smtp" in record.getMessage() and "ConnectionRefusedError" in record.getMessage()


async def test_slow_smtp_server_never_blocks_the_event_loop() -> None:
    for _sink, port in run_sink(Sink(delay=0.5)):
        mailer = build_mailer(settings(SMTP_HOST="127.0.0.1", SMTP_PORT=str(port), SMTP_STARTTLS="false"))
        send = asyncio.create_task(mailer.send_welcome(TO, "Acme"))
        worst_gap, last = 0.0, time.perf_counter()
        while not send.done():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            worst_gap, last = max(worst_gap, now - last), now
        assert send.result() is True
        assert worst_gap < 0.25  # the 0.5 s DATA stall happened in a worker thread, not on the loop


async def test_sendgrid_delivers_welcome_in_sendgrid_shape(fake_sendgrid: FakeSendGrid,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    mailer = build_mailer(settings(SENDGRID_API_KEY=API_KEY, SENDGRID_BASE_URL=fake_sendgrid.base_url))
    with caplog.at_level(logging.INFO, logger="asahi.notify"):
        assert await mailer.send_welcome(TO, "Acme") is True
    [body] = fake_sendgrid.messages
    assert body["from"] == {"email": SENDER}
    assert body["personalizations"] == [{"to": [{"email": TO}]}]
    assert body["subject"] == "Welcome to Asahi, Acme"
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert not warnings(caplog)
    assert API_KEY not in caplog.text


async def test_sendgrid_rejected_key_is_a_warning_without_the_key(fake_sendgrid: FakeSendGrid,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    wrong_key = "SG.revoked-key-9876543210"
    mailer = build_mailer(settings(SENDGRID_API_KEY=wrong_key, SENDGRID_BASE_URL=fake_sendgrid.base_url))
    assert await mailer.send_welcome(TO, "Acme") is False
    [record] = warnings(caplog)
    assert "HTTP 401" in record.getMessage() and "authorization grant is invalid" in record.getMessage()
    assert wrong_key not in caplog.text and API_KEY not in caplog.text
    assert fake_sendgrid.requests == 1 and not fake_sendgrid.messages


@pytest.mark.parametrize("status", [400, 429, 500])
async def test_sendgrid_refusals_return_false(fake_sendgrid: FakeSendGrid, caplog: pytest.LogCaptureFixture,
                                              status: int) -> None:
    fake_sendgrid.fail_next(status)
    mailer = build_mailer(settings(SENDGRID_API_KEY=API_KEY, SENDGRID_BASE_URL=fake_sendgrid.base_url))
    assert await mailer.send_welcome(TO, "Acme") is False
    [record] = warnings(caplog)
    assert f"HTTP {status}" in record.getMessage()
    assert not fake_sendgrid.messages


async def test_sendgrid_unreachable_returns_false(caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert await build_mailer(settings(SENDGRID_API_KEY=API_KEY, SENDGRID_BASE_URL=url)).send_welcome(
        TO, "Acme") is False
    [record] = warnings(caplog)
    assert "cannot reach SendGrid" in record.getMessage()


async def test_no_transport_skips_with_one_info_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="asahi.notify"):
        assert await build_mailer(settings()).send_welcome(TO, "Acme") is False
    assert [(r.levelno, r.name) for r in caplog.records] == [(logging.INFO, "asahi.notify")]
