"""Custom actions of the Level-1 help-desk bot, served by `rasa run actions` (cwd `bot/`).

Modules by topic (see bot/README.md for the flows):
- `handoff`, `handoff_payload`: hand over to an engineer with everything the bot learned;
  `followup`: the e-mail follow-up offered when nobody of the tier is online;
- `session`: restart and session start while an engineer holds the conversation;
- `identity`, `identity_steps`: password reset and account unlock, verified by a one-time code;
- `kb`, `kb_client`, `kb_format`: answers from the knowledge base ("did this help?");
- `device_setup`, `devices`: guided setup from an article's steps;
- `issue_report`: a problem's details, category and priority; `tickets`: ticket status;
- `feedback`: 1-5 ratings, and the hand-back from an engineer;
- `flow`: what the flows share; `redaction`: secrets never leave the bot;
  `helpdesk_client`: the service's bot API.
"""
