"""The action server's client of the helpdesk service: what each call costs the action server."""

from __future__ import annotations

import ssl

import pytest
from actions.service import client as helpdesk_client
from actions.service.client import HelpdeskClient
from tests.harness.service_process import HelpdeskService


@pytest.mark.service
@pytest.mark.asyncio
async def test_calls_share_one_tls_context(
    service_env: HelpdeskService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading the CA bundle for each new client took ~30 ms of CPU per call, every bot turn that asks
    the service: the context is built once per process and every call reuses it."""
    built: list[ssl.SSLContext] = []
    create = ssl.create_default_context

    def counting(*args: object, **kwargs: object) -> ssl.SSLContext:
        context = create(*args, **kwargs)  # type: ignore[arg-type]
        built.append(context)
        return context

    monkeypatch.setattr(ssl, "create_default_context", counting)
    client = HelpdeskClient.from_env()
    for _ in range(3):
        status, _body = await client.call("GET", "/api/v1/conversations/nobody-here/handoff")
        assert status == 404
    assert await client.open_handoff("nobody-here") is None
    assert len(built) <= 1, f"{len(built)} TLS contexts for 4 calls"


def test_an_https_service_is_still_verified() -> None:
    """The shared context checks certificates as httpx's default does."""
    helpdesk_client.tls_context.cache_clear()
    context = helpdesk_client.tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
