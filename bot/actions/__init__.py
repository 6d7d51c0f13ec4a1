"""Custom actions of the Level-1 help-desk bot, served by `rasa run actions` (cwd `bot/`), by flow:

- `conversation/`: session start and restart while an engineer holds the chat (`session`), what the flows
  share (`flow`), 1-5 ratings and the hand-back from an engineer (`feedback`);
- `handoff/`: hand over to an engineer with everything the bot learned (`actions`, `payload`), the e-mail
  follow-up when nobody of the tier is online (`followup`), a problem's details (`issue_report`),
  ticket status (`tickets`);
- `identity/`: password reset and account unlock, verified by a one-time code (`actions`, `steps`);
- `knowledge/`: answers from the knowledge base (`answers`, `format`) and guided setup from an article's
  steps (`device_setup`, `devices`);
- `service/`: the help-desk service's bot API (`client`) and its knowledge-base search (`knowledge`);
- `in_rasa`: the one piece the code running inside the Rasa process (bot/connectors) may use.

Actions use rasa_sdk only, never Rasa itself; secrets are masked with `helpdesk_text.redaction`.
"""
