"""Outgoing email (the welcome mail after signup): SendGrid, SMTP, or none.

`build_mailer(settings)` picks the transport once at start-up: SendGrid when `SENDGRID_API_KEY` is set, else
SMTP when `SMTP_HOST` is set, else a mailer that skips with one info line. Every mailer's `send_welcome`
returns `False` instead of raising, so the caller can fire it as a background task and forget it.
"""

from __future__ import annotations

from asahi.notify.base import Mailer, NullMailer, WelcomeEmail
from asahi.settings import Settings

__all__ = ["Mailer", "WelcomeEmail", "build_mailer"]


def build_mailer(settings: Settings) -> Mailer:
    if settings.sendgrid_api_key:
        from asahi.notify.sendgrid import SendGridMailer  # the SDK loads only when it is used

        return SendGridMailer(settings.sendgrid_api_key, settings.from_email, settings.sendgrid_base_url)
    if settings.smtp is not None:
        from asahi.notify.smtp import SmtpMailer

        return SmtpMailer(settings.smtp, settings.from_email)
    return NullMailer()
