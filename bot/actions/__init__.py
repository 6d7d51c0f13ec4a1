"""Custom actions of the Level-1 help-desk bot, served by `rasa run actions` (cwd `bot/`).

Modules by topic: `handoff` (hand over to an engineer), `session` (restart and session start while an
engineer holds the conversation), `handoff_payload` (what the engineer is sent), `redaction` (secrets
never leave the bot), `helpdesk_client` (the service's bot API).
"""
