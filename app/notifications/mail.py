"""Sending e-mail through the configured SMTP server (standard library smtplib).

Config: MAIL_SERVER (empty: no e-mail at all), MAIL_PORT, MAIL_USE_TLS (STARTTLS), MAIL_USERNAME,
MAIL_PASSWORD, MAIL_FROM. Other features (e.g. the forums' digest) call ``send_mail`` from their jobs.
"""
from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app


class MailNotConfigured(RuntimeError):
    """MAIL_SERVER is empty: this site sends no e-mail."""


def send_mail(to: str | list[str], subject: str, body: str) -> None:
    """Send a plain-text UTF-8 e-mail now (call it from a background job, never inside a request)."""
    config = current_app.config
    server = config.get("MAIL_SERVER")
    if not server:
        raise MailNotConfigured("MAIL_SERVER is not set")
    recipients = [to] if isinstance(to, str) else list(to)
    message = EmailMessage()
    message["From"] = config.get("MAIL_FROM") or "xueshi@localhost"
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="xueshi")
    message.set_content(body)
    timeout = float(config.get("MAIL_TIMEOUT_S", 10))
    with smtplib.SMTP(server, int(config.get("MAIL_PORT") or 25), timeout=timeout) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD") or "")
        smtp.send_message(message, to_addrs=recipients)
