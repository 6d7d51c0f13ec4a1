"""OpenAPI links: which answer feeds which next call (a created handoff's id -> claim, reply, resolve ...).

They document the API's workflow in `/openapi.json`, and schemathesis's stateful tests follow them to
chain real calls (tests/service/test_schema_stateful.py). The operation ids are the ones FastAPI
derives from each route; a test checks that every link names an operation that exists.
"""

from typing import Any

HANDOFF_STEPS = {
    "ReadHandoff": "read_handoff_api_v1_handoffs__handoff_id__get",
    "ClaimHandoff": "claim_handoff_api_v1_handoffs__handoff_id__claim_post",
    "SendMessage": "send_message_api_v1_handoffs__handoff_id__messages_post",
    "AddNote": "add_note_api_v1_handoffs__handoff_id__notes_post",
    "EscalateHandoff": "escalate_handoff_api_v1_handoffs__handoff_id__escalate_post",
    "ResolveHandoff": "resolve_handoff_api_v1_handoffs__handoff_id__resolve_post",
    "TransferHandoff": "transfer_handoff_api_v1_handoffs__handoff_id__transfer_post",
    "ReleaseHandoff": "release_handoff_api_v1_handoffs__handoff_id__release_post",
    "DraftArticle": "draft_from_resolution_api_v1_kb_drafts_from_handoff__handoff_id__post",
}
ARTICLE_STEPS = {
    "ReadArticle": "read_article_api_v1_kb_articles__article_id__get",
    "UpdateArticle": "update_article_api_v1_kb_articles__article_id__put",
    "DeleteArticle": "delete_article_api_v1_kb_articles__article_id__delete",
    "ListRevisions": "list_revisions_api_v1_kb_articles__article_id__revisions_get",
}


def _to(steps: dict[str, str], parameter: str, source: str) -> dict[str, Any]:
    return {
        name: {"operationId": operation, "parameters": {parameter: source}}
        for name, operation in steps.items()
    }


def responses(status_code: int, links: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: its documented answer, with links."""
    return {status_code: {"links": links}}


# Anything that answers a handoff (create, claim, take next, escalate ...) leads to the handoff's steps.
FROM_HANDOFF = {
    **_to(HANDOFF_STEPS, "handoff_id", "$response.body#/id"),
    "ReadTicket": {
        "operationId": "read_ticket_api_v1_tickets__number__get",
        "parameters": {"number": "$response.body#/number"},
    },
}
FROM_CREATED_HANDOFF = {
    **FROM_HANDOFF,
    "ReadOpenHandoff": {
        "operationId": "read_open_handoff_api_v1_conversations__conversation_id__handoff_get",
        "parameters": {"conversation_id": "$request.body#/conversation_id"},
    },
}
FROM_ARTICLE = _to(ARTICLE_STEPS, "article_id", "$response.body#/id")
