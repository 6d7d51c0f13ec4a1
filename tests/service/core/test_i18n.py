"""What the desk writes to a customer follows the conversation's language: every message has its German
translation, with the same placeholders, and a German conversation's notices read German."""

import re
import string

import pytest
from fastapi.testclient import TestClient

from handoff_api.api.routes.widget import RATING_QUESTION
from handoff_api.core.i18n import catalog, translate
from handoff_api.feedback import followups
from handoff_api.handoffs import service
from handoff_api.identity import verification
from tests.service.conftest import HandoffFactory, Tokens

MESSAGES = [
    service.RETURN_TO_BOT_TEXT,
    service.ESCALATED_TEXT,
    service.RELEASED_TEXT,
    *service.TEAM_NAMES.values(),
    RATING_QUESTION,
    followups.MAIL_SUBJECT,
    followups.MAIL_GREETING,
    followups.MAIL_ANSWERED,
    followups.MAIL_NEWS,
    followups.MAIL_FOOTER,
    followups.DESK,
    verification.CODE_SUBJECT,
    verification.CODE_BODY,
    verification.RESET_SUBJECT,
    verification.RESET_BODY,
    verification.RESET_BODY_HOURS,
]


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("message", MESSAGES)
def test_every_message_has_its_german_with_the_same_placeholders(message: str) -> None:
    german = catalog("de")
    assert german is not None
    entry = german.get(message)
    assert entry is not None and entry.string, f"no German for {message!r}"
    assert _fields(str(entry.string)) == _fields(message)
    assert translate("en", message) == message


def test_a_german_conversation_hears_its_notices_in_german(
    client: TestClient, tokens: Tokens, handoff_factory: HandoffFactory
) -> None:
    handoff = handoff_factory.create("conv-de", language="de")
    assert handoff["language"] == "de"
    client.post(f"/api/v1/handoffs/{handoff['id']}/claim", headers=tokens.auth("l2"))
    escalated = client.post(
        f"/api/v1/handoffs/{handoff['id']}/escalate", json={"tier": "l3"}, headers=tokens.auth("l2")
    )
    assert escalated.status_code == 200, escalated.text
    transcript = client.get(f"/api/v1/handoffs/{handoff['id']}", headers=tokens.auth("lead")).json()[
        "transcript"
    ]
    notice = transcript[-1]["text"]
    assert notice.startswith(
        f"Ihr Ticket {handoff['number']} ist jetzt bei unseren Spezialisten im 3rd Level"
    )
    assert not re.search(r"\bYour ticket\b", notice)


def test_an_unknown_language_is_refused_with_the_field_named(client: TestClient, tokens: Tokens) -> None:
    answer = client.post(
        "/api/v1/handoffs",
        json={
            "conversation_id": "c-fr",
            "channel": "socketio",
            "reason": "customer_request",
            "language": "fr",
        },
        headers=tokens.auth("bot"),
    )
    assert answer.status_code == 422 and "language" in answer.text
