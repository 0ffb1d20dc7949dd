"""Welcome email through any SMTP relay with the standard library, STARTTLS and login when configured."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from asahi.notify.base import ThreadedMailer, WelcomeEmail
from asahi.settings import SmtpSettings

TIMEOUT_S = 10.0


class SmtpMailer(ThreadedMailer):
    transport = "smtp"

    def __init__(self, smtp: SmtpSettings, sender: str) -> None:
        super().__init__(sender, secrets=(smtp.password,))
        self._smtp = smtp

    def _deliver(self, email: WelcomeEmail) -> None:
        message = EmailMessage()
        message["From"] = email.sender
        message["To"] = email.to
        message["Subject"] = email.subject
        message.set_content(email.text)
        message.add_alternative(email.html, subtype="html")
        with smtplib.SMTP(self._smtp.host, self._smtp.port, timeout=TIMEOUT_S) as client:
            if self._smtp.starttls:
                client.starttls(context=ssl.create_default_context())
            if self._smtp.username:
                client.login(self._smtp.username, self._smtp.password or "")
            client.send_message(message)
