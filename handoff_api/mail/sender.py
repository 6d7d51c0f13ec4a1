"""How the service sends mail: the `Mailer` protocol, the dev mailbox and SMTP.

The dev mailbox stores messages in the database so a person trying the demo can read their
one-time code (`GET /api/v1/dev/mailbox`, demo mode only). `SmtpMailer` hands messages to an
SMTP server (smtplib; STARTTLS and login when configured). Bodies are never logged.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

from sqlalchemy.orm import Session

from handoff_api.core.config import Settings
from handoff_api.models import DevMail


class MailUnavailable(Exception):
    """The message could not be handed to the mail system."""


class Mailer(Protocol):
    def send(self, session: Session, to: str, subject: str, body: str) -> None:
        """Send one plain-text message; `session` is the request's transaction."""
        ...


class DevMailbox:
    """Keeps the message in the database, in the caller's transaction."""

    def send(self, session: Session, to: str, subject: str, body: str) -> None:
        session.add(DevMail(to=to.lower(), subject=subject, body=body))
        session.flush()


class SmtpMailer:
    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        user: str = "",
        password: str = "",
        starttls: bool = False,
        timeout: float = 10.0,
        ca_file: str | None = None,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self._user, self._password = user, password
        self._starttls, self._timeout = starttls, timeout
        self._ca_file = ca_file

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpMailer:
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_from,
            settings.smtp_user,
            settings.smtp_password,
            settings.smtp_starttls,
            settings.smtp_timeout_seconds,
            str(settings.smtp_ca_file) if settings.smtp_ca_file else None,
        )

    def send(self, session: Session, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = make_msgid(domain="helpdesk")
        message.set_content(body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self._timeout) as smtp:
                if self._starttls:
                    # smtplib's own default context checks neither the certificate nor the host name:
                    # anyone on the path could read the codes and reset links.
                    smtp.starttls(context=ssl.create_default_context(cafile=self._ca_file))
                elif self._user:
                    raise MailUnavailable(
                        f"SMTP {self.host}:{self.port}: refusing to send the password without STARTTLS"
                    )
                if self._user:
                    smtp.login(self._user, self._password)
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            # The exception text may quote the server's reply, never the body: safe to log.
            raise MailUnavailable(f"SMTP {self.host}:{self.port}: {type(exc).__name__}") from exc


def make_mailer(settings: Settings) -> Mailer:
    return SmtpMailer.from_settings(settings) if settings.helpdesk_mail == "smtp" else DevMailbox()
