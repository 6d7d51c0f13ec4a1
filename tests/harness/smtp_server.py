"""A real SMTP server on a loopback port (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: Message


@dataclass
class SmtpSink:
    host: str
    port: int
    received: list[Received] = field(default_factory=list)


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.sink.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content))
        )
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run_smtp_sink(tls: ssl.SSLContext | None = None) -> Iterator[SmtpSink]:
    """With `tls`, the server offers STARTTLS with that context's certificate."""
    sink = SmtpSink(host="127.0.0.1", port=_free_port())
    options: dict[str, Any] = {"tls_context": tls} if tls is not None else {}
    controller = Controller(_Handler(sink), hostname=sink.host, port=sink.port, **options)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
